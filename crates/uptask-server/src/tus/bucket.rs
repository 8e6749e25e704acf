//! tus uploads on an S3 bucket, shared by every instance that uses it.
//!
//! Each upload is an S3 multipart upload plus objects under `PREFIX/.uptask/tus/`:
//! - `ID.info`: the upload's [`Info`] (JSON);
//! - `ID.part`: the bytes after the last full part (S3 takes no part under 5 MiB but the last),
//!   with the offset they start at in its metadata;
//! - `ID.lock`: the lock of the request writing it (see [`Lease`]).
//!
//! A published upload's info moves to `PREFIX/.uptask/tus-done/ID.info`, so that what the
//! expiry sweep lists is only the uploads still in progress (see [`super::tidy`]).
//!
//! Parts are aligned: part `n` always holds the bytes from `(n - 1) * part_size`, so the
//! offset is the run of parts `1..=k` the store lists, plus `ID.part` when it starts right
//! there. A part or a `.part` left by a request that died is either exactly right for its place
//! or ignored; no instance's memory or disk takes part in it.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt;

use super::info::Info;
use super::store::{Append, TusStore};
use crate::bucket::{Bucket, Lease, LeaseWatch, PartWriter, Payload, Spool};
use crate::error::ApiError;

/// Where an incomplete part's start offset is kept.
const START: &str = "x-amz-meta-start";

/// Uploads on a bucket.
#[derive(Debug)]
pub(crate) struct BucketTus {
    bucket: Arc<Bucket>,
    part_size: u64,
}

impl BucketTus {
    pub(crate) fn new(bucket: Arc<Bucket>, part_size: u64) -> Self {
        Self { bucket, part_size }
    }

    fn key(&self, id: &str, ext: &str) -> String {
        format!("{}{id}.{ext}", self.live_prefix())
    }

    /// Where the objects of uploads in progress are.
    pub(super) fn live_prefix(&self) -> String {
        self.bucket.state_key("tus/")
    }

    /// Where a published upload's info settles.
    fn done_key(&self, id: &str) -> String {
        self.bucket.state_key(&format!("tus-done/{id}.info"))
    }

    /// Writes an upload's info as JSON at `key`.
    async fn write_info(&self, key: &str, info: &Info) -> Result<(), ApiError> {
        let json = serde_json::to_vec(info)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let reply = self
            .bucket
            .put(
                key,
                Bytes::from(json),
                vec![("content-type", "application/json".into())],
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(reply.refused("keep an upload's info"))
        }
    }

    pub(super) fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The contiguous full parts `1..=k` and their total, and the `.part` object's size when it
    /// starts right after them.
    async fn layout(&self, id: &str, info: &Info) -> Result<Layout, ApiError> {
        let (Some(key), Some(upload_id)) = (&info.key, &info.upload_id) else {
            return Err(broken(id));
        };
        let listed = self
            .bucket
            .list_parts(key, upload_id)
            .await?
            .ok_or_else(|| broken(id))?;
        let mut etags = Vec::new();
        let mut stored = 0u64;
        for part in listed {
            if part.number != etags.len() as u64 + 1 {
                break;
            }
            // A full part counts; a short one only as the upload's last. Anything else is a
            // part cut short by a writer that died (some stores keep those): it is ignored,
            // and the next writer stores that part again, whole.
            let last = info.length == Some(stored + part.size);
            if part.size != info.part_size && !last {
                break;
            }
            stored += part.size;
            etags.push(part.etag);
            if last {
                break;
            }
        }
        let tail = self
            .bucket
            .call(
                "HEAD",
                &self.key(id, "part"),
                &[],
                Vec::new(),
                Payload::Empty,
            )
            .await?;
        let pending = match tail.status {
            s if s.is_success() && tail.header(START) == Some(&stored.to_string()) => tail
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            s if s.is_success() || s == StatusCode::NOT_FOUND => 0,
            _ => return Err(tail.refused("read an upload's last bytes")),
        };
        Ok(Layout {
            etags,
            stored,
            pending,
        })
    }
}

/// What a multipart upload holds now.
struct Layout {
    etags: Vec<String>,
    stored: u64,
    pending: u64,
}

/// An info that names no multipart upload, or one the store no longer has.
fn broken(id: &str) -> ApiError {
    tracing::error!(id, "tus upload without its multipart upload in the store");
    ApiError::new(StatusCode::GONE, "the upload's data is gone from the store")
}

/// Appends through a [`PartWriter`]; what is left after the last full part goes to `.part`.
#[derive(Debug)]
pub(crate) struct BucketAppend {
    bucket: Arc<Bucket>,
    writer: PartWriter,
    watch: LeaseWatch,
    tail_key: String,
    first_part: u64,
    part_size: u64,
    length: Option<u64>,
    start: u64,
    written: u64,
    had_tail: bool,
    hold: bool,
}

impl Append for BucketAppend {
    async fn write(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        self.watch.check()?;
        self.written += chunk.len() as u64;
        self.writer.write(chunk).await
    }

    async fn finish(mut self, keep: bool) -> Result<u64, ApiError> {
        if !keep && self.hold {
            // Nothing was sent: the store is as it was.
            return Ok(self.start);
        }
        self.watch.check()?;
        self.writer.release().await?;
        let offset = self.start + self.written;
        let complete = keep && self.length == Some(offset);
        if complete {
            self.writer.send_tail().await?;
        }
        self.writer.drain().await?;
        let advanced = self.writer.full_parts(self.first_part);
        let parts = self.first_part - 1 + advanced;
        let (_, tail) = self.writer.finish();
        if complete {
            return Ok(offset);
        }
        self.watch.check()?;
        let start = parts * self.part_size;
        if keep && tail.len() > 0 {
            let stored = start + tail.len();
            let reply = self
                .bucket
                .call(
                    "PUT",
                    &self.tail_key,
                    &[],
                    vec![(START, start.to_string())],
                    Payload::Spool(tail),
                )
                .await?;
            if !reply.status.is_success() {
                return Err(reply.refused("keep an upload's last bytes"));
            }
            return Ok(stored);
        }
        if advanced == 0 {
            // No new part, and the old `.part` (if any) still stands where it was.
            return Ok(self.start);
        }
        if self.had_tail {
            // The old `.part` went into a full part and no longer counts: drop it.
            self.bucket.delete(&self.tail_key).await?;
        }
        Ok(start)
    }
}

impl TusStore for BucketTus {
    type Guard = Lease;
    type Append = BucketAppend;

    async fn lock(&self, id: &str) -> Result<Option<Lease>, ApiError> {
        Lease::acquire(&self.bucket, &self.key(id, "lock")).await
    }

    async fn unlock(&self, guard: Lease) {
        guard.release().await;
    }

    async fn create(&self, id: &str, info: &mut Info) -> Result<(), ApiError> {
        let name = crate::storage::stored_name(info.key.as_deref(), &info.file_name)?;
        let key = if info.partial {
            self.key(id, "data")
        } else {
            format!("{}{name}", self.bucket.prefix)
        };
        info.part_size = part_size(self.part_size, info.length);
        info.upload_id = Some(self.bucket.create_multipart(&key).await?);
        info.key = Some(key);
        self.save(id, info).await
    }

    async fn load(&self, id: &str) -> Result<Option<Info>, ApiError> {
        let json = match self.bucket.get(&self.key(id, "info")).await? {
            Some((json, _)) => json,
            None => match self.bucket.get(&self.done_key(id)).await? {
                Some((json, _)) => json,
                None => return Ok(None),
            },
        };
        serde_json::from_slice(&json).map(Some).map_err(|e| {
            tracing::error!(id, error = %e, "unreadable tus info in the store");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the upload's info in the store is unreadable",
            )
        })
    }

    async fn save(&self, id: &str, info: &Info) -> Result<(), ApiError> {
        self.write_info(&self.key(id, "info"), info).await
    }

    async fn offset(&self, id: &str, info: &Info) -> Result<u64, ApiError> {
        if info.stored.is_some() {
            return Ok(info.length.unwrap_or(0));
        }
        let layout = self.layout(id, info).await?;
        Ok(layout.stored + layout.pending)
    }

    async fn append(
        &self,
        id: &str,
        info: &Info,
        offset: u64,
        guard: &Lease,
        hold: bool,
    ) -> Result<BucketAppend, ApiError> {
        let (Some(key), Some(upload_id)) = (&info.key, &info.upload_id) else {
            return Err(broken(id));
        };
        let layout = self.layout(id, info).await?;
        let mut spool = Spool::new().await?;
        let tail_key = self.key(id, "part");
        if layout.pending > 0 {
            // The bytes after the last full part begin the next one.
            let body = self.bucket.get_stream(&tail_key).await?;
            let mut body = std::pin::pin!(body.ok_or_else(|| broken(id))?);
            while let Some(chunk) = body.next().await {
                spool.write(&chunk?).await?;
            }
        }
        if layout.stored + spool.len() != offset {
            // Another instance moved the upload between our look and our lock.
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "the upload's offset changed: ask again with HEAD",
            ));
        }
        let first_part = layout.etags.len() as u64 + 1;
        let mut writer = PartWriter::new(
            Arc::clone(&self.bucket),
            key.clone(),
            Some(upload_id.clone()),
            info.part_size,
            first_part,
            spool,
        );
        if hold {
            writer = writer.hold();
        }
        Ok(BucketAppend {
            bucket: Arc::clone(&self.bucket),
            writer,
            watch: guard.watch(),
            tail_key,
            first_part,
            part_size: info.part_size,
            length: info.length,
            start: offset,
            written: 0,
            had_tail: layout.pending > 0,
            hold,
        })
    }

    async fn publish(&self, id: &str, info: &mut Info) -> Result<(), ApiError> {
        let (Some(key), Some(upload_id)) = (info.key.clone(), info.upload_id.clone()) else {
            return Err(broken(id));
        };
        let layout = self.layout(id, info).await?;
        if info.length != Some(layout.stored) {
            // Never publish a file that is not whole.
            tracing::error!(id, stored = layout.stored, length = ?info.length, "tus upload incomplete in the store");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the store holds {} of the upload's {} bytes",
                    layout.stored,
                    info.length.unwrap_or(0)
                ),
            ));
        }
        if layout.etags.is_empty() {
            // S3 completes no upload without parts: an empty file is one empty object.
            let reply = self.bucket.put(&key, Bytes::new(), Vec::new()).await?;
            if !reply.status.is_success() {
                return Err(reply.refused("store an empty file"));
            }
            self.bucket.abort(&key, &upload_id).await?;
        } else {
            self.bucket
                .complete(&key, &upload_id, &layout.etags)
                .await?;
        }
        self.bucket.delete(&self.key(id, "part")).await?;
        info.stored = Some(self.bucket.location(&key));
        self.save(id, info).await?;
        self.settle(id, info).await;
        tracing::info!(location = info.stored, length = ?info.length, "tus upload complete");
        Ok(())
    }

    async fn concatenate(
        &self,
        id: &str,
        info: &mut Info,
        parts: &[(String, Info)],
    ) -> Result<(), ApiError> {
        self.create(id, info).await?;
        let (Some(key), Some(upload_id)) = (info.key.clone(), info.upload_id.clone()) else {
            return Err(broken(id));
        };
        let mut writer = PartWriter::new(
            Arc::clone(&self.bucket),
            key,
            Some(upload_id),
            info.part_size,
            1,
            Spool::new().await?,
        );
        for (part, part_info) in parts {
            let Some(source) = part_info.key.as_deref() else {
                return Err(broken(part));
            };
            let body = self.bucket.get_stream(source).await?;
            let mut body = std::pin::pin!(body.ok_or_else(|| broken(part))?);
            while let Some(chunk) = body.next().await {
                writer.write(chunk?).await?;
            }
        }
        writer.send_tail().await?;
        writer.drain().await
    }

    async fn remove(&self, id: &str, info: &Info) {
        let mut steps = Vec::new();
        if let (Some(key), Some(upload_id)) = (&info.key, &info.upload_id)
            && (info.stored.is_none())
        {
            steps.push(self.bucket.abort(key, upload_id).await);
        }
        if let Some(key) = info.key.as_deref().filter(|_| info.stored.is_some()) {
            steps.push(self.bucket.delete(key).await);
        }
        for ext in ["part", "info"] {
            steps.push(self.bucket.delete(&self.key(id, ext)).await);
        }
        steps.push(self.bucket.delete(&self.done_key(id)).await);
        for e in steps.into_iter().filter_map(Result::err) {
            tracing::warn!(id, error = e.message, "cannot remove all of a tus upload");
        }
    }

    fn storage(&self, info: &Info) -> crate::hooks::StorageFacts {
        crate::hooks::StorageFacts {
            kind: "s3",
            bucket: Some(self.bucket.name.clone()),
            key: info.key.clone().filter(|_| !info.partial),
            path: None,
        }
    }

    async fn sweep_ids(&self, expiry: Duration, every: Duration) -> Result<Vec<String>, ApiError> {
        super::tidy::sweep_ids(self, expiry, every).await
    }

    async fn settle(&self, id: &str, info: &Info) {
        if info.stored.is_none() || info.partial {
            return;
        }
        // Written there first, then removed here: a reader finds it in one place or the other.
        let mut result = self.write_info(&self.done_key(id), info).await;
        if result.is_ok() {
            result = self.bucket.delete(&self.key(id, "info")).await;
        }
        if let Err(e) = result {
            // It stays where it was, where every reader still finds it; a later sweep retries.
            tracing::warn!(
                id,
                error = e.message,
                "cannot settle a published tus upload's info"
            );
        }
    }
}

/// Parts of `wanted` bytes, larger when the length needs it to stay within S3's 10,000 parts
/// (a deferred length gets `wanted`).
fn part_size(wanted: u64, length: Option<u64>) -> u64 {
    let wanted = wanted.max(uptask_proto::s3::MIN_PART_SIZE);
    length.map_or(wanted, |n| {
        uptask_proto::s3::plan_parts(n, wanted).size.max(wanted)
    })
}
