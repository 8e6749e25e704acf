//! Which key each direct upload was created for, kept in the bucket
//! (`PREFIX/.uptask/s3/HASH.json`, the hash of the upload id), so that any instance signs the
//! parts of an upload only for the key it was created with, and nothing for uploads it did not
//! create.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use crate::bucket::Bucket;
use crate::error::ApiError;

/// An upload the server created, as it was created.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Binding {
    pub(crate) key: String,
    pub(crate) upload_id: String,
    /// For the post-finish hook (the pre-create hook's choice, if it made one).
    pub(crate) metadata: BTreeMap<String, String>,
    /// Created with CRC32C part checksums: each part is signed with its value.
    #[serde(default)]
    pub(crate) crc32c: bool,
}

fn object(bucket: &Bucket, upload_id: &str) -> String {
    let hash = uptask_proto::sigv4::hex(&Sha256::digest(upload_id.as_bytes()));
    bucket.state_key(&format!("s3/{hash}.json"))
}

impl Binding {
    pub(crate) async fn keep(&self, bucket: &Bucket) -> Result<(), ApiError> {
        let key = object(bucket, &self.upload_id);
        bucket
            .put_json(&key, self, "keep a direct upload's key")
            .await
    }

    /// The upload `upload_id`, when this server created it for `key`; otherwise the refusal.
    pub(crate) async fn check(
        bucket: &Bucket,
        upload_id: &str,
        key: &str,
    ) -> Result<Self, ApiError> {
        let refused = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "s3: no upload with this id and key was created here",
            )
        };
        let (json, _) = bucket
            .get(&object(bucket, upload_id))
            .await?
            .ok_or_else(refused)?;
        let binding: Self = serde_json::from_slice(&json).map_err(|_| refused())?;
        if binding.upload_id == upload_id && binding.key == key {
            Ok(binding)
        } else {
            Err(refused())
        }
    }

    /// Forgets the upload (completed or aborted): its id signs nothing any more.
    pub(crate) async fn forget(&self, bucket: &Bucket) {
        if let Err(e) = bucket.delete(&object(bucket, &self.upload_id)).await {
            tracing::warn!(
                key = self.key,
                error = e.message,
                "a direct upload's key stays kept"
            );
        }
    }
}
