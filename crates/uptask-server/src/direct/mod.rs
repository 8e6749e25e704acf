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
    let state = Arc::new(Direct { shared, bucket });
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
}

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

fn part_number(text: &str) -> Result<u64, ApiError> {
    text.trim()
        .parse()
        .ok()
        .filter(|n| PARTS.contains(n))
        .ok_or_else(|| bad("the part number must be a number between 1 and 10000"))
}

impl Direct {
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

    fn sign_part(&self, binding: &Binding, number: u64) -> Result<String, ApiError> {
        self.bucket.presign(
            "PUT",
            &binding.key,
            &[
                ("partNumber", number.to_string()),
                ("uploadId", binding.upload_id.clone()),
            ],
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
    let upload_id = d
        .bucket
        .create_multipart_with(&key, vec![("content-type", content_type)])
        .await?;
    let binding = Binding {
        key: key.clone(),
        upload_id: upload_id.clone(),
        metadata,
    };
    if let Err(e) = binding.keep(&d.bucket).await {
        // Without its binding nobody could sign for it: it must not linger.
        let _ = d.bucket.abort(&key, &upload_id).await;
        return Err(e);
    }
    tracing::info!(key, "direct upload started");
    Ok(json_answer(&json!({
        "key": key,
        "uploadId": upload_id,
        "bucket": d.bucket.name,
    })))
}

async fn list(State(d): State<Arc<Direct>>, Path(id): Path<String>, parts: Parts) -> Answer {
    let q = query(&parts);
    let binding = Binding::check(&d.bucket, &id, key_of(&q)?).await?;
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
    let binding = Binding::check(&d.bucket, &id, key_of(&q)?).await?;
    let url = d.sign_part(&binding, number)?;
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
    let binding = Binding::check(&d.bucket, &id, key_of(&q)?).await?;
    let mut urls = serde_json::Map::new();
    for number in numbers {
        urls.insert(
            number.to_string(),
            Value::from(d.sign_part(&binding, number)?),
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
    let binding = Binding::check(&d.bucket, &id, key_of(&q)?).await?;
    let etags: Vec<String> = asked.parts.into_iter().map(|p| p.etag).collect();
    d.bucket
        .complete(&binding.key, &binding.upload_id, &etags)
        .await?;
    binding.forget(&d.bucket).await;
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
    let binding = Binding::check(&d.bucket, &id, key_of(&q)?).await?;
    d.bucket.abort(&binding.key, &binding.upload_id).await?;
    binding.forget(&d.bucket).await;
    Ok(json_answer(&json!({})))
}
