//! What to upload and where: the seed's `uploadFile` options.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use crate::source::Source;

/// The library's default whole-request timeout, as in WeChat.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How the file travels to the server.
///
/// ```
/// use uptask::{Protocol, TusOptions};
/// let multipart = Protocol::Multipart; // the default: one multipart/form-data POST
/// let tus = Protocol::Tus(TusOptions::new()); // tus 1.0: resumable, retried
/// # let _ = (multipart, tus);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// One `multipart/form-data` POST, as WeChat's `uploadFile`.
    #[default]
    Multipart,
    /// A tus 1.0 resumable upload to a creation endpoint (the URL), e.g. `http://host/files/`.
    /// `form_data` entries become `Upload-Metadata` next to `filename` and `filetype`; the
    /// field `name` is not used.
    Tus(crate::TusOptions),
    /// An S3-compatible store; the URL is `s3://bucket/key`.
    S3(crate::S3Options),
}

/// The options of one upload (WeChat's `url`, `filePath`, `name`, `header`, `formData`,
/// `timeout`, `fileName`).
///
/// Setters never fail; everything is checked when the upload starts, and a bad option ends the
/// task with an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error before any byte
/// goes out.
///
/// ```
/// use std::time::Duration;
/// use uptask::UploadOptions;
///
/// let opts = UploadOptions::new("https://example.com/upload", "photo.jpg", "file")
///     .header("Authorization", "Bearer t0k3n")
///     .form_data("album", "holidays")
///     .file_name("beach.jpg")
///     .timeout(Duration::from_secs(120));
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct UploadOptions {
    pub(crate) url: String,
    pub(crate) source: Source,
    pub(crate) name: String,
    pub(crate) header: Vec<(String, String)>,
    pub(crate) form_data: Vec<(String, String)>,
    pub(crate) file_name: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) stall_timeout: Option<Duration>,
    pub(crate) root_certificates: Vec<Vec<u8>>,
    pub(crate) with_credentials: bool,
    pub(crate) limits: crate::backend::Limits,
    pub(crate) more_files: Vec<crate::FormFile>,
    pub(crate) http2: bool,
    pub(crate) proxy: crate::Proxy,
    /// Set by [`Client::upload_file`](crate::Client::upload_file).
    pub(crate) queue: Option<crate::queue::Queue>,
    pub(crate) protocol: Protocol,
}

impl UploadOptions {
    /// Upload the file at `file_path` to `url` as the multipart field `name`.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "photo.jpg", "file");
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn new(
        url: impl Into<String>,
        file_path: impl Into<PathBuf>,
        name: impl Into<String>,
    ) -> Self {
        Self::with_source(url, Source::Path(file_path.into()), name)
    }

    /// Upload bytes held in memory; the file name defaults to `blob`, as in browsers.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::from_bytes("http://127.0.0.1:8080/upload", b"hi".to_vec(), "file");
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn from_bytes(
        url: impl Into<String>,
        bytes: impl Into<Bytes>,
        name: impl Into<String>,
    ) -> Self {
        Self::with_source(url, Source::Bytes(bytes.into()), name)
    }

    /// Upload from any [`Source`].
    ///
    /// ```
    /// let opts = uptask::UploadOptions::with_source("http://127.0.0.1:8080/upload", uptask::Source::Path("a.txt".into()), "file");
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn with_source(url: impl Into<String>, source: Source, name: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            source,
            name: name.into(),
            header: Vec::new(),
            form_data: Vec::new(),
            file_name: None,
            timeout: Some(DEFAULT_TIMEOUT),
            stall_timeout: None,
            root_certificates: Vec::new(),
            with_credentials: false,
            limits: crate::backend::Limits::default(),
            more_files: Vec::new(),
            http2: false,
            proxy: crate::Proxy::from_env(),
            queue: None,
            protocol: Protocol::Multipart,
        }
    }

    /// Adds a request header. `Content-Type`, `Content-Length` and `Transfer-Encoding` are set by
    /// uptask and refused here; a header with CR, LF or another control character is refused.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::from_bytes("http://127.0.0.1:8080/upload", vec![1], "file")
    ///     .header("X-Request-Id", "42")
    ///     .header("X-Bad", "a\r\nInjected: 1");
    /// assert!(opts.validate().unwrap_err().to_string().contains("X-Bad"));
    /// ```
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.header.push((name.into(), value.into()));
        self
    }

    /// Adds a text field to the form, sent before the file (order and duplicates kept). A tus
    /// upload sends the fields as its metadata; an upload through an S3 signer passes them to
    /// the signer as the upload's `metadata`.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::from_bytes("http://127.0.0.1:8080/upload", vec![1], "file")
    ///     .form_data("tag", "a")
    ///     .form_data("tag", "b");
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn form_data(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.form_data.push((key.into(), value.into()));
        self
    }

    /// The file name the server sees; defaults to the path's last component (or `blob`).
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "/tmp/tmp8x2k.bin", "file")
    ///     .file_name("report.pdf"); // sent as filename="report.pdf", Content-Type application/pdf
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = Some(file_name.into());
        self
    }

    /// Bounds the whole request (connect, send, response). `Duration::ZERO` means no limit.
    /// Default: [`DEFAULT_TIMEOUT`] (60 s). Ends with `uploadFile:fail timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "big.iso", "file")
    ///     .timeout(Duration::ZERO) // no overall limit for a big file...
    ///     .stall_timeout(Duration::from_secs(30)); // ...but give up when nothing moves for 30 s
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// Ends the upload with `uploadFile:fail timeout` when no byte moves in either direction for
    /// this long. Off by default (`Duration::ZERO` turns it off again).
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "a.bin", "file")
    ///     .stall_timeout(std::time::Duration::from_secs(10));
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn stall_timeout(mut self, stall: Duration) -> Self {
        self.stall_timeout = (!stall.is_zero()).then_some(stall);
        self
    }

    /// Trusts an extra root CA for HTTPS, given as PEM (one or more certificates). The built-in
    /// public roots stay trusted; verification is never turned off.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("https://intranet.example/upload", "a.bin", "file")
    ///     .add_root_certificate_pem(b"-----BEGIN CERTIFICATE-----\n...".to_vec());
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// In the browser, sends the page's cookies and HTTP authentication to another origin
    /// (`XMLHttpRequest.withCredentials`); the server must then answer CORS with
    /// `Access-Control-Allow-Credentials: true` and the page's exact origin. Off by default, as
    /// in the browser; it changes nothing on native targets, which keep no cookies.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::from_bytes("https://api.example/upload", b"hi".to_vec(), "file")
    ///     .with_credentials(true);
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn with_credentials(mut self, with_credentials: bool) -> Self {
        self.with_credentials = with_credentials;
        self
    }

    /// Sends another file in the same multipart request, after the first (uni-app's `files`).
    /// Progress counts the whole body, every file in it.
    ///
    /// ```
    /// use uptask::{FormFile, Source, UploadOptions};
    /// let opts = UploadOptions::new("http://127.0.0.1:8080/upload", "front.jpg", "photo")
    ///     .add_file(FormFile::new("photo", "back.jpg"))
    ///     .add_file(FormFile::with_source("notes", Source::Bytes("seen at noon".into())).file_name("notes.txt"));
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn add_file(mut self, file: crate::FormFile) -> Self {
        self.more_files.push(file);
        self
    }

    /// Sends a multipart upload over HTTP/2 (WeChat's `enableHttp2`): over `https://` when the
    /// server chooses it in the TLS handshake (else HTTP/1.1 as usual), over `http://` with
    /// prior knowledge (h2c), for servers known to speak it. Progress counts the bytes the
    /// server's flow-control window let out. tus and S3 requests stay on HTTP/1.1; in the
    /// browser, the browser chooses.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("https://example.com/upload", "a.bin", "file")
    ///     .enable_http2(true);
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn enable_http2(mut self, enable: bool) -> Self {
        self.http2 = enable;
        self
    }

    /// Which proxy the upload goes through; by default the environment's, as curl reads it
    /// (see [`Proxy`](crate::Proxy)).
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "a.bin", "file")
    ///     .proxy(uptask::Proxy::none());
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn proxy(mut self, proxy: crate::Proxy) -> Self {
        self.proxy = proxy;
        self
    }

    /// Sends at most `bytes_per_second` for this upload (every request of it together: tus
    /// chunks, S3 parts in parallel). The bytes are held back before the socket, so progress
    /// stays exact. Native targets only.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "big.iso", "file")
    ///     .limit_rate(2 << 20); // 2 MiB/s
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn limit_rate(self, bytes_per_second: u64) -> Self {
        self.rate_limit(crate::RateLimit::new(bytes_per_second))
    }

    /// Counts this upload against `limit`, which other uploads may share (a client-wide
    /// limit); with [`limit_rate`](Self::limit_rate) too, both hold.
    ///
    /// ```
    /// let shared = uptask::RateLimit::new(1 << 20);
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "a.bin", "file")
    ///     .rate_limit(shared.clone());
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn rate_limit(mut self, limit: crate::RateLimit) -> Self {
        self.limits.push(limit);
        self
    }

    /// Uploads with this protocol instead of a multipart POST.
    ///
    /// ```
    /// use uptask::{Protocol, TusOptions, UploadOptions};
    /// let opts = UploadOptions::new("http://127.0.0.1:8080/files/", "a.bin", "file")
    ///     .protocol(Protocol::Tus(TusOptions::new()));
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Shorthand for `.protocol(Protocol::Tus(tus))`: a resumable tus 1.0 upload.
    ///
    /// ```
    /// use uptask::{TusOptions, UploadOptions};
    /// let opts = UploadOptions::new("http://127.0.0.1:8080/files/", "a.bin", "file")
    ///     .tus(TusOptions::new().parallel(4));
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn tus(self, tus: crate::TusOptions) -> Self {
        self.protocol(Protocol::Tus(tus))
    }

    /// Shorthand for `.protocol(Protocol::S3(s3))`: a (multipart) upload to an S3-compatible
    /// store; the URL is `s3://bucket/key`.
    ///
    /// ```
    /// use uptask::{S3Options, UploadOptions};
    /// let creds = uptask::s3::Credentials::new("AKID", "SECRET");
    /// let opts = UploadOptions::new("s3://bucket/a.bin", "a.bin", "file")
    ///     .s3(S3Options::new(creds).endpoint("http://127.0.0.1:8333"));
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn s3(self, s3: crate::S3Options) -> Self {
        self.protocol(Protocol::S3(s3))
    }

    /// The target URL as given.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "a.bin", "file");
    /// assert_eq!(opts.url(), "http://127.0.0.1:8080/upload");
    /// ```
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The source of the file's bytes.
    ///
    /// ```
    /// let opts = uptask::UploadOptions::from_bytes("http://127.0.0.1:8080/upload", b"hi".to_vec(), "file");
    /// assert!(matches!(opts.source(), uptask::Source::Bytes(b) if b.as_ref() == b"hi"));
    /// ```
    #[must_use]
    pub fn source(&self) -> &Source {
        &self.source
    }
}
