//! Appending a PATCH (or creation-with-upload) body, checking its checksum, publishing a
//! complete upload, and joining parts into a final concatenation.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uptask_proto::tus::{CHECKSUM_MISMATCH, ChecksumAlgorithm, parse_checksum};

use super::info::{self, Info, Paths, valid_id};
use super::{Tus, answer, get, refuse, set, storage_error};

const WRITE_BUFFER: usize = 512 * 1024;

/// The digest a client announced, and the running hash to compare with it.
enum Check {
    Sha1(Sha1, Vec<u8>),
    Sha256(Sha256, Vec<u8>),
}

impl Check {
    fn from_header(value: &str) -> Result<Self, Response> {
        let (name, digest) =
            parse_checksum(value).map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
        match ChecksumAlgorithm::from_name(&name) {
            Some(ChecksumAlgorithm::Sha1) => Ok(Self::Sha1(Sha1::new(), digest)),
            Some(ChecksumAlgorithm::Sha256) => Ok(Self::Sha256(Sha256::new(), digest)),
            _ => Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("checksum algorithm {name:?} is not supported (sha1, sha256)"),
            )),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h, _) => h.update(bytes),
            Self::Sha256(h, _) => h.update(bytes),
        }
    }

    fn matches(self) -> bool {
        match self {
            Self::Sha1(h, want) => h.finalize().as_slice() == want.as_slice(),
            Self::Sha256(h, want) => h.finalize().as_slice() == want.as_slice(),
        }
    }
}

impl Tus {
    /// Appends `body` at `claimed`, which must be the upload's offset. `Ok` is the success
    /// answer (204 with the new offset), `Err` a refusal.
    pub(super) async fn write_locked(
        &self,
        id: &str,
        paths: &Paths,
        info: Info,
        claimed: u64,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Response, Response> {
        let Some(_lock) = self.lock(id) else {
            return Err(refuse(
                StatusCode::LOCKED,
                "another request is writing this upload",
            ));
        };
        if info.stored.is_some() {
            return Err(refuse(StatusCode::FORBIDDEN, "the upload is complete"));
        }
        let current = tokio::fs::metadata(&paths.data)
            .await
            .map_err(|e| storage_error(&e))?
            .len();
        if claimed != current {
            return Err(refuse(
                StatusCode::CONFLICT,
                format!("Upload-Offset {claimed} does not match the upload's offset {current}"),
            ));
        }
        let mut check = get(headers, "upload-checksum")
            .map(Check::from_header)
            .transpose()?;
        let room = info.length.map(|n| n.saturating_sub(current));
        let file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&paths.data)
            .await
            .map_err(|e| storage_error(&e))?;
        let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut written = 0u64;
        let mut stream = body.into_data_stream();
        let mut refusal = None;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    // The client went away: keep what arrived (it can resume from there),
                    // unless a checksum was promised for the whole body.
                    tracing::debug!(id, error = %e, written, "tus body cut short");
                    refusal = Some(refuse(StatusCode::BAD_REQUEST, "the body was cut short"));
                    break;
                }
            };
            written += chunk.len() as u64;
            if room.is_some_and(|r| written > r) {
                refusal = Some(refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the body goes past Upload-Length",
                ));
                check = None;
                written = 0;
                break;
            }
            if let Some(c) = &mut check {
                c.update(&chunk);
            }
            if let Err(e) = out.write_all(&chunk).await {
                refusal = Some(storage_error(&e));
                break;
            }
        }
        let flushed = out.flush().await;
        let file = out.into_inner();
        let verdict = check.map(Check::matches);
        let keep = match (&refusal, verdict) {
            (Some(_), Some(_)) => false,
            (None, Some(false)) => {
                refusal = Some(refuse(
                    StatusCode::from_u16(CHECKSUM_MISMATCH).unwrap_or(StatusCode::BAD_REQUEST),
                    "checksum mismatch",
                ));
                false
            }
            _ => flushed.is_ok() && written > 0,
        };
        if !keep {
            // Roll back to the offset before this request, so the offset only ever counts
            // bytes that were accepted.
            file.set_len(current).await.map_err(|e| storage_error(&e))?;
            written = 0;
        }
        drop(file);
        if let Some(res) = refusal {
            return Err(res);
        }
        if let Err(e) = flushed {
            return Err(storage_error(&e));
        }
        let offset = current + written;
        let mut info = info;
        let mut res = answer(StatusCode::NO_CONTENT);
        if info.length == Some(offset) && !info.partial {
            self.publish(paths, &mut info)
                .await
                .map_err(|e| storage_error(&e))?;
            res.extensions_mut().insert(crate::metrics::Completed);
        }
        set(&mut res, "upload-offset", offset);
        if info.stored.is_none() {
            set(&mut res, "upload-expires", info.expires_header());
        }
        Ok(res)
    }

    /// Moves a complete upload's data to its final, generated name.
    async fn publish(&self, paths: &Paths, info: &mut Info) -> std::io::Result<()> {
        let name = crate::storage::generate_name(&info.file_name)
            .map_err(|e| std::io::Error::other(e.message))?;
        let stored = self.config.dir.join(name);
        tokio::fs::rename(&paths.data, &stored).await?;
        info.stored = Some(stored.clone());
        info::save(paths, info).await?;
        tracing::info!(path = %stored.display(), length = ?info.length, "tus upload complete");
        Ok(())
    }

    /// POST with `Upload-Concat: final;...`: joins complete parts into a new, complete upload.
    pub(super) async fn concatenate(
        &self,
        id: String,
        mut info: Info,
        urls: &[String],
    ) -> Response {
        let mut parts = Vec::new();
        let mut total = 0u64;
        for url in urls {
            let part = url
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            if !valid_id(part) {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    format!("{url} is not an upload here"),
                );
            }
            let paths = Paths::new(&self.config.dir, part);
            let part_info = match info::load(&paths).await {
                Ok(Some(i)) if i.partial && !i.expired() => i,
                Ok(_) => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        format!("{url} is not a partial upload here"),
                    );
                }
                Err(e) => return storage_error(&e),
            };
            let have = match info::offset(&paths, &part_info).await {
                Ok(o) => o,
                Err(e) => return storage_error(&e),
            };
            if part_info.length != Some(have) {
                return refuse(StatusCode::BAD_REQUEST, format!("{url} is not complete"));
            }
            total = total.saturating_add(have);
            parts.push((part.to_owned(), paths));
        }
        if total > self.config.max_size {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the concatenation is over the limit",
            );
        }
        info.length = Some(total);
        info.parts = parts.iter().map(|(p, _)| p.clone()).collect();
        let paths = Paths::new(&self.config.dir, &id);
        let sources: Vec<_> = parts.iter().map(|(_, p)| p.data.clone()).collect();
        let target = paths.data.clone();
        let joined = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut out = std::fs::File::create(&target)?;
            for source in sources {
                std::io::copy(&mut std::fs::File::open(source)?, &mut out)?;
            }
            out.sync_all()
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        let done = async {
            joined?;
            info::save(&paths, &info).await?;
            self.publish(&paths, &mut info).await
        };
        if let Err(e) = done.await {
            info::remove(&paths).await;
            return storage_error(&e);
        }
        // The parts are consumed: keeping them until they expire would hold the file twice.
        for (_, part) in &parts {
            info::remove(part).await;
        }
        let mut res = answer(StatusCode::CREATED);
        res.extensions_mut().insert(crate::metrics::Completed);
        set(&mut res, "location", format!("/files/{id}"));
        res
    }
}
