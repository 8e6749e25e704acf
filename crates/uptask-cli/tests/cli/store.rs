//! `uptask serve --store s3://...`: instances that share nothing but a SeaweedFS bucket.
//! Every upload's bytes are read back from the bucket and compared with the source.

use std::io::Write;

use super::instances::{self, Instance, create, head, keys, object, patch, wait_for};
use super::*;

pub(super) const BUCKET: &str = "shared-store";

/// SeaweedFS and `n` instances on `s3://BUCKET/PREFIX` with `flags`; `None` (said loudly)
/// without SeaweedFS.
pub(super) fn cluster(
    prefix: &str,
    n: usize,
    flags: &[&str],
) -> Option<(weed::Weed, Vec<Instance>)> {
    let weed = weed::Weed::start(BUCKET)?;
    let store = format!("s3://{BUCKET}/{prefix}");
    Some((
        weed,
        (0..n).map(|_| Instance::start(&store, flags)).collect(),
    ))
}

/// Bytes that differ at every offset, so a part stored at the wrong place shows.
pub(super) fn source(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub(super) fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the tus upload at `path` became: its `s3://` location's bytes.
pub(super) fn published(addr: &str, path: &str, prefix: &str) -> Vec<u8> {
    let id = path.rsplit('/').next().unwrap();
    // A published upload's info settles where the expiry sweep no longer reads it.
    let info = object(BUCKET, &format!("{prefix}/.uptask/tus-done/{id}.info"));
    let info: Value = serde_json::from_slice(&info).unwrap();
    let stored = info["stored"]
        .as_str()
        .unwrap_or_else(|| panic!("not published: {info}"));
    let key = stored
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .unwrap_or_else(|| panic!("{stored} is not in the bucket"));
    assert!(key.starts_with(&format!("{prefix}/")), "{key}");
    let r = head(addr, path);
    assert_eq!(r.status, 200, "{r:?}");
    object(BUCKET, key)
}

/// Nothing left over: no open multipart upload, no lock or pending bytes under `prefix`.
pub(super) fn assert_clean(prefix: &str) {
    let (open, listing) = weed::uploads_listed(BUCKET);
    assert!(!open, "multipart uploads left open: {listing}");
    let left: Vec<String> = keys(BUCKET, prefix)
        .into_iter()
        .filter(|k| k.ends_with(".lock") || k.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn three_instances_answer_for_one_upload_and_publish_it_whole() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let store = format!("s3://{BUCKET}/three");
    let nodes: Vec<Instance> = (0..3).map(|_| Instance::start(&store, &[])).collect();
    let [a, b, c] = [&nodes[0].addr, &nodes[1].addr, &nodes[2].addr];
    let data = source(13 * 1024 * 1024 + 7, 1);
    let path = create(a, data.len() as u64);
    // 6 MiB through B: one full 5 MiB part, 1 MiB kept in the store as pending bytes.
    let cut1 = 6 << 20;
    assert_eq!(patch(b, &path, 0, &data[..cut1]).status, 204);
    assert_eq!(head(c, &path).offset(), cut1 as u64);
    // 1 MiB through C: still no full part.
    let cut2 = 7 << 20;
    let r = patch(c, &path, cut1 as u64, &data[cut1..cut2]);
    assert_eq!((r.status, r.offset()), (204, cut2 as u64), "{r:?}");
    assert_eq!(head(a, &path).offset(), cut2 as u64);
    // Nothing is published before the end.
    let early: Vec<String> = keys(BUCKET, "three/")
        .into_iter()
        .filter(|k| !k.starts_with("three/.uptask/"))
        .collect();
    assert!(early.is_empty(), "an object before completion: {early:?}");
    // A stale offset is refused, wherever it is sent.
    assert_eq!(patch(b, &path, cut1 as u64, b"x").status, 409);
    let r = patch(a, &path, cut2 as u64, &data[cut2..]);
    assert_eq!((r.status, r.offset()), (204, data.len() as u64), "{r:?}");
    let stored = published(b, &path, "three");
    assert_eq!(stored.len(), data.len());
    assert_eq!(sha256(&stored), sha256(&data));
    assert_clean("three/");

    // POST /upload: a file over one part and a small one, both straight into the bucket.
    let dir = tempfile::tempdir().unwrap();
    let big = source(11 << 20, 2);
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("small.txt"), b"hello store").unwrap();
    let out = uptask()
        .current_dir(dir.path())
        .args([
            "upload",
            "big.bin",
            "small.txt",
            &format!("http://{c}/upload"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for (line, want) in text
        .lines()
        .filter(|l| l.starts_with('{'))
        .zip([&big[..], b"hello store"])
    {
        let reply: Value = serde_json::from_str(line).unwrap();
        let file = &reply["files"][0];
        let key = file["key"].as_str().unwrap();
        assert_eq!(file["path"], format!("s3://{BUCKET}/{key}"));
        assert!(key.starts_with("three/"), "{key}");
        assert_eq!(file["sha256"], sha256(want));
        assert_eq!(sha256(&object(BUCKET, key)), sha256(want));
    }
    assert_clean("three/");
}

#[test]
fn a_cut_patch_keeps_what_arrived_and_continues_through_another_instance() {
    let Some((_weed, nodes)) = cluster("cut", 2, &[]) else {
        return;
    };
    let [a, b] = &nodes[..] else { unreachable!() };
    let data = source(12 << 20, 3);
    let path = create(&a.addr, data.len() as u64);
    // Announce the whole body, send 7.5 MiB, and hang up.
    let sent = (15 << 20) / 2;
    let mut s = instances::open(
        &a.addr,
        "PATCH",
        &path,
        &[
            instances::tus(),
            ("Upload-Offset", "0".into()),
            ("Content-Type", "application/offset+octet-stream".into()),
        ],
        data.len() as u64,
    );
    s.write_all(&data[..sent]).unwrap();
    drop(s);
    // The cut request stores what it got once it ends: wait for that, through B.
    let mut offset = 0;
    wait_for(
        "the cut request to store its bytes",
        Duration::from_secs(20),
        || {
            offset = head(&b.addr, &path).offset();
            offset == sent as u64
        },
    );
    let r = patch(&b.addr, &path, offset, &data[sent..]);
    assert_eq!((r.status, r.offset()), (204, data.len() as u64), "{r:?}");
    assert_eq!(sha256(&published(&a.addr, &path, "cut")), sha256(&data));
    assert_clean("cut/");
}

#[cfg(unix)]
#[test]
fn a_killed_instance_keeps_its_lock_for_the_lease_then_the_upload_moves_on() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let store = format!("s3://{BUCKET}/kill");
    let lease = ["--lock-lease", "3s"];
    let mut a = Instance::start(&store, &lease);
    let b = Instance::start(&store, &lease);
    let data = source(16 << 20, 4);
    let path = create(&a.addr, data.len() as u64);
    let mut s = instances::open(
        &a.addr,
        "PATCH",
        &path,
        &[
            instances::tus(),
            ("Upload-Offset", "0".into()),
            ("Content-Type", "application/offset+octet-stream".into()),
        ],
        data.len() as u64,
    );
    // 11 MiB: two full parts on their way to the store, then the holder dies mid-body.
    s.write_all(&data[..11 << 20]).unwrap();
    let id = path.rsplit('/').next().unwrap();
    let lock = format!("/{BUCKET}/kill/.uptask/tus/{id}.lock");
    wait_for("the lock object", Duration::from_secs(10), || {
        weed::raw("HEAD", &lock, &[], &weed::creds()).0 == 200
    });
    a.kill();
    drop(s);
    // Its lock stands until the lease runs out: B refuses to write meanwhile.
    let offset = head(&b.addr, &path).offset();
    assert!(offset <= 10 << 20, "{offset}");
    assert_eq!(
        offset % (5 << 20),
        0,
        "only whole parts survive a kill: {offset}"
    );
    let refused = patch(&b.addr, &path, offset, &data[offset as usize..]);
    assert_eq!(refused.status, 423, "{refused:?}");
    assert!(refused.body.contains("another request"), "{refused:?}");
    let started = std::time::Instant::now();
    let mut done = None;
    wait_for("the lease to run out", Duration::from_secs(15), || {
        let r = patch(&b.addr, &path, offset, &data[offset as usize..]);
        let over = r.status != 423;
        done = Some(r);
        over
    });
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "taken over too early"
    );
    let r = done.unwrap();
    assert_eq!((r.status, r.offset()), (204, data.len() as u64), "{r:?}");
    assert_eq!(sha256(&published(&b.addr, &path, "kill")), sha256(&data));
    assert_clean("kill/");
}

#[test]
fn two_writers_through_two_instances_one_gets_423() {
    let Some((_weed, nodes)) = cluster("race", 2, &[]) else {
        return;
    };
    let [a, b] = &nodes[..] else { unreachable!() };
    let data = source(6 << 20, 5);
    let path = create(&a.addr, data.len() as u64);
    let headers = || {
        vec![
            instances::tus(),
            ("Upload-Offset", "0".to_owned()),
            ("Content-Type", "application/offset+octet-stream".to_owned()),
        ]
    };
    // Both heads are sent before either body: each request takes the lock when its head
    // arrives, so the two race for it. The bodies take 3 s, so the requests overlap for longer
    // than the store makes a conditional write wait for another on the same key (about 1 s in
    // SeaweedFS, which then decides as if the two came one after the other).
    let first = instances::open(&a.addr, "PATCH", &path, &headers(), data.len() as u64);
    let second = instances::open(&b.addr, "PATCH", &path, &headers(), data.len() as u64);
    let slowly = |mut s: std::net::TcpStream, data: Vec<u8>| {
        std::thread::spawn(move || {
            for piece in data.chunks(data.len() / 60 + 1) {
                if s.write_all(piece).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            instances::read_reply(s)
        })
    };
    let w1 = slowly(first, data.clone());
    let w2 = slowly(second, data.clone());
    let mut statuses = [w1.join().unwrap().status, w2.join().unwrap().status];
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 423]);
    assert_eq!(sha256(&published(&b.addr, &path, "race")), sha256(&data));
    assert_clean("race/");
}

#[test]
fn a_tus_upload_killed_and_run_again_resumes_through_another_instance() {
    let Some((_weed, nodes)) = cluster("resume", 2, &[]) else {
        return;
    };
    let [a, b] = &nodes[..] else { unreachable!() };
    let lb = instances::balancer(vec![a.addr.clone(), b.addr.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let data = source(12 << 20, 6);
    std::fs::write(dir.path().join("f.bin"), &data).unwrap();
    let url = format!("http://{lb}/files/");
    let run = || {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("uptask"));
        cmd.current_dir(dir.path())
            .env("UPTASK_CACHE_DIR", dir.path().join("cache"))
            .args(["upload", "f.bin", &url, "--protocol", "tus", "--json"])
            .args(["--chunk-size", "2MiB"]);
        cmd
    };
    // First run: slowed, killed once some bytes are in.
    let mut first = run();
    let mut first = first
        .args(["--limit-rate", "2M"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let mut created = None;
    while let Some(Ok(line)) = lines.next() {
        let event: Value = serde_json::from_str(&line).unwrap();
        if let Some(url) = event["url"]
            .as_str()
            .filter(|_| event["event"] == "uploadCreated")
        {
            created = Some(url.to_owned());
        }
        if event["event"] == "progressUpdate" && event["totalBytesSent"].as_u64() >= Some(5 << 20) {
            break;
        }
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let created = created.expect("an uploadCreated event before the kill");
    // Second run: new connections, so through the other instance too; it resumes.
    let out = run().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(events[0]["event"], "resumed", "{events:#?}");
    assert!(events[0]["offset"].as_u64().unwrap() > 0, "{:?}", events[0]);
    assert!(!events.iter().any(|e| e["event"] == "uploadCreated"));
    assert_eq!(events.last().unwrap()["event"], "success");
    let path = format!("/files/{}", created.rsplit('/').next().unwrap());
    assert_eq!(sha256(&published(&a.addr, &path, "resume")), sha256(&data));
    assert_clean("resume/");
}

#[test]
fn bad_store_settings_fail_at_start_with_one_line() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let endpoint = format!("http://{}", weed::ENDPOINT);
    let serve = |store: &str, env: &[(&str, &str)], endpoint: &str| {
        let out = uptask()
            .args(["serve", "--addr", "127.0.0.1:0", "--store", store])
            .args(["--endpoint", endpoint])
            .envs(weed::aws_env())
            .envs(env.iter().copied())
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The store, extra variables, the endpoint, the exit code, what the line names.
    type Case<'a> = (String, &'a [(&'a str, &'a str)], &'a str, i32, &'a str);
    let cases: [Case<'_>; 4] = [
        (
            format!("s3://{BUCKET}"),
            &[("AWS_SECRET_ACCESS_KEY", "wrong")],
            &endpoint,
            1,
            "SignatureDoesNotMatch",
        ),
        (
            "s3://no-such-bucket".into(),
            &[],
            &endpoint,
            1,
            "NoSuchBucket",
        ),
        (
            format!("s3://{BUCKET}"),
            &[],
            "http://127.0.0.1:9",
            1,
            "unreachable",
        ),
        ("s3://Bad_Bucket".into(), &[], &endpoint, 2, "Bad_Bucket"),
    ];
    for (store, env, endpoint, want, says) in cases {
        let (code, err) = serve(&store, env, endpoint);
        assert_eq!(code, Some(want), "{store}: {err}");
        assert!(err.contains(says), "{store}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[cfg(unix)]
#[test]
fn a_post_finish_kept_by_a_killed_instance_is_sent_by_another() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let store = format!("s3://{BUCKET}/hooks");
    let receiver = instances::HookReceiver::start();
    let flags = ["--hooks-http", &receiver.url, "--hooks-retry", "1s"];
    let mut a = Instance::start(&store, &flags);
    let data = source(3000, 7);
    let path = create(&a.addr, data.len() as u64);
    assert_eq!(patch(&a.addr, &path, 0, &data).status, 204);
    // The receiver is down: the event waits in the bucket; then A dies.
    wait_for("a kept hook event", Duration::from_secs(10), || {
        !keys(BUCKET, "hooks/.uptask/hooks/").is_empty()
    });
    a.kill();
    let tried = receiver.of("post-finish").len();
    receiver
        .up
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let b = Instance::start(&store, &flags);
    wait_for("the event sent by B", Duration::from_secs(20), || {
        receiver.of("post-finish").len() > tried && keys(BUCKET, "hooks/.uptask/hooks/").is_empty()
    });
    let event = receiver.of("post-finish").pop().unwrap();
    let id = path.rsplit('/').next().unwrap();
    assert_eq!(event["upload"]["id"], id);
    assert_eq!(event["upload"]["size"], 3000);
    assert_eq!(event["upload"]["storage"]["type"], "s3");
    assert_eq!(event["upload"]["storage"]["bucket"], BUCKET);
    let key = event["upload"]["storage"]["key"].as_str().unwrap();
    assert_eq!(sha256(&object(BUCKET, key)), sha256(&data));
    assert!(
        event["request"]["remoteAddr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{event}"
    );
    assert_eq!(receiver.of("pre-create").len(), 1);
    drop(b);
}
