//! Native backend: tokio sockets, rustls, one connection per upload.

mod blob;
mod client;
mod conn;
mod exchange;
mod h2;
mod head;
mod runtime;
mod source;
mod timing;
mod transport;

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use blob::Blob;

use super::{Setup, Transport};
use crate::UploadError;

/// Time since the first call, on a monotonic clock.
pub(crate) fn now() -> Duration {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// The wall clock: time since the Unix epoch (zero for a clock set before it).
pub(crate) fn unix_time() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Runs `start` (which spawns an upload) with uptask's own runtime as the current one, so the
/// upload never depends on a runtime the caller may block.
pub(crate) fn on_own_runtime<T>(start: impl FnOnce() -> T) -> T {
    match runtime::own() {
        Ok(rt) => {
            let _entered = rt.enter();
            start()
        }
        // The upload then reports the same error itself.
        Err(_) => start(),
    }
}

/// Polls `fut` to its end on this thread, parking it between wake-ups.
pub(crate) fn block_on<F: Future>(fut: F) -> Result<F::Output, UploadError> {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Ok(out);
        }
        std::thread::park();
    }
}

/// Runs listener calls on the blocking pool, so a listener that sleeps or blocks cannot hold up
/// the runtime thread the transport needs.
pub(crate) async fn run_listeners(calls: impl FnOnce() + Send + 'static) {
    if let Err(e) = tokio::task::spawn_blocking(calls).await {
        tracing::error!(error = %e, "listener batch failed");
    }
}

/// Waits for `delay` on the runtime's clock.
pub(crate) async fn sleep(delay: Duration) {
    tokio::time::sleep(delay).await;
}

/// Runs `fut` on the current runtime (or uptask's own, outside one).
pub(crate) fn spawn(fut: impl Future<Output = ()> + Send + 'static) -> Result<(), UploadError> {
    runtime::spawn(fut)
}

/// The transport for an upload set up as `setup`.
pub(crate) fn transport(setup: Setup<'_>) -> Result<impl Transport + '_, UploadError> {
    if setup.with_credentials {
        // Cookies and HTTP auth are the page's; a program sends what its headers say.
        tracing::debug!("with_credentials only matters in the browser; ignored here");
    }
    Ok(client::NativeClient::new(setup))
}
