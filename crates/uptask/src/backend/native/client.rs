//! The native [`Client`]: each request on a connection of its own, bodies from the planned
//! source (with `sendfile` where it applies), digests computed on the blocking pool.

use std::io::{Read, Seek, SeekFrom};

use sha1::Sha1;
use sha2::{Digest, Sha256};
use uptask_proto::multipart::Piece;
use uptask_proto::tus::ChecksumAlgorithm;

use super::exchange::{Link, Outgoing, roundtrip};
use crate::http::{Body, Client, Request, Response};
use crate::prepare::{Origin, Plan, PlannedSource, encode_head};
use crate::{ErrorKind, UploadError};

pub(super) struct NativeClient<'a> {
    plan: &'a Plan,
    headers: &'a [(String, String)],
}

impl<'a> NativeClient<'a> {
    pub(super) fn new(plan: &'a Plan, headers: &'a [(String, String)]) -> Self {
        Self { plan, headers }
    }
}

impl Client for NativeClient<'_> {
    async fn send(
        &self,
        request: &Request,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<Response, UploadError> {
        let origin = Origin::of(&request.url)?;
        let mut own = request.headers.clone();
        if request.body != Body::Empty || matches!(request.method, "POST" | "PATCH") {
            own.push(("Content-Length", request.body.len().to_string()));
        }
        let head = encode_head(request.method, &request.url, self.headers, &own)?;
        let pieces: Box<dyn Iterator<Item = Piece<'_>> + Send> = match request.body {
            Body::Empty => Box::new(std::iter::empty()),
            Body::Range { offset, len } => Box::new(std::iter::once(Piece::File { offset, len })),
        };
        let link = Link {
            origin: &origin,
            roots: &self.plan.roots,
            stall: self.plan.stall,
            source: &self.plan.source,
        };
        let out = Outgoing {
            method: request.method,
            head: &head,
            pieces,
            len: request.body.len(),
        };
        let mut watch = |n| progress(n);
        let done = roundtrip(&link, out, &mut watch).await?;
        Ok(Response {
            status: done.head.status,
            header: done.header,
            data: done.data,
        })
    }

    async fn digest(
        &self,
        algorithm: ChecksumAlgorithm,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, UploadError> {
        let source = self.plan.source.clone();
        tokio::task::spawn_blocking(move || digest_of(&source, algorithm, offset, len))
            .await
            .map_err(|e| {
                UploadError::new(ErrorKind::Internal, format!("checksum task failed: {e}"))
            })?
    }
}

/// The two digests of the checksum extension behind one face.
enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Sha1 => Self::Sha1(Sha1::new()),
            _ => Self::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

fn digest_of(
    source: &PlannedSource,
    algorithm: ChecksumAlgorithm,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, UploadError> {
    let mut hasher = Hasher::new(algorithm);
    match source {
        PlannedSource::Bytes(bytes) => {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = usize::try_from(offset.saturating_add(len)).unwrap_or(usize::MAX);
            let slice = bytes.get(start..end).ok_or_else(|| {
                UploadError::new(ErrorKind::Internal, "checksum range outside the bytes")
            })?;
            hasher.update(slice);
        }
        PlannedSource::Path { path, .. } => {
            let read_err = |e: std::io::Error| {
                UploadError::new(
                    ErrorKind::Io,
                    format!("cannot read {} for its checksum", path.display()),
                )
                .with_source(e)
            };
            let mut file = std::fs::File::open(path).map_err(read_err)?;
            file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
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
