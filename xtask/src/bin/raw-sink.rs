//! A minimal HTTP/1.1 sink: reads each request's head and `Content-Length` body, discards it,
//! answers `200 ok`. Its cost is as close to zero as a server gets, so client differences show.
//!
//! `raw-sink` prints `listening on http://127.0.0.1:PORT` and serves until killed.

#![allow(clippy::print_stdout, reason = "a tool that reports its port")]

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        // Accept can fail for one connection (aborted before accept, out of descriptors);
        // the sink must outlive that.
        let Ok((mut s, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            continue;
        };
        tokio::spawn(async move {
            let _ = serve(&mut s).await;
        });
    }
}

async fn serve(s: &mut tokio::net::TcpStream) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut filled = 0;
    let head_end = loop {
        let n = s.read(&mut buf[filled..]).await?;
        anyhow::ensure!(n > 0, "closed before the head ended");
        filled += n;
        if let Some(i) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        anyhow::ensure!(filled < buf.len(), "head too large");
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut got = (filled - head_end) as u64;
    while got < length {
        let n = s.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "closed mid-body");
        got += n as u64;
    }
    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        .await?;
    s.shutdown().await?;
    Ok(())
}
