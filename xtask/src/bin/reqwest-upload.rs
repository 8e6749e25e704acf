//! The usual Rust answer to "upload with progress": reqwest 0.13 with a counting body.
//!
//! `reqwest-upload FILE URL` posts FILE as multipart field `file`, counting bytes as reqwest
//! pulls them from the stream (what a progress bar built this way would show).

#![allow(
    clippy::print_stdout,
    reason = "a benchmark client that reports its count"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(url)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: reqwest-upload FILE URL");
    };
    let file = tokio::fs::File::open(&path).await?;
    let len = file.metadata().await?.len();
    let counted = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&counted);
    let stream =
        tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                c.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
        });
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), len)
            .file_name("data.bin");
    let form = reqwest::multipart::Form::new().part("file", part);
    let res = reqwest::Client::new()
        .post(&url)
        .multipart(form)
        .send()
        .await?;
    let status = res.status();
    let _ = res.bytes().await?;
    anyhow::ensure!(status.is_success(), "status {status}");
    println!("{{\"counted\":{}}}", counted.load(Ordering::Relaxed));
    Ok(())
}
