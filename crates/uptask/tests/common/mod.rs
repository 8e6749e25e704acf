//! Helpers shared by the test binaries: payloads and independent peers.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "each test binary uses its own part; a skipped peer must say so loudly"
)]

pub mod pki;
pub mod proxies;
pub mod weed;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The sha256 of `data` in lower-case hex, as servers report it.
pub fn hex_sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A deterministic pseudo-random payload.
pub fn payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// An independent server started from `peers/`, killed on drop.
pub struct Peer {
    child: Child,
    /// The first line it printed (where it listens).
    pub banner: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../peers")
}

/// Runs `node SCRIPT ARGS...` in `peers/` once `package` is installed there, and waits for its
/// first line. Without node or the package it says why loudly and gives `None`, unless
/// `UPTASK_REQUIRE_PEERS=1` (the test script and CI), where that is a failure.
pub fn start_peer(script: &str, package: &str, args: &[&std::ffi::OsStr]) -> Option<Peer> {
    let dir = peers_dir();
    let required = std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    let skip = |why: String| {
        assert!(!required, "{why}");
        eprintln!("{why}");
    };
    if !dir.join("node_modules").join(package).exists() {
        skip(format!(
            "SKIPPED: {package} is not installed in {} (run `npm install` there)",
            dir.display()
        ));
        return None;
    }
    let mut child = match Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            skip(format!("SKIPPED: cannot run node: {e}"));
            return None;
        }
    };
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    Some(Peer { child, banner })
}

/// Polls `ready` every few milliseconds until it holds; fails the test naming `what` if it has
/// not held within `limit` (a regression then fails loudly instead of hanging the suite).
pub async fn wait_until(what: &str, limit: std::time::Duration, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
