//! A minimal HTTP/1.1 sink: reads each request's head and `Content-Length` body, discards it,
//! answers `200 ok`. Its cost is as close to zero as a server gets, so client differences show.
//!
//! `raw-sink` prints `listening on http://127.0.0.1:PORT` and serves until killed.
//! `raw-sink --tls CA.pem` serves HTTPS (rustls) instead, with a certificate for 127.0.0.1 signed
//! by a CA made at start, whose certificate it writes to `CA.pem` for the clients to trust.

#![allow(clippy::print_stdout, reason = "a tool that reports its port")]

use std::sync::Arc;

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "the test suite's certificate maker, shared as it is"
)]
#[path = "../../../crates/uptask/tests/common/pki.rs"]
mod pki;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let tls = match (args.next().as_deref(), args.next()) {
        (Some("--tls"), Some(ca_out)) => Some(acceptor(&ca_out)?),
        (None, _) => None,
        _ => anyhow::bail!("usage: raw-sink [--tls CA.pem]"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{}", listener.local_addr()?);
    loop {
        // Accept can fail for one connection (aborted before accept, out of descriptors);
        // the sink must outlive that.
        let Ok((s, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            continue;
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            let _ = match tls {
                Some(tls) => match tls.accept(s).await {
                    Ok(mut s) => serve(&mut s).await,
                    Err(e) => Err(e.into()),
                },
                None => serve(&mut { s }).await,
            };
        });
    }
}

/// A TLS acceptor for 127.0.0.1; the CA that signed its certificate goes to `ca_out`.
fn acceptor(ca_out: &str) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let pki = pki::generate(&["127.0.0.1", "localhost"]);
    std::fs::write(ca_out, &pki.ca_pem).with_context(|| format!("cannot write {ca_out}"))?;
    let cert = rustls_pki_types::CertificateDer::from(pki.cert_der);
    let key = rustls_pki_types::PrivateKeyDer::try_from(pki.key_der)
        .map_err(|e| anyhow::anyhow!("the generated key: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> anyhow::Result<()> {
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
