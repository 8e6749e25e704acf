//! The `multipart/form-data` encoder (RFC 7578), as browsers and WeChat send it.
//!
//! The body is planned up front as a list of [`Segment`]s: framing bytes held in memory and a
//! segment per file that the IO layer streams from its source. The exact length is therefore
//! known before the first byte, and [`MultipartBody::pieces_from`] restarts the body at any
//! offset.
//!
//! Names and file names are quoted the way the HTML standard's form encoder does it: `"`, CR and
//! LF become `%22`, `%0D` and `%0A`; everything else, UTF-8 included, is sent as is. That is what
//! server parsers (busboy, multer, Go, PHP, ...) are written against. A backslash is the one
//! addition, sent as `%5C`: parsers disagree on it (some read it as a quoted-pair escape that
//! swallows the next character, some end the string early at `\"`), while a percent-escape
//! reads the same everywhere. Other control characters (NUL, ESC, DEL, ...) are percent-escaped
//! too: raw, they make the part header malformed.
//!
//! ```
//! use uptask_proto::multipart::{Boundary, FilePart, MultipartBody, Piece};
//!
//! let body = MultipartBody::new(Boundary::new("XyZ").unwrap(), &[], &FilePart::new("f", "a.txt", 3));
//! let mut wire = Vec::new();
//! for piece in body.pieces_from(0) {
//!     match piece {
//!         Piece::Bytes(b) => wire.extend_from_slice(b),
//!         Piece::File { offset, len, .. } => wire.extend_from_slice(&b"abc"[offset as usize..][..len as usize]),
//!         _ => unreachable!("no other piece kinds yet"),
//!     }
//! }
//! assert_eq!(
//!     String::from_utf8(wire).unwrap(),
//!     "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\
//!      Content-Type: text/plain\r\n\r\nabc\r\n--XyZ--\r\n"
//! );
//! ```

use std::fmt;

pub mod machine;

use crate::ProtoError;

/// The content type used when a file name's extension is unknown.
pub const FALLBACK_CONTENT_TYPE: &str = "application/octet-stream";

/// A multipart boundary: 1 to 70 characters from RFC 2046's `bchars`, not ending in a space.
///
/// ```
/// use uptask_proto::multipart::Boundary;
/// assert!(Boundary::new("simple-boundary").is_ok());
/// assert!(Boundary::new("").is_err());
/// assert_eq!(Boundary::from_random([0xab; 16]).as_str().len(), 39);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Boundary(String);

impl Boundary {
    /// Checks and wraps a caller-chosen boundary.
    ///
    /// # Errors
    /// [`ProtoError::Boundary`] when the text is not a valid RFC 2046 boundary.
    pub fn new(text: &str) -> Result<Self, ProtoError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || "'()+_,-./:=? ".contains(c);
        let ok =
            (1..=70).contains(&text.len()) && text.chars().all(valid_char) && !text.ends_with(' ');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(ProtoError::Boundary(text.to_owned()))
        }
    }

    /// A boundary made from 16 random bytes (the caller supplies the randomness).
    #[must_use]
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let mut s = String::with_capacity(39);
        s.push_str("uptask-");
        for b in bytes {
            s.push(hex_digit(b >> 4));
            s.push(hex_digit(b & 0xf));
        }
        Self(s)
    }

    /// The boundary text, without the leading `--`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Boundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Boundary").field(&self.0).finish()
    }
}

fn hex_digit(n: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(n & 0xf)])
}

/// The file part of a form: its field name, the file name the server sees, and its length.
///
/// ```
/// use uptask_proto::multipart::FilePart;
/// let part = FilePart::new("avatar", "me.png", 1024);
/// assert_eq!(part.content_type, "image/png");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    /// The form field name (WeChat's `name`).
    pub field_name: String,
    /// The file name sent in `filename="..."`.
    pub file_name: String,
    /// The part's `Content-Type`.
    pub content_type: String,
    /// The exact number of bytes the file segment will carry.
    pub len: u64,
}

impl FilePart {
    /// A file part whose content type is guessed from the file name's extension.
    #[must_use]
    pub fn new(field_name: &str, file_name: &str, len: u64) -> Self {
        Self {
            field_name: field_name.to_owned(),
            file_name: file_name.to_owned(),
            content_type: content_type_for(file_name),
            len,
        }
    }
}

/// The content type for a file name, from its extension; `application/octet-stream` when unknown.
///
/// ```
/// use uptask_proto::multipart::content_type_for;
/// assert_eq!(content_type_for("photo.JPG"), "image/jpeg");
/// assert_eq!(content_type_for("blob.unknownext"), "application/octet-stream");
/// assert_eq!(content_type_for("no-extension"), "application/octet-stream");
/// ```
#[must_use]
pub fn content_type_for(file_name: &str) -> String {
    mime_guess::from_path(file_name)
        .first_raw()
        .unwrap_or(FALLBACK_CONTENT_TYPE)
        .to_owned()
}

/// Quotes a name or file name for a `Content-Disposition` parameter, the HTML-standard way.
///
/// ```
/// use uptask_proto::multipart::escape_quoted;
/// assert_eq!(escape_quoted("a\"b\r\nc"), "a%22b%0D%0Ac");
/// assert_eq!(escape_quoted("nul\0 del\x7f tab\t"), "nul%00 del%7F tab\t");
/// assert_eq!(escape_quoted("C:\\dir\\文件.txt"), "C:%5Cdir%5C文件.txt");
/// ```
#[must_use]
pub fn escape_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\\' => out.push_str("%5C"),
            // A tab is legal in a header value; every other control would make the part's
            // header malformed (parsers reject NUL and friends outright).
            c if c.is_ascii_control() && c != '\t' => {
                out.push_str(&format!("%{:02X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// One planned stretch of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Segment {
    /// Framing (and text field values), held in memory.
    Bytes(Vec<u8>),
    /// A file's contents, `len` bytes streamed from its source.
    File {
        /// Which file: its position among the body's files.
        index: usize,
        /// How many bytes the source must supply.
        len: u64,
    },
}

impl Segment {
    /// The segment's length in bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        match self {
            Segment::Bytes(b) => b.len() as u64,
            Segment::File { len, .. } => *len,
        }
    }

    /// Whether the segment carries no byte.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the IO layer writes next: bytes in memory, or a range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Piece<'a> {
    /// Write these bytes.
    Bytes(&'a [u8]),
    /// Write `len` bytes of file `index`, starting at `offset` within that file.
    File {
        /// Which file: its position among the body's files.
        index: usize,
        /// Offset within the file.
        offset: u64,
        /// Number of bytes.
        len: u64,
    },
}

/// A planned `multipart/form-data` body: text fields first, then the file parts in order.
#[derive(Debug, Clone)]
pub struct MultipartBody {
    boundary: Boundary,
    segments: Vec<Segment>,
    len: u64,
}

/// Appends one part's delimiter and headers to `out`.
fn part_head(out: &mut Vec<u8>, boundary: &str, name: &str, file: Option<&FilePart>) {
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
    out.extend_from_slice(escape_quoted(name).as_bytes());
    match file {
        None => out.extend_from_slice(b"\"\r\n\r\n"),
        Some(file) => {
            out.extend_from_slice(b"\"; filename=\"");
            out.extend_from_slice(escape_quoted(&file.file_name).as_bytes());
            out.extend_from_slice(b"\"\r\nContent-Type: ");
            // Content types never legitimately hold controls; strip them rather than break framing.
            out.extend(file.content_type.bytes().filter(|c| !c.is_ascii_control()));
            out.extend_from_slice(b"\r\n\r\n");
        }
    }
}

impl MultipartBody {
    /// Plans the body for `fields` (in order, duplicates kept) and `file`.
    #[must_use]
    pub fn new(boundary: Boundary, fields: &[(String, String)], file: &FilePart) -> Self {
        Self::with_files(boundary, fields, std::slice::from_ref(file))
    }

    /// Plans the body for `fields` and then every file of `files`, in order: several files in
    /// one request (uni-app's `files`). File `i`'s contents are [`Segment::File`] `{ index: i }`.
    ///
    /// ```
    /// use uptask_proto::multipart::{Boundary, FilePart, MultipartBody, Segment};
    /// let files = [FilePart::new("a", "a.txt", 3), FilePart::new("b", "b.png", 5)];
    /// let body = MultipartBody::with_files(Boundary::new("XyZ").unwrap(), &[], &files);
    /// let indexes: Vec<usize> = body.segments().iter().filter_map(|s| match s {
    ///     Segment::File { index, .. } => Some(*index),
    ///     _ => None,
    /// }).collect();
    /// assert_eq!(indexes, [0, 1]);
    /// assert_eq!(body.len(), body.framing_len() + 8);
    /// ```
    #[must_use]
    pub fn with_files(boundary: Boundary, fields: &[(String, String)], files: &[FilePart]) -> Self {
        let b = boundary.as_str();
        let mut framing = Vec::new();
        for (name, value) in fields {
            part_head(&mut framing, b, name, None);
            framing.extend_from_slice(value.as_bytes());
            framing.extend_from_slice(b"\r\n");
        }
        let mut segments = Vec::with_capacity(files.len() * 2 + 1);
        for (index, file) in files.iter().enumerate() {
            if index > 0 {
                framing.extend_from_slice(b"\r\n");
            }
            part_head(&mut framing, b, &file.field_name, Some(file));
            segments.push(Segment::Bytes(std::mem::take(&mut framing)));
            segments.push(Segment::File {
                index,
                len: file.len,
            });
        }
        if !files.is_empty() {
            framing.extend_from_slice(b"\r\n");
        }
        framing.extend_from_slice(b"--");
        framing.extend_from_slice(b.as_bytes());
        framing.extend_from_slice(b"--\r\n");
        segments.push(Segment::Bytes(framing));
        let len = segments.iter().map(Segment::len).sum();
        Self {
            boundary,
            segments,
            len,
        }
    }

    /// The request's `Content-Type` header value.
    ///
    /// ```
    /// use uptask_proto::multipart::{Boundary, FilePart, MultipartBody};
    /// let body = MultipartBody::new(Boundary::new("b1").unwrap(), &[], &FilePart::new("f", "x", 0));
    /// assert_eq!(body.content_type(), "multipart/form-data; boundary=b1");
    /// ```
    #[must_use]
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary.as_str())
    }

    /// The boundary in use.
    #[must_use]
    pub fn boundary(&self) -> &Boundary {
        &self.boundary
    }

    /// The exact encoded length: what goes into `Content-Length`.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body is empty (never, for a multipart body: framing is always there).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length of everything but the file's contents.
    #[must_use]
    pub fn framing_len(&self) -> u64 {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Bytes(b) => Some(b.len() as u64),
                Segment::File { .. } => None,
            })
            .sum()
    }

    /// The planned segments, in wire order.
    #[must_use]
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The body from byte `offset` on, as pieces to write in order. An offset at or past the end
    /// yields nothing.
    pub fn pieces_from(&self, offset: u64) -> impl Iterator<Item = Piece<'_>> + '_ {
        let mut start = 0u64;
        self.segments.iter().filter_map(move |seg| {
            let seg_start = start;
            let seg_len = seg.len();
            start += seg_len;
            let skip = offset.saturating_sub(seg_start);
            if skip >= seg_len {
                None
            } else {
                match seg {
                    // skip < seg_len = bytes.len(), so the conversion and the slice are in range.
                    Segment::Bytes(b) => usize::try_from(skip)
                        .ok()
                        .and_then(|s| b.get(s..))
                        .map(Piece::Bytes),
                    Segment::File { index, len } => Some(Piece::File {
                        index: *index,
                        offset: skip,
                        len: len - skip,
                    }),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
