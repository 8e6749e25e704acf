//! The knobs of an S3 upload.

use std::path::PathBuf;
use std::time::Duration;

pub use uptask_proto::s3::Addressing;
pub use uptask_proto::sigv4::Credentials;

/// How each part (or a whole small file) is checked by the store.
///
/// ```
/// use uptask::s3::PartChecksum;
/// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S")).checksum(PartChecksum::Md5);
/// # let _ = s3;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PartChecksum {
    /// `x-amz-checksum-crc32c` (and the upload created with `x-amz-checksum-algorithm:
    /// CRC32C`): computed in hardware on most CPUs, so hashing does not take CPU the transfer
    /// (or a store on the same machine) needs.
    #[default]
    Crc32c,
    /// `Content-MD5`: understood by every S3-compatible store, even old ones without the
    /// flexible checksums; costs about a second of CPU per 600 MB.
    Md5,
}

/// Where and how to put an object into an S3-compatible store. The upload's URL is
/// `s3://bucket/key`.
///
/// Files up to `part_size` go in one `PUT`; larger ones in a multipart upload: parts of
/// `part_size` (at least 5 MiB, grown so no file needs more than 10,000 parts), `concurrency` at
/// a time, each with a checksum the store verifies ([`PartChecksum`]), then
/// `CompleteMultipartUpload`. An abort aborts the
/// multipart upload, so no parts linger; so does a failure, unless a
/// [`resume_store`](S3Options::resume_store) keeps the upload for the next run.
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
///
/// Without the keys, through a signer that speaks Companion's S3 routes (`uptask serve
/// --store s3://...`, or `@uppy/companion`): see [`S3Options::signer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    pub(crate) credentials: Credentials,
    pub(crate) signer: Option<String>,
    pub(crate) region: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) addressing: Option<Addressing>,
    pub(crate) part_size: u64,
    pub(crate) concurrency: usize,
    pub(crate) retry_delays: Vec<Duration>,
    pub(crate) resume_store: Option<PathBuf>,
    pub(crate) fresh: bool,
    pub(crate) checksum: PartChecksum,
}

impl S3Options {
    /// The default part size: 8 MiB.
    pub const DEFAULT_PART_SIZE: u64 = 8 << 20;

    /// Options with these credentials, region `us-east-1`, AWS's endpoint, 8 MiB parts, four
    /// at a time, CRC32C checksums, retries after 0, 1, 3 and 5 s.
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("AKID", "SECRET"));
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            signer: None,
            region: "us-east-1".to_owned(),
            endpoint: None,
            addressing: None,
            part_size: Self::DEFAULT_PART_SIZE,
            concurrency: 4,
            retry_delays: [0, 1, 3, 5].map(Duration::from_secs).to_vec(),
            resume_store: None,
            fresh: false,
            checksum: PartChecksum::default(),
        }
    }

    /// Options for a direct upload through the signer at `url` (the base of Companion's S3
    /// routes, e.g. `http://host/s3`), with no keys on this side: the signer picks the key,
    /// creates the multipart upload, presigns each part, completes and aborts it; the parts
    /// go straight to the store, each checked by it: by its CRC32C, which the signer signs
    /// into the part's URL when it can (`uptask serve` does), otherwise by its `Content-MD5`
    /// (Companion; [`PartChecksum::Md5`] never asks for CRC32C). The upload's own URL is left
    /// empty (or is the same URL). Headers set on the upload go to the signer only (a token,
    /// say), never to the store. Part size, concurrency, retries and the resume store work as
    /// with keys; a resumed upload asks the signer which parts the store has.
    ///
    /// The store must let the page's origin `PUT` and read the `ETag` header (bucket CORS)
    /// when the upload runs in a browser.
    ///
    /// ```
    /// use uptask::{S3Options, UploadOptions};
    ///
    /// let s3 = S3Options::signer("http://127.0.0.1:9099/s3").part_size(16 << 20);
    /// let opts = UploadOptions::new("", "photo.jpg", "file")
    ///     .header("Authorization", "Bearer app-token")
    ///     .s3(s3);
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn signer(url: impl Into<String>) -> Self {
        Self {
            signer: Some(url.into()),
            ..Self::new(Credentials::new("", ""))
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

    /// Remembers multipart upload ids in this directory (one small file per upload, keyed by
    /// the file's path, size and modification time and the object's URL). A multipart upload
    /// that fails (the store went away, retries ran out, the time ran out) is then kept rather
    /// than aborted, and the next upload of the same file to the same object asks the store
    /// which parts it has (`ListParts`), checks each against the file's bytes (size and MD5),
    /// and sends only the rest. The entry is removed when the upload completes or is aborted.
    ///
    /// A kept upload holds its parts until it is resumed or aborted; a bucket lifecycle rule
    /// (`AbortIncompleteMultipartUpload`) cleans up the ones never resumed.
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S"))
    ///     .resume_store(std::env::temp_dir().join("uptask-s3"));
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn resume_store(mut self, dir: impl Into<PathBuf>) -> Self {
        self.resume_store = Some(dir.into());
        self
    }

    /// Ignores a stored upload id: start a new multipart upload (the old one is aborted).
    ///
    /// ```
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S"))
    ///     .resume_store("/tmp/s3")
    ///     .fresh(true);
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn fresh(mut self, fresh: bool) -> Self {
        self.fresh = fresh;
        self
    }

    /// The checksum each part is sent with (CRC32C by default). A resumed upload keeps the one
    /// it was created with.
    ///
    /// ```
    /// use uptask::s3::PartChecksum;
    /// let s3 = uptask::S3Options::new(uptask::s3::Credentials::new("A", "S")).checksum(PartChecksum::Md5);
    /// # let _ = s3;
    /// ```
    #[must_use]
    pub fn checksum(mut self, checksum: PartChecksum) -> Self {
        self.checksum = checksum;
        self
    }
}
