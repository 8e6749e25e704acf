//! What `GET /metrics` tells an operator, in the Prometheus text format: uploads started,
//! completed and failed (by protocol), upload requests in progress, body bytes received, and
//! request durations by route, method and status. One registry per [`app`](crate::app), so
//! two servers in one process keep their own counts.
//!
//! - started: every `POST /upload`; a tus upload when its creation is answered 201;
//! - completed: a `POST /upload` answered 2xx; a tus upload when its last byte is stored;
//! - failed: an upload request (`POST /upload`, tus `POST` and `PATCH`) answered 4xx or 5xx;
//! - in progress: upload requests being received now.

use std::sync::atomic::AtomicU64;

use axum::http::{Method, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A response extension: this request stored the last byte of a tus upload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Completed;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: &'static str,
}

type Durations = Family<RequestLabels, Histogram, fn() -> Histogram>;

pub(crate) struct Metrics {
    registry: Registry,
    durations: Durations,
    received: Counter<u64, AtomicU64>,
    started: Family<ProtocolLabels, Counter>,
    completed: Family<ProtocolLabels, Counter>,
    failed: Family<ProtocolLabels, Counter>,
    in_progress: Gauge,
}

/// Which kind of route a path is, as a label with few values (never the upload's id).
pub(crate) fn route_of(path: &str) -> &'static str {
    match path {
        "/" => "/",
        "/upload" => "/upload",
        "/metrics" => "/metrics",
        "/files" | "/files/" => "/files/",
        p if p.starts_with("/files/") => "/files/{id}",
        _ => "other",
    }
}

/// The protocol of an upload request, if it is one: `POST /upload`, tus `POST` and `PATCH`.
pub(crate) fn upload_protocol(method: &Method, route: &str) -> Option<&'static str> {
    match (method.as_str(), route) {
        ("POST", "/upload") => Some("multipart"),
        ("POST", "/files/") | ("PATCH", "/files/{id}") => Some("tus"),
        _ => None,
    }
}

fn buckets() -> Histogram {
    // 1 ms to about 4 minutes.
    Histogram::new(exponential_buckets(0.001, 4.0, 10))
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("uptask");
        let durations: Durations = Family::new_with_constructor(buckets);
        let received = Counter::default();
        let started = Family::default();
        let completed = Family::default();
        let failed = Family::default();
        let in_progress = Gauge::default();
        registry.register(
            "request_duration_seconds",
            "Time from a request's head to its response, by route, method and status",
            durations.clone(),
        );
        registry.register(
            "received_bytes",
            "Request body bytes received",
            received.clone(),
        );
        registry.register("uploads_started", "Uploads started", started.clone());
        registry.register(
            "uploads_completed",
            "Uploads whose last byte was stored",
            completed.clone(),
        );
        registry.register(
            "uploads_failed",
            "Upload requests refused or failed (4xx, 5xx)",
            failed.clone(),
        );
        registry.register(
            "uploads_in_progress",
            "Upload requests being received now",
            in_progress.clone(),
        );
        Self {
            registry,
            durations,
            received,
            started,
            completed,
            failed,
            in_progress,
        }
    }

    /// An upload request's body starts coming in.
    pub(crate) fn receiving(&self) {
        self.in_progress.inc();
    }

    /// A request ended: what it was, how it went, and what it received.
    pub(crate) fn ended(&self, ended: &Ended<'_>) {
        self.durations
            .get_or_create(&RequestLabels {
                route: ended.route,
                method: ended.method.as_str().to_owned(),
                status: ended.status.as_u16(),
            })
            .observe(ended.seconds);
        self.received.inc_by(ended.received);
        let Some(protocol) = upload_protocol(ended.method, ended.route) else {
            return;
        };
        self.in_progress.dec();
        let labels = ProtocolLabels { protocol };
        let multipart = protocol == "multipart";
        if multipart || (ended.method == Method::POST && ended.status == StatusCode::CREATED) {
            self.started.get_or_create(&labels).inc();
        }
        if ended.status.is_client_error() || ended.status.is_server_error() {
            self.failed.get_or_create(&labels).inc();
        } else if (multipart && ended.status.is_success()) || ended.completed {
            self.completed.get_or_create(&labels).inc();
        }
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// One finished request, as [`Metrics::ended`] counts it.
pub(crate) struct Ended<'a> {
    pub(crate) route: &'static str,
    pub(crate) method: &'a Method,
    pub(crate) status: StatusCode,
    pub(crate) seconds: f64,
    pub(crate) received: u64,
    pub(crate) completed: bool,
}
