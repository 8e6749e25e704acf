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
