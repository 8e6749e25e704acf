//! S3 uploads: the plan as the protocol's machine (`uptask_proto::s3::machine`), continuing
//! the multipart upload the resume store remembers, if any.

use uptask_proto::s3::{S3Config, S3Machine, Signer, SignerRoutes};

use crate::backend::Transport;
use crate::events::{Control, EventSink};
use crate::prepare::{Plan, S3Plan};
use crate::s3::PartChecksum;
use crate::{UploadError, UploadSuccess};

/// Runs an S3 upload to its outcome.
pub(crate) async fn run<T: Transport>(
    plan: &Plan,
    s3: &S3Plan,
    transport: &T,
    sink: &mut EventSink,
    control: &Control,
) -> Result<UploadSuccess, UploadError> {
    let options = &s3.options;
    let len = plan.source.len();
    let mut config = if options.signer.is_some() {
        let mut routes = SignerRoutes::new(plan.url.clone(), &s3.file_name);
        routes.metadata.clone_from(&s3.metadata);
        S3Config::through(routes, len)
    } else {
        let signer = Signer {
            credentials: options.credentials.clone(),
            region: options.region.clone(),
            user_headers: plan.header.clone(),
        };
        S3Config::new(plan.url.clone(), len, signer)
    };
    // Through a signer, CRC32C is asked for; the signer's answer settles it.
    config.crc32c = options.checksum == PartChecksum::Crc32c;
    config.content_type.clone_from(&s3.content_type);
    config.part_size = options.part_size;
    config.concurrency = options.concurrency;
    config.retry_delays.clone_from(&options.retry_delays);
    config.seed = crate::prepare::random_seed();
    config.stored = s3.resume.as_ref().and_then(crate::resume::Entry::get);
    config.fresh = options.fresh;
    config.keep = s3.resume.is_some();
    config.unix_at_zero = crate::backend::unix_time().saturating_sub(crate::backend::now());
    let mut machine = S3Machine::new(config);
    let setting = crate::runner::Setting {
        timeout: plan.timeout,
        store: s3.resume.as_ref(),
    };
    crate::runner::run(&mut machine, transport, sink, control, setting).await
}
