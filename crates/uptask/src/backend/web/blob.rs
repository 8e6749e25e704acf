//! [`Blob`] in the browser: a `Blob` or `File` of the page, sent without copying it into
//! WebAssembly memory.

use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

/// A browser `Blob` or `File` to upload, as [`Source::Blob`](crate::Source::Blob).
///
/// The page's objects stay on its one thread; the wrapper lets the value travel through the
/// `Send` API of the upload task (and would refuse to be used from another thread).
#[derive(Clone)]
pub struct Blob(SendWrapper<web_sys::Blob>);

impl From<web_sys::Blob> for Blob {
    fn from(blob: web_sys::Blob) -> Self {
        Self(SendWrapper::new(blob))
    }
}

impl From<web_sys::File> for Blob {
    fn from(file: web_sys::File) -> Self {
        Self(SendWrapper::new(file.into()))
    }
}

impl Blob {
    /// The size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        // A blob's size is below 2^53: exact in an f64.
        self.0.size().max(0.0) as u64
    }

    /// The file name, when the blob is a `File`.
    #[must_use]
    pub fn name(&self) -> Option<String> {
        self.0.dyn_ref::<web_sys::File>().map(web_sys::File::name)
    }

    pub(crate) fn js(&self) -> &web_sys::Blob {
        &self.0
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("size", &self.size())
            .field("name", &self.name())
            .finish()
    }
}

impl PartialEq for Blob {
    /// The same browser object.
    fn eq(&self, other: &Self) -> bool {
        js_sys::Object::is(self.js(), other.js())
    }
}

impl Eq for Blob {}
