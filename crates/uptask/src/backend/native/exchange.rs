//! One request and its response over one connection.
//!
//! The request body is written while the read side is watched, so a response that arrives early
//! (a 413 before the body is done) stops the body at once. Progress counts the bytes each socket
//! write (or `sendfile`) accepted: there is no buffer between the source and the socket that
//! could make the count run ahead of the transport.

use std::future::Future;
use std::time::Duration;

use uptask_proto::http1::{
    BodyFraming, ChunkedDecoder, ResponseHead, header_map, parse_response_head,
};
use uptask_proto::multipart::Piece;
use uptask_proto::proxy::Route;

use super::conn::{self, Connected};
use super::head::Origin;
use super::source::{CHUNK, Chunks, SendFile};
use super::timing::Timings;
use super::transport::{Out, Step, Transport};
use crate::backend::{PlannedSource, Setup};
use crate::{ErrorKind, UploadError};

/// The largest response body kept; the seed returns it as a string, so it must fit in memory.
pub(super) const MAX_RESPONSE_BODY: usize = 64 * 1024 * 1024;

/// A response body past [`MAX_RESPONSE_BODY`]: refused rather than held.
pub(super) fn too_big() -> UploadError {
    UploadError::new(
        ErrorKind::Protocol,
        format!("the response body is larger than {MAX_RESPONSE_BODY} bytes"),
    )
}

/// How long to look for a response after the server broke off the upload.
pub(super) const SALVAGE_WINDOW: Duration = Duration::from_secs(1);

const READ_RESERVE: usize = 16 * 1024;

/// What a caller of [`roundtrip`] hears while it runs.
pub(super) trait Watch: Send {
    /// `sent` body bytes have been accepted by the transport so far.
    fn sent(&mut self, sent: u64);
    /// The final response head arrived (before its body is read).
    fn head(&mut self, _head: &ResponseHead, _header: &crate::Header) {}
}

/// Progress only.
impl<F: FnMut(u64) + Send> Watch for F {
    fn sent(&mut self, sent: u64) {
        self(sent);
    }
}

/// Where a request goes; the plan has the rest (trust, limits, the body's sources).
pub(super) struct Link<'a> {
    pub(super) origin: Origin,
    /// Straight there, or through a proxy.
    pub(super) route: Route,
    pub(super) setup: Setup<'a>,
}

/// One request to write: its method, encoded head and body pieces; and, to offer HTTP/2,
/// its head as HTTP/2 sends it.
pub(super) struct Outgoing<'a> {
    pub(super) method: &'a str,
    pub(super) head: &'a [u8],
    pub(super) pieces: Box<dyn Iterator<Item = Piece<'a>> + Send + 'a>,
    pub(super) len: u64,
    pub(super) h2: Option<super::h2::H2Head<'a>>,
}

/// One response: its head, headers as a map, and body; and when each stage happened.
pub(super) struct Exchanged {
    pub(super) head: ResponseHead,
    pub(super) header: crate::Header,
    pub(super) data: String,
    pub(super) timings: Timings,
}

/// Sends one request on a new connection and reads its response. `progress` hears the body
/// bytes accepted so far. Through a proxy, a failure says so.
pub(super) async fn roundtrip<'a>(
    link: &Link<'a>,
    out: Outgoing<'a>,
    watch: &mut dyn Watch,
) -> Result<Exchanged, UploadError> {
    let (Route::Forward(proxy) | Route::Tunnel(proxy)) = &link.route else {
        return exchange(link, out, watch).await;
    };
    exchange(link, out, watch).await.map_err(|e| {
        let named = e.message().contains(&proxy.to_string());
        if named
            || !matches!(
                e.kind(),
                ErrorKind::Io | ErrorKind::Connect | ErrorKind::Timeout
            )
        {
            return e;
        }
        let message = format!("{} (through the proxy {proxy})", e.message());
        UploadError::new(e.kind(), message).with_source(e)
    })
}

async fn exchange<'a>(
    link: &Link<'a>,
    mut out: Outgoing<'a>,
    watch: &mut dyn Watch,
) -> Result<Exchanged, UploadError> {
    let mut timings = Timings::default();
    // A forwarding proxy speaks HTTP/1.1: no h2c through it.
    let h2_head = out
        .h2
        .take()
        .filter(|_| !matches!(link.route, Route::Forward(_)));
    let connected = guard(
        link.setup.stall,
        conn::connect(
            &link.origin,
            &link.route,
            link.setup.roots,
            h2_head.is_some(),
            &mut timings,
        ),
    )
    .await??;
    // HTTP/2 when asked for: over TLS if the server chose it, over plain TCP with prior
    // knowledge (h2c).
    let connected = match (h2_head, connected) {
        (Some(head), Connected::Plain(tcp)) => {
            timings.http2 = true;
            return super::h2::exchange(link, Box::new(tcp), out, &head, watch, timings).await;
        }
        (Some(head), Connected::Tls { io, h2: true }) => {
            timings.http2 = true;
            return super::h2::exchange(link, io, out, &head, watch, timings).await;
        }
        (_, connected) => connected,
    };
    let mut conn = Conn {
        io: Transport::new(connected),
        inbuf: Vec::with_capacity(READ_RESERVE),
        stall: link.setup.stall,
        written: 0,
    };
    let method = out.method;
    let expected = out.len;
    timings.request.0 = crate::backend::now();
    let early = send_body(link, out, watch, &mut conn).await?;
    timings.request.1 = crate::backend::now();
    timings.written = conn.written;
    let was_early = early.is_some();
    let head = match early {
        Some(head) => head,
        None => conn.read_final_head(expected).await?,
    };
    timings.response.0 = crate::backend::now();
    tracing::debug!(
        status = head.status,
        early = was_early,
        "response head received"
    );
    if let (Route::Forward(proxy), 407) = (&link.route, head.status) {
        return Err(UploadError::new(
            ErrorKind::Protocol,
            uptask_proto::proxy::refused_credentials(proxy, head.status, &head.reason),
        ));
    }
    let header = header_map(&head);
    watch.head(&head, &header);
    let data = match conn.read_body(&head, method).await {
        Ok(data) => data,
        // A server that answered early often resets the connection right after (it stopped
        // reading our body). The status is what matters; keep what arrived of the body.
        Err((partial, err)) if was_early => {
            tracing::debug!(error = %err, "early response cut short");
            partial
        }
        Err((_, err)) => return Err(err),
    };
    timings.response.1 = crate::backend::now();
    Ok(Exchanged {
        head,
        header,
        data: String::from_utf8_lossy(&data).into_owned(),
        timings,
    })
}

struct Conn {
    io: Transport,
    inbuf: Vec<u8>,
    stall: Option<Duration>,
    /// Request bytes the transport accepted, head included.
    written: u64,
}

/// The stretch of the request being written now.
enum Pending<'a> {
    /// Bytes held by the plan: the head, the multipart framing, or an in-memory source.
    Slice {
        data: &'a [u8],
        pos: usize,
        body: bool,
    },
    /// The file through a buffer, chunk by chunk (TLS, or no `sendfile` on this platform).
    Chunked {
        chunks: Chunks,
        buf: Vec<u8>,
        pos: usize,
    },
    /// The file straight from the page cache to the socket.
    SendFile(SendFile),
}

/// Writes the head and body. Returns the final response head if it arrived before the body
/// was done, in which case the rest of the body is not sent.
async fn send_body<'a>(
    link: &Link<'a>,
    out: Outgoing<'a>,
    watch: &mut dyn Watch,
    conn: &mut Conn,
) -> Result<Option<ResponseHead>, UploadError> {
    let expected = out.len;
    let mut pieces = out.pieces;
    let mut pending = Pending::Slice {
        data: out.head,
        pos: 0,
        body: false,
    };
    let mut sent = 0u64;
    if expected == 0 {
        watch.sent(0);
    }
    loop {
        if !ready(&mut pending).await? {
            pending = match pieces.next() {
                None => break,
                Some(piece) => start_piece(link.setup, &conn.io, piece)?,
            };
            continue;
        }
        let out = match &pending {
            // One chunk per write keeps progress as fine-grained as for files read in chunks.
            Pending::Slice { data, pos, .. } => {
                Out::Bytes(&data[*pos..data.len().min(*pos + CHUNK)])
            }
            Pending::Chunked { buf, pos, .. } => Out::Bytes(&buf[*pos..]),
            Pending::SendFile(f) => f.out(),
        };
        // Under a limit, only what it grants goes to the socket; the rest waits.
        let limits = &link.setup.limits;
        let (out, grant) = if limits.is_empty() {
            (out, None)
        } else {
            let grant = limits.take(out.len()).await;
            (out.capped(grant.len()), Some(grant))
        };
        conn.inbuf.reserve(READ_RESERVE);
        let step = guard(conn.stall, conn.io.step(&mut conn.inbuf, out)).await?;
        if let Some(grant) = grant {
            grant.settle(match &step {
                Step::Wrote(Ok(n)) => *n as u64,
                _ => 0,
            });
        }
        match step {
            Step::Wrote(Ok(0)) => {
                return Err(match &pending {
                    Pending::SendFile(f) => f.shrank(),
                    _ => lost(std::io::ErrorKind::WriteZero.into(), sent, expected),
                });
            }
            Step::Wrote(Ok(n)) => {
                conn.written += n as u64;
                let is_body = match &mut pending {
                    Pending::Slice { pos, body, .. } => {
                        *pos += n;
                        *body
                    }
                    Pending::Chunked { pos, .. } => {
                        *pos += n;
                        true
                    }
                    Pending::SendFile(f) => {
                        f.advance(n as u64);
                        true
                    }
                };
                if is_body {
                    sent += n as u64;
                    watch.sent(sent);
                }
            }
            Step::Wrote(Err(e)) => {
                // The server may have answered and then closed; its answer wins over our error.
                return match conn.salvage_head().await {
                    Some(head) => Ok(Some(head)),
                    None => Err(lost(e, sent, expected)),
                };
            }
            Step::Read(Ok(0)) => {
                return Err(UploadError::new(
                    ErrorKind::Io,
                    format!(
                        "the server closed the connection after {sent} of {expected} body bytes, without a response"
                    ),
                ));
            }
            Step::Read(Ok(_)) => {
                if let Some(head) = conn.take_final_head()? {
                    tracing::debug!(
                        sent,
                        expected,
                        status = head.status,
                        "server answered before the body was done"
                    );
                    return Ok(Some(head));
                }
            }
            Step::Read(Err(e)) => return Err(lost(e, sent, expected)),
        }
    }
    guard(conn.stall, conn.io.flush())
        .await?
        .map_err(|e| lost(e, sent, expected))?;
    Ok(None)
}

/// Whether `pending` has bytes to send, loading the next chunk when its buffer is used up.
async fn ready(pending: &mut Pending<'_>) -> Result<bool, UploadError> {
    match pending {
        Pending::Slice { data, pos, .. } => Ok(*pos < data.len()),
        Pending::Chunked { chunks, buf, pos } => {
            if *pos < buf.len() {
                return Ok(true);
            }
            *pos = 0;
            chunks.next(buf).await
        }
        Pending::SendFile(f) => f.ready(),
    }
}

/// `len` bytes of `bytes` from `offset`; the plan sized the body from these very bytes.
pub(super) fn slice_of(bytes: &[u8], offset: u64, len: u64) -> Result<&[u8], UploadError> {
    crate::backend::range_of(bytes, offset, len)
        .ok_or_else(|| UploadError::new(ErrorKind::Internal, "the body plan outgrew its bytes"))
}

fn start_piece<'a>(
    setup: Setup<'a>,
    io: &Transport,
    piece: Piece<'a>,
) -> Result<Pending<'a>, UploadError> {
    Ok(match piece {
        Piece::Bytes(data) => Pending::Slice {
            data,
            pos: 0,
            body: true,
        },
        Piece::File { index, offset, len } => match setup.source_at(index)? {
            // Bytes already in memory are written from where they are, like the framing.
            PlannedSource::Bytes(bytes) => Pending::Slice {
                data: slice_of(bytes, offset, len)?,
                pos: 0,
                body: true,
            },
            PlannedSource::Path { path, fingerprint } if io.can_sendfile() => {
                Pending::SendFile(SendFile::open(path, *fingerprint, offset, len)?)
            }
            PlannedSource::Stream { .. } => {
                return Err(UploadError::new(
                    ErrorKind::Internal,
                    "a stream is sent from memory, not by range",
                ));
            }
            PlannedSource::Blob(blob) => match *blob {},
            PlannedSource::Path { path, fingerprint } => Pending::Chunked {
                chunks: Chunks::open(path, *fingerprint, offset, len)?,
                buf: Vec::new(),
                pos: 0,
            },
        },
        _ => return Err(UploadError::new(ErrorKind::Internal, "unknown body piece")),
    })
}

impl Conn {
    /// Parses a response head from what was read so far, skipping 1xx interim responses.
    fn take_final_head(&mut self) -> Result<Option<ResponseHead>, UploadError> {
        loop {
            let parsed = parse_response_head(&self.inbuf).map_err(|e| {
                UploadError::new(
                    ErrorKind::Protocol,
                    "the server's response is not valid HTTP/1.1",
                )
                .with_source(e)
            })?;
            let Some((head, used)) = parsed else {
                return Ok(None);
            };
            self.inbuf.drain(..used);
            if !head.is_informational() {
                return Ok(Some(head));
            }
            tracing::trace!(status = head.status, "interim response skipped");
        }
    }

    async fn read_some(&mut self) -> Result<usize, UploadError> {
        self.inbuf.reserve(READ_RESERVE);
        guard(self.stall, self.io.read_buf(&mut self.inbuf))
            .await?
            .map_err(|e| {
                UploadError::new(
                    ErrorKind::Io,
                    "the connection broke while reading the response",
                )
                .with_source(e)
            })
    }

    async fn read_final_head(&mut self, expected: u64) -> Result<ResponseHead, UploadError> {
        loop {
            if let Some(head) = self.take_final_head()? {
                return Ok(head);
            }
            if self.read_some().await? == 0 {
                return Err(UploadError::new(
                    ErrorKind::Io,
                    format!(
                        "the server closed the connection after all {expected} body bytes, without a response"
                    ),
                ));
            }
        }
    }

    /// After a failed write: a response the server sent before closing, if one arrives soon.
    async fn salvage_head(&mut self) -> Option<ResponseHead> {
        let attempt = async {
            loop {
                if let Ok(Some(head)) = self.take_final_head() {
                    return Some(head);
                }
                match self.read_some().await {
                    Ok(n) if n > 0 => {}
                    _ => return None,
                }
            }
        };
        tokio::time::timeout(SALVAGE_WINDOW, attempt)
            .await
            .ok()
            .flatten()
    }

    /// Reads the response body; on failure, also returns what arrived before it.
    async fn read_body(
        &mut self,
        head: &ResponseHead,
        method: &str,
    ) -> Result<Vec<u8>, (Vec<u8>, UploadError)> {
        let framing = head.framing(method).map_err(|e| {
            (
                Vec::new(),
                UploadError::new(ErrorKind::Protocol, "the server sent an invalid response")
                    .with_source(e),
            )
        })?;
        let cut = |what: &str| {
            UploadError::new(
                ErrorKind::Io,
                format!("the server closed the connection {what}"),
            )
        };
        match framing {
            BodyFraming::Length(n) => {
                let want = usize::try_from(n)
                    .ok()
                    .filter(|n| *n <= MAX_RESPONSE_BODY)
                    .ok_or_else(|| (Vec::new(), too_big()))?;
                while self.inbuf.len() < want {
                    match self.read_some().await {
                        Ok(0) => {
                            return Err((
                                std::mem::take(&mut self.inbuf),
                                cut("before the end of the response body"),
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => return Err((std::mem::take(&mut self.inbuf), e)),
                    }
                }
                self.inbuf.truncate(want);
                Ok(std::mem::take(&mut self.inbuf))
            }
            BodyFraming::Chunked => {
                let mut decoder = ChunkedDecoder::new();
                let mut body = Vec::new();
                loop {
                    let used = decoder.feed(&self.inbuf, &mut body).map_err(|e| {
                        (
                            std::mem::take(&mut body),
                            UploadError::new(ErrorKind::Protocol, "invalid chunked response body")
                                .with_source(e),
                        )
                    })?;
                    self.inbuf.drain(..used);
                    if body.len() > MAX_RESPONSE_BODY {
                        return Err((body, too_big()));
                    }
                    if decoder.is_done() {
                        return Ok(body);
                    }
                    match self.read_some().await {
                        Ok(0) => {
                            return Err((body, cut("in the middle of a chunked response body")));
                        }
                        Ok(_) => {}
                        Err(e) => return Err((body, e)),
                    }
                }
            }
            BodyFraming::UntilClose => loop {
                if self.inbuf.len() > MAX_RESPONSE_BODY {
                    return Err((Vec::new(), too_big()));
                }
                match self.read_some().await {
                    Ok(0) => return Ok(std::mem::take(&mut self.inbuf)),
                    Ok(_) => {}
                    Err(e) => return Err((std::mem::take(&mut self.inbuf), e)),
                }
            },
            BodyFraming::Empty | _ => Ok(Vec::new()),
        }
    }
}

fn lost(e: std::io::Error, sent: u64, expected: u64) -> UploadError {
    UploadError::new(
        ErrorKind::Io,
        format!("the connection broke after {sent} of {expected} body bytes"),
    )
    .with_source(e)
}

/// Runs `fut`, failing with a timeout if it makes no progress within `stall`.
pub(super) async fn guard<F: Future>(
    stall: Option<Duration>,
    fut: F,
) -> Result<F::Output, UploadError> {
    match stall {
        None => Ok(fut.await),
        Some(limit) => tokio::time::timeout(limit, fut).await.map_err(|_| {
            UploadError::new(
                ErrorKind::Timeout,
                format!("stalled: no byte moved for {limit:?}"),
            )
        }),
    }
}
