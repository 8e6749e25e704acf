//! The shared S3 store under an independent client and under random cuts and kills.

use std::io::Write;

use super::instances::{self, Instance, create, head, patch, wait_for};
use super::store::{BUCKET, assert_clean, cluster, published, sha256, source};
use super::*;

#[test]
fn tus_js_client_uploads_through_two_instances_in_turn() {
    if !peer_installed("tus-js-client") {
        return;
    }
    let peers = peers_dir();
    let Some((_weed, nodes)) = cluster("js", 2, &[]) else {
        return;
    };
    let [a, b] = &nodes[..] else { unreachable!() };
    let dir = tempfile::tempdir().unwrap();
    let data = source((13 << 20) + 11, 8);
    let file = dir.path().join("f.bin");
    std::fs::write(&file, &data).unwrap();
    // 3 MiB chunks: most rounds leave bytes short of a part, for the next instance to join.
    let out = std::process::Command::new("node")
        .current_dir(&peers)
        .arg("tus-alternate.mjs")
        .arg(&file)
        .arg((3 << 20).to_string())
        .args([format!("http://{}", a.addr), format!("http://{}", b.addr)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rounds = result["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 5, "{result}");
    assert_ne!(rounds[0], rounds[1], "{result}");
    let path = result["path"].as_str().unwrap();
    assert_eq!(sha256(&published(&a.addr, path, "js")), sha256(&data));
    assert_clean("js/");
}

/// xorshift: the cycles below are random but reproducible from the seed they print.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[cfg(unix)]
#[test]
fn twenty_random_cuts_and_kills_end_byte_identical() {
    let Some(_weed) = weed::Weed::start(BUCKET) else {
        return;
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("random cuts and kills, seed {seed}");
    let mut rng = seed;
    let store = format!("s3://{BUCKET}/chaos");
    let lease = ["--lock-lease", "3s"];
    let mut nodes: Vec<Instance> = (0..3).map(|_| Instance::start(&store, &lease)).collect();
    let data = source(48 << 20, seed);
    let path = create(&nodes[0].addr, data.len() as u64);
    let headers = |offset: u64| {
        vec![
            instances::tus(),
            ("Upload-Offset", offset.to_string()),
            ("Content-Type", "application/offset+octet-stream".to_owned()),
        ]
    };
    let mut offset = 0u64;
    let mut kills = 0;
    for cycle in 0..20 {
        let n = (next(&mut rng) % 3) as usize;
        // The last request's lock may stand a moment (a cut still storing, a killed holder's
        // lease): wait for a HEAD, then for the lock.
        let mut now = 0;
        wait_for(
            "the upload's lock to be free",
            Duration::from_secs(20),
            || {
                now = head(&nodes[n].addr, &path).offset();
                patch(&nodes[n].addr, &path, now, b"").status == 204
            },
        );
        assert!(
            now >= offset,
            "cycle {cycle} (seed {seed}): offset fell from {offset} to {now}"
        );
        offset = now;
        if offset == data.len() as u64 {
            break;
        }
        let rest = &data[offset as usize..];
        let send = ((next(&mut rng) % (3 << 20)) as usize + (256 << 10)).min(rest.len() - 1);
        let kill = next(&mut rng).is_multiple_of(3);
        let mut s = instances::open(
            &nodes[n].addr,
            "PATCH",
            &path,
            &headers(offset),
            rest.len() as u64,
        );
        let _ = s.write_all(&rest[..send]);
        std::thread::sleep(Duration::from_millis(100 + next(&mut rng) % 400));
        if kill {
            kills += 1;
            nodes[n].kill();
            drop(s);
            nodes[n] = Instance::start(&store, &lease);
        } else {
            drop(s);
        }
        // Once the request has ended (its lock is free), what it stored is the offset.
        let other = &nodes[(n + 1) % 3].addr;
        let mut after = 0;
        wait_for("the cut request to end", Duration::from_secs(20), || {
            after = head(other, &path).offset();
            patch(other, &path, after, b"").status == 204
        });
        assert!(
            after <= offset + send as u64,
            "cycle {cycle} (seed {seed}): {after} stored of {offset} + {send} sent"
        );
        eprintln!(
            "cycle {cycle}: instance {n}, {offset} + {send} sent, kill {kill}: {after} stored"
        );
        // A cut keeps every byte that arrived (a kill keeps the parts stored before it).
        assert!(
            kill || after == offset + send as u64,
            "cycle {cycle} (seed {seed}): a cut kept {after} of {offset} + {send}"
        );
    }
    // The rest in one go, through whichever instance, once the lock is free.
    let mut done = None;
    wait_for(
        "the last PATCH to be let in",
        Duration::from_secs(30),
        || {
            let now = head(&nodes[0].addr, &path).offset();
            let r = patch(&nodes[0].addr, &path, now, &data[now as usize..]);
            let through = r.status == 204;
            done = Some(r);
            through
        },
    );
    let r = done.unwrap();
    assert_eq!(r.offset(), data.len() as u64, "seed {seed}: {r:?}");
    assert_eq!(
        sha256(&published(&nodes[1].addr, &path, "chaos")),
        sha256(&data),
        "seed {seed}, {kills} kills"
    );
    assert_clean("chaos/");
}

/// The nginx example of docs/DEPLOY.md, as written there, on loopback in front of `backends`.
fn nginx_from_the_docs(dir: &Path, backends: &[&str]) -> (std::process::Child, String) {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/DEPLOY.md"))
            .unwrap();
    let example = doc
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("no nginx example in docs/DEPLOY.md"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut conf = String::new();
    for line in example.lines() {
        let t = line.trim();
        if t.starts_with("server 10.") {
            if conf.ends_with("    keepalive_placeholder\n") {
                continue;
            }
            for b in backends {
                conf.push_str(&format!("    server {b};\n"));
            }
            conf.push_str("    keepalive_placeholder\n");
        } else if t.starts_with("listen ") {
            conf.push_str(&format!("    listen 127.0.0.1:{port};\n"));
        } else if !t.starts_with("ssl_") && !t.starts_with("# ssl") {
            conf.push_str(line);
            conf.push('\n');
        }
    }
    let conf = conf.replace("    keepalive_placeholder\n", "");
    let d = dir.display();
    let full = format!(
        "daemon off;\nmaster_process off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{}}\nhttp {{\n access_log off;\n client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/fcgi;\n uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n{conf}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, full).unwrap();
    let child = std::process::Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    wait_for("nginx to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    (child, addr)
}

#[test]
fn the_nginx_example_of_the_deploy_guide_carries_a_tus_upload_to_the_instances() {
    let required = std::env::var("UPTASK_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    if std::process::Command::new("nginx")
        .arg("-v")
        .output()
        .is_err()
    {
        let why = "SKIPPED: nginx is not installed (apt-get install nginx)";
        assert!(!required, "{why}");
        eprintln!("{why}");
        return;
    }
    let Some((_weed, nodes)) = cluster("lb", 2, &[]) else {
        return;
    };
    let [a, b] = &nodes[..] else { unreachable!() };
    let dir = tempfile::tempdir().unwrap();
    let (mut nginx, lb) = nginx_from_the_docs(dir.path(), &[&a.addr, &b.addr]);
    let data = source((9 << 20) + 5, 9);
    std::fs::write(dir.path().join("f.bin"), &data).unwrap();
    let out = uptask()
        .current_dir(dir.path())
        .env("UPTASK_CACHE_DIR", dir.path().join("cache"))
        .args([
            "upload",
            "f.bin",
            &format!("http://{lb}/files/"),
            "--protocol",
            "tus",
        ])
        .args(["--chunk-size", "1MiB", "--json"])
        .output()
        .unwrap();
    let _ = nginx.kill();
    let _ = nginx.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let created = events
        .iter()
        .find(|e| e["event"] == "uploadCreated")
        .and_then(|e| e["url"].as_str())
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert!(
        created.starts_with(&format!("http://{lb}/files/")),
        "{created}"
    );
    let path = format!("/files/{}", created.rsplit('/').next().unwrap());
    assert_eq!(sha256(&published(&b.addr, &path, "lb")), sha256(&data));
    assert_clean("lb/");
}
