//! The uptask receiving server: `POST /upload` streams `multipart/form-data` parts into the
//! store, hashing them on the way, and answers with what it stored; `/files/` takes tus 1.0
//! resumable uploads (creation, creation-with-upload, creation-defer-length, termination,
//! checksum with sha1 and sha256, expiration, concatenation).
//!
//! The store is the local directory ([`ServerConfig::new`]) or an S3 bucket
//! ([`ServerConfig::s3`], [`S3Store`]) that any number of servers share: tus offsets, locks
//! and undelivered hook events live in the bucket, so every instance answers for every upload.
//!
//! It is the embedded default of `uptask upload FILE` (no URL), the server of `uptask serve`,
//! and a test peer. Build the router with [`app`] to call it without a socket:
//!
//! ```
//! # #[tokio::main] async fn main() {
//! use tower::ServiceExt; // for `oneshot`
//! let dir = tempfile::tempdir().unwrap();
//! let app = uptask_server::app(uptask_server::ServerConfig::new(dir.path()));
//! let req = axum::http::Request::get("/").body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 200);
//! # }
//! ```
//!
//! Guarantees:
//! - parts are streamed (never whole in memory) and hashed with sha256 on the way;
//! - stored names are generated, never taken from the client, so a filename cannot traverse;
//! - a file appears under its final name only once complete (written as a hidden `.part` and
//!   renamed, or completed as a multipart upload); an aborted or failed upload leaves nothing
//!   behind;
//! - a body over `max_size` is answered 413 before it is read when `Content-Length` says so;
//! - with a token, every route but CORS preflights requires `Authorization: Bearer <token>`;
//! - a request head over [`MAX_HEAD`] (16 KiB) is answered 431;
//! - every request is logged once (`info` on the `uptask_server::access` target).

mod access;
mod auth;
mod bucket;
mod client;
mod config;
mod cors;
mod direct;
mod error;
mod head;
mod hooks;
mod metrics;
mod storage;
mod tus;
mod unread;
mod upload;

use std::future::Future;

use axum::Router;
use axum::routing::{get, post};

pub use bucket::{DEFAULT_LOCK_LEASE, DEFAULT_PART_SIZE, S3Store, StoreUrlError};
pub use config::{
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_HOOKS_RETRY, DEFAULT_MAX_SIZE,
    DEFAULT_PRESIGN_EXPIRY, DEFAULT_TUS_EXPIRY, ServerConfig,
};
pub use head::MAX_HEAD;
pub use storage::StoredFile;
pub use upload::UploadReply;

/// Response headers a cross-origin page may read: tus's, `Location`, and the usual ones.
pub(crate) const EXPOSED_LIST: &str = "location, upload-offset, upload-length, upload-expires, \
    upload-metadata, upload-defer-length, upload-concat, tus-resumable, tus-version, \
    tus-extension, tus-max-size, tus-checksum-algorithm, etag, www-authenticate";

/// The router: `GET /` (a liveness line), `GET /metrics` (Prometheus text), `POST /upload` and
/// tus at `/files/`, with CORS and optional auth.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let router = uptask_server::app(uptask_server::ServerConfig::new(dir.path()).token("s3cret"));
/// # let _ = router;
/// ```
pub fn app(config: ServerConfig) -> Router {
    let cors = cors::layer(&config.allow_origins);
    let bucket = config
        .s3
        .as_ref()
        .map(|s3| std::sync::Arc::new(bucket::Bucket::new(s3)));
    let hooks = config.hooks_http.clone().map(|url| {
        let outbox = match &bucket {
            _ if config.discard => hooks::Outbox::None,
            Some(b) => hooks::Outbox::Bucket(std::sync::Arc::clone(b)),
            None => hooks::Outbox::Dir(config.dir.join(".hooks")),
        };
        hooks::Hooks::new(url, outbox, config.hooks_retry)
    });
    let state: config::State = std::sync::Arc::new(config);
    let tus = match &bucket {
        Some(b) => tus::routes(
            state.clone(),
            tus::BucketTus::new(std::sync::Arc::clone(b), b.part_size),
            hooks.clone(),
        ),
        None => tus::routes(state.clone(), tus::LocalTus::new(&state.dir), hooks.clone()),
    };
    let uploads = std::sync::Arc::new(config::Shared {
        config: state.clone(),
        bucket: bucket.clone(),
        hooks,
    });
    let direct = match bucket {
        Some(b) => direct::routes(std::sync::Arc::clone(&uploads), b),
        None => Router::new(),
    };
    let metrics = std::sync::Arc::new(metrics::Metrics::new());
    let exposition = std::sync::Arc::clone(&metrics);
    Router::new()
        .route("/", get(|| async { "uptask server\n" }))
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    exposition.render(),
                )
            }),
        )
        .route("/upload", post(upload::upload))
        .with_state(uploads)
        .merge(tus)
        .merge(direct)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn(head::limit))
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(state, tus::discovery))
        .layer(axum::middleware::from_fn_with_state(metrics, access::log))
}

/// Serves [`app`] on `listener` until `shutdown` completes, then takes no new connection and
/// lets the requests in flight finish for up to [`ServerConfig::drain_timeout`]; those still
/// running then are cut, and a tus upload among them keeps the bytes it stored.
///
/// Each connection is HTTP/1.1 with a deadline for the request head
/// ([`ServerConfig::header_timeout`]).
///
/// ```no_run
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let config = uptask_server::ServerConfig::new("./uptask-uploads");
/// uptask_server::serve(listener, config, uptask_server::shutdown_signal()).await
/// # }
/// ```
///
/// # Errors
/// When the storage directory cannot be created, or the S3 store does not answer or refuses
/// the keys.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    check_store(&config).await?;
    let header_timeout = config.header_timeout;
    let drain = config.drain_timeout;
    let router = app(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // The connections, so those still running after the drain can be cut.
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors or a connection reset before accept: wait, go on.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Each request knows its peer (for the hooks' remoteAddr).
                let service = hyper_util::service::TowerToHyperService::new(
                    tower::ServiceBuilder::new()
                        .map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                            req.extensions_mut().insert(hooks::Peer(peer));
                            req
                        })
                        .service(router.clone()),
                );
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?drain,
            "requests still in flight after the drain timeout are cut"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

/// Checks the store before the first request: the directory can be made, or the bucket
/// answers a listing with these keys.
///
/// ```
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// uptask_server::check_store(&uptask_server::ServerConfig::new(dir.path().join("up"))).await?;
/// assert!(dir.path().join("up").is_dir());
/// # Ok(()) }
/// ```
///
/// # Errors
/// What is wrong with the store, in one line.
pub async fn check_store(config: &ServerConfig) -> std::io::Result<()> {
    match &config.s3 {
        Some(s3) => bucket::Bucket::new(s3)
            .check()
            .await
            .map_err(|e| std::io::Error::other(e.message)),
        None if config.discard => Ok(()),
        None => tokio::fs::create_dir_all(&config.dir).await,
    }
}

/// Completes on SIGINT or SIGTERM (Ctrl-C only, off Unix).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing uploads in flight");
}
