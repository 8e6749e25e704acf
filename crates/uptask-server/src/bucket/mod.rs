//! An S3 bucket as the server's store: the settings ([`S3Store`]), and signed calls to the
//! bucket over one pooled HTTP client, with the signing, addressing and XML of `uptask-proto`.
//!
//! Whatever the server keeps about an upload in progress lives in the bucket, under
//! `PREFIX/.uptask/`, so any instance on the same bucket can answer any request.

mod files;
mod lease;
mod listing;
mod parts;
mod presigned;
mod reply;
mod spool;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use uptask_proto::s3::{Addressing, Signer, Target};
use uptask_proto::sigv4::{self, Credentials};

use crate::error::ApiError;

pub(crate) use files::BucketFiles;
pub(crate) use lease::{Lease, LeaseWatch};
pub(crate) use parts::{PartWriter, SentPart};
pub(crate) use reply::Reply;
pub(crate) use spool::Spool;

/// The default lease of an upload's lock: a holder that stops renewing it (killed, cut off
/// from the store) loses the upload this long after its last renewal.
pub const DEFAULT_LOCK_LEASE: Duration = Duration::from_secs(15);

/// The default part size: 8 MiB (larger when a file needs it, to stay within 10,000 parts).
pub const DEFAULT_PART_SIZE: u64 = 8 << 20;

/// Where the server keeps files on an S3-compatible store, and how it reaches it.
///
/// ```
/// use uptask_proto::sigv4::Credentials;
/// let store = uptask_server::S3Store::parse("s3://uploads/incoming", Credentials::new("AK", "SK"))?
///     .endpoint("http://127.0.0.1:8333");
/// assert_eq!(store.bucket, "uploads");
/// assert_eq!(store.prefix, "incoming/");
/// assert_eq!(store.to_string(), "s3://uploads/incoming/");
/// # Ok::<(), uptask_server::StoreUrlError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct S3Store {
    /// The bucket.
    pub bucket: String,
    /// What every key starts with: empty, or ending in `/`.
    pub prefix: String,
    /// The keys.
    pub credentials: Credentials,
    /// The region requests are signed for (`us-east-1` by default).
    pub region: String,
    /// `scheme://host[:port]` of the store; `None` is AWS's endpoint for the region.
    pub endpoint: Option<String>,
    /// How long an upload's lock outlives its holder's last renewal.
    pub lock_lease: Duration,
    /// The size of the parts files are sent in (at least 5 MiB, S3's minimum).
    pub part_size: u64,
}

/// An `s3://` store URL that cannot be used.
///
/// ```
/// let err = uptask_server::S3Store::parse("s3://Bad_Bucket", uptask_proto::sigv4::Credentials::new("a", "b")).unwrap_err();
/// assert!(err.to_string().contains("Bad_Bucket"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid store {url:?}: {why}")]
pub struct StoreUrlError {
    url: String,
    why: String,
}

impl S3Store {
    /// Parses `s3://BUCKET[/PREFIX]`.
    ///
    /// # Errors
    /// When it is not `s3://` with a valid bucket name, or the prefix holds control characters.
    pub fn parse(url: &str, credentials: Credentials) -> Result<Self, StoreUrlError> {
        let fail = |why: String| StoreUrlError {
            url: url.to_owned(),
            why,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| fail("expected s3://BUCKET[/PREFIX]".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // The bucket rules are the client's: check them through a target in that bucket.
        Target::parse(&format!("s3://{bucket}/k")).map_err(|e| fail(e.to_string()))?;
        let prefix = prefix.trim_matches('/');
        if prefix.chars().any(char::is_control) || prefix.split('/').any(|s| s == "..") {
            return Err(fail("the prefix holds control characters or ..".into()));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            credentials,
            region: "us-east-1".to_owned(),
            endpoint: None,
            lock_lease: DEFAULT_LOCK_LEASE,
            part_size: DEFAULT_PART_SIZE,
        })
    }

    /// Sets the endpoint (`http://127.0.0.1:8333`); path-style addressing is used with it.
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the region requests are signed for.
    ///
    /// ```
    /// let s = uptask_server::S3Store::parse("s3://b-1", uptask_proto::sigv4::Credentials::new("a", "b")).unwrap().region("eu-west-1");
    /// assert_eq!(s.region, "eu-west-1");
    /// ```
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Sets how long a lock outlives its holder's last renewal (default 15 s; at least 3 s, as
    /// the store dates objects to the second).
    ///
    /// ```
    /// let s = uptask_server::S3Store::parse("s3://b-1", uptask_proto::sigv4::Credentials::new("a", "b")).unwrap()
    ///     .lock_lease(std::time::Duration::from_secs(1));
    /// assert_eq!(s.lock_lease.as_secs(), 3);
    /// ```
    #[must_use]
    pub fn lock_lease(mut self, lease: Duration) -> Self {
        self.lock_lease = lease.max(Duration::from_secs(3));
        self
    }
}

impl S3Store {
    /// Sets the part size (at least 5 MiB, S3's smallest part but the last).
    ///
    /// ```
    /// let s = uptask_server::S3Store::parse("s3://b-1", uptask_proto::sigv4::Credentials::new("a", "b")).unwrap()
    ///     .part_size(1 << 20);
    /// assert_eq!(s.part_size, 5 << 20);
    /// ```
    #[must_use]
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes.max(uptask_proto::s3::MIN_PART_SIZE);
        self
    }
}

impl std::fmt::Display for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

use crate::client::{RequestBody, error_chain};

/// What a request to the bucket carries.
pub(crate) enum Payload {
    Empty,
    /// A small document (XML, JSON), signed with its hash.
    Bytes(Bytes),
    /// A spooled part, streamed from its file, unsigned (its length is known).
    Spool(Spool),
}

/// The local clock, in Unix seconds, for signatures.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The bucket, reached through one connection pool.
#[derive(Debug)]
pub(crate) struct Bucket {
    client: crate::client::Client,
    signer: Signer,
    endpoint: String,
    addressing: Addressing,
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) lease: Duration,
    pub(crate) part_size: u64,
}

/// Where the server's own objects live, under the prefix.
const STATE_DIR: &str = ".uptask/";

impl Bucket {
    pub(crate) fn new(store: &S3Store) -> Self {
        let client = crate::client::new();
        let (endpoint, addressing) = match &store.endpoint {
            Some(e) => (e.clone(), Addressing::Path),
            None => (
                format!("https://s3.{}.amazonaws.com", store.region),
                Addressing::VirtualHost,
            ),
        };
        Self {
            client,
            signer: Signer {
                credentials: store.credentials.clone(),
                region: store.region.clone(),
                user_headers: Vec::new(),
            },
            endpoint,
            addressing,
            name: store.bucket.clone(),
            prefix: store.prefix.clone(),
            lease: store.lock_lease,
            part_size: store.part_size,
        }
    }

    /// The key of one of the server's own objects (`PREFIX/.uptask/NAME`).
    pub(crate) fn state_key(&self, name: &str) -> String {
        format!("{}{STATE_DIR}{name}", self.prefix)
    }

    /// `s3://bucket/key`.
    pub(crate) fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    /// One signed request; `key` empty addresses the bucket itself. The answer's body is read
    /// whole: these are small documents.
    pub(crate) async fn call(
        &self,
        method: &'static str,
        key: &str,
        query: &[(&str, String)],
        headers: Vec<(&'static str, String)>,
        payload: Payload,
    ) -> Result<Reply, ApiError> {
        let (head, body) = self
            .send(method, key, query, headers, payload)
            .await?
            .into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| unreachable(method, key, &e))?
            .to_bytes();
        Ok(Reply {
            status: head.status,
            headers: head.headers,
            body,
        })
    }

    /// An object's bytes as they arrive (a break in them is the store being unreachable);
    /// `None` when there is none.
    pub(crate) async fn get_stream(
        &self,
        key: &str,
    ) -> Result<Option<impl futures_util::Stream<Item = Result<Bytes, ApiError>> + use<>>, ApiError>
    {
        let key_owned = key.to_owned();
        Ok(self.get_body(key).await?.map(move |body| {
            futures_util::StreamExt::map(body.into_data_stream(), move |chunk| {
                chunk.map_err(|e| unreachable("GET", &key_owned, &e))
            })
        }))
    }

    async fn get_body(&self, key: &str) -> Result<Option<hyper::body::Incoming>, ApiError> {
        let response = self
            .send("GET", key, &[], Vec::new(), Payload::Empty)
            .await?;
        match response.status() {
            s if s.is_success() => Ok(Some(response.into_body())),
            StatusCode::NOT_FOUND => Ok(None),
            status => {
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(http_body_util::Collected::to_bytes)
                    .unwrap_or_default();
                let reply = Reply {
                    status,
                    headers: HeaderMap::new(),
                    body,
                };
                Err(reply.refused("read an object"))
            }
        }
    }

    /// The URL of `key` (the bucket itself when empty).
    fn object_url(&self, key: &str) -> Result<url::Url, ApiError> {
        let target = Target {
            bucket: self.name.clone(),
            key: key.to_owned(),
        };
        target
            .object_url(&self.endpoint, self.addressing)
            .ok()
            .and_then(|u| url::Url::parse(&u).ok())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("invalid store endpoint {:?}", self.endpoint),
                )
            })
    }

    async fn send(
        &self,
        method: &'static str,
        key: &str,
        query: &[(&str, String)],
        headers: Vec<(&'static str, String)>,
        payload: Payload,
    ) -> Result<axum::http::Response<hyper::body::Incoming>, ApiError> {
        let url = self.object_url(key)?;
        let now = unix_now();
        let (hash, length, body): (String, u64, RequestBody) = match payload {
            Payload::Empty => (
                sigv4::EMPTY_SHA256.to_owned(),
                0,
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            ),
            Payload::Bytes(b) => {
                use sha2::Digest;
                (
                    sigv4::hex(&sha2::Sha256::digest(&b)),
                    b.len() as u64,
                    http_body_util::Full::new(b)
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                )
            }
            Payload::Spool(spool) => {
                let len = spool.len();
                (
                    sigv4::UNSIGNED_PAYLOAD.to_owned(),
                    len,
                    spool.into_body().await?,
                )
            }
        };
        let signed = self.signer.sign(
            &url,
            method,
            query,
            headers,
            uptask_proto::engine::Body::Empty,
            &hash,
            now,
        );
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri(signed.url.as_str());
        for (name, value) in &signed.headers {
            builder = builder.header(*name, value);
        }
        if method != "GET" && method != "HEAD" {
            builder = builder.header("content-length", length);
        }
        let request = builder
            .body(body)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let started = std::time::Instant::now();
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| unreachable(method, key, &error_chain(&e)))?;
        // The store's share of a request's time, for whoever looks into a slow one.
        tracing::debug!(
            method,
            key,
            status = response.status().as_u16(),
            ms = started.elapsed().as_millis(),
            "the store answered"
        );
        Ok(response)
    }

    /// Checks that the bucket answers and the keys are accepted, so a wrong setting fails at
    /// start and not at the first upload.
    pub(crate) async fn check(&self) -> Result<(), ApiError> {
        let reply = self
            .call(
                "GET",
                "",
                &[
                    ("list-type", "2".into()),
                    ("max-keys", "1".into()),
                    ("prefix", self.prefix.clone()),
                ],
                Vec::new(),
                Payload::Empty,
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(reply.refused(&format!("list s3://{}/{}", self.name, self.prefix)))
        }
    }

    /// Deletes an object; one already gone is fine.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), ApiError> {
        let reply = self
            .call("DELETE", key, &[], Vec::new(), Payload::Empty)
            .await?;
        if reply.status.is_success() || reply.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(reply.refused("delete an object"))
        }
    }

    /// A small object's bytes and ETag; `None` when there is none.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<(Bytes, String)>, ApiError> {
        let reply = self
            .call("GET", key, &[], Vec::new(), Payload::Empty)
            .await?;
        match reply.status {
            s if s.is_success() => {
                let etag = reply.header("etag").unwrap_or_default().to_owned();
                Ok(Some((reply.body, etag)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(reply.refused("read an object")),
        }
    }

    /// Writes a small object whole.
    pub(crate) async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        headers: Vec<(&'static str, String)>,
    ) -> Result<Reply, ApiError> {
        self.call("PUT", key, &[], headers, Payload::Bytes(bytes))
            .await
    }

    /// Writes `value` as a JSON object at `key`; a refusal says it could not `what`.
    pub(crate) async fn put_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        what: &str,
    ) -> Result<(), ApiError> {
        let json = serde_json::to_vec(value)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let reply = self
            .put(
                key,
                Bytes::from(json),
                vec![("content-type", "application/json".into())],
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(reply.refused(what))
        }
    }

    /// Starts a multipart upload of `key`; its upload id.
    pub(crate) async fn create_multipart(&self, key: &str) -> Result<String, ApiError> {
        self.create_multipart_with(key, Vec::new()).await
    }

    /// Starts a multipart upload of `key` whose object gets `headers` (its content type); its
    /// upload id.
    pub(crate) async fn create_multipart_with(
        &self,
        key: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<String, ApiError> {
        let reply = self
            .call(
                "POST",
                key,
                &[("uploads", String::new())],
                headers,
                Payload::Empty,
            )
            .await?;
        reply.parsed(uptask_proto::s3::upload_id, "start a multipart upload")
    }

    /// Completes a multipart upload from its parts' ETags, in order; the object then exists.
    pub(crate) async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), ApiError> {
        let parts: Vec<_> = etags
            .iter()
            .map(|etag| uptask_proto::s3::CompletedPart {
                etag: etag.clone(),
                crc32c: None,
            })
            .collect();
        self.complete_parts(key, upload_id, &parts).await
    }

    /// Completes a multipart upload from its parts (with their checksums, if it has them).
    pub(crate) async fn complete_parts(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[uptask_proto::s3::CompletedPart],
    ) -> Result<(), ApiError> {
        let body = uptask_proto::s3::complete_body(parts);
        let reply = self
            .call(
                "POST",
                key,
                &[("uploadId", upload_id.to_owned())],
                vec![("content-type", "application/xml".into())],
                Payload::Bytes(Bytes::from(body)),
            )
            .await?;
        // An error can come inside a 200 once the store has begun answering.
        if reply.status.is_success() && uptask_proto::s3::error_of(&reply.text()).is_none() {
            Ok(())
        } else {
            Err(reply.refused("complete a multipart upload"))
        }
    }

    /// Abandons a multipart upload and its parts; one already gone is fine.
    pub(crate) async fn abort(&self, key: &str, upload_id: &str) -> Result<(), ApiError> {
        let reply = self
            .call(
                "DELETE",
                key,
                &[("uploadId", upload_id.to_owned())],
                Vec::new(),
                Payload::Empty,
            )
            .await?;
        if reply.status.is_success() || reply.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(reply.refused("abort a multipart upload"))
        }
    }
}

fn unreachable(method: &str, key: &str, e: &dyn std::fmt::Display) -> ApiError {
    tracing::debug!(error = %e, method, key, "the store is unreachable");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the store is unreachable: {e}"),
    )
}
