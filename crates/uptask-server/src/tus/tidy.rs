//! The expiry sweep on a bucket, kept cheap for a bucket that holds many uploads and is shared
//! by many instances:
//! - the instances take turns: a marker object (`.uptask/tus-sweep`) written by the last sweep
//!   lets any other instance skip its own until the interval has passed on the store's clock;
//! - only live uploads are listed (published ones settle under `.uptask/tus-done/`), and only
//!   infos written longer ago than the expiry are read: an upload expires that long after its
//!   creation, and its info was first written then;
//! - leftovers nobody names any more are removed on the way: objects of an upload whose info
//!   is gone, and multipart uploads under the prefix begun longer ago than the expiry (those
//!   whose abort failed while the store was away, or of an instance that died mid-request).

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;

use super::bucket::BucketTus;
use super::info::valid_id;
use crate::bucket::{Bucket, Payload};
use crate::error::ApiError;

/// Where the last sweep left its mark.
const MARK: &str = "tus-sweep";

/// The ids of uploads that may have expired; empty when another instance swept within
/// `every`.
pub(super) async fn sweep_ids(
    tus: &BucketTus,
    expiry: Duration,
    every: Duration,
) -> Result<Vec<String>, ApiError> {
    let bucket = tus.bucket();
    if !take_turn(bucket, every).await? {
        return Ok(Vec::new());
    }
    let prefix = tus.live_prefix();
    let listing = bucket.list(&prefix).await?;
    let named = |key: &str| {
        let name = key.strip_prefix(&prefix)?;
        let (id, ext) = name.split_once('.')?;
        valid_id(id).then_some((id.to_owned(), ext.to_owned()))
    };
    let with_info: HashSet<String> = listing
        .items
        .iter()
        .filter_map(|o| named(&o.key).filter(|(_, ext)| ext == "info"))
        .map(|(id, _)| id)
        .collect();
    let mut candidates = Vec::new();
    for object in &listing.items {
        let Some((id, ext)) = named(&object.key) else {
            continue;
        };
        let age = listing.age(object.modified);
        if ext == "info" {
            // Unknown times are read: an upload is never kept past its expiry on a guess.
            if age.is_none_or(|a| a >= expiry) {
                candidates.push(id);
            }
        } else if !with_info.contains(&id) && age.is_some_and(|a| a >= expiry) {
            tracing::info!(key = object.key, "removing what a gone tus upload left");
            if let Err(e) = bucket.delete(&object.key).await {
                tracing::warn!(
                    key = object.key,
                    error = e.message,
                    "cannot remove a leftover"
                );
            }
        }
    }
    abort_stale_uploads(bucket, expiry).await;
    Ok(candidates)
}

/// Whether this instance sweeps now: no sweep has left its mark within `every`.
async fn take_turn(bucket: &Bucket, every: Duration) -> Result<bool, ApiError> {
    let mark = bucket.state_key(MARK);
    let head = bucket
        .call("HEAD", &mark, &[], Vec::new(), Payload::Empty)
        .await?;
    if head.status.is_success() && head.age().is_some_and(|age| age < every) {
        return Ok(false);
    }
    let put = bucket.put(&mark, Bytes::new(), Vec::new()).await?;
    if !put.status.is_success() {
        // Sweeping twice is harmless; not sweeping for want of a mark would not be.
        tracing::warn!(status = %put.status, "cannot mark the tus sweep");
    }
    Ok(true)
}

/// Aborts the multipart uploads under the prefix begun `expiry` or longer ago: no upload the
/// server still serves can own one (a tus upload expires by then; `POST /upload` requests do
/// not last that long).
async fn abort_stale_uploads(bucket: &Bucket, expiry: Duration) {
    let listing = match bucket.list_uploads(&bucket.prefix).await {
        Ok(listing) => listing,
        Err(e) => {
            tracing::warn!(error = e.message, "cannot list open multipart uploads");
            return;
        }
    };
    for upload in &listing.items {
        if listing.age(upload.initiated).is_some_and(|a| a >= expiry) {
            tracing::info!(key = upload.key, "aborting a stale multipart upload");
            if let Err(e) = bucket.abort(&upload.key, &upload.upload_id).await {
                tracing::warn!(key = upload.key, error = e.message, "cannot abort it");
            }
        }
    }
}
