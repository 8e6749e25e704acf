//! Hook events not yet delivered, kept where the uploads are: objects under
//! `PREFIX/.uptask/hooks/` on a bucket (any instance can send them), files in `DIR/.hooks/` on
//! the local directory. Each is named `<unix ms>-<random>.json`, so its age is in its name.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;

use crate::bucket::Bucket;
use crate::error::ApiError;

/// Where undelivered events wait.
#[derive(Debug)]
pub(crate) enum Outbox {
    Dir(PathBuf),
    Bucket(Arc<Bucket>),
    /// Nowhere: a server that keeps nothing (discard mode).
    None,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Outbox {
    /// Keeps an event; its name in the outbox.
    pub(crate) async fn put(&self, json: Bytes) -> Result<String, ApiError> {
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let hex: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{}-{hex}.json", now_ms());
        match self {
            Self::Dir(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| ApiError::storage(&e))?;
                let tmp = dir.join(format!(".{name}.tmp"));
                tokio::fs::write(&tmp, &json)
                    .await
                    .map_err(|e| ApiError::storage(&e))?;
                tokio::fs::rename(&tmp, dir.join(&name))
                    .await
                    .map_err(|e| ApiError::storage(&e))?;
            }
            Self::Bucket(bucket) => {
                let reply = bucket.put(&key(bucket, &name), json, Vec::new()).await?;
                if !reply.status.is_success() {
                    return Err(reply.refused("keep a hook event"));
                }
            }
            Self::None => {}
        }
        Ok(name)
    }

    /// Events kept longer than `age` ago, oldest first.
    pub(crate) async fn waiting(&self, age: Duration) -> Vec<(String, Bytes)> {
        let before = now_ms().saturating_sub(u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
        let old = |name: &str| {
            name.ends_with(".json")
                && name
                    .split('-')
                    .next()
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .is_some_and(|ms| ms < before)
        };
        let mut names: Vec<String> = match self {
            Self::Dir(dir) => {
                let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
                    return Vec::new();
                };
                let mut names = Vec::new();
                while let Ok(Some(e)) = entries.next_entry().await {
                    if let Some(n) = e.file_name().to_str() {
                        names.push(n.to_owned());
                    }
                }
                names
            }
            Self::Bucket(bucket) => {
                let prefix = key(bucket, "");
                match bucket.list(&prefix).await {
                    Ok(listing) => listing
                        .items
                        .into_iter()
                        .filter_map(|o| o.key.strip_prefix(&prefix).map(str::to_owned))
                        .collect(),
                    Err(e) => {
                        tracing::warn!(error = e.message, "cannot list waiting hook events");
                        return Vec::new();
                    }
                }
            }
            Self::None => return Vec::new(),
        };
        names.retain(|n| old(n));
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let json = match self {
                Self::Dir(dir) => tokio::fs::read(dir.join(&name)).await.ok().map(Bytes::from),
                Self::Bucket(bucket) => bucket
                    .get(&key(bucket, &name))
                    .await
                    .ok()
                    .flatten()
                    .map(|(b, _)| b),
                Self::None => None,
            };
            if let Some(json) = json {
                out.push((name, json));
            }
        }
        out
    }

    /// Forgets a delivered event.
    pub(crate) async fn delete(&self, name: &str) {
        let done = match self {
            Self::Dir(dir) => match tokio::fs::remove_file(dir.join(name)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            Self::Bucket(bucket) => bucket
                .delete(&key(bucket, name))
                .await
                .map_err(|e| e.message),
            Self::None => Ok(()),
        };
        if let Err(e) = done {
            // Sent again later: at least once, maybe twice.
            tracing::warn!(
                name,
                error = e,
                "a delivered hook event stays in the outbox"
            );
        }
    }
}

fn key(bucket: &Bucket, name: &str) -> String {
    bucket.state_key(&format!("hooks/{name}"))
}
