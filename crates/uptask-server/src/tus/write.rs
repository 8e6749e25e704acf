//! Appending a PATCH (or creation-with-upload) body, checking its checksum, publishing a
//! complete upload, and joining parts into a final concatenation.

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use futures_util::StreamExt;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use uptask_proto::tus::{CHECKSUM_MISMATCH, ChecksumAlgorithm, parse_checksum};

use super::info::{Info, valid_id};
use super::store::{Append, TusStore};
use super::{Tus, answer, failed, get, refuse, set};
use crate::unread::Unread;

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

impl<S: TusStore> Tus<S> {
    /// Appends `body` at `claimed`, which must be the upload's offset, holding its lock. `Ok`
    /// is the success answer (204 with the new offset), `Err` a refusal.
    pub(super) async fn write_locked(
        &self,
        id: &str,
        claimed: u64,
        req: &Parts,
        body: Unread,
    ) -> Result<Response, Response> {
        tracing::debug!(id, "taking the lock");
        let guard = match self.store.lock(id).await {
            Ok(Some(guard)) => guard,
            Ok(None) => {
                return Err(refuse(
                    StatusCode::LOCKED,
                    "another request is writing this upload",
                ));
            }
            Err(e) => return Err(failed(e)),
        };
        let answer = self.write(id, claimed, req, body, &guard).await;
        self.store.unlock(guard).await;
        answer
    }

    async fn write(
        &self,
        id: &str,
        claimed: u64,
        req: &Parts,
        body: Unread,
        guard: &S::Guard,
    ) -> Result<Response, Response> {
        let headers = &req.headers;
        // Read again under the lock: another instance may have moved it on.
        let mut info = match self.store.load(id).await {
            Ok(Some(info)) => info,
            Ok(None) => return Err(refuse(StatusCode::NOT_FOUND, "no such upload")),
            Err(e) => return Err(failed(e)),
        };
        if info.stored.is_some() {
            return Err(refuse(StatusCode::FORBIDDEN, "the upload is complete"));
        }
        if info.length.is_none()
            && let Some(length) = get(headers, "upload-length").and_then(|v| v.parse().ok())
        {
            // Checked by the caller; saved here, where no other writer can save it too.
            info.length = Some(length);
            self.store.save(id, &info).await.map_err(failed)?;
        }
        let current = self.store.offset(id, &info).await.map_err(failed)?;
        if info.length == Some(current) {
            self.finish_stored(id, &mut info, current, guard)
                .await
                .map_err(failed)?;
            if claimed == current {
                let mut res = answer(StatusCode::NO_CONTENT);
                set(&mut res, "upload-offset", current);
                return Ok(res);
            }
        }
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
        let declared = get(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
        if let (Some(room), Some(declared)) = (room, declared)
            && declared > room
        {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body goes past Upload-Length",
            ));
        }
        let mut append = self
            .store
            .append(id, &info, current, guard, check.is_some())
            .await
            .map_err(failed)?;
        let mut written = 0u64;
        let mut stream = body.take().into_data_stream();
        let mut refusal = None;
        let mut keep = true;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    // The client went away: keep what arrived (it can resume from there),
                    // unless a checksum was promised for the whole body.
                    tracing::debug!(id, error = %e, written, "tus body cut short");
                    refusal = Some(refuse(StatusCode::BAD_REQUEST, "the body was cut short"));
                    keep = check.is_none();
                    break;
                }
            };
            written += chunk.len() as u64;
            if room.is_some_and(|r| written > r) {
                refusal = Some(refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the body goes past Upload-Length",
                ));
                keep = false;
                break;
            }
            if let Some(c) = &mut check {
                c.update(&chunk);
            }
            if let Err(e) = append.write(chunk).await {
                refusal = Some(failed(e));
                keep = false;
                break;
            }
        }
        if keep && refusal.is_none() && check.take().is_some_and(|c| !c.matches()) {
            refusal = Some(refuse(
                StatusCode::from_u16(CHECKSUM_MISMATCH).unwrap_or(StatusCode::BAD_REQUEST),
                "checksum mismatch",
            ));
            keep = false;
        }
        let offset = append.finish(keep).await.map_err(failed)?;
        if let Some(res) = refusal {
            return Err(res);
        }
        let mut res = answer(StatusCode::NO_CONTENT);
        if info.length == Some(offset) {
            self.store.publish(id, &mut info).await.map_err(failed)?;
            if !info.partial {
                res.extensions_mut().insert(crate::metrics::Completed);
                self.told("post-finish", id, &info, offset, req);
            }
        }
        set(&mut res, "upload-offset", offset);
        if info.stored.is_none() {
            set(&mut res, "upload-expires", info.expires_header());
        }
        Ok(res)
    }

    /// Publishes an upload whose every byte is stored but which is not published: its request
    /// died first, or a deferred length was just given. The bytes after the last full part
    /// become the last part on the way.
    pub(super) async fn finish_stored(
        &self,
        id: &str,
        info: &mut Info,
        offset: u64,
        guard: &S::Guard,
    ) -> Result<(), crate::error::ApiError> {
        let append = self.store.append(id, info, offset, guard, false).await?;
        append.finish(true).await?;
        self.store.publish(id, info).await?;
        tracing::info!(id, "a stored upload was published late");
        Ok(())
    }

    /// POST with `Upload-Concat: final;...`: joins complete parts into a new, complete upload.
    pub(super) async fn concatenate(
        &self,
        id: String,
        mut info: Info,
        urls: &[String],
        req: &Parts,
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
            let part_info = match self.store.load(part).await {
                Ok(Some(i)) if i.partial && !i.expired() => i,
                Ok(_) => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        format!("{url} is not a partial upload here"),
                    );
                }
                Err(e) => return failed(e),
            };
            let have = match self.store.offset(part, &part_info).await {
                Ok(o) => o,
                Err(e) => return failed(e),
            };
            if part_info.length != Some(have) {
                return refuse(StatusCode::BAD_REQUEST, format!("{url} is not complete"));
            }
            total = total.saturating_add(have);
            parts.push((part.to_owned(), part_info));
        }
        if total > self.config.max_size {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the concatenation is over the limit",
            );
        }
        info.length = Some(total);
        info.parts = parts.iter().map(|(p, _)| p.clone()).collect();
        if let Err(res) = self.pre_create(&id, &mut info, req).await {
            return res;
        }
        let done = async {
            self.store.concatenate(&id, &mut info, &parts).await?;
            self.store.publish(&id, &mut info).await
        };
        if let Err(e) = done.await {
            self.store.remove(&id, &info).await;
            return failed(e);
        }
        // The parts are consumed: keeping them until they expire would hold the file twice.
        for (part, part_info) in &parts {
            self.store.remove(part, part_info).await;
        }
        self.told("post-finish", &id, &info, total, req);
        let mut res = answer(StatusCode::CREATED);
        res.extensions_mut().insert(crate::metrics::Completed);
        set(&mut res, "location", format!("/files/{id}"));
        res
    }
}
