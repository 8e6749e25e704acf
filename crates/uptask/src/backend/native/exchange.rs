//! One request and its response over one connection.
//!
//! The request body is written while the read side is watched, so a response that arrives early
//! (a 413 before the body is done) stops the body at once. Progress counts the bytes each socket
//! write accepted: there is no buffer between the chunk and the socket that could make the count
//! run ahead of the transport.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use uptask_proto::http1::{
    BodyFraming, ChunkedDecoder, ResponseHead, header_map, parse_response_head,
};
use uptask_proto::multipart::Piece;

use super::conn::{self, Io};
use super::source::Chunks;
use crate::prepare::Plan;
use crate::task::EventSink;
use crate::{ErrorKind, UploadError, UploadSuccess};

/// The largest response body kept; the seed returns it as a string, so it must fit in memory.
const MAX_RESPONSE_BODY: usize = 64 * 1024 * 1024;

/// How long to look for a response after the server broke off the upload.
const SALVAGE_WINDOW: Duration = Duration::from_secs(1);

const READ_RESERVE: usize = 16 * 1024;

pub(super) async fn run(plan: Plan, sink: &mut EventSink) -> Result<UploadSuccess, UploadError> {
    match plan.timeout {
        Some(limit) => tokio::time::timeout(limit, exchange(&plan, sink))
            .await
            .unwrap_or_else(|_| {
                Err(UploadError::new(
                    ErrorKind::Timeout,
                    format!("no complete response within {limit:?}"),
                ))
            }),
        None => exchange(&plan, sink).await,
    }
}

async fn exchange(plan: &Plan, sink: &mut EventSink) -> Result<UploadSuccess, UploadError> {
    let io = guard(plan.stall, conn::connect(plan)).await??;
    let (rd, wr) = tokio::io::split(io);
    let mut conn = Conn {
        rd,
        wr,
        inbuf: Vec::with_capacity(READ_RESERVE),
        stall: plan.stall,
    };
    let early = send_body(plan, sink, &mut conn).await?;
    let was_early = early.is_some();
    let head = match early {
        Some(head) => head,
        None => conn.read_final_head(sink.expected()).await?,
    };
    tracing::debug!(
        status = head.status,
        early = was_early,
        "response head received"
    );
    let header = header_map(&head);
    sink.headers(&header);
    let data = match conn.read_body(&head).await {
        Ok(data) => data,
        // A server that answered early often resets the connection right after (it stopped
        // reading our body). The status is what matters; keep what arrived of the body.
        Err((partial, err)) if was_early => {
            tracing::debug!(error = %err, "early response cut short");
            partial
        }
        Err((_, err)) => return Err(err),
    };
    Ok(UploadSuccess::new(
        head.status,
        header,
        String::from_utf8_lossy(&data).into_owned(),
    ))
}

struct Conn {
    rd: ReadHalf<Box<dyn Io>>,
    wr: WriteHalf<Box<dyn Io>>,
    inbuf: Vec<u8>,
    stall: Option<Duration>,
}

enum Step {
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
}

/// Writes the head and body. Returns the final response head if it arrived before the body
/// was done, in which case the rest of the body is not sent.
async fn send_body(
    plan: &Plan,
    sink: &mut EventSink,
    conn: &mut Conn,
) -> Result<Option<ResponseHead>, UploadError> {
    let expected = plan.body.len();
    let mut pieces = plan.body.pieces_from(0);
    let mut out: Vec<u8> = plan.head.clone();
    let mut pos = 0usize;
    let mut in_head = true;
    let mut sent = 0u64;
    let mut file: Option<Chunks> = None;
    loop {
        if pos == out.len() {
            if in_head {
                in_head = false;
                if expected == 0 {
                    sink.progress(0);
                }
            }
            pos = 0;
            if !refill(plan, &mut pieces, &mut file, &mut out).await? {
                guard(conn.stall, conn.wr.flush())
                    .await?
                    .map_err(|e| lost(e, sent, expected))?;
                return Ok(None);
            }
        }
        conn.inbuf.reserve(READ_RESERVE);
        let step = guard(conn.stall, async {
            tokio::select! {
                biased;
                r = conn.rd.read_buf(&mut conn.inbuf) => Step::Read(r),
                r = conn.wr.write(&out[pos..]) => Step::Wrote(r),
            }
        })
        .await?;
        match step {
            Step::Wrote(Ok(0)) => {
                return Err(lost(std::io::ErrorKind::WriteZero.into(), sent, expected));
            }
            Step::Wrote(Ok(n)) => {
                pos += n;
                if !in_head {
                    sent += n as u64;
                    sink.progress(sent);
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
}

/// Loads the next stretch of the body into `out`; `false` when the body is complete.
async fn refill<'a>(
    plan: &Plan,
    pieces: &mut impl Iterator<Item = Piece<'a>>,
    file: &mut Option<Chunks>,
    out: &mut Vec<u8>,
) -> Result<bool, UploadError> {
    loop {
        if let Some(chunks) = file {
            if chunks.next(out).await? {
                return Ok(true);
            }
            *file = None;
        }
        match pieces.next() {
            None => return Ok(false),
            Some(Piece::Bytes(b)) => {
                out.clear();
                out.extend_from_slice(b);
                if !out.is_empty() {
                    return Ok(true);
                }
            }
            Some(Piece::File { offset, len }) => {
                *file = Some(Chunks::open(&plan.source, offset, len)?);
            }
            Some(_) => {
                return Err(UploadError::new(ErrorKind::Internal, "unknown body piece"));
            }
        }
    }
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
        guard(self.stall, self.rd.read_buf(&mut self.inbuf))
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
                self.inbuf.reserve(READ_RESERVE);
                match self.rd.read_buf(&mut self.inbuf).await {
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
    async fn read_body(&mut self, head: &ResponseHead) -> Result<Vec<u8>, (Vec<u8>, UploadError)> {
        let framing = head.framing("POST").map_err(|e| {
            (
                Vec::new(),
                UploadError::new(ErrorKind::Protocol, "the server sent an invalid response")
                    .with_source(e),
            )
        })?;
        let too_big = || {
            UploadError::new(
                ErrorKind::Protocol,
                format!("the response body is larger than {MAX_RESPONSE_BODY} bytes"),
            )
        };
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
async fn guard<F: Future>(stall: Option<Duration>, fut: F) -> Result<F::Output, UploadError> {
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

#[allow(dead_code, reason = "keeps the IO bounds in one place for readers")]
fn _bounds<T: AsyncRead + AsyncWrite>() {}
