//! `POST /upload` on the bucket: each file streamed into the store under a generated key,
//! hashed on the way; a file that does not arrive whole leaves no object and no open upload.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Bucket, PartWriter, Payload, Spool};
use crate::error::ApiError;
use crate::storage::{Chunks, Incoming, Storage, StoredFile, hex, stored_name};

/// Files of multipart uploads, into the bucket.
#[derive(Debug)]
pub(crate) struct BucketFiles<'a>(pub(crate) &'a Arc<Bucket>);

impl Storage for BucketFiles<'_> {
    async fn put<C: Chunks>(&self, incoming: Incoming<C>) -> Result<StoredFile, ApiError> {
        let Incoming {
            field,
            file_name,
            key,
            mut chunks,
        } = incoming;
        let bucket = self.0;
        let name = stored_name(key.as_deref(), &file_name)?;
        let key = format!("{}{name}", bucket.prefix);
        // A file smaller than a part goes in one PUT; a larger one becomes a multipart upload
        // when its first part is full.
        let mut writer = PartWriter::new(
            Arc::clone(bucket),
            key.clone(),
            None,
            bucket.part_size,
            1,
            Spool::new().await?,
        );
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let stored = async {
            while let Some(chunk) = chunks.next().await? {
                size += chunk.len() as u64;
                hasher.update(&chunk);
                writer.write(chunk).await?;
            }
            if writer.upload_id().is_some() {
                writer.send_tail().await?;
            }
            writer.drain().await
        }
        .await;
        let upload_id = writer.upload_id().map(str::to_owned);
        let (parts, tail) = writer.finish();
        let done = match (&stored, &upload_id) {
            (Err(_), _) => Ok(()),
            (Ok(()), None) => {
                let reply = bucket
                    .call("PUT", &key, &[], Vec::new(), Payload::Spool(tail))
                    .await?;
                if reply.status.is_success() {
                    Ok(())
                } else {
                    Err(reply.refused("store a file"))
                }
            }
            (Ok(()), Some(id)) => {
                let etags: Vec<String> = parts.into_iter().map(|(_, etag)| etag).collect();
                bucket.complete(&key, id, &etags).await
            }
        };
        if let Err(e) = stored.and(done) {
            if let Some(id) = &upload_id
                && let Err(abort) = bucket.abort(&key, id).await
            {
                tracing::warn!(key, error = abort.message, "a failed upload stays open");
            }
            return Err(e);
        }
        tracing::info!(key, size, "stored upload");
        Ok(StoredFile {
            field,
            file_name,
            size,
            sha256: hex(hasher),
            path: bucket.location(&key).into(),
            key: Some(key),
        })
    }
}
