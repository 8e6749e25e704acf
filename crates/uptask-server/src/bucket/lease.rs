//! A lock held in the bucket, so two instances never write one upload at once.
//!
//! The lock is an object: taken by creating it with `If-None-Match: *` (only one creation can
//! succeed), renewed by rewriting it with `If-Match` on its last ETag, and released by a
//! conditional delete. A lock not renewed for the lease is stale and may be taken over, again
//! with `If-Match`, so two instances racing for a stale lock cannot both win. Staleness is
//! judged on the store's clock alone (its `Date` against the object's `Last-Modified`), so
//! instances with skewed clocks agree.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;

use super::{Bucket, Payload, Reply};
use crate::error::ApiError;

/// A lock this instance holds, renewed in the background until released.
#[derive(Debug)]
pub(crate) struct Lease {
    bucket: Arc<Bucket>,
    key: String,
    state: Arc<Held>,
    renewer: tokio::task::AbortHandle,
}

#[derive(Debug)]
struct Held {
    key: String,
    lease: Duration,
    etag: Mutex<String>,
    renewed: Mutex<Instant>,
    lost: AtomicBool,
}

/// Tells a writer whether the lock is still surely its own.
#[derive(Debug, Clone)]
pub(crate) struct LeaseWatch(Arc<Held>);

impl LeaseWatch {
    /// `Ok` while the lock is surely still ours: renewed within two thirds of the lease, and not
    /// taken over. A writer checks this before each step that stores bytes.
    pub(crate) fn check(&self) -> Result<(), ApiError> {
        let since = self
            .0
            .renewed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed();
        if self.0.lost.load(Ordering::Relaxed) || since > self.0.lease * 2 / 3 {
            tracing::warn!(key = self.0.key, ?since, "lost the lock of an upload");
            return Err(locked());
        }
        Ok(())
    }
}

fn locked() -> ApiError {
    ApiError::new(StatusCode::LOCKED, "another request is writing this upload")
}

impl Lease {
    /// Takes the lock at `key`; `None` when someone else holds it.
    pub(crate) async fn acquire(bucket: &Arc<Bucket>, key: &str) -> Result<Option<Self>, ApiError> {
        let body = || Bytes::from_static(b"uptask upload lock\n");
        for _ in 0..3 {
            let created = bucket
                .put(key, body(), vec![("if-none-match", "*".into())])
                .await?;
            tracing::debug!(key, status = %created.status, "lock creation answered");
            if let Some(etag) = granted(&created, "take a lock")? {
                return Ok(Some(Self::hold(bucket, key, etag)));
            }
            let head = bucket
                .call("HEAD", key, &[], Vec::new(), Payload::Empty)
                .await?;
            if head.status == StatusCode::NOT_FOUND {
                // Released between the two calls: try again.
                continue;
            }
            if !head.status.is_success() {
                return Err(head.refused("read a lock"));
            }
            if !stale(&head, bucket.lease) {
                return Ok(None);
            }
            let etag = head.header("etag").unwrap_or_default().to_owned();
            let taken = bucket.put(key, body(), vec![("if-match", etag)]).await?;
            return Ok(granted(&taken, "take over a stale lock")?.map(|etag| {
                tracing::info!(key, "took over a stale lock");
                Self::hold(bucket, key, etag)
            }));
        }
        Ok(None)
    }

    fn hold(bucket: &Arc<Bucket>, key: &str, etag: String) -> Self {
        let state = Arc::new(Held {
            key: key.to_owned(),
            lease: bucket.lease,
            etag: Mutex::new(etag),
            renewed: Mutex::new(Instant::now()),
            lost: AtomicBool::new(false),
        });
        let renewer = tokio::spawn(renew(
            Arc::clone(bucket),
            key.to_owned(),
            Arc::clone(&state),
        ))
        .abort_handle();
        Self {
            bucket: Arc::clone(bucket),
            key: key.to_owned(),
            state,
            renewer,
        }
    }

    pub(crate) fn watch(&self) -> LeaseWatch {
        LeaseWatch(Arc::clone(&self.state))
    }

    /// Stops renewing and deletes the lock (only if it is still the one this instance wrote).
    /// A store out of reach is asked again in the background for as long as the lease runs,
    /// so the upload is free as soon as the store is back, not only once the lease is over.
    pub(crate) async fn release(self) {
        self.renewer.abort();
        let etag = self
            .state
            .etag
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if delete(&self.bucket, &self.key, &etag).await {
            return;
        }
        let (bucket, key) = (Arc::clone(&self.bucket), self.key.clone());
        tokio::spawn(async move {
            let until = Instant::now() + bucket.lease;
            while Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if delete(&bucket, &key, &etag).await {
                    return;
                }
            }
        });
    }
}

/// Deletes the lock if it is still `etag`; `false` when the store could not be asked.
async fn delete(bucket: &Bucket, key: &str, etag: &str) -> bool {
    match bucket
        .call(
            "DELETE",
            key,
            &[],
            vec![("if-match", etag.to_owned())],
            Payload::Empty,
        )
        .await
    {
        // 412: someone else's now; 404: gone already. Either way not ours to delete.
        Ok(r) if r.status.is_success() || r.status.is_client_error() => true,
        Ok(r) => {
            tracing::warn!(key, status = %r.status, "lock not released yet");
            false
        }
        Err(e) => {
            tracing::warn!(key, error = e.message, "lock not released yet");
            false
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// The new ETag when the conditional write went through, `None` when the condition failed.
fn granted(reply: &Reply, what: &str) -> Result<Option<String>, ApiError> {
    match reply.status {
        s if s.is_success() => Ok(Some(reply.header("etag").unwrap_or_default().to_owned())),
        // 409: a conditional write racing another on the same key.
        StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => Ok(None),
        _ => Err(reply.refused(what)),
    }
}

/// Last written longer than the lease ago, by the store's own clock (without both dates the
/// lock stands).
fn stale(head: &Reply, lease: Duration) -> bool {
    head.age().is_some_and(|age| age > lease)
}

async fn renew(bucket: Arc<Bucket>, key: String, state: Arc<Held>) {
    let every = bucket.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let etag = state
            .etag
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match bucket
            .put(
                &key,
                Bytes::from_static(b"uptask upload lock\n"),
                vec![("if-match", etag)],
            )
            .await
            .and_then(|r| granted(&r, "renew a lock"))
        {
            Ok(Some(etag)) => {
                *state.etag.lock().unwrap_or_else(PoisonError::into_inner) = etag;
                *state.renewed.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
            }
            Ok(None) => {
                state.lost.store(true, Ordering::Relaxed);
                tracing::warn!(key, "the lock of an upload was taken over");
                return;
            }
            // The store is out of reach: keep trying; `check` fails once the lease runs short.
            Err(e) => tracing::warn!(key, error = e.message, "cannot renew a lock"),
        }
    }
}
