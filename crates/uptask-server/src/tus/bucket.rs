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
//! Parts are aligned: part `n` always holds the bytes from `(n - 1) * part_size`. The info
//! records the ETags of the parts `1..=k` that count, so the offset is those parts plus
//! `ID.part` when it starts right after them. A request records its parts as the store takes
//! them, or, under a checksum, only once the checksum holds: a part stored but not recorded
//! (a checksum that failed, a request that died) counts nowhere, and the next writer stores its
//! place again. Parts are never read back from a listing, which some stores (SeaweedFS) fill
//! with every version of a part stored twice. No instance's memory or disk takes part in it.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt;

use super::bucket_append::{BucketAppend, Places};
use super::info::Info;
use super::store::TusStore;
use crate::bucket::{Bucket, Lease, PartWriter, Payload, Spool};
use crate::error::ApiError;

/// Where an incomplete part's start offset is kept.
pub(super) const START: &str = "x-amz-meta-start";

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

    pub(super) fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The bytes the recorded parts hold, and the `.part` object's size when it starts right
    /// after them.
    async fn layout(&self, id: &str, info: &Info) -> Result<Layout, ApiError> {
        if info.key.is_none() || info.upload_id.is_none() {
            return Err(broken(id));
        }
        let parts = info.etags.len() as u64;
        let stored = info
            .length
            .map_or(parts * info.part_size, |n| n.min(parts * info.part_size));
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
        Ok(Layout { stored, pending })
    }
}

/// What an upload holds now.
struct Layout {
    stored: u64,
    pending: u64,
}

/// Writes an upload's info as JSON at `key`.
pub(super) async fn write_info(bucket: &Bucket, key: &str, info: &Info) -> Result<(), ApiError> {
    bucket.put_json(key, info, "keep an upload's info").await
}

/// An info that names no multipart upload, or one the store no longer has.
fn broken(id: &str) -> ApiError {
    tracing::error!(id, "tus upload without its multipart upload in the store");
    ApiError::new(StatusCode::GONE, "the upload's data is gone from the store")
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
        write_info(&self.bucket, &self.key(id, "info"), info).await
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
        let first_part = info.etags.len() as u64 + 1;
        let writer = PartWriter::new(
            Arc::clone(&self.bucket),
            key.clone(),
            Some(upload_id.clone()),
            info.part_size,
            first_part,
            spool,
        );
        Ok(BucketAppend::new(
            Arc::clone(&self.bucket),
            writer,
            guard.watch(),
            Places {
                info: self.key(id, "info"),
                tail: tail_key,
                tail_counts: layout.pending > 0,
            },
            info.clone(),
            offset,
            hold,
        ))
    }

    async fn publish(&self, id: &str, info: &mut Info) -> Result<(), ApiError> {
        let (Some(key), Some(upload_id)) = (info.key.clone(), info.upload_id.clone()) else {
            return Err(broken(id));
        };
        // The parts the last request recorded.
        if let Some(recorded) = self.load(id).await? {
            info.etags = recorded.etags;
        }
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
        if info.etags.is_empty() {
            // S3 completes no upload without parts: an empty file is one empty object.
            let reply = self.bucket.put(&key, Bytes::new(), Vec::new()).await?;
            if !reply.status.is_success() {
                return Err(reply.refused("store an empty file"));
            }
            self.bucket.abort(&key, &upload_id).await?;
        } else {
            self.bucket.complete(&key, &upload_id, &info.etags).await?;
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
        writer.drain().await?;
        info.etags = writer.stored_run().iter().map(|(_, e)| e.clone()).collect();
        self.save(id, info).await
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
        let mut result = write_info(&self.bucket, &self.done_key(id), info).await;
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
