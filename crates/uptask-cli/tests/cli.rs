//! The `uptask` binary end to end: exit codes, output shapes, Ctrl-C, round trips.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[path = "../../uptask/tests/common/weed.rs"]
mod weed;

fn uptask() -> Command {
    Command::cargo_bin("uptask").unwrap()
}

fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `uptask upload FILE` (built-in server) in `dir`; returns the stored path and sha256.
fn upload_embedded(dir: &Path, file: &str) -> (std::path::PathBuf, String) {
    let out = uptask()
        .current_dir(dir)
        .args(["upload", file])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = stdout
        .lines()
        .find_map(|l| l.strip_prefix("stored: "))
        .unwrap();
    let sha = stdout
        .lines()
        .find_map(|l| l.strip_prefix("sha256: "))
        .unwrap();
    (stored.into(), sha.to_owned())
}

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
        stdout.contains("==> small.txt <==") && stdout.contains("==> big.bin <=="),
        "{stdout}"
    );
    assert!(
        stderr.contains("uptask: big.bin: the server answered with status 413"),
        "{stderr}"
    );
    assert!(!stderr.contains("small.txt"), "{stderr}");
}

/// An in-process receiving server on its own runtime.
struct Server {
    url: String,
    _rt: tokio::runtime::Runtime,
}

fn server(config: uptask_server::ServerConfig) -> Server {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    rt.spawn(uptask_server::serve(
        listener,
        config,
        std::future::pending(),
    ));
    Server { url, _rt: rt }
}

#[test]
fn exit_0_with_the_response_body_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(dir.path()));
    std::fs::write(dir.path().join("a.txt"), "abc").unwrap();
    let out = uptask()
        .current_dir(dir.path())
        .args(["upload", "a.txt", &s.url, "-F", "k=v", "--name", "doc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["fields"]["k"], "v");
    assert_eq!(reply["files"][0]["field"], "doc");
}

#[test]
fn exit_22_when_the_server_answers_an_error_status() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(dir.path()).max_size(100));
    std::fs::write(dir.path().join("big.bin"), vec![0u8; 4096]).unwrap();
    let out = uptask()
        .current_dir(dir.path())
        .args(["upload", "big.bin", &s.url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(22));
    assert!(String::from_utf8_lossy(&out.stdout).contains("larger than this server accepts"));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "uptask: the server answered with status 413"
    );
}

#[test]
fn exit_1_when_the_upload_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "abc").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = uptask()
        .current_dir(dir.path())
        .args([
            "upload",
            "a.txt",
            &format!("http://127.0.0.1:{port}/up"),
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let last: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "fail");
    assert!(
        last["errMsg"]
            .as_str()
            .unwrap()
            .starts_with("uploadFile:fail cannot connect")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn every_bad_input_exits_2_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "abc").unwrap();
    let url = "http://127.0.0.1:9/upload";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["upload", "missing.txt", url],
            "file not found: missing.txt",
        ),
        (vec!["upload", "missing.txt"], "file not found: missing.txt"),
        (vec!["upload", ".", url], "is a directory"),
        (vec!["upload", "a.txt", "not a url"], "invalid URL"),
        (
            vec!["upload", "a.txt", "ftp://host/x"],
            "unsupported URL scheme",
        ),
        (
            vec!["upload", "a.txt", url, "-H", "NoColon"],
            "invalid -H \"NoColon\"",
        ),
        (
            vec!["upload", "a.txt", url, "-H", "X-A: 1\r\nX-B: 2"],
            "control characters",
        ),
        (
            vec!["upload", "a.txt", url, "-H", "Content-Type: text/plain"],
            "cannot be set",
        ),
        (vec!["upload", "a.txt", url, "-F", "novalue"], "invalid -F"),
        (
            vec!["upload", "a.txt", url, "--timeout", "soon"],
            "invalid --timeout",
        ),
        (
            vec!["upload", "a.txt", url, "--stall-timeout", "x"],
            "invalid --stall-timeout",
        ),
        (
            vec!["upload", "a.txt", "--protocol", "tus"],
            "give a URL for --protocol tus",
        ),
        (
            vec!["upload", "a.txt", url, "--protocol", "s3"],
            "--protocol s3",
        ),
        (
            vec![
                "upload",
                "a.txt",
                url,
                "--protocol",
                "tus",
                "--chunk-size",
                "lots",
            ],
            "invalid --chunk-size",
        ),
        (
            vec![
                "upload",
                "a.txt",
                url,
                "--protocol",
                "tus",
                "--tus-parallel",
                "0",
            ],
            "invalid --tus-parallel 0",
        ),
        (
            vec![
                "upload",
                "a.txt",
                url,
                "--protocol",
                "tus",
                "--retry-delays",
                "0,soon",
            ],
            "invalid --retry-delays",
        ),
        (
            vec!["upload", "a.txt", url, "--ca-cert", "nope.pem"],
            "cannot read --ca-cert nope.pem",
        ),
        (vec!["upload", "a.txt", url, "--name", ""], "field name"),
        (
            vec!["upload", "a.txt", url, "--limit-rate", "fast"],
            "invalid --limit-rate",
        ),
        (
            vec!["upload", "a.txt", "a.txt", url, "--parallel", "0"],
            "invalid --parallel 0",
        ),
        (vec!["upload", url, "a.txt"], "looks like a URL"),
        (vec!["upload", "a.txt", "-", url], "standard input (-)"),
        (
            vec!["upload", "a.txt", "missing.txt", url],
            "file not found: missing.txt",
        ),
        (
            vec!["upload", "*.nothing", url],
            "no file matches \"*.nothing\"",
        ),
        (vec!["serve", "--max-size", "lots"], "invalid --max-size"),
        (
            vec!["serve", "--addr", "not-an-addr"],
            "cannot listen on --addr not-an-addr",
        ),
    ];
    for (args, want) in cases {
        let out = uptask()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("uptask: ") && stderr.contains(want),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        !dir.path().join("uptask-uploads").exists(),
        "bad input must leave nothing behind"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = uptask().args(["upload"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = uptask()
        .args(["upload", "a.txt", "--protocol", "ftp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A server that reads the body slowly and records whether the request was cut short.
fn slow_server() -> (String, Arc<AtomicBool>, Arc<AtomicU64>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let aborted = Arc::new(AtomicBool::new(false));
    let read = Arc::new(AtomicU64::new(0));
    let (a, r) = (Arc::clone(&aborted), Arc::clone(&read));
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => {
                    a.store(true, Ordering::SeqCst);
                    return;
                }
                Ok(n) => {
                    r.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    (url, aborted, read)
}

#[cfg(unix)]
#[test]
fn sigint_aborts_the_upload_with_exit_130() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::File::create(dir.path().join("big.bin"))
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let (url, aborted, read) = slow_server();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("uptask"))
        .current_dir(dir.path())
        .args(["upload", "big.bin", &url, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["event"], "progressUpdate");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(130));
    let last: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(last["event"], "fail");
    assert_eq!(last["errMsg"], "uploadFile:fail abort");
    for _ in 0..200 {
        if aborted.load(Ordering::SeqCst) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        aborted.load(Ordering::SeqCst),
        "the server must see the request cut short"
    );
    assert!(read.load(Ordering::SeqCst) < 256 << 20);
}

#[test]
fn help_teaches_with_examples_and_exit_codes() {
    let out = uptask().args(["upload", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("Examples:") && help.contains("uptask upload README.md"),
        "{help}"
    );
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("--stall-timeout"));
}

#[test]
fn completions_are_generated() {
    let out = uptask().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("uptask"));
}

#[cfg(unix)]
#[test]
fn serve_requires_its_token_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("uptask"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--token",
            "s3cret",
            "--dir",
        ])
        .arg(dir.path().join("store"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let addr = banner
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let url = format!("http://{addr}/upload");
    std::fs::write(dir.path().join("a.txt"), "abc").unwrap();

    let denied = uptask()
        .current_dir(dir.path())
        .args(["upload", "a.txt", &url])
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(22), "no token: 401");
    let ok = uptask()
        .current_dir(dir.path())
        .args([
            "upload",
            "a.txt",
            &url,
            "-H",
            "Authorization: Bearer s3cret",
        ])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let reply: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        std::fs::read(reply["files"][0]["path"].as_str().unwrap()).unwrap(),
        b"abc"
    );

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    panic!("uptask serve did not stop on SIGTERM");
}

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
    let target = format!("s3://{BUCKET}/big.bin");
    let endpoint = format!("http://{}", weed::ENDPOINT);
    let vars = [
        ("AWS_ACCESS_KEY_ID", weed::KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", weed::SECRET),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ];
    let args = [
        "big.bin",
        &target,
        "--protocol",
        "s3",
        "--endpoint",
        &endpoint,
        "--part-size",
        "5MiB",
        "--concurrency",
        "2",
    ];

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
