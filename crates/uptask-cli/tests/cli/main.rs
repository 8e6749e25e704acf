//! The `uptask` binary end to end, by topic: uploads and their output, exit codes and bad
//! input, proxies, `uptask serve`, resuming after a kill, and what a terminal shows.

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

#[path = "../../../uptask/tests/common/weed.rs"]
mod weed;

mod direct;
mod exits;
mod instances;
mod proxy;
mod resume;
mod serve;
mod store;
mod store_cycles;
#[cfg(unix)]
mod terminal;
mod uploads;

/// `peers/`, where the independent peers are installed.
fn peers_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../peers")
}

/// Whether the npm `package` is installed in `peers/`. Without it the test says why and is
/// skipped, except under `UPTASK_REQUIRE_PEERS=1` (the test script and CI), where it fails.
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn peer_installed(package: &str) -> bool {
    if peers_dir().join("node_modules").join(package).exists() {
        return true;
    }
    let why = format!("SKIPPED: {package} is not installed in peers/ (run `npm install` there)");
    let required = std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    assert!(!required, "{why}");
    eprintln!("{why}");
    false
}

/// A person's Ctrl-C: SIGINT to `child`.
#[cfg(unix)]
fn interrupt(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -INT failed");
}

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

/// `FILE s3://BUCKET/FILE --protocol s3 --endpoint (the test store) --part-size 5MiB`.
fn s3_args(bucket: &str, file: &str) -> Vec<String> {
    let target = format!("s3://{bucket}/{file}");
    let endpoint = format!("http://{}", weed::ENDPOINT);
    [
        file,
        &target,
        "--protocol",
        "s3",
        "--endpoint",
        &endpoint,
        "--part-size",
        "5MiB",
    ]
    .map(str::to_owned)
    .to_vec()
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
