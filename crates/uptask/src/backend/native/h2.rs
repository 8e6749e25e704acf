//! One request over HTTP/2 (`UploadOptions::enable_http2`), for multipart uploads.
//!
//! Progress stays honest under flow control: a body byte counts once the server's window let
//! it go (h2 granted capacity for it and took it), never when it was merely read from the
//! source. A response that arrives before the body is done stops the body, as over HTTP/1.1.

use bytes::Bytes;
use uptask_proto::http1::{ResponseHead, header_map};
use uptask_proto::multipart::Piece;

use super::conn::Io;
use super::exchange::{
    Exchanged, Link, MAX_RESPONSE_BODY, Outgoing, SALVAGE_WINDOW, Watch, guard, slice_of, too_big,
};
use super::source::Chunks;
use super::timing::Timings;
use crate::backend::PlannedSource;
use crate::{ErrorKind, UploadError};

/// The request's method, target and headers, for HTTP/2's header block.
pub(super) struct H2Head<'a> {
    pub(super) url: &'a url::Url,
    pub(super) headers: Vec<(String, String)>,
}

/// Ends the connection's task when the request is done with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn h2_error(what: &str, e: &h2::Error) -> UploadError {
    let kind = if e.is_io() {
        ErrorKind::Io
    } else {
        ErrorKind::Protocol
    };
    UploadError::new(kind, format!("HTTP/2 {what}: {e}"))
}

/// Sends `out` on `io` (already speaking HTTP/2) and reads the response.
pub(super) async fn exchange(
    link: &Link<'_>,
    io: Box<dyn Io>,
    out: Outgoing<'_>,
    head: &H2Head<'_>,
    watch: &mut dyn Watch,
    mut timings: Timings,
) -> Result<Exchanged, UploadError> {
    let stall = link.setup.stall;
    let (client, connection) = guard(stall, h2::client::handshake(io))
        .await?
        .map_err(|e| h2_error("handshake", &e))?;
    // The connection does the socket work in a task of its own, which goes with this request
    // (finished, failed, or dropped by an abort).
    let _driver = AbortOnDrop(tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "HTTP/2 connection ended");
        }
    }));
    let (head, data) = request(link, client, out, head, watch, &mut timings).await?;
    let header = header_map(&head);
    Ok(Exchanged {
        head,
        header,
        data,
        timings,
    })
}

async fn request(
    link: &Link<'_>,
    client: h2::client::SendRequest<Bytes>,
    out: Outgoing<'_>,
    head: &H2Head<'_>,
    watch: &mut dyn Watch,
    timings: &mut Timings,
) -> Result<(ResponseHead, String), UploadError> {
    let stall = link.setup.stall;
    let mut client = guard(stall, client.ready())
        .await?
        .map_err(|e| h2_error("connection", &e))?;
    let mut request = http::Request::builder()
        .method(out.method)
        .uri(head.url.as_str());
    for (name, value) in &head.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(())
        .map_err(|e| UploadError::invalid(format!("a request HTTP/2 cannot carry: {e}")))?;
    timings.request.0 = crate::backend::now();
    let (response, mut stream) = client
        .send_request(request, out.len == 0)
        .map_err(|e| h2_error("request", &e))?;
    let mut response = std::pin::pin!(response);
    let sending = send_body(link, out, &mut stream, watch);
    // The body goes out while the response is watched: an early answer wins, also over the
    // reset that often follows it.
    let answered = tokio::select! {
        biased;
        answer = &mut response => Some(answer),
        sent = sending => match sent {
            Ok(()) => None,
            Err(e) => match tokio::time::timeout(SALVAGE_WINDOW, &mut response).await {
                Ok(Ok(answer)) => Some(Ok(answer)),
                _ => return Err(e),
            },
        },
    };
    timings.request.1 = crate::backend::now();
    let early = answered.is_some();
    let answer = match answered {
        Some(answer) => answer,
        None => guard(stall, &mut response).await?,
    };
    let answer = answer.map_err(|e| h2_error("response", &e))?;
    timings.response.0 = crate::backend::now();
    let (parts, mut body) = answer.into_parts();
    let head = ResponseHead {
        status: parts.status.as_u16(),
        reason: String::new(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
    };
    watch.head(&head, &header_map(&head));
    let mut data = Vec::new();
    while let Some(chunk) = guard(stall, body.data()).await? {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            // A server that answered early may reset the stream once it has; the status is
            // what matters, keep what arrived of the body.
            Err(e) if early => {
                tracing::debug!(error = %e, "early HTTP/2 response cut short");
                break;
            }
            Err(e) => return Err(h2_error("response body", &e)),
        };
        let _ = body.flow_control().release_capacity(chunk.len());
        if data.len() + chunk.len() > MAX_RESPONSE_BODY {
            return Err(too_big());
        }
        data.extend_from_slice(&chunk);
    }
    if early {
        // The rest of the request body is not wanted.
        stream.send_reset(h2::Reason::CANCEL);
    }
    timings.response.1 = crate::backend::now();
    Ok((head, String::from_utf8_lossy(&data).into_owned()))
}

/// Sends every piece of the body, each byte once the server's window has room for it.
async fn send_body(
    link: &Link<'_>,
    out: Outgoing<'_>,
    stream: &mut h2::SendStream<Bytes>,
    watch: &mut dyn Watch,
) -> Result<(), UploadError> {
    let total = out.len;
    let mut sent = 0u64;
    if total == 0 {
        watch.sent(0);
        return Ok(());
    }
    for piece in out.pieces {
        match piece {
            Piece::Bytes(b) => {
                send(
                    link,
                    stream,
                    Bytes::copy_from_slice(b),
                    &mut sent,
                    total,
                    watch,
                )
                .await?;
            }
            Piece::File { index, offset, len } => match link.setup.source_at(index)? {
                // The bytes the plan holds, shared rather than copied.
                PlannedSource::Bytes(bytes) => {
                    let part = bytes.slice_ref(slice_of(bytes, offset, len)?);
                    send(link, stream, part, &mut sent, total, watch).await?;
                }
                PlannedSource::Path { path, fingerprint } => {
                    let mut chunks = Chunks::open(path, *fingerprint, offset, len)?;
                    let mut buf = Vec::new();
                    while chunks.next(&mut buf).await? {
                        let chunk = Bytes::from(std::mem::take(&mut buf));
                        send(link, stream, chunk, &mut sent, total, watch).await?;
                    }
                }
                PlannedSource::Blob(blob) => match *blob {},
                PlannedSource::Stream { .. } => {
                    return Err(UploadError::new(
                        ErrorKind::Internal,
                        "a stream is sent from memory, not by range",
                    ));
                }
            },
            _ => return Err(UploadError::new(ErrorKind::Internal, "unknown body piece")),
        }
    }
    Ok(())
}

/// Sends `data` as the window (and any bandwidth limit) allows, counting each byte sent.
async fn send(
    link: &Link<'_>,
    stream: &mut h2::SendStream<Bytes>,
    mut data: Bytes,
    sent: &mut u64,
    total: u64,
    watch: &mut dyn Watch,
) -> Result<(), UploadError> {
    let stall = link.setup.stall;
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let granted = guard(stall, std::future::poll_fn(|cx| stream.poll_capacity(cx)))
            .await?
            .ok_or_else(|| UploadError::new(ErrorKind::Io, "the server closed the HTTP/2 stream"))?
            .map_err(|e| h2_error("flow control", &e))?;
        if granted == 0 {
            continue;
        }
        let mut n = granted.min(data.len()) as u64;
        let limits = &link.setup.limits;
        if !limits.is_empty() {
            let grant = limits.take(n).await;
            n = grant.len();
            grant.settle(n);
        }
        let chunk = data.split_to(usize::try_from(n).unwrap_or(usize::MAX));
        *sent += n;
        stream
            .send_data(chunk, *sent == total)
            .map_err(|e| h2_error("body", &e))?;
        watch.sent(*sent);
    }
    Ok(())
}
