//! The hooks of `POST /upload`: each file is asked for (`pre-create`) before its bytes are
//! stored, and told of (`post-finish`, with its sha256) once stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::response::Response;

use super::{Event, Hooks, RequestFacts, StorageFacts, UploadFacts, checked_key};
use crate::storage::StoredFile;

/// One file of a form, as the hooks know it.
#[derive(Debug)]
pub(crate) struct Told<'a> {
    hooks: Option<&'a Arc<Hooks>>,
    bucket: Option<String>,
    req: &'a Parts,
    id: String,
    metadata: BTreeMap<String, String>,
}

impl<'a> Told<'a> {
    /// `bucket` names the store's bucket when files go to one.
    pub(crate) fn new(
        hooks: Option<&'a Arc<Hooks>>,
        bucket: Option<&str>,
        req: &'a Parts,
        field: &str,
        file_name: &str,
    ) -> Result<Self, Response> {
        let id = match hooks {
            Some(_) => crate::storage::generate_name("")
                .map_err(axum::response::IntoResponse::into_response)?,
            None => String::new(),
        };
        Ok(Self {
            hooks,
            bucket: bucket.map(str::to_owned),
            req,
            id,
            metadata: BTreeMap::from([
                ("field".to_owned(), field.to_owned()),
                ("filename".to_owned(), file_name.to_owned()),
            ]),
        })
    }

    /// Asks the hook; the key it chose, if any.
    pub(crate) async fn pre_create(&self) -> Result<Option<String>, Response> {
        let Some(hooks) = self.hooks else {
            return Ok(None);
        };
        let changes = hooks
            .pre_create(&self.event("pre-create", None, None))
            .await?;
        changes
            .key
            .as_deref()
            .map(|k| checked_key(k).map(str::to_owned))
            .transpose()
    }

    /// Tells the hook the file is stored.
    pub(crate) fn finished(&self, file: &StoredFile) {
        if let Some(hooks) = self.hooks {
            hooks.post(self.event("post-finish", Some(file), file.sha256.clone().into()));
        }
    }

    fn event(
        &self,
        kind: &'static str,
        file: Option<&StoredFile>,
        sha256: Option<String>,
    ) -> Event {
        let storage = match &self.bucket {
            Some(bucket) => StorageFacts {
                kind: "s3",
                bucket: Some(bucket.clone()),
                key: file.and_then(|f| f.key.clone()),
                path: None,
            },
            None => StorageFacts {
                kind: "dir",
                bucket: None,
                key: None,
                path: file.map(|f| f.path.display().to_string()),
            },
        };
        Event {
            kind,
            upload: UploadFacts {
                id: self.id.clone(),
                size: file.map(|f| f.size),
                offset: file.map_or(0, |f| f.size),
                metadata: self.metadata.clone(),
                storage,
                sha256: sha256.filter(|s| !s.is_empty()),
            },
            request: RequestFacts::of(self.req),
        }
    }
}
