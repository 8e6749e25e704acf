//! `uptask upload FILE URL --protocol s3 --signer`: straight to SeaweedFS through the `/s3/`
//! routes of `uptask serve --store` (Companion's), without the store's keys. Each object is
//! read back from the bucket and compared with the source file.

use super::instances::{Instance, keys, object, wait_for};
use super::store::{BUCKET, cluster, source};
use super::*;

const TOKEN: &str = "t0k3n";

/// `uptask upload ARGS` in `dir`, its cache there too, without any AWS variable (the client
/// has no keys); stdout is piped.
fn upload(dir: &Path, args: &[&str]) -> std::process::Child {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("uptask"));
    cmd.current_dir(dir)
        .env("UPTASK_CACHE_DIR", dir.join("cache"))
        .arg("upload")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in weed::aws_env() {
        cmd.env_remove(k);
    }
    cmd.spawn().unwrap()
}

/// The signer's base URL on `node`.
fn signer(node: &Instance) -> String {
    format!("http://{}/s3", node.addr)
}

const AUTH: &str = "Authorization: Bearer t0k3n";

/// The key in the bucket of an `uploadUrl`: the `s3://` location the signer's completion
/// names, or the store's URL a single PUT went to.
fn key_of(url: &str) -> String {
    let http = format!("http://{}/{BUCKET}/", weed::ENDPOINT);
    url.strip_prefix(&format!("s3://{BUCKET}/"))
        .or_else(|| url.strip_prefix(&http))
        .unwrap_or_else(|| panic!("{url} is not in the bucket"))
        .to_owned()
}

/// The events of a `--json` run to its end, and its exit code.
fn events(child: std::process::Child) -> (Vec<Value>, Option<i32>) {
    let out = child.wait_with_output().unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (events, out.status.code())
}

/// The run's stdout, read up to its first progress of `percent` or more.
fn until_progress(
    child: &mut std::process::Child,
    percent: u64,
) -> std::io::Lines<BufReader<std::process::ChildStdout>> {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let Some(line) = lines.next() else {
            panic!("the upload ended before {percent} %");
        };
        let line = line.unwrap();
        let ev: Value = serde_json::from_str(&line).unwrap();
        if ev["event"] == "progressUpdate" && ev["progress"].as_u64().unwrap() >= percent {
            return lines;
        }
    }
}

#[test]
fn a_file_goes_through_the_signer_into_the_bucket_and_a_small_one_too() {
    let Some((_weed, nodes)) = cluster("direct", 1, &["--token", TOKEN]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = source((17 << 20) + 5, 31);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    std::fs::write(dir.path().join("small.txt"), b"a small file").unwrap();
    let url = signer(&nodes[0]);

    let base = ["--protocol", "s3", "--signer", "--part-size", "5MiB"];
    let mut args = vec!["big.bin", &url, "-H", AUTH, "--json", "--concurrency", "3"];
    args.extend(base);
    let (events, code) = events(upload(dir.path(), &args));
    assert_eq!(code, Some(0), "{events:?}");
    let created = events
        .iter()
        .find(|e| e["event"] == "uploadCreated")
        .unwrap();
    assert!(
        created["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{url}/multipart/")),
        "{created}"
    );
    let done = events.last().unwrap();
    assert_eq!(done["event"], "success", "{done}");
    let key = key_of(done["uploadUrl"].as_str().unwrap());
    assert!(key.starts_with("direct/") && key.ends_with(".bin"), "{key}");
    assert!(
        object(BUCKET, &key) == data,
        "the object differs from the file"
    );
    let last = events.iter().rev().find(|e| e["event"] == "progressUpdate");
    assert_eq!(last.unwrap()["totalBytesSent"], data.len() as u64);

    // A file under a part (the signer offers a browser's form for it, so it goes as one
    // part); the line for a person names the object.
    let mut args = vec!["small.txt", &url, "-H", AUTH];
    args.extend(base);
    let out = upload(dir.path(), &args).wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text.trim();
    let url_part = line
        .strip_prefix("uploaded ")
        .and_then(|r| r.split(" (ETag").next())
        .unwrap_or_else(|| panic!("{line:?}"));
    assert_eq!(object(BUCKET, &key_of(url_part)), b"a small file");

    // Without the token the signer refuses, and nothing reaches the store.
    let before = keys(BUCKET, "direct/");
    let mut args = vec!["big.bin", &url];
    args.extend(base);
    let out = upload(dir.path(), &args).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(22), "{out:?}");
    assert_eq!(keys(BUCKET, "direct/"), before);
    let (open, listing) = weed::uploads_listed(BUCKET);
    assert!(!open, "multipart uploads left open: {listing}");
}

#[cfg(unix)]
#[test]
fn a_killed_run_resumes_through_the_list_route_and_an_interrupt_aborts_through_the_signer() {
    let Some((_weed, nodes)) = cluster("direct-resume", 1, &["--token", TOKEN]) else {
        return;
    };
    resume_then_interrupt(&signer(&nodes[0]), &["-H", AUTH], "direct-resume/", true);
    let bindings = keys(BUCKET, "direct-resume/.uptask/s3/");
    assert!(bindings.is_empty(), "bindings left: {bindings:?}");
}

/// Through the signer at `url` (with `extra` arguments), objects under `prefix`: a run killed
/// at 40 % resumes where the store's parts end, without a new upload, and the object equals
/// the file; then a run interrupted mid-upload exits 130, its multipart upload aborted in the
/// store and forgotten here. `crc32c`: the signer signs CRC32C part checksums (the remembered
/// upload says so, and the resumed run keeps them).
#[cfg(unix)]
fn resume_then_interrupt(url: &str, extra: &[&str], prefix: &str, crc32c: bool) {
    let dir = tempfile::tempdir().unwrap();
    let len = 40usize << 20;
    let data = source(len, 32);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let mut args = vec!["big.bin", url];
    args.extend(extra);
    args.extend([
        "--protocol",
        "s3",
        "--signer",
        "--json",
        "--part-size",
        "5MiB",
        "--concurrency",
        "2",
        "--limit-rate",
        "20MiB",
    ]);

    // Killed at 40 %: some parts are in the store, the upload id and key are remembered.
    let mut child = upload(dir.path(), &args);
    drop(until_progress(&mut child, 40));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        weed::uploads_listed(BUCKET).0,
        "the killed upload is still open"
    );
    let remembered: Vec<Value> = std::fs::read_dir(dir.path().join("cache/s3"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(remembered.len(), 1, "{remembered:?}");
    assert_eq!(remembered[0]["crc32c"], crc32c, "{remembered:?}");

    let (events, code) = events(upload(dir.path(), &args));
    assert_eq!(code, Some(0), "{events:?}");
    assert_eq!(events[0]["event"], "resumed", "{:?}", events[0]);
    let offset = events[0]["offset"].as_u64().unwrap();
    assert!(
        offset >= 5 << 20 && offset < len as u64 && offset % (5 << 20) == 0,
        "resumed at {offset}"
    );
    assert!(!events.iter().any(|e| e["event"] == "uploadCreated"));
    let key = key_of(events.last().unwrap()["uploadUrl"].as_str().unwrap());
    assert!(key.starts_with(prefix), "{key}");
    assert!(
        object(BUCKET, &key) == data,
        "the object differs from the file"
    );

    // Ctrl-C mid-upload: the signer aborts the multipart upload.
    let mut child = upload(dir.path(), &[&args[..], &["--fresh"]].concat());
    let lines = until_progress(&mut child, 20);
    assert!(weed::uploads_listed(BUCKET).0, "the upload is open");
    interrupt(&child);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest:?}");
    wait_for(
        "the abort to reach the store",
        Duration::from_secs(10),
        || !weed::uploads_listed(BUCKET).0,
    );
    let cached = std::fs::read_dir(dir.path().join("cache/s3"))
        .unwrap()
        .count();
    assert_eq!(cached, 0, "the aborted upload is forgotten");
}

/// `@uppy/companion` (standalone, from `peers/`) on the bucket under `prefix`, killed on drop;
/// `None` (said loudly) when it is not installed, a failure under `UPTASK_REQUIRE_PEERS=1`.
struct Companion {
    child: std::process::Child,
    url: String,
}

impl Companion {
    fn start(prefix: &str) -> Option<Self> {
        if !peer_installed("@uppy/companion") {
            return None;
        }
        let endpoint = format!("http://{}", weed::ENDPOINT);
        let mut child = std::process::Command::new("node")
            .current_dir(peers_dir())
            .args(["companion.mjs", &endpoint, BUCKET, prefix])
            .envs(weed::aws_env())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Companion logs to stdout too; the peer prints its URL on a line of its own.
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("http://127.0.0.1:") {
                    let _ = tx.send(line);
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("Companion did not start within 60 s: {e}"));
        Some(Self { child, url })
    }
}

impl Drop for Companion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn our_client_uploads_through_uppy_companion() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let Some(companion) = Companion::start("companion/") else {
        return;
    };
    let url = format!("{}/s3", companion.url);
    let dir = tempfile::tempdir().unwrap();
    let data = source((17 << 20) + 5, 33);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    std::fs::write(dir.path().join("small.txt"), b"a small file").unwrap();
    let base = [
        "--protocol",
        "s3",
        "--signer",
        "--part-size",
        "5MiB",
        "--json",
    ];

    let mut args = vec!["big.bin", &url, "--concurrency", "3", "-F", "album=trip"];
    args.extend(base);
    let (big, code) = events(upload(dir.path(), &args));
    assert_eq!(code, Some(0), "{big:?}");
    let key = key_of(big.last().unwrap()["uploadUrl"].as_str().unwrap());
    assert!(
        key.starts_with("companion/") && key.ends_with("-big.bin"),
        "{key}"
    );
    assert!(
        object(BUCKET, &key) == data,
        "the object differs from the file"
    );

    // Companion presigns a small file as a POST form; it goes as a multipart upload of one part.
    let mut args = vec!["small.txt", &url];
    args.extend(base);
    let (small, code) = events(upload(dir.path(), &args));
    assert_eq!(code, Some(0), "{small:?}");
    let key = key_of(small.last().unwrap()["uploadUrl"].as_str().unwrap());
    assert_eq!(object(BUCKET, &key), b"a small file");

    #[cfg(unix)]
    resume_then_interrupt(&url, &[], "companion/", false);
}
