//! Proxies as curl reads them, through real ones (Debian's `tinyproxy`, and `squid`): the environment's
//! variables in both cases, `--proxy` and `--noproxy`, Basic authentication, a 407, a proxy
//! that is not there and one that dies mid-body; multipart, tus and S3 over plain http
//! (absolute-form requests). HTTPS through a tunnel is tested in the library (`tests/proxy.rs`).

use std::io::BufRead as _;
use std::time::{Duration, Instant};

use super::*;

#[path = "../../../uptask/tests/common/proxies.rs"]
mod proxies;

use proxies::ProxyPeer;

/// Every variable a proxy may come from, cleared so only what a test sets applies.
const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// `uptask upload ARGS` in `dir` with only the proxy variables of `vars`.
fn upload(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = uptask();
    cmd.current_dir(dir)
        .env("UPTASK_CACHE_DIR", dir.join("cache"));
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(vars.iter().copied()).arg("upload").args(args);
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The sha256 the server computed of what it stored, from its JSON reply on stdout.
fn stored_sha(stdout: &[u8]) -> String {
    let reply: Value = serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!("not the server's reply ({e}): {}", text(stdout));
    });
    reply["files"][0]["sha256"].as_str().unwrap().to_owned()
}

fn source(dir: &Path, name: &str, len: usize) -> String {
    let data: Vec<u8> = (0..len).map(|i| (i % 241) as u8).collect();
    std::fs::write(dir.join(name), &data).unwrap();
    sha256_file(&dir.join(name))
}

#[test]
fn http_proxy_in_either_case_carries_a_multipart_upload_in_absolute_form() {
    let (Some(tinyproxy), Some(squid)) = (ProxyPeer::tinyproxy(None), ProxyPeer::squid()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    let sha = source(dir.path(), "a.bin", (2 << 20) + 3);
    for (proxy, var) in [
        (&tinyproxy, "http_proxy"),
        (&tinyproxy, "HTTP_PROXY"),
        (&tinyproxy, "ALL_PROXY"),
        (&squid, "http_proxy"),
    ] {
        let before = proxy.requests().len();
        let out = upload(dir.path(), &[(var, &proxy.url())], &["a.bin", &s.url]);
        assert!(out.status.success(), "{var}: {}", text(&out.stderr));
        assert_eq!(stored_sha(&out.stdout), sha, "{var}");
        assert_eq!(
            proxy.requests_after(before, 1),
            [format!("POST {}", s.url)],
            "{:?} {var}: {}",
            proxy.kind,
            proxy.log()
        );
    }
    let proxy = &tinyproxy;
    // An https proxy setting does not apply to an http URL.
    let before = proxy.requests().len();
    let out = upload(
        dir.path(),
        &[("HTTPS_PROXY", &proxy.url())],
        &["a.bin", &s.url],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(proxy.requests().len(), before, "{}", proxy.log());
}

#[test]
fn tus_goes_through_an_authenticating_proxy() {
    let Some(proxy) = ProxyPeer::tinyproxy(Some(("up", "s3cret"))) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    let url = s.url.replace("/upload", "/files/");
    let sha = source(dir.path(), "a.bin", (3 << 20) + 5);
    let out = upload(
        dir.path(),
        &[],
        &[
            "a.bin",
            &url,
            "--protocol",
            "tus",
            "--chunk-size",
            "1MiB",
            "--proxy",
            &proxy.url(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let requests = proxy.requests();
    assert!(requests.contains(&format!("POST {url}")), "{requests:?}");
    let patches = requests
        .iter()
        .filter(|r| r.starts_with("PATCH http://"))
        .count();
    assert!(patches >= 4, "3 MiB in 1 MiB chunks: {requests:?}");
    let stored: Vec<_> = std::fs::read_dir(store.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(sha256_file(&stored[0]), sha);
}

#[test]
fn s3_goes_through_all_proxy() {
    const BUCKET: &str = "uptask-proxy";
    let Some(proxy) = ProxyPeer::tinyproxy(None) else {
        return;
    };
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let len = (11 << 20) + 7;
    source(dir.path(), "big.bin", len);
    let data = std::fs::read(dir.path().join("big.bin")).unwrap();
    let target = format!("s3://{BUCKET}/big.bin");
    let endpoint = format!("http://{}", weed::ENDPOINT);
    let proxy_url = proxy.url();
    let mut vars = weed::aws_env().to_vec();
    vars.push(("all_proxy", proxy_url.as_str()));
    let args = s3_args(BUCKET, "big.bin");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = upload(dir.path(), &vars, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!("uploaded {target} (ETag ")),
        "{}",
        text(&out.stdout)
    );
    let parts = proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with(&format!("PUT {endpoint}/{BUCKET}/big.bin?")))
        .count();
    assert_eq!(parts, 3, "11 MiB in 5 MiB parts:\n{}", proxy.log());
    let (status, stored) = weed::raw("GET", &format!("/{BUCKET}/big.bin"), &[], &weed::creds());
    assert_eq!(status, 200);
    assert!(stored == data, "the stored object differs from the file");
}

#[test]
fn no_proxy_and_noproxy_reach_the_server_directly() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    let sha = source(dir.path(), "a.bin", 1 << 20);
    let dead = format!("http://127.0.0.1:{}", proxies::free_port());
    for no_proxy in ["no_proxy", "NO_PROXY"] {
        let vars = [
            ("HTTP_PROXY", dead.as_str()),
            (no_proxy, "localhost,127.0.0.1"),
        ];
        let out = upload(dir.path(), &vars, &["a.bin", &s.url]);
        assert!(out.status.success(), "{no_proxy}: {}", text(&out.stderr));
        assert_eq!(stored_sha(&out.stdout), sha);
    }
    // --noproxy replaces NO_PROXY, and applies to --proxy too.
    let out = upload(
        dir.path(),
        &[("NO_PROXY", "example.org")],
        &["a.bin", &s.url, "--proxy", &dead, "--noproxy", "*"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // --proxy "" turns the environment's off.
    let out = upload(
        dir.path(),
        &[("HTTP_PROXY", dead.as_str())],
        &["a.bin", &s.url, "--proxy", ""],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_proxy_that_is_not_there_or_wants_credentials_is_one_clear_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    source(dir.path(), "a.bin", 1 << 20);
    let dead = format!("http://127.0.0.1:{}", proxies::free_port());
    let out = upload(dir.path(), &[], &["a.bin", &s.url, "--proxy", &dead]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("uptask: cannot connect to proxy {dead}")),
        "{stderr}"
    );

    let Some(proxy) = ProxyPeer::tinyproxy(Some(("up", "s3cret"))) else {
        return;
    };
    let out = upload(
        dir.path(),
        &[],
        &["a.bin", &s.url, "--proxy", &proxy.bare_url()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "uptask: the proxy {} wants credentials (407",
            proxy.bare_url()
        )),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no response body: {}",
        text(&out.stdout)
    );

    // A bad setting is bad input, named with the variable it came from.
    let out = upload(
        dir.path(),
        &[("http_proxy", "socks5://127.0.0.1:1080")],
        &["a.bin", &s.url],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid proxy URL \"socks5://127.0.0.1:1080\" in http_proxy"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_proxy_that_dies_mid_body_ends_the_upload_with_a_clear_error() {
    let Some(mut proxy) = ProxyPeer::tinyproxy(None) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let s = server(uptask_server::ServerConfig::new(store.path()));
    source(dir.path(), "big.bin", 32 << 20);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("uptask"))
        .current_dir(dir.path())
        .args([
            "upload",
            "big.bin",
            &s.url,
            "--json",
            "--limit-rate",
            "8MiB",
        ])
        .args(["--proxy", &proxy.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    // Some bytes went through the proxy; then it goes away.
    loop {
        let line = lines
            .next()
            .expect("uptask ended before 10 % was sent")
            .unwrap();
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "progressUpdate" && event["progress"].as_u64().unwrap() >= 10 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no progress in 20 s"
        );
    }
    proxy.kill();
    let killed = Instant::now();
    // The rest of the events, read aside so a hang fails the test instead of stalling it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let last = lines.map_while(Result::ok).last();
        let _ = tx.send(last);
    });
    let last = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("uptask still runs 15 s after the proxy died")
        .expect("no event after the proxy died");
    let last: Value = serde_json::from_str(&last).unwrap();
    let status = child.wait().unwrap();
    assert!(killed.elapsed() < Duration::from_secs(15), "it hung");
    assert_eq!(status.code(), Some(1));
    assert_eq!(last["event"], "fail", "{last}");
    let message = last["errMsg"].as_str().unwrap();
    assert!(
        message.contains(&format!("through the proxy {}", proxy.url())),
        "{message}"
    );
}
