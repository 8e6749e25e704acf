//! `multipart/form-data` uploads: the plan's body as the protocol's machine
//! (`uptask_proto::multipart::machine`).

use uptask_proto::multipart::MultipartBody;
use uptask_proto::multipart::machine::MultipartMachine;

use crate::backend::Transport;
use crate::events::{Control, EventSink};
use crate::prepare::Plan;
use crate::{UploadError, UploadSuccess};

/// Runs a multipart upload to its outcome, with the timing profile of its last request.
pub(crate) async fn run<T: Transport>(
    plan: &Plan,
    body: &MultipartBody,
    transport: &T,
    sink: &mut EventSink,
    control: &Control,
) -> Result<UploadSuccess, UploadError> {
    let mut machine = MultipartMachine::new(plan.url.clone(), body.len(), body.content_type());
    let setting = crate::runner::Setting {
        timeout: plan.timeout,
        store: None,
    };
    let mut success = crate::runner::run(&mut machine, transport, sink, control, setting).await?;
    success.profile = transport.profile(plan.invoked, sink.queued());
    Ok(success)
}
