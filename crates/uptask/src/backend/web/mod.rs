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

use crate::UploadError;
use crate::prepare::{Kind, Plan, PlannedSource};
use crate::task::{Control, EventSink};

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

/// Spawns the transport and the dispatcher on the page's event loop.
pub(crate) fn start(
    plan: Plan,
    sink: EventSink,
    control: Control,
    dispatcher: impl Future<Output = ()> + 'static,
) -> Result<(), UploadError> {
    // The browser checks certificates against its own store; a page cannot add to it.
    if !plan.roots.is_empty() {
        return Err(UploadError::invalid(
            "extra root certificates cannot be used in the browser: it trusts its own store",
        ));
    }
    if plan.http2 {
        tracing::debug!("the browser chooses the HTTP version itself");
    }
    wasm_bindgen_futures::spawn_local(dispatcher);
    wasm_bindgen_futures::spawn_local(async move {
        let mut sink = sink;
        // Its turn in the client's queue first; the slot is held until the upload ends.
        let _slot = match crate::client::admit(&plan, &control, &mut sink).await {
            Ok(slot) => slot,
            Err(e) => return sink.done(Err(e)),
        };
        let result = match &plan.kind {
            Kind::Multipart { body } => match client::WebClient::new(&plan) {
                Ok(client) => {
                    crate::multipart::run(&plan, body, &client, &mut sink, &control).await
                }
                Err(e) => Err(e),
            },
            Kind::Tus(tus) => match client::WebClient::new(&plan) {
                Ok(client) => crate::tus::run(&plan, tus, &client, &mut sink, &control).await,
                Err(e) => Err(e),
            },
            Kind::S3(s3) => match client::WebClient::new(&plan) {
                Ok(client) => crate::s3::run(&plan, s3, &client, &mut sink, &control).await,
                Err(e) => Err(e),
            },
        };
        sink.done(result);
    });
    Ok(())
}
