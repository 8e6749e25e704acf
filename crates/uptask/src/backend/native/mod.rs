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

use crate::UploadError;
use crate::prepare::{Kind, Plan};
use crate::task::{Control, EventSink};

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

/// Spawns the transport and the dispatcher.
pub(crate) fn start(
    plan: Plan,
    sink: EventSink,
    control: Control,
    dispatcher: impl Future<Output = ()> + Send + 'static,
) -> Result<(), UploadError> {
    if plan.with_credentials {
        // Cookies and HTTP auth are the page's; a program sends what its headers say.
        tracing::debug!("with_credentials only matters in the browser; ignored here");
    }
    let driver = async move {
        let mut sink = sink;
        // Its turn in the client's queue first; the slot is held until the upload ends.
        let _slot = match crate::client::admit(&plan, &control, &mut sink).await {
            Ok(slot) => slot,
            Err(e) => return sink.done(Err(e)),
        };
        let result = match &plan.kind {
            // Dropping a request closes its socket at once: that is the abort.
            Kind::Multipart { body } => {
                let client = client::NativeClient::new(&plan);
                crate::multipart::run(&plan, body, &client, &mut sink, &control).await
            }
            Kind::Tus(tus) => {
                let client = client::NativeClient::new(&plan);
                crate::tus::run(&plan, tus, &client, &mut sink, &control).await
            }
            Kind::S3(s3) => {
                // The client sends the user's headers; the driver signs them with its own.
                let client = client::NativeClient::new(&plan);
                crate::s3::run(&plan, s3, &client, &mut sink, &control).await
            }
        };
        sink.done(result);
    };
    runtime::spawn(dispatcher)?;
    runtime::spawn(driver)
}
