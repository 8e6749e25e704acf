//! What tus tells the hooks: asking before a creation, telling a finish or a termination.

use axum::http::request::Parts;
use axum::response::Response;

use super::info::Info;
use super::store::TusStore;
use super::{Tus, refuse};
use crate::hooks::{Event, RequestFacts, UploadFacts, checked_key, metadata_of};

impl<S: TusStore> Tus<S> {
    /// Runs the pre-create hook: a refusal is the client's answer; a key or metadata it sets
    /// go into `info`.
    pub(super) async fn pre_create(
        &self,
        id: &str,
        info: &mut Info,
        req: &Parts,
    ) -> Result<(), Response> {
        let Some(hooks) = &self.hooks else {
            return Ok(());
        };
        let changes = hooks
            .pre_create(&self.event("pre-create", id, info, 0, req))
            .await?;
        if let Some(key) = &changes.key {
            info.key = Some(checked_key(key)?.to_owned());
        }
        if let Some(metadata) = changes.metadata {
            let pairs: Vec<(String, String)> = metadata.into_iter().collect();
            let encoded = uptask_proto::tus::encode_metadata(&pairs).map_err(|e| {
                refuse(
                    axum::http::StatusCode::BAD_GATEWAY,
                    format!("the pre-create hook set metadata tus cannot carry: {e}"),
                )
            })?;
            if let Some((_, name)) = pairs.iter().find(|(k, _)| k == "filename") {
                info.file_name.clone_from(name);
            }
            info.metadata = (!encoded.is_empty()).then_some(encoded);
        }
        Ok(())
    }

    /// Tells the hooks of a finished or terminated upload (delivered in the background).
    pub(super) fn told(&self, kind: &'static str, id: &str, info: &Info, offset: u64, req: &Parts) {
        if let Some(hooks) = &self.hooks {
            hooks.post(self.event(kind, id, info, offset, req));
        }
    }

    fn event(&self, kind: &'static str, id: &str, info: &Info, offset: u64, req: &Parts) -> Event {
        Event {
            kind,
            upload: UploadFacts {
                id: id.to_owned(),
                size: info.length,
                offset,
                metadata: metadata_of(info.metadata.as_deref()),
                storage: self.store.storage(info),
                sha256: None,
            },
            request: RequestFacts::of(req),
        }
    }
}
