//! Runs a planned upload: its turn in the client's queue, the backend's transport, and the
//! protocol's machine driven by the runner, to one outcome.

mod multipart;
mod s3;
mod tus;

use std::future::Future;

use crate::UploadError;
use crate::events::{Control, EventSink};
use crate::prepare::{Kind, Plan};

/// Spawns the upload and its event dispatcher where the backend runs tasks.
pub(crate) fn start(
    plan: Plan,
    sink: EventSink,
    control: Control,
    dispatcher: impl Future<Output = ()> + Send + 'static,
) -> Result<(), UploadError> {
    crate::backend::spawn(dispatcher)?;
    crate::backend::spawn(async move {
        let mut sink = sink;
        // Its turn in the client's queue first; the slot is held until the upload ends.
        let _slot = match crate::queue::admit(plan.queue.as_ref(), &control, &mut sink).await {
            Ok(slot) => slot,
            Err(e) => return sink.done(Err(e)),
        };
        let transport = match crate::backend::transport(plan.setup()) {
            Ok(t) => t,
            Err(e) => return sink.done(Err(e)),
        };
        let result = match &plan.kind {
            Kind::Multipart { body } => {
                multipart::run(&plan, body, &transport, &mut sink, &control).await
            }
            Kind::Tus(tus) => tus::run(&plan, tus, &transport, &mut sink, &control).await,
            Kind::S3(s3) => s3::run(&plan, s3, &transport, &mut sink, &control).await,
        };
        sink.done(result);
    })
}
