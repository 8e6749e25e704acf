//! A client's queue: at most so many uploads at once, the rest waiting their turn in order.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::events::{Control, EventSink};
use crate::{ErrorKind, Notice, UploadError};

/// A client's queue, as an upload's plan holds it.
#[derive(Debug, Clone)]
pub(crate) struct Queue(pub(crate) Arc<Semaphore>);

/// Waits for the upload's turn in its client's queue, if it has one; `abort()` ends the wait.
/// The permit is the slot: the upload holds it until it ends.
pub(crate) async fn admit(
    queue: Option<&Queue>,
    control: &Control,
    sink: &mut EventSink,
) -> Result<Option<OwnedSemaphorePermit>, UploadError> {
    let Some(Queue(slots)) = queue else {
        return Ok(None);
    };
    let start = crate::backend::now();
    let permit = tokio::select! {
        biased;
        () = control.cancel.cancelled() => return Err(UploadError::aborted()),
        permit = Arc::clone(slots).acquire_owned() => permit.map_err(|_| {
            UploadError::new(ErrorKind::Internal, "the client's queue was closed")
        })?,
    };
    let end = crate::backend::now();
    sink.dequeued(start, end);
    let waited = end.saturating_sub(start);
    sink.notice(Notice::Dequeued {
        waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
    });
    Ok(Some(permit))
}
