//! `uptask serve`: its token, its access log and a clean stop.

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
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    stderr.read_line(&mut banner).unwrap();
    // The rest of stderr, the access log, read aside until the server exits.
    let log = std::thread::spawn(move || stderr.lines().map_while(Result::ok).collect::<Vec<_>>());
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
    let mut stopped = None;
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            stopped = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let Some(status) = stopped else {
        let _ = child.kill();
        panic!("uptask serve did not stop on SIGTERM");
    };
    assert_eq!(status.code(), Some(0));
    // One line per request: the refused one and the stored one, with the bytes received.
    let log = log.join().unwrap();
    let access: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("uptask_server::access"))
        .collect();
    assert_eq!(access.len(), 2, "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains('\x1b')),
        "no terminal codes in a log that is not a terminal: {log:#?}"
    );
    assert!(access[0].contains("POST /upload 401 "), "{}", access[0]);
    assert!(access[1].contains("POST /upload 200 "), "{}", access[1]);
    // The multipart body around the 3-byte file: more than 3 bytes, less than a KiB.
    let received: u64 = access[1]
        .split("POST /upload 200 ")
        .nth(1)
        .and_then(|rest| rest.split('B').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {}", access[1]));
    assert!((4..1024).contains(&received), "{}", access[1]);
}
