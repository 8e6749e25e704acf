//! Uploads straight to the bucket, on the routes of Uppy Companion's S3 controller (same
//! paths, methods, query parameters and JSON), so `@uppy/aws-s3` works against `uptask serve`
//! unchanged: the client never holds the store's keys, only presigned URLs that each allow one
//! request for a while (`--presign-expiry`).
//!
//! - `GET /s3/params?filename=&type=`: a browser's POST form (a presigned POST policy) for one
//!   whole file;
//! - `POST /s3/multipart` (`{filename, type, metadata}`): starts a multipart upload;
//! - `GET /s3/multipart/{uploadId}?key=`: the parts stored so far;
//! - `GET /s3/multipart/{uploadId}/batch?key=&partNumbers=1,2`, `GET
//!   /s3/multipart/{uploadId}/{n}?key=`: presigned part PUTs;
//! - `POST /s3/multipart/{uploadId}/complete?key=` (`{parts: [{PartNumber, ETag}]}`), `DELETE
//!   /s3/multipart/{uploadId}?key=`.
//!
//! The server picks every key (under the prefix, or the pre-create hook's), and signs only for
//! uploads it created, with the key they were created for (see [`binding`]).
//!
//! Beyond Companion: a creation asking `"checksumAlgorithm": "CRC32C"` is answered with the
//! same field, and its parts are then signed one at a time with their CRC32C
//! (`?checksumCRC32C=`, put into the presigned URL, which the store verifies the bytes by) and
//! completed with them (`ChecksumCRC32C`). Clients that do not ask (Uppy) see Companion's
//! routes unchanged.

mod binding;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::bucket::Bucket;
use crate::config::Shared;
use crate::error::ApiError;
use crate::hooks::{Event, RequestFacts, StorageFacts, UploadFacts, checked_key};
use binding::Binding;

/// S3's part numbers.
const PARTS: std::ops::RangeInclusive<u64> = 1..=10_000;

/// The `/s3/` routes, on the server's bucket.
pub(crate) fn routes(shared: Arc<Shared>, bucket: Arc<Bucket>) -> Router {
    let state = Arc::new(Direct {
        shared,
        bucket,
        known: std::sync::Mutex::default(),
    });
    Router::new()
        .route("/s3/params", get(params))
        .route("/s3/multipart", post(create))
        .route("/s3/multipart/{upload_id}", get(list).delete(abort))
        .route("/s3/multipart/{upload_id}/batch", get(batch))
        .route("/s3/multipart/{upload_id}/complete", post(complete))
        .route("/s3/multipart/{upload_id}/{part}", get(part))
        .with_state(state)
}

struct Direct {
    shared: Arc<Shared>,
    bucket: Arc<Bucket>,
    /// Bindings read from (or written to) the bucket, by upload id: a binding never changes,
    /// so signing a part needs no read from the store once its upload is known here. One
    /// completed or aborted through another instance stays until this one is restarted or the
    /// map is full; the store refuses parts of an upload that is gone.
    known: std::sync::Mutex<std::collections::HashMap<String, Binding>>,
}

/// Bindings kept in memory at most; the map starts again empty when full.
const KNOWN: usize = 4096;

type Answer = Result<Response, ApiError>;

fn bad(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, format!("s3: {message}"))
}

/// The query's pairs, decoded.
fn query(parts: &Parts) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn key_of(q: &BTreeMap<String, String>) -> Result<&str, ApiError> {
    q.get("key").map(String::as_str).ok_or_else(|| {
        bad("the object key must be passed as a query parameter, as in \"?key=abc.jpg\"")
    })
}

/// The `checksumCRC32C` a part of a CRC32C upload is signed with: base64 of four bytes.
fn crc32c_of(q: &BTreeMap<String, String>) -> Result<String, ApiError> {
    use base64::Engine as _;
    let value = q.get("checksumCRC32C").ok_or_else(|| {
        bad("this upload has CRC32C checksums: sign each part with its checksumCRC32C, as in \"?key=K&checksumCRC32C=yZRlqg==\"")
    })?;
    match base64::engine::general_purpose::STANDARD.decode(value) {
        Ok(bytes) if bytes.len() == 4 => Ok(value.clone()),
        _ => Err(bad(
            "checksumCRC32C must be the base64 of a part's 4-byte CRC32C",
        )),
    }
}

fn part_number(text: &str) -> Result<u64, ApiError> {
    text.trim()
        .parse()
        .ok()
        .filter(|n| PARTS.contains(n))
        .ok_or_else(|| bad("the part number must be a number between 1 and 10000"))
}

impl Direct {
    /// The upload `upload_id`, when this server created it for `key`; otherwise the refusal.
    async fn binding(&self, upload_id: &str, key: &str) -> Result<Binding, ApiError> {
        let known = self.known_map().get(upload_id).cloned();
        if let Some(binding) = known.filter(|b| b.key == key) {
            return Ok(binding);
        }
        let binding = Binding::check(&self.bucket, upload_id, key).await?;
        self.remember(&binding);
        Ok(binding)
    }

    fn known_map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Binding>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember(&self, binding: &Binding) {
        let mut known = self.known_map();
        if known.len() >= KNOWN {
            known.clear();
        }
        known.insert(binding.upload_id.clone(), binding.clone());
    }

    /// The upload is completed or aborted: its binding goes, here and in the bucket.
    async fn forget(&self, binding: &Binding) {
        self.known_map().remove(&binding.upload_id);
        binding.forget(&self.bucket).await;
    }

    /// The key a new upload of `filename` goes to, once the pre-create hook (if any) let it:
    /// the hook's key or a generated one, under the prefix; and the metadata it keeps.
    async fn new_key(
        &self,
        parts: &Parts,
        filename: &str,
        mut metadata: BTreeMap<String, String>,
    ) -> Result<(String, BTreeMap<String, String>), Response> {
        let mut chosen = None;
        if let Some(hooks) = &self.shared.hooks {
            metadata.insert("filename".to_owned(), filename.to_owned());
            let event = self.event("pre-create", "", None, &metadata, parts);
            let changes = hooks.pre_create(&event).await?;
            if let Some(key) = changes.key.as_deref() {
                chosen = Some(checked_key(key)?.to_owned());
            }
            if let Some(m) = changes.metadata {
                metadata = m;
            }
        }
        let name = crate::storage::stored_name(chosen.as_deref(), filename)
            .map_err(IntoResponse::into_response)?;
        Ok((format!("{}{name}", self.bucket.prefix), metadata))
    }

    fn event(
        &self,
        kind: &'static str,
        id: &str,
        key: Option<&str>,
        metadata: &BTreeMap<String, String>,
        parts: &Parts,
    ) -> Event {
        Event {
            kind,
            upload: UploadFacts {
                id: id.to_owned(),
                size: None,
                offset: 0,
                metadata: metadata.clone(),
                storage: StorageFacts {
                    kind: "s3",
                    bucket: Some(self.bucket.name.clone()),
                    key: key.map(str::to_owned),
                    path: None,
                },
                sha256: None,
            },
            request: RequestFacts::of(parts),
        }
    }

    /// A presigned PUT of part `number`; with its CRC32C in the signed query, when it has one,
    /// so the store refuses other bytes.
    fn sign_part(
        &self,
        binding: &Binding,
        number: u64,
        crc32c: Option<String>,
    ) -> Result<String, ApiError> {
        let mut query = vec![
            ("partNumber", number.to_string()),
            ("uploadId", binding.upload_id.clone()),
        ];
        if let Some(c) = crc32c {
            query.push(("x-amz-checksum-crc32c", c));
        }
        self.bucket.presign(
            "PUT",
            &binding.key,
            &query,
            self.shared.config.presign_expiry,
        )
    }

    fn expires(&self) -> u64 {
        self.shared.config.presign_expiry.as_secs()
    }
}

fn json_answer(value: &Value) -> Response {
    axum::Json(value).into_response()
}

async fn params(State(d): State<Arc<Direct>>, parts: Parts) -> Answer {
    let q = query(&parts);
    let filename = q.get("filename").cloned().unwrap_or_default();
    // Uppy passes the file's metadata as `metadata[name]=value`.
    let metadata = q
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((name.to_owned(), v.clone()))
        })
        .collect();
    let (key, _) = match d.new_key(&parts, &filename, metadata).await {
        Ok(k) => k,
        Err(refused) => return Ok(refused),
    };
    // Companion's answer: a browser's POST form, which every Uppy sends as it is.
    let content_type = q.get("type").map(String::as_str).filter(|t| !t.is_empty());
    let (url, fields) = d.bucket.post_form(
        &key,
        content_type,
        d.shared.config.max_size,
        d.shared.config.presign_expiry,
    )?;
    let fields: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(n, v)| (n, Value::from(v)))
        .collect();
    Ok(json_answer(&json!({
        "method": "POST",
        "url": url,
        "fields": fields,
        "expires": d.expires(),
    })))
}

/// `POST /s3/multipart`'s body.
#[derive(serde::Deserialize)]
struct Create {
    filename: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, Value>,
    /// Our extension: `"CRC32C"` asks for part checksums (other values are not taken).
    #[serde(rename = "checksumAlgorithm")]
    checksum_algorithm: Option<String>,
}

async fn create(State(d): State<Arc<Direct>>, parts: Parts, body: Bytes) -> Answer {
    let asked: Create = serde_json::from_slice(&body).map_err(|e| {
        bad(&format!(
            "the body must be JSON {{filename, type, metadata}}: {e}"
        ))
    })?;
    let Some(content_type) = asked.content_type else {
        return Err(bad("content type must be a string"));
    };
    let filename = asked.filename.unwrap_or_default();
    let crc32c = asked
        .checksum_algorithm
        .is_some_and(|a| a.eq_ignore_ascii_case("CRC32C"));
    let metadata = asked
        .metadata
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect();
    let (key, metadata) = match d.new_key(&parts, &filename, metadata).await {
        Ok(k) => k,
        Err(refused) => return Ok(refused),
    };
    let mut headers = vec![("content-type", content_type)];
    if crc32c {
        headers.push(("x-amz-checksum-algorithm", "CRC32C".to_owned()));
    }
    let upload_id = d.bucket.create_multipart_with(&key, headers).await?;
    let binding = Binding {
        key: key.clone(),
        upload_id: upload_id.clone(),
        metadata,
        crc32c,
    };
    if let Err(e) = binding.keep(&d.bucket).await {
        // Without its binding nobody could sign for it: it must not linger.
        let _ = d.bucket.abort(&key, &upload_id).await;
        return Err(e);
    }
    d.remember(&binding);
    tracing::info!(key, crc32c, "direct upload started");
    let mut answer = json!({
        "key": key,
        "uploadId": upload_id,
        "bucket": d.bucket.name,
    });
    if crc32c {
        answer["checksumAlgorithm"] = Value::from("CRC32C");
    }
    Ok(json_answer(&answer))
}

async fn list(State(d): State<Arc<Direct>>, Path(id): Path<String>, parts: Parts) -> Answer {
    let q = query(&parts);
    let binding = d.binding(&id, key_of(&q)?).await?;
    let listed = d
        .bucket
        .list_parts(&binding.key, &binding.upload_id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "s3: the upload is gone"))?;
    let listed: Vec<Value> = listed
        .iter()
        .map(|p| json!({ "PartNumber": p.number, "ETag": p.etag, "Size": p.size }))
        .collect();
    Ok(json_answer(&Value::Array(listed)))
}

async fn part(
    State(d): State<Arc<Direct>>,
    Path((id, number)): Path<(String, String)>,
    parts: Parts,
) -> Answer {
    let q = query(&parts);
    let number = part_number(&number)?;
    let binding = d.binding(&id, key_of(&q)?).await?;
    let crc32c = if binding.crc32c {
        Some(crc32c_of(&q)?)
    } else {
        None
    };
    let url = d.sign_part(&binding, number, crc32c)?;
    Ok(json_answer(&json!({ "url": url, "expires": d.expires() })))
}

async fn batch(State(d): State<Arc<Direct>>, Path(id): Path<String>, parts: Parts) -> Answer {
    let q = query(&parts);
    let numbers = q.get("partNumbers").ok_or_else(|| {
        bad("the part numbers must be passed as a comma separated query parameter, as in \"?partNumbers=4,6,7,21\"")
    })?;
    let numbers: Vec<u64> = numbers
        .split(',')
        .map(part_number)
        .collect::<Result<_, _>>()?;
    let binding = d.binding(&id, key_of(&q)?).await?;
    if binding.crc32c {
        return Err(bad(
            "this upload has CRC32C checksums: sign each part on its own, with its checksumCRC32C",
        ));
    }
    let mut urls = serde_json::Map::new();
    for number in numbers {
        urls.insert(
            number.to_string(),
            Value::from(d.sign_part(&binding, number, None)?),
        );
    }
    Ok(json_answer(&json!({ "presignedUrls": urls })))
}

/// One part of `POST .../complete`'s body.
#[derive(serde::Deserialize)]
struct Done {
    #[serde(rename = "PartNumber")]
    number: u64,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "ChecksumCRC32C")]
    crc32c: Option<String>,
}

#[derive(serde::Deserialize)]
struct Complete {
    parts: Vec<Done>,
}

async fn complete(
    State(d): State<Arc<Direct>>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Answer {
    let q = query(&parts);
    let asked: Complete = serde_json::from_slice(&body)
        .map_err(|_| bad("`parts` must be an array of {ETag, PartNumber} objects"))?;
    // S3 takes parts in ascending order; ours are numbered from 1 without gaps.
    if asked.parts.is_empty() || asked.parts.iter().zip(1..).any(|(p, n)| p.number != n) {
        return Err(bad("`parts` must be the parts 1, 2, 3, ... in order"));
    }
    let binding = d.binding(&id, key_of(&q)?).await?;
    if binding.crc32c && asked.parts.iter().any(|p| p.crc32c.is_none()) {
        return Err(bad(
            "this upload has CRC32C checksums: each part needs its ChecksumCRC32C",
        ));
    }
    let done: Vec<uptask_proto::s3::CompletedPart> = asked
        .parts
        .into_iter()
        .map(|p| uptask_proto::s3::CompletedPart {
            etag: p.etag,
            crc32c: p.crc32c.filter(|_| binding.crc32c),
        })
        .collect();
    d.bucket
        .complete_parts(&binding.key, &binding.upload_id, &done)
        .await?;
    d.forget(&binding).await;
    let location = d.bucket.location(&binding.key);
    tracing::info!(location, "direct upload complete");
    if let Some(hooks) = &d.shared.hooks {
        let event = d.event(
            "post-finish",
            &binding.upload_id,
            Some(&binding.key),
            &binding.metadata,
            &parts,
        );
        hooks.post(event);
    }
    Ok(json_answer(&json!({
        "location": location,
        "key": binding.key,
        "bucket": d.bucket.name,
    })))
}

async fn abort(State(d): State<Arc<Direct>>, Path(id): Path<String>, parts: Parts) -> Answer {
    let q = query(&parts);
    let binding = d.binding(&id, key_of(&q)?).await?;
    d.bucket.abort(&binding.key, &binding.upload_id).await?;
    d.forget(&binding).await;
    Ok(json_answer(&json!({})))
}
