//! The S3 comparison: uptask and boto3's `upload_file`, same part size and concurrency, to
//! SeaweedFS (`weed mini`, data on tmpfs when there is one, a new store for every run); curl's
//! single signed `PUT` of the whole file shows what one stream gets from the store. uptask also
//! goes without keys, through the signer routes of `uptask serve --store` (parts presigned one
//! by one, each with its CRC32C signed in, or with Content-MD5), against the same upload with
//! keys and the same checksum.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use super::{
    MIB, Run, Settings, data_file, field, median, os, root, server_store, start_sink, summary,
    timed, usable,
};

pub(super) const ENDPOINT: &str = "http://127.0.0.1:8333";
pub(super) const BUCKET: &str = "bench";
pub(super) const KEY_ID: &str = "AKIDBENCH";
pub(super) const SECRET: &str = "SECRETBENCH";
const PART: u64 = 8 * MIB;
const CONCURRENCY: usize = 4;

/// `weed mini`, killed on drop, its data removed.
pub(super) struct Weed {
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A signed curl request to the store.
fn curl(method: &str, path: &str) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "-f", "-o", "/dev/null", "-X", method])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
        .arg(format!("{KEY_ID}:{SECRET}"))
        .arg(format!("{ENDPOINT}{path}"))
        .stderr(Stdio::null());
    c
}

/// A new store with the bench bucket, warmed up by one object of `warmup`: a fresh store's first
/// writes wait for it to set up its volumes, which would be charged to whichever client comes
/// first (a Python client's start-up hides most of it, a native one's does not).
pub(super) fn start(dir: &Path, warmup: &Path) -> anyhow::Result<Weed> {
    // Another store on the port would answer in this one's place.
    ensure!(
        std::net::TcpStream::connect("127.0.0.1:8333").is_err(),
        "127.0.0.1:8333 is already in use (a weed left running?): stop it first"
    );
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("data"))?;
    std::fs::write(
        dir.join("s3.json"),
        format!(
            r#"{{"identities":[{{"name":"bench","credentials":[{{"accessKey":"{KEY_ID}","secretKey":"{SECRET}"}}],"actions":["Admin","Read","Write","List"]}}]}}"#
        ),
    )?;
    let child = Command::new("bash")
        .arg(root().join("peers/weed-mini.sh"))
        .arg(dir.join("data"))
        .arg(dir.join("s3.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run weed")?;
    let weed = Weed {
        child,
        dir: dir.to_path_buf(),
    };
    let started = Instant::now();
    while !curl("PUT", &format!("/{BUCKET}"))
        .status()
        .is_ok_and(|s| s.success())
    {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("weed mini did not start within 60 s");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut put = curl("PUT", &format!("/{BUCKET}/warmup.bin"));
    put.args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T"])
        .arg(warmup);
    ensure!(put.status()?.success(), "cannot warm up the store");
    Ok(weed)
}

/// The S3 section of the report; `None` when weed, boto3 or curl is missing.
pub(crate) fn bench(settings: &Settings, bin: &Path, dir: &Path) -> anyhow::Result<Option<String>> {
    if !usable("weed", &["version"])
        || !usable("python3", &["-c", "import boto3"])
        || !usable("curl", &["--version"])
    {
        eprintln!("WARNING: weed, boto3 or curl is missing; the S3 rows are skipped");
        return Ok(None);
    }
    let size = if settings.smoke { 20 * MIB } else { 256 * MIB };
    let file = data_file(dir, &format!("data-{}.bin", size / MIB), size, false)?;
    let warmup = data_file(dir, "data-20.bin", 20 * MIB, false)?;
    let (store, medium) = server_store(dir, "s3");
    let cache = dir.join("s3-cache");
    let env = |argv: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut v = os(&[
            &"env",
            &format!("AWS_ACCESS_KEY_ID={KEY_ID}"),
            &format!("AWS_SECRET_ACCESS_KEY={SECRET}"),
            &"AWS_CONFIG_FILE=/dev/null",
            &"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
            &format!("UPTASK_CACHE_DIR={}", cache.display()),
        ]);
        v.extend(os(argv));
        v
    };
    let part = PART.to_string();
    let concurrency = CONCURRENCY.to_string();
    // One S3 upload of the file by uptask, to `to`, with `how` (keys or a signer).
    let upload = |to: &str, how: &[&str], checksum: &str| {
        let mut argv = os(&[
            &bin.join("uptask"),
            &"upload",
            &file,
            &to,
            &"--protocol",
            &"s3",
        ]);
        argv.extend(how.iter().map(OsString::from));
        argv.extend(os(&[
            &"--part-size",
            &part,
            &"--concurrency",
            &concurrency,
            &"--part-checksum",
            &checksum,
            &"--fresh",
        ]));
        let refs: Vec<&dyn AsRef<std::ffi::OsStr>> = argv.iter().map(|a| a as _).collect();
        env(&refs)
    };
    let keys = |checksum: &str| {
        upload(
            &format!("s3://{BUCKET}/uptask.bin"),
            &["--endpoint", ENDPOINT],
            checksum,
        )
    };
    // The signer's port is chosen now: its URL is part of the client's command line.
    let signer_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let signer = env(&[
        &bin.join("uptask"),
        &"serve",
        &"--addr",
        &format!("127.0.0.1:{signer_port}"),
        &"--dir",
        &dir.join("signer"),
        &"--store",
        &format!("s3://{BUCKET}/direct"),
        &"--endpoint",
        &ENDPOINT,
    ]);
    let through = |checksum: &str| {
        let signer = format!("http://127.0.0.1:{signer_port}/s3");
        let mut argv = upload(&signer, &["--signer"], checksum);
        // No keys on the client's side: the signer holds them.
        argv.retain(|a| !a.to_string_lossy().starts_with("AWS_"));
        argv
    };
    let clients: Vec<(&str, Vec<OsString>)> = vec![
        ("uptask", keys("crc32c")),
        ("uptask --part-checksum md5", keys("md5")),
        (
            "uptask --signer (no keys; uptask serve presigns)",
            through("crc32c"),
        ),
        (
            "uptask --signer --part-checksum md5 (as through Companion)",
            through("md5"),
        ),
        (
            "boto3 upload_file",
            env(&[
                &"python3",
                &root().join("peers/boto-upload.py"),
                &file,
                &ENDPOINT,
                &BUCKET,
                &"boto3.bin",
                &part,
                &concurrency,
            ]),
        ),
        (
            "curl --aws-sigv4 (one PUT, one stream)",
            os(&[
                &"curl",
                &"-sS",
                &"-f",
                &"-o",
                &"/dev/null",
                // Signed as sent: curl signs the headers it is given, so no `Expect:` override.
                &"-H",
                &"x-amz-content-sha256: UNSIGNED-PAYLOAD",
                &"--aws-sigv4",
                &"aws:amz:us-east-1:s3",
                &"--user",
                &format!("{KEY_ID}:{SECRET}"),
                &"-T",
                &file,
                &format!("{ENDPOINT}/{BUCKET}/curl.bin"),
            ]),
        ),
    ];
    // Every run gets a new, empty store: SeaweedFS slows down as its volumes fill, which
    // would otherwise favour whichever client ran first.
    let mut results: Vec<(&str, Vec<Run>)> =
        clients.iter().map(|(n, _)| (*n, Vec::new())).collect();
    for round in 0..settings.runs {
        for k in 0..clients.len() {
            let i = (round + k) % clients.len();
            let weed = start(&store, &warmup)?;
            let serve = if clients[i].0.contains("--signer") {
                Some(start_sink(&signer, true)?)
            } else {
                None
            };
            results[i].1.push(timed(&clients[i].1)?);
            drop(serve);
            drop(weed);
        }
    }

    let wall_of = |name: &str| {
        let runs = results.iter().find(|(n, _)| n.starts_with(name));
        runs.map_or(f64::NAN, |(_, r)| summary(r).0)
    };
    let boto = results
        .iter()
        .find(|(n, _)| n.starts_with("boto3"))
        .map(|(_, r)| r)
        .context("no boto3 row")?;
    let (boto_wall, ..) = summary(boto);
    let boto_inner = median(
        boto.iter()
            .map(|r| field(r, "ms").unwrap_or(f64::NAN) / 1000.0)
            .collect(),
    );
    let mut out = format!(
        "\n### {} MiB to SeaweedFS `weed mini` over S3 ({} runs, medians; parts of {} MiB, {CONCURRENCY} at a time; store on {})\n\n\
         | client | wall s | CPU s | peak RSS MiB | MB/s | throughput vs boto3 |\n|---|---:|---:|---:|---:|---:|\n",
        size / MIB,
        settings.runs,
        PART / MIB,
        medium
    );
    let mut uptask_wall = f64::NAN;
    for (name, runs) in &results {
        let (wall, cpu, rss) = summary(runs);
        if *name == "uptask" {
            uptask_wall = wall;
        }
        out.push_str(&format!(
            "| {name} | {wall:.3} | {cpu:.3} | {:.1} | {:.0} | {:.2} |\n",
            rss / 1024.0,
            size as f64 / 1e6 / wall,
            boto_wall / wall
        ));
    }
    out.push_str(&format!(
        "\nboto3's own timer around `upload_file` (no interpreter start or imports): {boto_inner:.3} s; \
         uptask's whole process against that: {:.2}×.\n",
        boto_inner / uptask_wall
    ));
    for (checksum, keys, signer) in [
        ("CRC32C", "uptask", "uptask --signer ("),
        (
            "Content-MD5",
            "uptask --part-checksum md5",
            "uptask --signer --part-checksum md5",
        ),
    ] {
        let ratio = wall_of(signer) / wall_of(keys);
        out.push_str(&format!(
            "\nThrough the signer against the same upload with keys (both {checksum}, same parts \
             and concurrency): {ratio:.2}× the wall time, an overhead of {:+.1} %.\n",
            (ratio - 1.0) * 100.0
        ));
    }
    Ok(Some(out))
}
