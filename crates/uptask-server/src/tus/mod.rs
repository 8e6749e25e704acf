//! tus 1.0 at `/files/`: core protocol plus creation, creation-with-upload,
//! creation-defer-length, termination, checksum (sha1, sha256), expiration and concatenation.
//!
//! Uploads live in a [`TusStore`]: the local directory ([`LocalTus`]) or an S3 bucket shared by
//! every instance ([`BucketTus`]). A file appears under its final name only once it is whole.
//! One request at a time may write to an upload (through any instance); another gets
//! `423 Locked`.

// Refusals are whole HTTP answers, made once per request: boxing them would buy nothing.
#![expect(clippy::result_large_err, reason = "refusals are axum responses")]

mod bucket;
mod bucket_append;
mod events;
mod info;
mod local;
mod store;
mod tidy;
mod write;

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use uptask_proto::tus::{Concat, TUS_RESUMABLE, decode_metadata, parse_offset};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::hooks::Hooks;
use crate::unread::Unread;
use axum::http::request::Parts;
pub(crate) use bucket::BucketTus;
use info::{Info, new_id, now_ms, valid_id};
pub(crate) use local::LocalTus;
use store::TusStore;

/// The extensions this server implements, as announced.
const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration,concatenation";

/// The longest time between two expiry sweeps of one instance.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// State of the tus routes: the config, the store and the hooks.
pub(crate) struct Tus<S> {
    config: Arc<ServerConfig>,
    store: S,
    hooks: Option<Arc<Hooks>>,
    last_sweep: Mutex<u64>,
}

type Shared<S> = Arc<Tus<S>>;

/// The `/files` routes on `store`.
pub(crate) fn routes<S: TusStore>(
    config: Arc<ServerConfig>,
    store: S,
    hooks: Option<Arc<Hooks>>,
) -> Router {
    let state = Arc::new(Tus {
        config,
        store,
        hooks,
        last_sweep: Mutex::new(0),
    });
    Router::new()
        .route("/files", post(create::<S>).options(options::<S>))
        .route("/files/", post(create::<S>).options(options::<S>))
        .route("/files/{id}", any(upload::<S>))
        .with_state(state)
}

/// An answer with the protocol's version header.
fn answer(status: StatusCode) -> Response {
    let mut res = status.into_response();
    res.headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(TUS_RESUMABLE));
    res
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    tracing::debug!(%status, message, "tus request refused");
    let mut res = (status, message).into_response();
    res.headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(TUS_RESUMABLE));
    res
}

fn set<V>(res: &mut Response, name: &'static str, value: V)
where
    HeaderValue: TryFrom<V>,
{
    if let Ok(v) = HeaderValue::try_from(value) {
        res.headers_mut().insert(name, v);
    }
}

fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A store's failure as a tus answer.
fn failed(e: ApiError) -> Response {
    e.log();
    refuse(e.status, e.message)
}

/// Every request but OPTIONS must speak our version.
fn check_version(headers: &HeaderMap) -> Result<(), Response> {
    if get(headers, "tus-resumable") == Some(TUS_RESUMABLE) {
        return Ok(());
    }
    let mut res = refuse(
        StatusCode::PRECONDITION_FAILED,
        "Tus-Resumable: 1.0.0 is required",
    );
    set(&mut res, "tus-version", TUS_RESUMABLE);
    Err(res)
}

async fn options<S: TusStore>(State(tus): State<Shared<S>>) -> Response {
    discovery_answer(&tus.config)
}

fn discovery_answer(config: &ServerConfig) -> Response {
    let mut res = answer(StatusCode::NO_CONTENT);
    set(&mut res, "tus-version", TUS_RESUMABLE);
    set(&mut res, "tus-extension", EXTENSIONS);
    set(&mut res, "tus-max-size", config.max_size);
    set(&mut res, "tus-checksum-algorithm", "sha1,sha256");
    res
}

/// Answers tus discovery (an `OPTIONS` that is not a CORS preflight) before the CORS layer,
/// which would take every `OPTIONS` for a preflight. What it tells is public: no token needed.
pub(crate) async fn discovery(
    State(config): State<Arc<ServerConfig>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let is_discovery = req.method() == Method::OPTIONS
        && !req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && req.uri().path().starts_with("/files");
    if !is_discovery {
        return next.run(req).await;
    }
    let mut res = discovery_answer(&config);
    // The CORS layer's answer for any other request, written out: the allowed origin (with
    // credentials when named), and the tus headers readable.
    if let Some((allowed, credentials)) = req
        .headers()
        .get(header::ORIGIN)
        .map(|origin| crate::cors::answer(&config.allow_origins, origin))
    {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(crate::EXPOSED_LIST),
        );
        h.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    res
}

/// POST: a new upload (partial, final concatenation, or plain), with its first bytes if sent.
async fn create<S: TusStore>(
    State(tus): State<Shared<S>>,
    req: axum::extract::Request,
) -> Response {
    let (req, body) = req.into_parts();
    let headers = &req.headers;
    if let Err(res) = check_version(headers) {
        return res;
    }
    {
        let tus = Arc::clone(&tus);
        tokio::spawn(async move { tus.sweep().await });
    }
    let concat = match get(headers, "upload-concat").map(Concat::parse) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let metadata = get(headers, "upload-metadata").map(str::to_owned);
    let mut file_name = String::new();
    if let Some(m) = &metadata {
        match decode_metadata(m) {
            Ok(pairs) => {
                if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "filename") {
                    file_name = String::from_utf8_lossy(v).into_owned();
                }
            }
            Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    let id = match new_id() {
        Ok(id) => id,
        Err(e) => return failed(ApiError::storage(&e)),
    };
    let mut info = Info {
        length: None,
        metadata,
        file_name,
        partial: concat == Some(Concat::Partial),
        parts: Vec::new(),
        expires_ms: now_ms()
            .saturating_add(u64::try_from(tus.config.tus_expiry.as_millis()).unwrap_or(u64::MAX)),
        stored: None,
        key: None,
        upload_id: None,
        etags: Vec::new(),
        part_size: 0,
    };
    if let Some(Concat::Final(urls)) = concat {
        return tus.concatenate(id, info, &urls, &req).await;
    }
    let deferred = get(headers, "upload-defer-length") == Some("1");
    match get(headers, "upload-length") {
        Some(v) if !deferred => match parse_offset("upload-length", Some(v)) {
            Ok(n) if n > tus.config.max_size => {
                return refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "Upload-Length {n} is over the limit of {}",
                        tus.config.max_size
                    ),
                );
            }
            Ok(n) => info.length = Some(n),
            Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
        },
        None if deferred => {}
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "exactly one of Upload-Length and Upload-Defer-Length: 1 is required",
            );
        }
    }
    if let Err(res) = tus.pre_create(&id, &mut info, &req).await {
        return res;
    }
    if let Err(e) = tus.store.create(&id, &mut info).await {
        return failed(e);
    }
    tracing::info!(id, length = ?info.length, partial = info.partial, "tus upload created");
    let location = format!("/files/{id}");
    let has_body = get(headers, "content-type").is_some_and(is_offset_stream);
    let mut res = if has_body {
        match tus.write_locked(&id, 0, &req, Unread::new(body)).await {
            Ok(mut res) => {
                *res.status_mut() = StatusCode::CREATED;
                res
            }
            Err(res) => return res,
        }
    } else {
        let mut res = answer(StatusCode::CREATED);
        set(&mut res, "upload-expires", info.expires_header());
        res
    };
    set(&mut res, "location", location);
    res
}

fn is_offset_stream(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/offset+octet-stream")
    })
}

/// HEAD, PATCH and DELETE on one upload.
async fn upload<S: TusStore>(
    State(tus): State<Shared<S>>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let (req, body) = req.into_parts();
    let method = req.method.clone();
    if method == Method::OPTIONS {
        return options(State(tus)).await;
    }
    if let Err(res) = check_version(&req.headers) {
        return res;
    }
    if !valid_id(&id) {
        return refuse(StatusCode::NOT_FOUND, "no such upload");
    }
    let info = match tus.store.load(&id).await {
        Ok(Some(info)) if info.expired() => {
            tus.expire(&id).await;
            return refuse(StatusCode::GONE, "the upload expired");
        }
        Ok(Some(info)) => info,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "no such upload"),
        Err(e) => return failed(e),
    };
    match method {
        Method::HEAD => tus.head(&id, &info).await,
        Method::PATCH => tus.patch(&id, info, &req, Unread::new(body)).await,
        Method::DELETE => tus.delete(&id, &req).await,
        _ => {
            let mut res = refuse(StatusCode::METHOD_NOT_ALLOWED, "use HEAD, PATCH or DELETE");
            set(&mut res, "allow", "HEAD, PATCH, DELETE, OPTIONS");
            res
        }
    }
}

impl<S: TusStore> Tus<S> {
    async fn head(&self, id: &str, info: &Info) -> Response {
        let offset = match self.store.offset(id, info).await {
            Ok(o) => o,
            Err(e) => return failed(e),
        };
        if info.stored.is_none() && !info.partial && info.length == Some(offset) {
            // Whole but not published (its request died first): publish it, unless a
            // request is on it already.
            if let Ok(Some(guard)) = self.store.lock(id).await {
                if let Ok(Some(mut fresh)) = self.store.load(id).await
                    && fresh.stored.is_none()
                    && let Err(e) = self.finish_stored(id, &mut fresh, offset, &guard).await
                {
                    tracing::warn!(id, error = e.message, "a whole upload is not published yet");
                }
                self.store.unlock(guard).await;
            }
        }
        let mut res = answer(StatusCode::OK);
        set(&mut res, "upload-offset", offset);
        match info.length {
            Some(n) => set(&mut res, "upload-length", n),
            None => set(&mut res, "upload-defer-length", 1),
        }
        if let Some(m) = &info.metadata {
            set(&mut res, "upload-metadata", m);
        }
        if info.partial {
            set(&mut res, "upload-concat", "partial");
        } else if !info.parts.is_empty() {
            let urls: Vec<String> = info.parts.iter().map(|p| format!("/files/{p}")).collect();
            set(
                &mut res,
                "upload-concat",
                Concat::Final(urls).header_value(),
            );
        }
        if info.stored.is_none() {
            set(&mut res, "upload-expires", info.expires_header());
        }
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    async fn patch(&self, id: &str, info: Info, req: &Parts, body: Unread) -> Response {
        let headers = &req.headers;
        if !get(headers, "content-type").is_some_and(is_offset_stream) {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/offset+octet-stream",
            );
        }
        if !info.parts.is_empty() {
            return refuse(
                StatusCode::FORBIDDEN,
                "a final concatenation cannot be patched",
            );
        }
        let claimed = match parse_offset("upload-offset", get(headers, "upload-offset")) {
            Ok(o) => o,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
        };
        if let Some(v) = get(headers, "upload-length") {
            match (info.length, parse_offset("upload-length", Some(v))) {
                // Kept under the lock, with the upload as it is then (see `write`).
                (None, Ok(n)) if n <= self.config.max_size => {}
                (None, Ok(_)) => {
                    return refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Upload-Length over the limit",
                    );
                }
                (Some(n), Ok(m)) if n == m => {}
                _ => return refuse(StatusCode::BAD_REQUEST, "Upload-Length cannot change"),
            }
        }
        match self.write_locked(id, claimed, req, body).await {
            Ok(res) | Err(res) => res,
        }
    }

    async fn delete(&self, id: &str, req: &Parts) -> Response {
        let guard = match self.store.lock(id).await {
            Ok(Some(guard)) => guard,
            Ok(None) => return refuse(StatusCode::LOCKED, "the upload is being written"),
            Err(e) => return failed(e),
        };
        let res = match self.store.load(id).await {
            Ok(Some(info)) => {
                let offset = self.store.offset(id, &info).await.unwrap_or_default();
                self.store.remove(id, &info).await;
                tracing::info!(id, "tus upload terminated");
                self.told("post-terminate", id, &info, offset, req);
                answer(StatusCode::NO_CONTENT)
            }
            Ok(None) => refuse(StatusCode::NOT_FOUND, "no such upload"),
            Err(e) => failed(e),
        };
        self.store.unlock(guard).await;
        res
    }

    /// Removes an expired upload, unless a request holds it.
    async fn expire(&self, id: &str) {
        let Ok(Some(guard)) = self.store.lock(id).await else {
            return;
        };
        if let Ok(Some(info)) = self.store.load(id).await
            && info.expired()
        {
            tracing::info!(id, "expired tus upload removed");
            self.store.remove(id, &info).await;
        }
        self.store.unlock(guard).await;
    }

    /// Removes expired uploads, at most once a minute (or once an expiry, when shorter) per
    /// instance; any POST may trigger it, and on a shared store any instance may sweep.
    async fn sweep(&self) {
        let expiry = self.config.tus_expiry;
        let every = SWEEP_EVERY.min(expiry);
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = now_ms();
            if now.saturating_sub(*last) < u64::try_from(every.as_millis()).unwrap_or(u64::MAX) {
                return;
            }
            *last = now;
        }
        let ids = match self.store.sweep_ids(expiry, every).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = e.message, "cannot list tus uploads to sweep");
                return;
            }
        };
        for id in ids {
            match self.store.load(&id).await {
                Ok(Some(info)) if info.expired() => self.expire(&id).await,
                Ok(Some(info)) => self.store.settle(&id, &info).await,
                _ => {}
            }
        }
    }
}
