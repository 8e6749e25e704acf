//! The knobs of an S3 upload.

use std::time::Duration;

pub use uptask_proto::s3::Addressing;
pub use uptask_proto::sigv4::Credentials;

/// Where and how to put an object into an S3-compatible store. The upload's URL is
/// `s3://bucket/key`.
///
/// Files up to `part_size` go in one `PUT`; larger ones in a multipart upload: parts of
/// `part_size` (at least 5 MiB, grown so no file needs more than 10,000 parts), `concurrency` at
/// a time, each with `Content-MD5`, then `CompleteMultipartUpload`. An abort or a failure
/// aborts the multipart upload, so no parts linger.
///
/// ```
/// use uptask::{S3Options, UploadOptions};
/// use uptask::s3::Credentials;
///
/// let s3 = S3Options::new(Credentials::new("AKID", "SECRET"))
///     .endpoint("http://127.0.0.1:8333")
///     .region("us-east-1")
///     .part_size(16 << 20)
///     .concurrency(8);
/// let opts = UploadOptions::new("s3://backups/db.dump", "db.dump", "file").s3(s3);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    pub(crate) credentials: Credentials,
    pub(crate) region: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) addressing: Option<Addressing>,
    pub(crate) part_size: u64,
    pub(crate) concurrency: usize,
    pub(crate) retry_delays: Vec<Duration>,
}

impl S3Options {
    /// The default part size: 8 MiB.
    pub const DEFAULT_PART_SIZE: u64 = 8 << 20;

    /// Options with these credentials, region `us-east-1`, AWS's endpoint, 8 MiB parts, four
    /// at a time, retries after 0, 1, 3 and 5 s.
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("AKID", "SECRET"));
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            region: "us-east-1".to_owned(),
            endpoint: None,
            addressing: None,
            part_size: Self::DEFAULT_PART_SIZE,
            concurrency: 4,
            retry_delays: [0, 1, 3, 5].map(Duration::from_secs).to_vec(),
        }
    }

    /// The region the signature is for.
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S")).region("eu-west-1");
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// An S3-compatible endpoint (`http(s)://host[:port]`); without one, AWS's endpoint of the
    /// region. With an endpoint, addressing defaults to path-style.
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S")).endpoint("http://127.0.0.1:8333");
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Path-style (`endpoint/bucket/key`) or virtual-host (`bucket.endpoint/key`) URLs.
    ///
    /// ```
    /// use uptask::s3::Addressing;
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S")).addressing(Addressing::VirtualHost);
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn addressing(mut self, addressing: Addressing) -> Self {
        self.addressing = Some(addressing);
        self
    }

    /// The part size (raised to 5 MiB, S3's minimum, and grown for very large files); files up
    /// to this size go in one `PUT`.
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S")).part_size(64 << 20);
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// How many parts are sent at once (at least 1).
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S")).concurrency(8);
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn concurrency(mut self, parts: usize) -> Self {
        self.concurrency = parts.max(1);
        self
    }

    /// The waits before each retry of a request that failed with a network error or a 5xx
    /// (per part: a failed part is sent again, the others go on).
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S"))
    ///     .retry_delays([std::time::Duration::ZERO; 3]);
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn retry_delays(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.retry_delays = delays.into_iter().collect();
        self
    }
}
