//! `POST /upload`: the multipart handler.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::bucket::BucketFiles;
use crate::config;
use crate::error::ApiError;
use crate::storage::{Chunks, Discard, Incoming, LocalDir, Storage, StoredFile};

/// The longest a text field may be.
const MAX_FIELD_BYTES: u64 = 1024 * 1024;
/// The most parts one request may carry.
const MAX_PARTS: usize = 10_000;

/// The JSON answer of `POST /upload`.
///
/// `fields` maps each text field to its value, or to an array of values when repeated.
///
/// ```
/// let reply: uptask_server::UploadReply = serde_json::from_str(r#"{"files":[],"fields":{"a":"1"}}"#).unwrap();
/// assert_eq!(reply.fields["a"], "1");
/// ```
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UploadReply {
    /// The stored files, in request order.
    pub files: Vec<StoredFile>,
    /// The text fields.
    pub fields: BTreeMap<String, serde_json::Value>,
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the upload is larger than this server accepts",
    )
}

fn body_error(e: multer::Error) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large()
        }
        other => ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("malformed multipart body: {other}"),
        ),
    }
}

pub(crate) async fn upload(
    State(shared): State<std::sync::Arc<config::Shared>>,
    req: Request,
) -> Response {
    let state = &shared.config;
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_size) {
        tracing::info!(
            declared,
            max = state.max_size,
            "refusing an upload over the size limit"
        );
        crate::unread::drain_in_background(body);
        return too_large().into_response();
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Ok(boundary) = multer::parse_boundary(content_type) else {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected a multipart/form-data body with a boundary",
        )
        .into_response();
    };
    match receive(&shared, &parts, body, boundary).await {
        Ok(reply) => Json(reply).into_response(),
        Err(res) => res,
    }
}

async fn receive(
    shared: &config::Shared,
    req: &axum::http::request::Parts,
    body: Body,
    boundary: String,
) -> Result<UploadReply, Response> {
    let state = &shared.config;
    let fail = IntoResponse::into_response;
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(state.max_size));
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut files = Vec::new();
    let mut fields: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut count = 0usize;
    let mut stored = 0u64;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| fail(body_error(e)))?
    {
        count += 1;
        if count > MAX_PARTS {
            return Err(fail(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("more than {MAX_PARTS} parts in one request"),
            )));
        }
        if field.file_name().is_some() {
            let field_name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let told = crate::hooks::Told::new(
                shared.hooks.as_ref(),
                shared.bucket.as_ref().map(|b| b.name.as_str()),
                req,
                &field_name,
                &file_name,
            )?;
            let key = told.pre_create().await?;
            let incoming = Incoming {
                field: field_name,
                file_name,
                key,
                chunks: FieldChunks {
                    field,
                    budget: state.max_size - stored,
                    size: 0,
                },
            };
            let file = match &shared.bucket {
                _ if state.discard => Discard.put(incoming).await,
                Some(bucket) => BucketFiles(bucket).put(incoming).await,
                None => LocalDir(&state.dir).put(incoming).await,
            }
            .map_err(fail)?;
            told.finished(&file);
            stored += file.size;
            files.push(file);
        } else {
            let name = field.name().unwrap_or_default().to_owned();
            let value = read_text(field).await.map_err(fail)?;
            add_field(&mut fields, name, value);
        }
    }
    Ok(UploadReply { files, fields })
}

/// A file field's bytes, held to what may still be stored (more is 413).
struct FieldChunks {
    field: multer::Field<'static>,
    budget: u64,
    size: u64,
}

impl Chunks for FieldChunks {
    async fn next(&mut self) -> Result<Option<bytes::Bytes>, ApiError> {
        let chunk = self.field.chunk().await.map_err(body_error)?;
        if let Some(c) = &chunk {
            self.size += c.len() as u64;
            if self.size > self.budget {
                return Err(too_large());
            }
        }
        Ok(chunk)
    }
}

async fn read_text(mut field: multer::Field<'static>) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(body_error)? {
        buf.extend_from_slice(&chunk);
        if buf.len() as u64 > MAX_FIELD_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a text field is longer than {MAX_FIELD_BYTES} bytes"),
            ));
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn add_field(fields: &mut BTreeMap<String, serde_json::Value>, name: String, value: String) {
    use serde_json::Value;
    match fields.get_mut(&name) {
        None => {
            fields.insert(name, Value::String(value));
        }
        Some(Value::Array(values)) => values.push(Value::String(value)),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, Value::String(value)]);
        }
    }
}
