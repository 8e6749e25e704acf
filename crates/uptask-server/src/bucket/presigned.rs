//! What uploads straight to the bucket ask of it: URLs that let a client without the keys make
//! one request, and the parts such an upload holds.

use std::time::Duration;

use axum::http::StatusCode;

use super::{Bucket, Payload, unix_now};
use crate::error::ApiError;

impl Bucket {
    /// A presigned URL for `method` on `key` with `query`, valid for `expires`.
    pub(crate) fn presign(
        &self,
        method: &'static str,
        key: &str,
        query: &[(&str, String)],
        expires: Duration,
    ) -> Result<String, ApiError> {
        let object = self.object_url(key)?;
        let url = self
            .signer
            .presign(&object, method, query, unix_now(), expires.as_secs());
        Ok(url.into())
    }

    /// A browser's `POST` form that puts one object under `key`, valid for `expires`: the
    /// bucket's URL and the form's fields (a presigned POST policy pinning the key and the
    /// content type, and capping the size at `max_len`).
    pub(crate) fn post_form(
        &self,
        key: &str,
        content_type: Option<&str>,
        max_len: u64,
        expires: Duration,
    ) -> Result<(String, Vec<(String, String)>), ApiError> {
        let mut url = self.object_url("")?;
        // The form goes to the bucket itself (`/bucket`, or the bucket's host at `/`).
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(if path.is_empty() { "/" } else { &path });
        let fields = self.signer.post_policy(
            &self.name,
            key,
            content_type,
            (max_len < u64::MAX).then_some(max_len),
            unix_now(),
            expires.as_secs(),
        );
        Ok((url.into(), fields))
    }

    /// The parts a multipart upload holds, every page; `None` when the upload is gone.
    pub(crate) async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<uptask_proto::s3::ListedPart>>, ApiError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let mut query = vec![("uploadId", upload_id.to_owned())];
            if let Some(m) = marker.take() {
                query.insert(0, ("part-number-marker", format!("{m}")));
            }
            let reply = self
                .call("GET", key, &query, Vec::new(), Payload::Empty)
                .await?;
            if reply.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let page = reply.parsed(uptask_proto::s3::list_parts, "list the parts of an upload")?;
            out.extend(page.parts);
            match page.next_marker {
                Some(m) => marker = Some(m),
                None => return Ok(Some(out)),
            }
        }
    }
}
