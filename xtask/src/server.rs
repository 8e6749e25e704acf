//! `cargo xtask bench --server`: the receiving server on an S3 store. The same clients
//! (uptask, tus-js-client) upload the same file over tus to `uptask serve --store s3://...` and
//! to `@tus/server` with `@tus/s3-store`, on the same SeaweedFS with the same part size (a new
//! store for every run); then the server's peak RSS under 10 concurrent 64 MiB uploads, and
//! 200 concurrent 1 MiB uploads across two instances of one bucket.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, ensure};

use super::s3::{BUCKET, ENDPOINT, KEY_ID, SECRET, start as start_weed};
use super::{MIB, Run, Settings, Sink, data_file, median, os, root, start_sink, timed, usable};

const PART: u64 = 8 * MIB;

/// `env` with the store's keys (and a quiet access log), then `argv`.
fn with_keys(argv: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    let mut v = os(&[
        &"env",
        &format!("AWS_ACCESS_KEY_ID={KEY_ID}"),
        &format!("AWS_SECRET_ACCESS_KEY={SECRET}"),
        &"AWS_CONFIG_FILE=/dev/null",
        &"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
        &"UPTASK_LOG=warn",
    ]);
    v.extend(os(argv));
    v
}

/// tusd, when `go install github.com/tus/tusd/v2/cmd/tusd@v2.9.1` has put it on the PATH or
/// in `$HOME/go/bin`.
fn tusd() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME").map(|h| Path::new(&h).join("go/bin/tusd"));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("tusd"))
        .chain(home)
        .find(|p| p.is_file())
}

/// The servers, by name, how to start each on the bench bucket, and whether it announces on
/// stderr (tusd logs on stdout). The first is uptask's, the second the Node anchor, then tusd if it is installed.
fn servers(bin: &Path, prefix: &str) -> Vec<(&'static str, Vec<OsString>, bool)> {
    let part = PART.to_string();
    let mut all = vec![
        (
            "uptask serve --store",
            with_keys(&[
                &bin.join("uptask"),
                &"serve",
                &"--addr",
                &"127.0.0.1:0",
                &"--store",
                &format!("s3://{BUCKET}/{prefix}"),
                &"--endpoint",
                &ENDPOINT,
                &"--part-size",
                &part,
            ]),
            true,
        ),
        (
            "@tus/server + @tus/s3-store (Node)",
            with_keys(&[
                &"node",
                &root().join("peers/tus-s3-server.mjs"),
                &"0",
                &ENDPOINT,
                &BUCKET,
                &part,
            ]),
            false,
        ),
    ];
    if let Some(tusd) = tusd() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_or(0, |a| a.port());
        all.push((
            "tusd 2.9.1 -s3-bucket (Go)",
            with_keys(&[
                &"AWS_REGION=us-east-1",
                &tusd,
                &"-host",
                &"127.0.0.1",
                &"-port",
                &port.to_string(),
                &"-s3-bucket",
                &BUCKET,
                // Named by host, not by address: tusd prints the endpoint before its own
                // address, and the first "127.0.0.1:" line it prints must be the latter.
                &"-s3-endpoint",
                &ENDPOINT.replace("127.0.0.1", "localhost"),
                &"-s3-part-size",
                &part,
                &"-disable-download",
            ]),
            false,
        ));
    }
    all
}

fn files_url(sink: &Sink) -> String {
    let base = sink
        .url
        .trim_end_matches("/upload")
        .trim_end_matches("/files");
    format!("{base}/files/")
}

/// The peak resident memory of a running process, from `/proc`.
fn peak_rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmHWM")?;
    Ok(kib / 1024.0)
}

/// The server section of the report; `None` when a peer is missing.
pub(crate) fn bench(settings: &Settings, bin: &Path, dir: &Path) -> anyhow::Result<Option<String>> {
    let peers = root().join("peers");
    if !usable("weed", &["version"])
        || !usable("curl", &["--version"])
        || !usable("python3", &["-c", "import boto3"])
        || !peers.join("node_modules/@tus/s3-store").exists()
        || !peers.join("node_modules/tus-js-client").exists()
    {
        eprintln!(
            "WARNING: weed, curl, @tus/s3-store or tus-js-client is missing; the server rows are skipped"
        );
        return Ok(None);
    }
    let size = if settings.smoke { 16 * MIB } else { 256 * MIB };
    let file = data_file(dir, &format!("data-{}.bin", size / MIB), size, false)?;
    let warmup = data_file(dir, "data-20.bin", 20 * MIB, false)?;
    let store = std::path::PathBuf::from("/dev/shm").join("uptask-bench-server");
    let store = if store.parent().is_some_and(Path::is_dir) {
        store
    } else {
        dir.join("server-store")
    };
    let cache = dir.join("server-cache");
    let uptask = |endpoint: &str, checksum: bool| {
        let mut argv = os(&[
            &"env",
            &format!("UPTASK_CACHE_DIR={}", cache.display()),
            &bin.join("uptask"),
            &"upload",
            &file,
            &endpoint,
            &"--protocol",
            &"tus",
            &"--fresh",
        ]);
        if !checksum {
            argv.push("--no-checksum".into());
        }
        argv
    };
    let js = |endpoint: &str| os(&[&"node", &peers.join("tus-upload.mjs"), &file, &endpoint]);
    // uptask checksums where the server offers it (only uptask serve does): each 32 MiB PATCH
    // is verified before it counts, so its parts wait for its last byte.
    let clients = [
        "uptask (sha256-checked 32 MiB PATCHes where offered, else one PATCH)",
        "uptask --no-checksum (one PATCH)",
        "tus-js-client 4 (one PATCH)",
    ];
    let count = servers(bin, "tus").len();
    // results[server][client]
    let mut results: Vec<Vec<Vec<Run>>> = vec![vec![Vec::new(); clients.len()]; count];
    for round in 0..settings.runs {
        for k in 0..count {
            let s = (round + k) % count;
            for (c, runs) in results[s].iter_mut().enumerate() {
                let weed = start_weed(&store, &warmup)?;
                let (_, argv, on_stderr) = &servers(bin, "tus")[s];
                let server = start_sink(argv, *on_stderr)?;
                let endpoint = files_url(&server);
                let argv = match c {
                    0 => uptask(&endpoint, true),
                    1 => uptask(&endpoint, false),
                    _ => js(&endpoint),
                };
                runs.push(timed(&argv)?);
                drop(server);
                drop(weed);
            }
        }
    }
    let names: Vec<&str> = servers(bin, "tus").into_iter().map(|(n, ..)| n).collect();
    let mut out = format!(
        "\n### {} MiB over tus into SeaweedFS through each server ({} runs, medians; parts of {} MiB; store on {})\n\n\
         | server | client | wall s | MB/s | throughput vs @tus/s3-store |\n|---|---|---:|---:|---:|\n",
        size / MIB,
        settings.runs,
        PART / MIB,
        if store.starts_with("/dev/shm") {
            "tmpfs"
        } else {
            "disk"
        },
    );
    for (c, client) in clients.iter().enumerate() {
        let node = median(results[1][c].iter().map(|r| r.wall).collect());
        for (s, server) in names.iter().enumerate() {
            let wall = median(results[s][c].iter().map(|r| r.wall).collect());
            out.push_str(&format!(
                "| {server} | {client} | {wall:.3} | {:.0} | {:.2} |\n",
                size as f64 / 1e6 / wall,
                node / wall
            ));
        }
    }

    // Peak server memory: 10 uploads of 64 MiB at once.
    let (many, each) = if settings.smoke {
        (3, 8 * MIB)
    } else {
        (10, 64 * MIB)
    };
    let parallel_dir = dir.join("server-parallel");
    std::fs::create_dir_all(&parallel_dir)?;
    let mut files = Vec::new();
    for i in 0..many {
        files.push(data_file(&parallel_dir, &format!("p{i}.bin"), each, false)?);
    }
    out.push_str(&format!(
        "\n{many} concurrent tus uploads of {} MiB (uptask --parallel {many}), server peak RSS:\n\n\
         | server | wall s | server peak RSS MiB |\n|---|---:|---:|\n",
        each / MIB
    ));
    for (name, argv, on_stderr) in servers(bin, "rss") {
        let weed = start_weed(&store, &warmup)?;
        let server = start_sink(&argv, on_stderr)?;
        let mut cmd = os(&[
            &"env",
            &format!("UPTASK_CACHE_DIR={}", cache.display()),
            &bin.join("uptask"),
            &"upload",
        ]);
        cmd.extend(files.iter().map(OsString::from));
        cmd.extend(os(&[
            &files_url(&server),
            &"--protocol",
            &"tus",
            &"--fresh",
            &"--parallel",
            &many.to_string(),
        ]));
        let started = Instant::now();
        let status = Command::new(&cmd[0]).args(&cmd[1..]).output()?;
        ensure!(
            status.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let wall = started.elapsed().as_secs_f64();
        let rss = peak_rss_mib(server.child.id())?;
        out.push_str(&format!("| {name} | {wall:.3} | {rss:.1} |\n"));
        drop(server);
        drop(weed);
    }

    // Many small uploads across two instances of one bucket.
    let (count, small) = if settings.smoke {
        (20, MIB)
    } else {
        (200, MIB)
    };
    let small_dir = dir.join("server-small");
    std::fs::create_dir_all(&small_dir)?;
    let mut smalls = Vec::new();
    for i in 0..count / 2 {
        smalls.push(data_file(&small_dir, &format!("s{i}.bin"), small, false)?);
    }
    let weed = start_weed(&store, &warmup)?;
    let (_, argv, _) = servers(bin, "small").swap_remove(0);
    let instances = [start_sink(&argv, true)?, start_sink(&argv, true)?];
    let started = Instant::now();
    let mut children = Vec::new();
    for (n, instance) in instances.iter().enumerate() {
        let mut cmd = Command::new(bin.join("uptask"));
        cmd.env("UPTASK_CACHE_DIR", cache.join(format!("small-{n}")))
            .arg("upload")
            .args(&smalls)
            .arg(files_url(instance))
            .args(["--protocol", "tus", "--fresh", "--parallel"])
            .arg((count / 2).to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        children.push(cmd.spawn()?);
    }
    for child in children {
        let out = child.wait_with_output()?;
        ensure!(
            out.status.success(),
            "small uploads: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let wall = started.elapsed().as_secs_f64();
    // What the bucket holds under the prefix, besides the server's own state.
    let listed = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import boto3\n\
             s3 = boto3.client('s3', endpoint_url='{ENDPOINT}', aws_access_key_id='{KEY_ID}', \
             aws_secret_access_key='{SECRET}', region_name='us-east-1')\n\
             n = 0\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket='{BUCKET}', Prefix='small/'):\n\
             \x20   n += sum(1 for o in page.get('Contents', []) if not o['Key'].startswith('small/.uptask/'))\n\
             print(n)\n"
        ))
        .output()?;
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    ensure!(
        listed.status.success(),
        "cannot list the bucket: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let stored: usize = text.trim().parse().context("the listing's count")?;
    ensure!(stored == count, "{stored} of {count} small uploads stored");
    drop(instances);
    drop(weed);
    out.push_str(&format!(
        "\n{count} concurrent tus uploads of {} MiB, half through each of two `uptask serve --store` \
         instances on one bucket: all {stored} stored in {wall:.2} s.\n",
        small / MIB
    ));
    Ok(Some(out))
}
