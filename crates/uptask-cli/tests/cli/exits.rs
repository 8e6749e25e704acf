//! Exit codes, bad input, Ctrl-C, help and completions.

use super::*;

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
            vec!["serve", "--allow-origin", "https://app.example/page"],
            "invalid --allow-origin",
        ),
        (
            vec!["serve", "--allow-origin", "app.example"],
            "invalid --allow-origin",
        ),
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
    interrupt(&child);
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
