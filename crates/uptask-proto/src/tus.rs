//! The tus 1.0 resumable upload protocol: header values both ways, and the decisions that do not
//! need IO (which checksum to use, which failures to retry, what a concatenation names).
//!
//! Headers are looked up through a closure (`name -> value`) so the same code reads a client's
//! response map and a server's request headers. Names are given in lower case.
//!
//! ```
//! use uptask_proto::tus::{Capabilities, encode_metadata, parse_offset};
//!
//! let caps = Capabilities::from_headers(|name| match name {
//!     "tus-version" => Some("1.0.0"),
//!     "tus-extension" => Some("creation,termination,checksum"),
//!     "tus-checksum-algorithm" => Some("md5,sha1,sha256"),
//!     _ => None,
//! });
//! assert!(caps.has("termination"));
//! assert_eq!(encode_metadata(&[("filename".into(), "a.txt".into())])?, "filename YS50eHQ=");
//! assert_eq!(parse_offset("upload-offset", Some("42"))?, 42);
//! # Ok::<(), uptask_proto::ProtoError>(())
//! ```

mod answers;
mod checks;
pub mod machine;
mod stream;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What a tus upload leaves in a resume store.
pub use crate::engine::TusEntry as Entry;

use crate::ProtoError;

/// The protocol version every request and response carries in `Tus-Resumable`.
pub const TUS_RESUMABLE: &str = "1.0.0";

/// The content type of a `PATCH` body (and of a creation-with-upload `POST` body).
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// Status a server answers when an `Upload-Checksum` does not match the bytes it received.
pub const CHECKSUM_MISMATCH: u16 = 460;

/// What a server said it supports, from the headers of its `OPTIONS` answer.
///
/// ```
/// use uptask_proto::tus::Capabilities;
/// let caps = Capabilities::from_headers(|n| (n == "tus-max-size").then_some("1024"));
/// assert_eq!(caps.max_size, Some(1024));
/// assert!(!caps.has("creation"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Protocol versions, most preferred first (`Tus-Version`).
    pub versions: Vec<String>,
    /// Extensions (`Tus-Extension`), e.g. `creation`, `termination`, `checksum`.
    pub extensions: Vec<String>,
    /// The largest upload the server takes (`Tus-Max-Size`).
    pub max_size: Option<u64>,
    /// Checksum algorithms (`Tus-Checksum-Algorithm`), lower case.
    pub checksum_algorithms: Vec<String>,
}

impl Capabilities {
    /// Reads the discovery headers; absent or unreadable ones leave their field empty.
    #[must_use]
    pub fn from_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            versions: list(get("tus-version")),
            extensions: list(get("tus-extension")),
            max_size: get("tus-max-size").and_then(|v| digits(v.trim())),
            checksum_algorithms: list(get("tus-checksum-algorithm"))
                .into_iter()
                .map(|a| a.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether the server lists this extension.
    #[must_use]
    pub fn has(&self, extension: &str) -> bool {
        self.extensions.iter().any(|e| e == extension)
    }

    /// The checksum algorithm to use, if the server offers the checksum extension with one that
    /// uptask computes (sha256 preferred over sha1).
    ///
    /// ```
    /// use uptask_proto::tus::{Capabilities, ChecksumAlgorithm};
    /// let caps = Capabilities::from_headers(|n| match n {
    ///     "tus-extension" => Some("checksum"),
    ///     "tus-checksum-algorithm" => Some("md5,sha1"),
    ///     _ => None,
    /// });
    /// assert_eq!(caps.checksum(), Some(ChecksumAlgorithm::Sha1));
    /// ```
    #[must_use]
    pub fn checksum(&self) -> Option<ChecksumAlgorithm> {
        if !self.has("checksum") {
            return None;
        }
        [ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Sha1]
            .into_iter()
            .find(|a| self.checksum_algorithms.iter().any(|n| n == a.name()))
    }
}

fn list(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn digits(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Reads a non-negative integer header (`Upload-Offset`, `Upload-Length`): digits only, no sign,
/// no spaces inside.
///
/// # Errors
/// [`ProtoError::TusHeader`] when the header is missing or not a plain number.
///
/// ```
/// use uptask_proto::tus::parse_offset;
/// assert!(parse_offset("upload-offset", Some("-1")).is_err());
/// assert!(parse_offset("upload-offset", None).is_err());
/// ```
pub fn parse_offset(name: &str, value: Option<&str>) -> Result<u64, ProtoError> {
    let bad = || ProtoError::TusHeader {
        name: name.to_owned(),
        value: value.unwrap_or("(missing)").to_owned(),
    };
    digits(value.ok_or_else(bad)?.trim()).ok_or_else(bad)
}

/// Encodes `Upload-Metadata`: `key base64(value)` pairs joined by commas.
///
/// # Errors
/// [`ProtoError::TusMetadata`] for an empty key, or one with a space, comma or non-ASCII byte.
///
/// ```
/// use uptask_proto::tus::encode_metadata;
/// let pairs = [("filename".to_owned(), "旅行.jpg".to_owned()), ("empty".to_owned(), String::new())];
/// assert_eq!(encode_metadata(&pairs)?, "filename 5peF6KGMLmpwZw==,empty");
/// assert!(encode_metadata(&[("a b".to_owned(), "x".to_owned())]).is_err());
/// # Ok::<(), uptask_proto::ProtoError>(())
/// ```
pub fn encode_metadata(pairs: &[(String, String)]) -> Result<String, ProtoError> {
    let mut out = String::new();
    for (key, value) in pairs {
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b',' && b != b' ')
        {
            return Err(ProtoError::TusMetadata(format!(
                "key {key:?} must be non-empty ASCII without spaces or commas"
            )));
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(key);
        if !value.is_empty() {
            out.push(' ');
            out.push_str(&STANDARD.encode(value));
        }
    }
    Ok(out)
}

/// Decodes `Upload-Metadata` into keys and raw values (a key without a value has an empty one).
///
/// # Errors
/// [`ProtoError::TusMetadata`] for bad base64, an empty or repeated key, or extra spaces.
///
/// ```
/// use uptask_proto::tus::decode_metadata;
/// let pairs = decode_metadata("filename YS50eHQ=,is_confidential")?;
/// assert_eq!(pairs[0], ("filename".to_owned(), b"a.txt".to_vec()));
/// assert_eq!(pairs[1], ("is_confidential".to_owned(), Vec::new()));
/// assert!(decode_metadata("k !!!").is_err());
/// # Ok::<(), uptask_proto::ProtoError>(())
/// ```
pub fn decode_metadata(value: &str) -> Result<Vec<(String, Vec<u8>)>, ProtoError> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let mut parts = item.split(' ');
        let key = parts.next().unwrap_or_default();
        let encoded = parts.next();
        if key.is_empty() || parts.next().is_some() {
            return Err(ProtoError::TusMetadata(format!("malformed pair {item:?}")));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(ProtoError::TusMetadata(format!("key {key:?} repeated")));
        }
        let decoded = match encoded {
            Some(e) => STANDARD
                .decode(e)
                .map_err(|_| ProtoError::TusMetadata(format!("value of {key:?} is not base64")))?,
            None => Vec::new(),
        };
        out.push((key.to_owned(), decoded));
    }
    Ok(out)
}

/// A checksum algorithm of the tus checksum extension that uptask computes.
///
/// ```
/// use uptask_proto::tus::ChecksumAlgorithm;
/// assert_eq!(ChecksumAlgorithm::from_name("SHA1"), Some(ChecksumAlgorithm::Sha1));
/// assert_eq!(ChecksumAlgorithm::Sha256.header_value(&[0, 1]), "sha256 AAE=");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChecksumAlgorithm {
    /// SHA-1 (20-byte digest).
    Sha1,
    /// SHA-256 (32-byte digest).
    Sha256,
}

impl ChecksumAlgorithm {
    /// The name used in `Upload-Checksum` and `Tus-Checksum-Algorithm`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The algorithm of that name (any case), if uptask computes it.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    /// The `Upload-Checksum` value for this digest.
    #[must_use]
    pub fn header_value(self, digest: &[u8]) -> String {
        format!("{} {}", self.name(), STANDARD.encode(digest))
    }
}

/// Splits an `Upload-Checksum` value into its algorithm name and digest bytes.
///
/// # Errors
/// [`ProtoError::TusHeader`] when it is not `NAME BASE64`.
///
/// ```
/// use uptask_proto::tus::parse_checksum;
/// assert_eq!(parse_checksum("sha1 AAE=")?, ("sha1".to_owned(), vec![0, 1]));
/// assert!(parse_checksum("sha1").is_err());
/// # Ok::<(), uptask_proto::ProtoError>(())
/// ```
pub fn parse_checksum(value: &str) -> Result<(String, Vec<u8>), ProtoError> {
    let bad = || ProtoError::TusHeader {
        name: "upload-checksum".to_owned(),
        value: value.to_owned(),
    };
    let (name, encoded) = value.trim().split_once(' ').ok_or_else(bad)?;
    let digest = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    Ok((name.to_ascii_lowercase(), digest))
}

/// Whether a client should try again (after asking the server for its offset) when a request
/// ends with this status: server errors, `423 Locked` (another request still holds the upload),
/// `409 Conflict` (the offsets disagree) and `460` (the checksum did not match). Other 4xx are
/// final: the request itself is wrong.
///
/// ```
/// use uptask_proto::tus::should_retry;
/// assert!(should_retry(503) && should_retry(423) && should_retry(460));
/// assert!(!should_retry(404) && !should_retry(413));
/// ```
#[must_use]
pub fn should_retry(status: u16) -> bool {
    status >= 500 || matches!(status, 409 | 423 | CHECKSUM_MISMATCH)
}

/// The `Upload-Concat` header of a request or an upload.
///
/// ```
/// use uptask_proto::tus::Concat;
/// assert_eq!(Concat::parse("partial")?, Concat::Partial);
/// let fin = Concat::parse("final;/files/a http://h/files/b")?;
/// assert_eq!(fin, Concat::Final(vec!["/files/a".into(), "http://h/files/b".into()]));
/// assert_eq!(fin.header_value(), "final;/files/a http://h/files/b");
/// # Ok::<(), uptask_proto::ProtoError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Concat {
    /// A part, to be joined later.
    Partial,
    /// The join of these partial uploads, in order (URLs as given, absolute or path-only).
    Final(Vec<String>),
}

impl Concat {
    /// Parses `partial` or `final;URL URL ...`.
    ///
    /// # Errors
    /// [`ProtoError::TusHeader`] for anything else, or a final with no part.
    pub fn parse(value: &str) -> Result<Self, ProtoError> {
        let value = value.trim();
        if value == "partial" {
            return Ok(Self::Partial);
        }
        let bad = || ProtoError::TusHeader {
            name: "upload-concat".to_owned(),
            value: value.to_owned(),
        };
        let parts = value.strip_prefix("final;").ok_or_else(bad)?;
        let urls: Vec<String> = parts.split_whitespace().map(str::to_owned).collect();
        if urls.is_empty() {
            return Err(bad());
        }
        Ok(Self::Final(urls))
    }

    /// The header value.
    #[must_use]
    pub fn header_value(&self) -> String {
        match self {
            Self::Partial => "partial".to_owned(),
            Self::Final(urls) => format!("final;{}", urls.join(" ")),
        }
    }
}

/// Splits `len` bytes into `parts` contiguous ranges `(offset, len)` of near-equal size, for a
/// parallel upload by concatenation. Never yields an empty range unless `len` is 0 (then one).
///
/// ```
/// use uptask_proto::tus::split_ranges;
/// assert_eq!(split_ranges(10, 3), vec![(0, 4), (4, 3), (7, 3)]);
/// assert_eq!(split_ranges(2, 4), vec![(0, 1), (1, 1)]);
/// assert_eq!(split_ranges(0, 4), vec![(0, 0)]);
/// ```
#[must_use]
pub fn split_ranges(len: u64, parts: usize) -> Vec<(u64, u64)> {
    let parts = (parts.max(1) as u64).min(len.max(1));
    let base = len / parts;
    let extra = len % parts;
    let mut offset = 0;
    (0..parts)
        .map(|i| {
            let size = base + u64::from(i < extra);
            let range = (offset, size);
            offset += size;
            range
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offsets_reject_signs_spaces_and_overflow() {
        for bad in ["", "+1", "-1", "1 2", "0x10", "99999999999999999999999"] {
            assert!(parse_offset("upload-offset", Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(parse_offset("upload-offset", Some(" 7 ")).unwrap(), 7);
    }

    #[test]
    fn capabilities_ignore_garbage() {
        let caps = Capabilities::from_headers(|n| match n {
            "tus-max-size" => Some("lots"),
            "tus-extension" => Some(" creation , ,termination"),
            _ => None,
        });
        assert_eq!(caps.max_size, None);
        assert_eq!(caps.extensions, ["creation", "termination"]);
        assert_eq!(caps.checksum(), None);
    }

    #[test]
    fn concat_rejects_empty_final() {
        assert!(Concat::parse("final;").is_err());
        assert!(Concat::parse("whole").is_err());
    }

    proptest! {
        #[test]
        fn metadata_round_trips(pairs in proptest::collection::btree_map("[a-z_][a-z0-9_.-]{0,12}", ".{0,40}", 0..6)) {
            let pairs: Vec<(String, String)> = pairs.into_iter().collect();
            let decoded = decode_metadata(&encode_metadata(&pairs).unwrap()).unwrap();
            let expected: Vec<(String, Vec<u8>)> =
                pairs.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
            prop_assert_eq!(decoded, expected);
        }

        #[test]
        fn split_ranges_cover_the_length(len in 0u64..10_000, parts in 0usize..20) {
            let ranges = split_ranges(len, parts);
            let mut at = 0;
            for (offset, size) in &ranges {
                prop_assert_eq!(*offset, at);
                prop_assert!(*size > 0 || len == 0);
                at += size;
            }
            prop_assert_eq!(at, len);
        }
    }
}
