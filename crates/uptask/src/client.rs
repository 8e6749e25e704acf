//! Uploads under one roof: a cap on how many run at once (a FIFO queue for the rest) and an
//! optional bandwidth budget they share.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::queue::Queue;
use crate::{RateLimit, UploadOptions, UploadTask};

/// How many uploads a [`Client`] runs at once unless told otherwise: WeChat's cap on network
/// tasks.
pub const DEFAULT_MAX_CONCURRENT: usize = 10;

/// Starts uploads that share a cap on how many run at once, and optionally a bandwidth
/// budget. Uploads over the cap wait in a first-in, first-out queue; an upload that leaves it
/// says how long it waited ([`Notice::Dequeued`](crate::Notice::Dequeued), and `queue_start`/`queue_end` in its
/// [`Profile`](crate::Profile)); `abort()` works in the queue too. Clones share the queue.
///
/// ```no_run
/// # async fn demo() -> Result<(), uptask::UploadError> {
/// use uptask::{Client, UploadOptions};
///
/// let client = Client::new().max_concurrent(2).limit_rate(4 << 20); // 2 at a time, 4 MiB/s in all
/// let tasks: Vec<_> = ["a.jpg", "b.jpg", "c.jpg"]
///     .iter()
///     .map(|f| client.upload_file(UploadOptions::new("http://127.0.0.1:8080/upload", *f, "file")))
///     .collect();
/// for task in tasks {
///     println!("{}", task.await?.status_code); // c.jpg started when a or b finished
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    slots: Arc<Semaphore>,
    max: usize,
    limit: Option<RateLimit>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client running at most [`DEFAULT_MAX_CONCURRENT`] uploads at once, without a
    /// bandwidth budget.
    ///
    /// ```
    /// assert_eq!(uptask::Client::new().running_at_most(), 10);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            slots: Arc::new(Semaphore::new(DEFAULT_MAX_CONCURRENT)),
            max: DEFAULT_MAX_CONCURRENT,
            limit: None,
        }
    }

    /// Runs at most `n` uploads at once (at least 1). Set it before starting uploads: the
    /// client gets a new queue.
    ///
    /// ```
    /// assert_eq!(uptask::Client::new().max_concurrent(3).running_at_most(), 3);
    /// ```
    #[must_use]
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max = n.clamp(1, Semaphore::MAX_PERMITS);
        self.slots = Arc::new(Semaphore::new(self.max));
        self
    }

    /// All of this client's uploads together send at most `bytes_per_second`.
    ///
    /// ```
    /// let client = uptask::Client::new().limit_rate(1 << 20);
    /// # let _ = client;
    /// ```
    #[must_use]
    pub fn limit_rate(mut self, bytes_per_second: u64) -> Self {
        self.limit = Some(RateLimit::new(bytes_per_second));
        self
    }

    /// The cap on uploads running at once.
    #[must_use]
    pub fn running_at_most(&self) -> usize {
        self.max
    }

    /// How many uploads are running now (not those queued).
    ///
    /// ```
    /// assert_eq!(uptask::Client::new().running(), 0);
    /// ```
    #[must_use]
    pub fn running(&self) -> usize {
        self.max - self.slots.available_permits()
    }

    /// Starts `options` as [`upload_file`](crate::upload_file) does, once a slot is free.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), uptask::UploadError> {
    /// let client = uptask::Client::new();
    /// let done = client.upload_file(uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "a.bin", "file")).await?;
    /// # let _ = done; Ok(()) }
    /// ```
    pub fn upload_file(&self, options: UploadOptions) -> UploadTask {
        let mut options = options;
        options.queue = Some(Queue(Arc::clone(&self.slots)));
        if let Some(limit) = &self.limit {
            options = options.rate_limit(limit.clone());
        }
        crate::upload_file(options)
    }
}
