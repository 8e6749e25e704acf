//! The native [`Client`]: each request on a connection of its own, bodies from the planned
//! source (with `sendfile` where it applies), digests computed on the blocking pool.

use std::io::Read;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use uptask_proto::http1::ResponseHead;
use uptask_proto::multipart::Piece;
use uptask_proto::proxy::Route;

use super::exchange::{Link, Outgoing, Watch, roundtrip};
use super::h2::H2Head;
use super::head::{Origin, encode_head, multipart_fields};
use super::source::{open_at, open_source};
use super::timing::Timings;
use crate::backend::{Body, Heard, Request, Response, Transport};
use crate::backend::{PlannedSource, Setup};
use crate::digest::Hasher;
use crate::profile::{Invoked, Profile, Span};
use crate::{ErrorKind, UploadError};

pub(crate) struct NativeClient<'a> {
    /// The upload's plan: its source, trust, limits, and the user's headers sent with every
    /// request.
    setup: Setup<'a>,
    /// A stream source, once opened (on the blocking pool: a FIFO's open waits for a writer).
    stream: Mutex<Option<std::fs::File>>,
    /// When the stages of the last request happened.
    timings: Mutex<Option<Timings>>,
}

/// What [`roundtrip`] reports, as the runner hears it.
struct Hear<'h>(&'h mut (dyn FnMut(Heard<'_>) + Send));

impl Watch for Hear<'_> {
    fn sent(&mut self, sent: u64) {
        (self.0)(Heard::Sent(sent));
    }

    fn head(&mut self, head: &ResponseHead, header: &crate::Header) {
        (self.0)(Heard::Head {
            status: head.status,
            header,
        });
    }
}

impl<'a> NativeClient<'a> {
    pub(crate) fn new(setup: Setup<'a>) -> Self {
        Self {
            setup,
            stream: Mutex::new(None),
            timings: Mutex::new(None),
        }
    }
}

impl Transport for NativeClient<'_> {
    async fn send(
        &self,
        request: &Request,
        hear: &mut (dyn FnMut(Heard<'_>) + Send),
    ) -> Result<Response, UploadError> {
        let origin = Origin::of(&request.url)?;
        let route = self
            .setup
            .proxy
            .route(request.url.scheme(), &origin.host, origin.port)
            .map_err(|e| UploadError::invalid(e.to_string()).with_source(e))?;
        let mut own = request.headers.clone();
        if request.body != Body::Empty || matches!(request.method, "POST" | "PATCH") {
            own.push(("Content-Length", request.body.len().to_string()));
        }
        let forward = match &route {
            Route::Forward(proxy) => Some(proxy),
            _ => None,
        };
        let head = encode_head(
            request.method,
            &request.url,
            if request.user_headers {
                self.setup.header
            } else {
                &[]
            },
            &own,
            forward,
        )?;
        let pieces: Box<dyn Iterator<Item = Piece<'_>> + Send> = match &request.body {
            Body::Empty => Box::new(std::iter::empty()),
            Body::Range { offset, len } => Box::new(std::iter::once(Piece::File {
                index: 0,
                offset: *offset,
                len: *len,
            })),
            Body::Bytes(bytes) => Box::new(std::iter::once(Piece::Bytes(bytes))),
            Body::Multipart { .. } => Box::new(self.setup.multipart()?.pieces_from(0)),
            _ => {
                return Err(UploadError::new(
                    ErrorKind::Internal,
                    "a body of an unknown kind",
                ));
            }
        };
        let link = Link {
            origin,
            route,
            setup: self.setup,
        };
        let out = Outgoing {
            method: request.method,
            head: &head,
            pieces,
            // tus and S3 requests stay on HTTP/1.1.
            h2: match &request.body {
                Body::Multipart { .. } if self.setup.http2 => Some(H2Head {
                    url: &request.url,
                    headers: multipart_fields(self.setup.header, self.setup.multipart()?),
                }),
                _ => None,
            },
            len: request.body.len(),
        };
        let done = roundtrip(&link, out, &mut Hear(hear)).await?;
        *self.timings.lock().unwrap_or_else(PoisonError::into_inner) = Some(done.timings);
        Ok(Response {
            status: done.head.status,
            header: done.header,
            data: done.data,
        })
    }

    fn profile(&self, invoked: Invoked, queued: Option<Span>) -> Option<Profile> {
        let timings = self.timings.lock().unwrap_or_else(PoisonError::into_inner);
        timings.as_ref().map(|t| t.profile(invoked, queued))
    }

    async fn read_stream(&self, max: usize) -> Result<Bytes, UploadError> {
        let PlannedSource::Stream { path } = &self.setup.source else {
            return Err(UploadError::new(
                ErrorKind::Internal,
                "the source is not a stream",
            ));
        };
        let path = path.clone();
        let open = self
            .stream
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let (file, read) = tokio::task::spawn_blocking(move || {
            let mut file = match open {
                Some(f) => f,
                None => open_source(&path)?,
            };
            let mut buf = vec![0u8; max];
            let mut filled = 0;
            while filled < max {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Err(UploadError::new(
                            ErrorKind::Io,
                            format!("cannot read {}", path.display()),
                        )
                        .with_source(e));
                    }
                }
            }
            buf.truncate(filled);
            Ok((file, Bytes::from(buf)))
        })
        .await
        .map_err(|e| UploadError::new(ErrorKind::Internal, format!("read task failed: {e}")))??;
        *self.stream.lock().unwrap_or_else(PoisonError::into_inner) = Some(file);
        Ok(read)
    }

    async fn digest(
        &self,
        algorithm: crate::digest::Algorithm,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, UploadError> {
        let source = self.setup.source.clone();
        tokio::task::spawn_blocking(move || digest_of(&source, algorithm, offset, len))
            .await
            .map_err(|e| {
                UploadError::new(ErrorKind::Internal, format!("checksum task failed: {e}"))
            })?
    }
}

fn digest_of(
    source: &PlannedSource,
    algorithm: crate::digest::Algorithm,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, UploadError> {
    let mut hasher = Hasher::new(algorithm);
    match source {
        PlannedSource::Bytes(bytes) => {
            let slice = crate::backend::range_of(bytes, offset, len).ok_or_else(|| {
                UploadError::new(ErrorKind::Internal, "checksum range outside the bytes")
            })?;
            hasher.update(slice);
        }
        PlannedSource::Stream { .. } => {
            return Err(UploadError::new(
                ErrorKind::Internal,
                "a stream is hashed from memory, not read twice",
            ));
        }
        PlannedSource::Blob(blob) => match *blob {},
        PlannedSource::Path { path, .. } => {
            let read_err = |e: std::io::Error| {
                UploadError::new(
                    ErrorKind::Io,
                    format!("cannot read {} for its checksum", path.display()),
                )
                .with_source(e)
            };
            let mut file = open_at(path, offset)?;
            let mut left = len;
            let mut buf = vec![0u8; 1 << 20];
            while left > 0 {
                let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                let n = file.read(&mut buf[..want]).map_err(read_err)?;
                if n == 0 {
                    return Err(UploadError::new(
                        ErrorKind::Io,
                        format!("{} shrank while uploading", path.display()),
                    ));
                }
                hasher.update(&buf[..n]);
                left -= n as u64;
            }
        }
    }
    Ok(hasher.finish())
}
