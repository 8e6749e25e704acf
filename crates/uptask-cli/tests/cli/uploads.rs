//! Uploads as a person runs them: the built-in server, round trips, NDJSON, rate limits, several files.

use super::*;

#[test]
fn the_first_command_stores_the_file_and_prints_its_sha256() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# hello\n").unwrap();
    let (stored, sha) = upload_embedded(dir.path(), "README.md");
    assert!(stored.starts_with(dir.path().canonicalize().unwrap().join("uptask-uploads")));
    assert_eq!(std::fs::read(&stored).unwrap(), b"# hello\n");
    assert_eq!(sha, sha256_file(&dir.path().join("README.md")));
}

#[test]
fn round_trips_are_byte_identical_for_empty_tiny_medium_and_large_sparse_files() {
    let dir = tempfile::tempdir().unwrap();
    let files: [(&str, u64); 4] = [
        ("empty.bin", 0),
        ("one.bin", 1),
        ("mib.bin", 1 << 20),
        ("sparse.bin", 1 << 30),
    ];
    for (name, len) in files {
        let path = dir.path().join(name);
        let f = std::fs::File::create(&path).unwrap();
        if len == 1 || len == 1 << 20 {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            std::fs::write(&path, data).unwrap();
        } else {
            f.set_len(len).unwrap(); // sparse: no disk blocks, reads as zeros
        }
        let (stored, sha) = upload_embedded(dir.path(), name);
        let local = sha256_file(&path);
        assert_eq!(sha, local, "{name}: server-side sha256");
        assert_eq!(std::fs::metadata(&stored).unwrap().len(), len, "{name}");
        assert_eq!(sha256_file(&stored), local, "{name}: stored bytes");
        std::fs::remove_file(&stored).unwrap();
    }
}

#[test]
fn the_json_stream_follows_the_event_rules() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 249) as u8).collect();
    std::fs::write(dir.path().join("data.bin"), &data).unwrap();
    let out = uptask()
        .current_dir(dir.path())
        .args(["upload", "data.bin", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.last(), Some(&"success"));
    assert_eq!(kinds.iter().filter(|k| **k == "headersReceived").count(), 1);
    let headers_at = kinds.iter().position(|k| *k == "headersReceived").unwrap();
    assert!(
        kinds[headers_at + 1..]
            .iter()
            .all(|k| *k != "progressUpdate")
    );
    let progress: Vec<(u64, u64, u64)> = events
        .iter()
        .filter(|e| e["event"] == "progressUpdate")
        .map(|e| {
            (
                e["progress"].as_u64().unwrap(),
                e["totalBytesSent"].as_u64().unwrap(),
                e["totalBytesExpectedToSend"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(progress.len() >= 2);
    for w in progress.windows(2) {
        assert!(w[1].1 > w[0].1, "never decreasing, never repeated");
    }
    for &(p, sent, total) in &progress {
        assert_eq!(p, sent * 100 / total);
        assert!(total > data.len() as u64, "framing included");
    }
    let last = progress.last().unwrap();
    assert_eq!((last.0, last.1), (100, last.2));
    let success = events.last().unwrap();
    assert_eq!(success["statusCode"], 200);
    assert_eq!(success["errMsg"], "uploadFile:ok");
    // WeChat's profile rides on the result: the request head and body were all sent.
    let sent = success["profile"]["sendBytesCount"].as_u64().unwrap();
    assert!(sent > last.2, "{success}");
    assert_eq!(success["profile"]["peerIP"], "127.0.0.1");
    let stored = events.iter().find(|e| e["event"] == "stored").unwrap();
    assert_eq!(stored["sha256"], sha256_file(&dir.path().join("data.bin")));
}

#[test]
fn limit_rate_holds_the_upload_to_its_pace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.bin"), vec![7u8; 1 << 20]).unwrap();
    let started = std::time::Instant::now();
    let out = uptask()
        .current_dir(dir.path())
        .args(["upload", "data.bin", "--json", "--limit-rate", "512K"])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 1 MiB at 512 KiB/s, less the limit's first tenth of a second: at least 1.9 s.
    assert!(
        elapsed >= std::time::Duration::from_millis(1900),
        "{elapsed:?}"
    );
    // Events carry the speed, which the limit caps (a busy machine may only make it lower).
    let speeds: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "progressUpdate")
        .filter_map(|e| e["speed"].as_u64())
        .collect();
    let last = *speeds.last().unwrap();
    assert!(last > 0 && last < 600 << 10, "{speeds:?}");
}

#[test]
fn several_files_upload_together_and_every_event_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["a.bin", "b.txt", "c.bin"];
    let sizes = [300_000usize, 0, 1 << 20];
    for (name, size) in names.iter().zip(sizes) {
        let data: Vec<u8> = (0..size).map(|i| (i % 241) as u8).collect();
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    // A quoted pattern is expanded here, in name order, as the shell would.
    let out = uptask()
        .current_dir(dir.path())
        .args(["upload", "a.bin", "[bc].*", "--json", "--parallel", "2"])
        .args(["--limit-rate", "4M"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["file"].is_string()), "{events:?}");
    for name in names {
        let of = |kind: &str| {
            events
                .iter()
                .filter(|e| e["file"] == name && e["event"] == kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(of("success").len(), 1, "{name}");
        assert_eq!(of("dequeued").len(), 1, "{name}");
        assert!(!of("progressUpdate").is_empty(), "{name}");
        let stored = of("stored");
        assert_eq!(
            stored[0]["sha256"],
            sha256_file(&dir.path().join(name)),
            "{name}"
        );
    }
    // At most two at once: the third waited for a slot.
    let waited: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "dequeued")
        .map(|e| e["waitedMs"].as_u64().unwrap())
        .collect();
    assert!(waited.iter().filter(|w| **w > 0).count() >= 1, "{waited:?}");
}

#[test]
fn several_files_exit_with_the_worst_outcome_and_report_each() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(dir.path()).max_size(4096));
    std::fs::write(dir.path().join("small.txt"), "abc").unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![1u8; 100_000]).unwrap();
    let out = uptask()
        .current_dir(dir.path())
        .args(["upload", "small.txt", "big.bin", &s.url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(22));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.starts_with("==> small.txt <==\n{") && stdout.contains("}\n==> big.bin <==\n{"),
        "each body ends with a newline, so each header starts a line: {stdout}"
    );
    assert!(stdout.ends_with("}\n"), "{stdout}");
    assert!(
        stderr.contains("uptask: big.bin: the server answered with status 413"),
        "{stderr}"
    );
    assert!(!stderr.contains("small.txt"), "{stderr}");
}
