//! Library-level benchmarks of uptask.
//!
//! - `lib-bench single URL FILE [--listener]`: one upload; with `--listener`, a progress
//!   listener that does real work (formats the event) is attached.
//! - `lib-bench concurrent URL FILE N`: N uploads of FILE at once from one process.
//!
//! Prints one JSON line: `{"ms":..,"cpu_ms":..,"ok":..,"failed":..,"bytes":..}`, where `cpu_ms`
//! is the process's CPU time (user + system, all threads) spent during the uploads.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark client that reports its numbers"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use uptask::{UploadOptions, upload_file};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, url, file) = match &args[..] {
        [m, u, f, ..] => (m.as_str(), u.clone(), f.clone()),
        _ => anyhow::bail!("usage: lib-bench single|concurrent URL FILE [N|--listener]"),
    };
    let bytes = std::fs::metadata(&file)?.len();
    let started = Instant::now();
    let cpu_started = cpu_ms();
    let (ok, failed) = match mode {
        "single" => {
            let listener = args.get(3).is_some_and(|a| a == "--listener");
            let task = upload_file(
                UploadOptions::new(&url, &file, "file").timeout(std::time::Duration::ZERO),
            );
            let seen = Arc::new(AtomicU64::new(0));
            if listener {
                let s = Arc::clone(&seen);
                task.on_progress_update(move |p| {
                    let line = format!(
                        "{}% {}/{}",
                        p.progress, p.total_bytes_sent, p.total_bytes_expected_to_send
                    );
                    s.fetch_add(line.len() as u64, Ordering::Relaxed);
                });
            }
            let done = task.await?;
            anyhow::ensure!(done.status_code == 200, "status {}", done.status_code);
            (1, 0)
        }
        "concurrent" => {
            let n: usize = args.get(3).map_or(Ok(1000), |a| a.parse())?;
            let tasks: Vec<_> = (0..n)
                .map(|_| tokio::spawn(upload_file(UploadOptions::new(&url, &file, "file"))))
                .collect();
            let (mut ok, mut failed) = (0u64, 0u64);
            for t in tasks {
                match t.await? {
                    Ok(done) if done.status_code == 200 => ok += 1,
                    Ok(_) | Err(_) => failed += 1,
                }
            }
            (ok, failed)
        }
        other => anyhow::bail!("unknown mode {other}"),
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let cpu = cpu_ms() - cpu_started;
    println!(
        "{{\"ms\":{ms:.1},\"cpu_ms\":{cpu:.1},\"ok\":{ok},\"failed\":{failed},\"bytes\":{}}}",
        bytes * ok
    );
    Ok(())
}

/// CPU time of the process's live threads so far, in milliseconds: the sum of the first field
/// of each `/proc/self/task/*/schedstat` (nanoseconds on the CPU). Runtime threads outlive the
/// uploads, so none of their time is lost.
fn cpu_ms() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let ns: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e6
}
