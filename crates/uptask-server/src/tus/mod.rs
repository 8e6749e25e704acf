//! tus 1.0 at `/files/`: core protocol plus creation, creation-with-upload,
//! creation-defer-length, termination, checksum (sha1, sha256), expiration and concatenation.
//!
//! Uploads in progress live in `DIR/.tus/`; a complete upload is moved to `DIR/` under a
//! generated name, so a file appears under its final name only once it is whole. One request at
//! a time may write to an upload; another gets `423 Locked`.

// Refusals are whole HTTP answers, made once per request: boxing them would buy nothing.
#![expect(clippy::result_large_err, reason = "refusals are axum responses")]

mod info;
mod write;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use uptask_proto::tus::{Concat, TUS_RESUMABLE, decode_metadata, parse_offset};

use crate::config::ServerConfig;
use info::{Info, Paths, new_id, now_ms, valid_id};

/// The extensions this server implements, as announced.
const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration,concatenation";

/// State of the tus routes: the config and the uploads being written now.
pub(crate) struct Tus {
    config: Arc<ServerConfig>,
    busy: Mutex<HashSet<String>>,
    last_sweep: Mutex<u64>,
}

type Shared = Arc<Tus>;

/// The `/files` routes.
pub(crate) fn routes(config: Arc<ServerConfig>) -> Router {
    let state = Arc::new(Tus {
        config,
        busy: Mutex::new(HashSet::new()),
        last_sweep: Mutex::new(0),
    });
    Router::new()
        .route("/files", post(create).options(options))
        .route("/files/", post(create).options(options))
        .route("/files/{id}", any(upload))
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

fn storage_error(e: &std::io::Error) -> Response {
    let api = crate::error::ApiError::storage(e);
    refuse(api.status, api.message)
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

async fn options(State(tus): State<Shared>) -> Response {
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
async fn create(State(tus): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    if let Err(res) = check_version(&headers) {
        return res;
    }
    tus.sweep().await;
    let concat = match get(&headers, "upload-concat").map(Concat::parse) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let metadata = get(&headers, "upload-metadata").map(str::to_owned);
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
        Err(e) => return storage_error(&e),
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
    };
    if let Some(Concat::Final(urls)) = concat {
        return tus.concatenate(id, info, &urls).await;
    }
    let deferred = get(&headers, "upload-defer-length") == Some("1");
    match get(&headers, "upload-length") {
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
    let paths = Paths::new(&tus.config.dir, &id);
    if let Err(e) = tus.begin(&paths, &info).await {
        return storage_error(&e);
    }
    tracing::info!(id, length = ?info.length, partial = info.partial, "tus upload created");
    let location = format!("/files/{id}");
    let has_body = get(&headers, "content-type").is_some_and(is_offset_stream);
    let mut res = if has_body {
        match tus.write_locked(&id, &paths, info, 0, &headers, body).await {
            Ok(mut res) => {
                *res.status_mut() = StatusCode::CREATED;
                res
            }
            Err(res) => return res,
        }
    } else {
        let mut res = answer(StatusCode::CREATED);
        set(&mut res, "upload-expires", tus.expires_of(&paths).await);
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
async fn upload(
    State(tus): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method == Method::OPTIONS {
        return options(State(tus)).await;
    }
    if let Err(res) = check_version(&headers) {
        return res;
    }
    if !valid_id(&id) {
        return refuse(StatusCode::NOT_FOUND, "no such upload");
    }
    let paths = Paths::new(&tus.config.dir, &id);
    let info = match info::load(&paths).await {
        Ok(Some(info)) if info.expired() => {
            info::remove(&paths).await;
            return refuse(StatusCode::GONE, "the upload expired");
        }
        Ok(Some(info)) => info,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "no such upload"),
        Err(e) => return storage_error(&e),
    };
    match method {
        Method::HEAD => tus.head(&paths, &info).await,
        Method::PATCH => tus.patch(&id, &paths, info, &headers, body).await,
        Method::DELETE => tus.delete(&id, &paths, &info).await,
        _ => {
            let mut res = refuse(StatusCode::METHOD_NOT_ALLOWED, "use HEAD, PATCH or DELETE");
            set(&mut res, "allow", "HEAD, PATCH, DELETE, OPTIONS");
            res
        }
    }
}

impl Tus {
    async fn begin(&self, paths: &Paths, info: &Info) -> std::io::Result<()> {
        if let Some(parent) = paths.data.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::File::create(&paths.data).await?;
        info::save(paths, info).await
    }

    async fn expires_of(&self, paths: &Paths) -> String {
        match info::load(paths).await {
            Ok(Some(info)) => info.expires_header(),
            _ => String::new(),
        }
    }

    async fn head(&self, paths: &Paths, info: &Info) -> Response {
        let offset = match info::offset(paths, info).await {
            Ok(o) => o,
            Err(e) => return storage_error(&e),
        };
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

    async fn patch(
        &self,
        id: &str,
        paths: &Paths,
        mut info: Info,
        headers: &HeaderMap,
        body: Body,
    ) -> Response {
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
                (None, Ok(n)) if n <= self.config.max_size => {
                    info.length = Some(n);
                    if let Err(e) = info::save(paths, &info).await {
                        return storage_error(&e);
                    }
                }
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
        match self
            .write_locked(id, paths, info, claimed, headers, body)
            .await
        {
            Ok(res) | Err(res) => res,
        }
    }

    async fn delete(&self, id: &str, paths: &Paths, info: &Info) -> Response {
        let Some(_lock) = self.lock(id) else {
            return refuse(StatusCode::LOCKED, "the upload is being written");
        };
        info::remove(paths).await;
        if let Some(stored) = &info.stored {
            let _ = tokio::fs::remove_file(stored).await;
        }
        tracing::info!(id, "tus upload terminated");
        answer(StatusCode::NO_CONTENT)
    }

    /// Marks an upload busy for as long as the guard lives; `None` if it already is.
    fn lock(&self, id: &str) -> Option<BusyGuard<'_>> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        busy.insert(id.to_owned()).then(|| BusyGuard {
            tus: self,
            id: id.to_owned(),
        })
    }

    /// Removes expired uploads, at most once a minute (any POST may trigger it).
    async fn sweep(&self) {
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = now_ms();
            if now.saturating_sub(*last) < 60_000 {
                return;
            }
            *last = now;
        }
        let dir = self.config.dir.join(info::TUS_DIR);
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if !valid_id(id) {
                continue;
            }
            let paths = Paths::new(&self.config.dir, id);
            if let Ok(Some(info)) = info::load(&paths).await
                && info.expired()
                && let Some(_lock) = self.lock(id)
            {
                tracing::info!(id, "expired tus upload removed");
                info::remove(&paths).await;
            }
        }
    }
}

struct BusyGuard<'a> {
    tus: &'a Tus,
    id: String,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.tus
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}
