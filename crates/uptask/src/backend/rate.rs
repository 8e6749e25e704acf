//! Bandwidth limits: one upload's, or one shared by many.

use std::sync::{Arc, Mutex, PoisonError};

use uptask_proto::rate::TokenBucket;

/// A bandwidth limit in bytes per second. Give one to an upload with
/// [`UploadOptions::limit_rate`](crate::UploadOptions::limit_rate) (its own), or clone one into
/// many with [`UploadOptions::rate_limit`](crate::UploadOptions::rate_limit): clones share the
/// budget, so the uploads together stay under it.
///
/// The limit is applied where bytes are handed to the socket, so progress counts stay exact
/// under it. In the browser, which sends each request's body itself, tus chunks and S3 parts
/// are paced instead (each waits for its bytes' share of the budget before it starts), and a
/// multipart upload, one request, is not limited.
///
/// ```
/// use uptask::{RateLimit, UploadOptions};
/// let shared = RateLimit::new(2 << 20); // 2 MiB/s for everything below
/// let a = UploadOptions::new("http://127.0.0.1:8080/upload", "a.bin", "file").rate_limit(shared.clone());
/// let b = UploadOptions::new("http://127.0.0.1:8080/upload", "b.bin", "file")
///     .rate_limit(shared.clone())
///     .limit_rate(512 << 10); // and this one alone at most 512 KiB/s
/// assert_eq!(shared.bytes_per_second(), 2 << 20);
/// # let _ = (a, b);
/// ```
#[derive(Debug, Clone)]
pub struct RateLimit(Arc<Mutex<TokenBucket>>);

impl RateLimit {
    /// A limit of `bytes_per_second` (at least 1), with a burst of a tenth of a second's worth.
    #[must_use]
    pub fn new(bytes_per_second: u64) -> Self {
        Self(Arc::new(Mutex::new(TokenBucket::new(bytes_per_second))))
    }

    /// The limit.
    #[must_use]
    pub fn bytes_per_second(&self) -> u64 {
        self.bucket(|b| b.rate())
    }

    fn bucket<T>(&self, f: impl FnOnce(&mut TokenBucket) -> T) -> T {
        // The bucket is plain numbers: a panic elsewhere cannot leave it inconsistent.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Books up to `want` bytes (at least one) after every earlier booking: how many, and how
    /// long to wait before they go.
    fn book(&self, want: u64) -> uptask_proto::rate::Grant {
        self.bucket(|b| b.take(want, crate::backend::now()))
    }

    fn refund(&self, n: u64) {
        if n > 0 {
            self.bucket(|b| b.refund(n));
        }
    }
}

/// Every limit on one upload.
#[derive(Debug, Clone, Default)]
pub(crate) struct Limits(Vec<RateLimit>);

impl Limits {
    pub(crate) fn push(&mut self, limit: RateLimit) {
        self.0.push(limit);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Waits until at least one of `want` bytes may go out under every limit, and grants as
    /// many as may; what a looser limit granted beyond a tighter one goes back to it. Each
    /// limit serves the uploads sharing it in the order they asked.
    pub(crate) async fn take(&self, want: u64) -> Grant<'_> {
        let mut granted = Vec::with_capacity(self.0.len());
        let mut n = want;
        let mut wait = std::time::Duration::ZERO;
        for limit in &self.0 {
            let grant = limit.book(n);
            granted.push(grant.bytes);
            n = grant.bytes;
            wait = wait.max(grant.wait);
        }
        for (limit, got) in self.0.iter().zip(granted) {
            limit.refund(got - n);
        }
        if !wait.is_zero() {
            crate::backend::sleep(wait).await;
        }
        Grant { limits: self, n }
    }
}

/// Bytes granted by [`Limits::take`]; [`settle`](Grant::settle) says how many went out.
#[derive(Debug)]
#[must_use = "settle the grant with the bytes actually sent"]
pub(crate) struct Grant<'a> {
    limits: &'a Limits,
    n: u64,
}

impl Grant<'_> {
    /// How many bytes may go out.
    pub(crate) fn len(&self) -> u64 {
        self.n
    }

    /// `used` of the granted bytes went out; the rest goes back to every limit.
    pub(crate) fn settle(self, used: u64) {
        let unused = self.n.saturating_sub(used);
        for limit in &self.limits.0 {
            limit.refund(unused);
        }
    }
}
