//! `uptask serve`: its token and a clean stop.

use super::*;

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
