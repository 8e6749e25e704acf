//! Browser backend (wasm32): `XMLHttpRequest`, the one browser API that reports upload
//! progress (`fetch` cannot), driven from the page's event loop.

mod blob;
mod client;
mod clock;
mod multipart;
mod xhr;

use std::future::Future;

pub use blob::Blob;
pub(crate) use clock::{now, sleep, unix_time};

use super::{PlannedSource, Setup, Transport};
use crate::UploadError;

/// Calls the listeners where they are: a page has one thread, and listener code runs between
/// browser events anyway.
pub(crate) async fn run_listeners(calls: impl FnOnce() + Send + 'static) {
    calls();
}

/// A page has one runtime, its event loop: nothing to choose.
pub(crate) fn on_own_runtime<T>(start: impl FnOnce() -> T) -> T {
    start()
}

/// A page cannot block its only thread (the upload would never run).
pub(crate) fn block_on<F: Future>(_fut: F) -> Result<F::Output, UploadError> {
    Err(UploadError::invalid(
        "a page cannot block while it uploads: await the task instead of uptask::blocking",
    ))
}

/// The error for a source the browser cannot read (a path, a pipe).
fn not_in_browser(source: &PlannedSource) -> UploadError {
    let path = match source {
        PlannedSource::Path { path, .. } | PlannedSource::Stream { path } => {
            path.display().to_string()
        }
        _ => "the source".to_owned(),
    };
    UploadError::invalid(format!(
        "a page cannot read {path}: in the browser the file must be a Blob or File (Source::Blob) or bytes (Source::Bytes)"
    ))
}

/// Runs `fut` on the page's event loop.
pub(crate) fn spawn(fut: impl Future<Output = ()> + 'static) -> Result<(), UploadError> {
    wasm_bindgen_futures::spawn_local(fut);
    Ok(())
}

/// The transport for an upload set up as `setup`: what a page can send.
pub(crate) fn transport(setup: Setup<'_>) -> Result<impl Transport + '_, UploadError> {
    // The browser checks certificates against its own store; a page cannot add to it.
    if !setup.roots.is_empty() {
        return Err(UploadError::invalid(
            "extra root certificates cannot be used in the browser: it trusts its own store",
        ));
    }
    // The environment has no proxies here: only one set with `UploadOptions::proxy` is seen.
    if !setup.proxy.is_empty() {
        return Err(UploadError::invalid(
            "a proxy cannot be set in the browser: it uses its own proxy settings",
        ));
    }
    if setup.http2 {
        tracing::debug!("the browser chooses the HTTP version itself");
    }
    client::WebClient::new(setup)
}
