//! [`Blob`] outside the browser: the type exists, so the API is the same everywhere, but it
//! has no values.

/// A browser `Blob` or `File` to upload, as [`Source::Blob`](crate::Source::Blob). Only the
/// browser build (wasm32) has values of this type, made with `Blob::from(web_sys::Blob)`; on
/// other targets it is empty, so a `Source::Blob` cannot be made there.
///
/// ```
/// fn describe(blob: &uptask::Blob) -> String {
///     format!("{} bytes, named {:?}", blob.size(), blob.name())
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Blob {}

impl Blob {
    /// The size in bytes.
    ///
    /// ```
    /// fn size(blob: &uptask::Blob) -> u64 { blob.size() }
    /// # let _ = size;
    /// ```
    #[must_use]
    pub fn size(&self) -> u64 {
        match *self {}
    }

    /// The file name, when the blob is a `File`.
    ///
    /// ```
    /// fn name(blob: &uptask::Blob) -> Option<String> { blob.name() }
    /// # let _ = name;
    /// ```
    #[must_use]
    pub fn name(&self) -> Option<String> {
        match *self {}
    }
}
