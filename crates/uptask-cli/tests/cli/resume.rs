//! Killed uploads run again: tus and S3 continue where the server or store is; pipes.

use super::*;

type JsonLines = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// Runs `uptask upload ARGS --json` in `dir` with its cache in `cache` and these variables;
/// returns its child and stdout lines.
fn json_upload(
    dir: &Path,
    cache: &Path,
    vars: &[(&str, &str)],
    args: &[&str],
) -> (std::process::Child, JsonLines) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("uptask"))
        .current_dir(dir)
        .env("UPTASK_CACHE_DIR", cache)
        .envs(vars.iter().copied())
        .arg("upload")
        .args(args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Runs `uptask upload big.bin URL --protocol tus --json` with `extra` flags.
fn tus_upload(
    dir: &Path,
    cache: &Path,
    url: &str,
    extra: &[&str],
) -> (std::process::Child, JsonLines) {
    let mut args = vec!["big.bin", url, "--protocol", "tus"];
    args.extend_from_slice(extra);
    json_upload(dir, cache, &[], &args)
}

/// SIGKILLs the upload (no chance to clean up) once it reports `percent` progress.
fn kill_at(mut child: std::process::Child, lines: &mut JsonLines, percent: u64) {
    loop {
        let line = lines.next().unwrap().unwrap();
        let ev: Value = serde_json::from_str(&line).unwrap();
        if ev["event"] == "progressUpdate" && ev["progress"].as_u64().unwrap() >= percent {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The events of an upload run to its end, and its exit code.
fn run_out(mut child: std::process::Child, lines: JsonLines) -> (Vec<Value>, Option<i32>) {
    let events: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    (events, child.wait().unwrap().code())
}

#[cfg(unix)]
#[test]
fn a_tus_upload_killed_and_run_again_resumes_from_the_servers_offset() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let data: Vec<u8> = (0..(96u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    let url = s.url.replace("/upload", "/files/");

    // Small chunks make the upload long enough to be killed in the middle.
    let (child, mut lines) = tus_upload(dir.path(), &cache, &url, &["--chunk-size", "64KiB"]);
    kill_at(child, &mut lines, 5);
    assert_eq!(
        std::fs::read_dir(cache.join("tus")).unwrap().count(),
        1,
        "the upload URL was remembered"
    );

    let (child, lines) = tus_upload(dir.path(), &cache, &url, &[]);
    let (events, code) = run_out(child, lines);
    assert_eq!(code, Some(0));
    assert_eq!(events[0]["event"], "resumed", "{:?}", events[0]);
    let offset = events[0]["offset"].as_u64().unwrap();
    assert!(
        ((96 << 20 >> 5)..(96 << 20)).contains(&offset),
        "resumed at {offset}"
    );
    assert!(!events.iter().any(|e| e["event"] == "uploadCreated"));
    let first_progress = events
        .iter()
        .find(|e| e["event"] == "progressUpdate")
        .unwrap();
    assert!(first_progress["totalBytesSent"].as_u64().unwrap() >= offset);
    assert_eq!(events.last().unwrap()["event"], "success");
    assert_eq!(
        std::fs::read_dir(cache.join("tus")).unwrap().count(),
        0,
        "forgotten once complete"
    );

    let stored: Vec<_> = std::fs::read_dir(store.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        sha256_file(&stored[0]),
        sha256_file(&dir.path().join("big.bin"))
    );

    // --fresh ignores a remembered upload and starts another.
    let (child, mut lines) = tus_upload(dir.path(), &cache, &url, &["--chunk-size", "64KiB"]);
    kill_at(child, &mut lines, 5);
    let (child, lines) = tus_upload(dir.path(), &cache, &url, &["--fresh"]);
    let (events, code) = run_out(child, lines);
    assert_eq!(code, Some(0));
    assert_eq!(events[0]["event"], "uploadCreated", "{:?}", events[0]);
    assert!(!events.iter().any(|e| e["event"] == "resumed"));
}

#[cfg(unix)]
#[test]
fn an_s3_upload_killed_and_run_again_sends_only_the_missing_parts() {
    const BUCKET: &str = "uptask-cli";
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let len = 96u64 << 20;
    let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let vars = weed::aws_env();
    let mut args = s3_args(BUCKET, "big.bin");
    args.extend(["--concurrency".to_owned(), "2".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Two parts at a time: at 30 % at least the first two parts are stored.
    let (child, mut lines) = json_upload(dir.path(), &cache, &vars, &args);
    kill_at(child, &mut lines, 30);
    assert_eq!(
        std::fs::read_dir(cache.join("s3")).unwrap().count(),
        1,
        "the upload id was remembered"
    );
    assert!(weed::uploads_listed(BUCKET).0, "the killed upload is gone");

    let (child, lines) = json_upload(dir.path(), &cache, &vars, &args);
    let (events, code) = run_out(child, lines);
    assert_eq!(code, Some(0), "{events:?}");
    assert_eq!(events[0]["event"], "resumed", "{:?}", events[0]);
    let offset = events[0]["offset"].as_u64().unwrap();
    assert!(
        ((10 << 20)..len).contains(&offset) && offset % (5 << 20) == 0,
        "resumed with {offset} bytes"
    );
    assert!(!events.iter().any(|e| e["event"] == "uploadCreated"));
    assert_eq!(events.last().unwrap()["event"], "success");
    assert_eq!(events.last().unwrap()["statusCode"], 200);
    assert_eq!(
        std::fs::read_dir(cache.join("s3")).unwrap().count(),
        0,
        "forgotten once complete"
    );
    let (status, stored) = weed::raw("GET", &format!("/{BUCKET}/big.bin"), &[], &weed::creds());
    assert_eq!(status, 200);
    assert!(stored == data, "the stored object differs from the file");
    let (lingers, listing) = weed::uploads_listed(BUCKET);
    assert!(!lingers, "a multipart upload lingers: {listing}");
}

#[cfg(unix)]
#[test]
fn a_pipe_is_sent_with_tus_and_a_deferred_length() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    let url = s.url.replace("/upload", "/files/");
    let data: Vec<u8> = (0..(3u32 << 20) + 17).map(|i| (i % 241) as u8).collect();
    std::fs::write(dir.path().join("src.bin"), &data).unwrap();
    let uptask = assert_cmd::cargo::cargo_bin("uptask");
    let out = std::process::Command::new("bash")
        .current_dir(dir.path())
        .env("UPTASK_CACHE_DIR", dir.path().join("cache"))
        .arg("-c")
        .arg(format!(
            "cat src.bin | '{}' upload - '{url}' --protocol tus --file-name dump.bin --chunk-size 1MiB --json",
            uptask.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last_progress = events
        .iter()
        .rfind(|e| e["event"] == "progressUpdate")
        .unwrap();
    assert_eq!(last_progress["totalBytesExpectedToSend"], data.len() as u64);
    assert_eq!(last_progress["progress"], 100);
    let stored: Vec<_> = std::fs::read_dir(store.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].to_string_lossy().ends_with(".bin"));
    assert_eq!(
        sha256_file(&stored[0]),
        sha256_file(&dir.path().join("src.bin"))
    );

    // Multipart cannot announce the length of a pipe: a clear refusal, exit 2.
    let out = std::process::Command::new("bash")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!(
            "cat src.bin | '{}' upload - '{}'",
            uptask.display(),
            s.url
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deferred length"));
}
