//! Where uploads run: the caller's tokio runtime, or uptask's own when there is none.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

use crate::{ErrorKind, UploadError};

/// Spawns on the current runtime, falling back to a small shared runtime so `upload_file`
/// works from plain threads too (JavaScript callers never have to think about executors).
pub(super) fn spawn(fut: impl Future<Output = ()> + Send + 'static) -> Result<(), UploadError> {
    match Handle::try_current() {
        Ok(handle) => {
            handle.spawn(fut);
            Ok(())
        }
        Err(_) => {
            own()?.spawn(fut);
            Ok(())
        }
    }
}

/// uptask's own runtime, started on first use.
pub(super) fn own() -> Result<&'static Runtime, UploadError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("uptask")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            UploadError::new(
                ErrorKind::Internal,
                format!("cannot start a runtime for the upload: {e}"),
            )
        })
}
