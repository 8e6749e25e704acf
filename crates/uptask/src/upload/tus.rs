//! tus uploads: the plan as the protocol's machine (`uptask_proto::tus::machine`), and the
//! upload it continues, if the resume store remembers one.

use uptask_proto::tus::Entry;
use uptask_proto::tus::machine::{TusConfig, TusMachine};
use url::Url;

use crate::backend::Transport;
use crate::events::{Control, EventSink};
use crate::prepare::{Plan, TusPlan};
use crate::{UploadError, UploadSuccess};

/// Runs a tus upload to its outcome.
pub(crate) async fn run<T: Transport>(
    plan: &Plan,
    tus: &TusPlan,
    transport: &T,
    sink: &mut EventSink,
    control: &Control,
) -> Result<UploadSuccess, UploadError> {
    let options = &tus.options;
    let mut config = TusConfig::new(plan.url.clone(), plan.source.len());
    config.stream = plan.source.is_stream();
    config.metadata.clone_from(&tus.metadata);
    config.chunk_size = options.chunk_size;
    config.checksum = options.checksum;
    config.parallel = options.parallel;
    config.retry_delays.clone_from(&options.retry_delays);
    config.seed = crate::prepare::random_seed();
    config.upload_url = inherited_url(tus);
    config.terminate_on_abort = options.terminate_on_abort;
    let mut machine = TusMachine::new(config);
    let setting = crate::runner::Setting {
        timeout: plan.timeout,
        store: tus.resume.as_ref(),
    };
    crate::runner::run(&mut machine, transport, sink, control, setting).await
}

/// An upload URL to continue: given in the options, or remembered in the store (unless the
/// server said it has expired by now).
fn inherited_url(tus: &TusPlan) -> Option<Url> {
    if let Some(u) = &tus.options.upload_url {
        return Url::parse(u).ok();
    }
    if tus.options.fresh {
        return None;
    }
    let store = tus.resume.as_ref()?;
    let entry: Entry = store.get()?;
    if expired(&entry) {
        tracing::debug!(url = %entry.upload_url, "stored upload expired; starting anew");
        store.remove();
        return None;
    }
    Url::parse(&entry.upload_url).ok()
}

/// Whether the server said the upload is gone by now.
fn expired(entry: &Entry) -> bool {
    entry
        .expires
        .as_deref()
        .and_then(|e| httpdate::parse_http_date(e).ok())
        .is_some_and(|at| at <= std::time::UNIX_EPOCH + crate::backend::unix_time())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_the_http_date() {
        let past = Entry::new("", Some("Wed, 21 Oct 2015 07:28:00 GMT".into()));
        assert!(expired(&past));
        let unknown = Entry::new("", Some("soon".into()));
        assert!(!expired(&unknown));
        assert!(!expired(&Entry::new("", None)));
    }
}
