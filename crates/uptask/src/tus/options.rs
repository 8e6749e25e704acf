//! The knobs of a tus upload.

use std::path::PathBuf;
use std::time::Duration;

/// How a tus 1.0 upload behaves: chunking, retries, resuming, parallel parts.
///
/// The defaults suit most servers: the whole file in one `PATCH` (or, with a checksum, in
/// checksummed chunks of [`TusOptions::CHECKSUM_CHUNK`]), retries after 0, 1, 3 and 5 s,
/// checksums when the server offers them, and `DELETE` on abort.
///
/// ```
/// use std::time::Duration;
/// use uptask::{TusOptions, UploadOptions};
///
/// let tus = TusOptions::new()
///     .chunk_size(8 << 20)
///     .retry_delays([Duration::ZERO, Duration::from_secs(2)])
///     .resume_store("/var/cache/myapp/tus");
/// let opts = UploadOptions::new("http://127.0.0.1:8080/files/", "video.mp4", "file").tus(tus);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusOptions {
    pub(crate) chunk_size: Option<u64>,
    pub(crate) retry_delays: Vec<Duration>,
    pub(crate) resume_store: Option<PathBuf>,
    pub(crate) fresh: bool,
    pub(crate) upload_url: Option<String>,
    pub(crate) parallel: usize,
    pub(crate) checksum: bool,
    pub(crate) terminate_on_abort: bool,
}

impl Default for TusOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TusOptions {
    /// The chunk size used when the server checks checksums and no chunk size is set: each
    /// chunk is hashed before it is sent, so a mismatch re-sends at most this much.
    pub const CHECKSUM_CHUNK: u64 = uptask_proto::tus::machine::CHECKSUM_CHUNK;

    /// The defaults: one `PATCH`, retries after 0, 1, 3 and 5 s, checksums when offered,
    /// terminate on abort, no resume store, one part.
    ///
    /// ```
    /// let tus = uptask::TusOptions::new();
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            chunk_size: None,
            retry_delays: [0, 1, 3, 5].map(Duration::from_secs).to_vec(),
            resume_store: None,
            fresh: false,
            upload_url: None,
            parallel: 1,
            checksum: true,
            terminate_on_abort: true,
        }
    }

    /// Sends at most this many bytes per `PATCH` (for proxies with a body size limit). `0`
    /// means no limit: one `PATCH` for the rest of the file.
    ///
    /// ```
    /// let tus = uptask::TusOptions::new().chunk_size(50 << 20);
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = (bytes > 0).then_some(bytes);
        self
    }

    /// The waits before each retry after a network error, a 5xx, 423, 409 or 460; one retry per
    /// entry, and an empty list turns retries off. The count starts again after the server
    /// accepted new bytes. Each wait varies by up to ±25 % so many clients do not retry in step.
    ///
    /// ```
    /// use std::time::Duration;
    /// let tus = uptask::TusOptions::new().retry_delays([Duration::from_millis(100); 10]);
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn retry_delays(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.retry_delays = delays.into_iter().collect();
        self
    }

    /// Remembers upload URLs in this directory (one small file per upload, keyed by the file's
    /// path, size and modification time and the endpoint), so an upload of the same file to the
    /// same endpoint continues where an earlier process left off. The entry is removed when the
    /// upload completes or is aborted.
    ///
    /// ```
    /// let tus = uptask::TusOptions::new().resume_store(std::env::temp_dir().join("uptask-tus"));
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn resume_store(mut self, dir: impl Into<PathBuf>) -> Self {
        self.resume_store = Some(dir.into());
        self
    }

    /// Ignores (and replaces) a stored upload URL: start a new upload.
    ///
    /// ```
    /// let tus = uptask::TusOptions::new().resume_store("/tmp/tus").fresh(true);
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn fresh(mut self, fresh: bool) -> Self {
        self.fresh = fresh;
        self
    }

    /// Continues the upload at this URL (from an earlier `uploadCreated` notice) instead of
    /// creating one.
    ///
    /// ```
    /// let tus = uptask::TusOptions::new().upload_url("http://127.0.0.1:8080/files/3f2a");
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn upload_url(mut self, url: impl Into<String>) -> Self {
        self.upload_url = Some(url.into());
        self
    }

    /// Uploads this many parts in parallel and joins them with the concatenation extension,
    /// when the server offers it (otherwise, and for files under 1 MiB a part, one upload).
    ///
    /// ```
    /// let tus = uptask::TusOptions::new().parallel(4);
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn parallel(mut self, parts: usize) -> Self {
        self.parallel = parts.max(1);
        self
    }

    /// Whether to send `Upload-Checksum` when the server offers the checksum extension
    /// (default `true`).
    ///
    /// ```
    /// let tus = uptask::TusOptions::new().checksum(false);
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn checksum(mut self, on: bool) -> Self {
        self.checksum = on;
        self
    }

    /// Whether `abort()` also deletes the upload on the server (termination extension; default
    /// `true`). With `false`, an aborted upload stays resumable.
    ///
    /// ```
    /// let tus = uptask::TusOptions::new().terminate_on_abort(false);
    /// # let _ = tus;
    /// ```
    #[must_use]
    pub fn terminate_on_abort(mut self, on: bool) -> Self {
        self.terminate_on_abort = on;
        self
    }
}
