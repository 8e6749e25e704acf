//! What the server is told at start, shared by every request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default time a client gets to send a request head.
pub const DEFAULT_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long requests in flight may go on after a shutdown begins.
pub const DEFAULT_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How often undelivered hook events are sent again, by default.
pub const DEFAULT_HOOKS_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// How long an incomplete tus upload is kept by default: a day.
pub const DEFAULT_TUS_EXPIRY: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// How long a presigned URL of the direct-to-store routes stays valid by default.
pub const DEFAULT_PRESIGN_EXPIRY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The default upper bound of one request body: 10 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024 * 1024;

/// Server settings.
///
/// ```
/// let config = uptask_server::ServerConfig::new("./uptask-uploads")
///     .max_size(1 << 30)
///     .token("s3cret");
/// assert_eq!(config.max_size, 1 << 30);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Where files are stored (unless [`s3`](Self::s3) names a bucket).
    pub dir: PathBuf,
    /// An S3 bucket to keep files and tus uploads in, instead of `dir`: every instance on the
    /// same bucket then answers for every upload.
    pub s3: Option<crate::S3Store>,
    /// The largest request body accepted, in bytes; larger ones get 413.
    pub max_size: u64,
    /// When set, requests need `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Parse uploads but store nothing (no disk writes, no hashing): a benchmark sink.
    pub discard: bool,
    /// How long a client may take to send a request head; slower ones are disconnected, so
    /// idle half-open requests (slowloris) cannot pile up.
    pub header_timeout: std::time::Duration,
    /// How long an incomplete tus upload is kept after its creation (`Upload-Expires`).
    pub tus_expiry: std::time::Duration,
    /// How long the presigned URLs of the `/s3/` routes stay valid.
    pub presign_expiry: std::time::Duration,
    /// The page origins (`https://app.example`) that may call with credentials; any other
    /// origin may call without them.
    pub allow_origins: Vec<String>,
    /// Where hook events are sent (`POST` JSON), if anywhere.
    pub hooks_http: Option<String>,
    /// How often events the receiver has not taken yet are sent again.
    pub hooks_retry: std::time::Duration,
    /// How long requests in flight may go on once [`serve`](crate::serve) is told to stop;
    /// then they are cut (a tus upload keeps the bytes it stored, and continues elsewhere).
    pub drain_timeout: std::time::Duration,
}

impl ServerConfig {
    /// Storage in `dir`, a 10 GiB limit, no token.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            s3: None,
            max_size: DEFAULT_MAX_SIZE,
            token: None,
            discard: false,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            tus_expiry: DEFAULT_TUS_EXPIRY,
            presign_expiry: DEFAULT_PRESIGN_EXPIRY,
            allow_origins: Vec::new(),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            hooks_http: None,
            hooks_retry: DEFAULT_HOOKS_RETRY,
        }
    }

    /// Sends hook events to `url` (tusd's HTTP hooks: `pre-create`, `post-finish`,
    /// `post-terminate`).
    ///
    /// ```
    /// let config = uptask_server::ServerConfig::new("./uptask-uploads")
    ///     .hooks_http("http://127.0.0.1:9000/hooks")
    ///     .hooks_retry(std::time::Duration::from_secs(2));
    /// assert_eq!(config.hooks_http.as_deref(), Some("http://127.0.0.1:9000/hooks"));
    /// ```
    #[must_use]
    pub fn hooks_http(mut self, url: impl Into<String>) -> Self {
        self.hooks_http = Some(url.into());
        self
    }

    /// Sets how often undelivered hook events are sent again (default 10 s).
    #[must_use]
    pub fn hooks_retry(mut self, every: std::time::Duration) -> Self {
        self.hooks_retry = every;
        self
    }

    /// Keeps files and tus uploads in an S3 bucket instead of the directory.
    ///
    /// ```
    /// use uptask_proto::sigv4::Credentials;
    /// let store = uptask_server::S3Store::parse("s3://uploads", Credentials::new("AK", "SK"))?
    ///     .endpoint("http://127.0.0.1:8333");
    /// let config = uptask_server::ServerConfig::new("./unused").s3(store);
    /// assert_eq!(config.s3.unwrap().bucket, "uploads");
    /// # Ok::<(), uptask_server::StoreUrlError>(())
    /// ```
    #[must_use]
    pub fn s3(mut self, store: crate::S3Store) -> Self {
        self.s3 = Some(store);
        self
    }

    /// Sets how long requests in flight may go on after a shutdown begins (default 30 s).
    ///
    /// ```
    /// let config = uptask_server::ServerConfig::new("./uptask-uploads")
    ///     .drain_timeout(std::time::Duration::from_secs(5));
    /// assert_eq!(config.drain_timeout.as_secs(), 5);
    /// ```
    #[must_use]
    pub fn drain_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Lets pages of `origin` (`scheme://host[:port]`) call with credentials (cookies, HTTP
    /// auth): their requests get their origin back and `Access-Control-Allow-Credentials`.
    /// Any origin may call without credentials, named or not (tusd's default).
    ///
    /// ```
    /// let config = uptask_server::ServerConfig::new("./uptask-uploads")
    ///     .allow_origin("https://app.example")
    ///     .allow_origin("http://localhost:5173");
    /// assert_eq!(config.allow_origins.len(), 2);
    /// ```
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allow_origins.push(origin.into());
        self
    }

    /// Sets how long a client may take to send a request head (default 30 s).
    ///
    /// ```
    /// let config = uptask_server::ServerConfig::new("./uptask-uploads")
    ///     .header_timeout(std::time::Duration::from_secs(5));
    /// assert_eq!(config.header_timeout.as_secs(), 5);
    /// ```
    #[must_use]
    pub fn header_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Sets how long an incomplete tus upload is kept (default a day).
    ///
    /// ```
    /// let config = uptask_server::ServerConfig::new("./uptask-uploads")
    ///     .tus_expiry(std::time::Duration::from_secs(3600));
    /// assert_eq!(config.tus_expiry.as_secs(), 3600);
    /// ```
    #[must_use]
    pub fn tus_expiry(mut self, expiry: std::time::Duration) -> Self {
        self.tus_expiry = expiry;
        self
    }

    /// Sets how long the presigned URLs of the `/s3/` routes stay valid (default 15 min; S3
    /// takes at most 7 days).
    ///
    /// ```
    /// let config = uptask_server::ServerConfig::new("./uptask-uploads")
    ///     .presign_expiry(std::time::Duration::from_secs(600));
    /// assert_eq!(config.presign_expiry.as_secs(), 600);
    /// ```
    #[must_use]
    pub fn presign_expiry(mut self, expiry: std::time::Duration) -> Self {
        self.presign_expiry = expiry.min(std::time::Duration::from_secs(7 * 24 * 3600));
        self
    }

    /// Sets the body size limit.
    #[must_use]
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Parses uploads but stores nothing: files are counted, not written or hashed (their
    /// `sha256` is empty and `path` is empty in the answer).
    ///
    /// ```
    /// let sink = uptask_server::ServerConfig::new("/unused").discard(true);
    /// assert!(sink.discard);
    /// ```
    #[must_use]
    pub fn discard(mut self, discard: bool) -> Self {
        self.discard = discard;
        self
    }

    /// Requires this bearer token on every request.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

pub(crate) type State = Arc<ServerConfig>;

/// What the upload routes share: the config, and the bucket when files go to one.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: State,
    pub(crate) bucket: Option<Arc<crate::bucket::Bucket>>,
    pub(crate) hooks: Option<Arc<crate::hooks::Hooks>>,
}
