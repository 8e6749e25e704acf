//! What is uploaded: where a file's bytes come from, and one more file for a multipart request.

use std::path::PathBuf;

use bytes::Bytes;

/// Where the file's bytes come from.
///
/// ```
/// use uptask::Source;
/// let from_disk = Source::Path("photo.jpg".into());
/// let from_memory = Source::Bytes(b"hello".to_vec().into());
/// # let _ = (from_disk, from_memory);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A file on disk, streamed in chunks (never read whole into memory).
    Path(PathBuf),
    /// Bytes already in memory.
    Bytes(Bytes),
    /// A browser `Blob` or `File` (wasm32 only: elsewhere [`Blob`](crate::Blob) has no values).
    Blob(crate::Blob),
}

/// A file part added to a multipart upload with
/// [`UploadOptions::add_file`](crate::UploadOptions::add_file): its form field, its bytes and
/// the file name the server sees (by default the path's last component, or `blob`).
///
/// ```
/// use uptask::{FormFile, Source};
/// let scan = FormFile::new("pages", "scan-2.pdf");
/// let note = FormFile::with_source("note", Source::Bytes("hi".into())).file_name("note.txt");
/// # let _ = (scan, note);
/// ```
#[derive(Debug, Clone)]
pub struct FormFile {
    pub(crate) name: String,
    pub(crate) source: Source,
    pub(crate) file_name: Option<String>,
}

impl FormFile {
    /// The file at `path`, as the form field `name`.
    ///
    /// ```
    /// let part = uptask::FormFile::new("photo", "back.jpg");
    /// # let _ = part;
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self::with_source(name, Source::Path(path.into()))
    }

    /// Any [`Source`] (bytes, or a page's `Blob` in the browser), as the form field `name`.
    ///
    /// ```
    /// let part = uptask::FormFile::with_source("data", uptask::Source::Bytes(vec![1, 2, 3].into()));
    /// # let _ = part;
    /// ```
    #[must_use]
    pub fn with_source(name: impl Into<String>, source: Source) -> Self {
        Self {
            name: name.into(),
            source,
            file_name: None,
        }
    }

    /// The file name the server sees.
    ///
    /// ```
    /// let part = uptask::FormFile::new("doc", "/tmp/tmp8x2k").file_name("report.pdf");
    /// # let _ = part;
    /// ```
    #[must_use]
    pub fn file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = Some(file_name.into());
        self
    }
}
