//! One access-log line per request, at `info` on the `uptask_server::access` target: method,
//! path, status, request body bytes received, duration, and the tus upload it concerns; and
//! the same facts counted in the [`Metrics`].
//!
//! ```text
//! PATCH /files/4f0c... 204 5242880B 412ms upload=4f0c...
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;

use crate::metrics::{Completed, Ended, Metrics, route_of, upload_protocol};

pub(crate) async fn log(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = route_of(&path);
    if upload_protocol(&method, route).is_some() {
        metrics.receiving();
    }
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let req = req.map(|body| {
        Body::new(body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                counter.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        }))
    });
    let res = next.run(req).await;
    let upload = upload_of(&path).or_else(|| {
        // A creation names its upload in the Location it answers.
        res.headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(upload_of)
    });
    let took = started.elapsed();
    let received = received.load(Ordering::Relaxed);
    tracing::info!(
        target: "uptask_server::access",
        "{method} {path} {} {received}B {}ms{}",
        res.status().as_u16(),
        took.as_millis(),
        upload.map(|u| format!(" upload={u}")).unwrap_or_default()
    );
    metrics.ended(&Ended {
        route,
        method: &method,
        status: res.status(),
        seconds: took.as_secs_f64(),
        received,
        completed: res.extensions().get::<Completed>().is_some(),
    });
    res
}

/// The tus upload id in a `/files/ID` path or URL.
fn upload_of(path: &str) -> Option<String> {
    let (_, rest) = path.split_once("/files/")?;
    let id = rest.split(['/', '?']).next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::upload_of;

    #[test]
    fn the_upload_is_found_in_paths_and_locations() {
        assert_eq!(upload_of("/files/abc123").as_deref(), Some("abc123"));
        assert_eq!(
            upload_of("http://127.0.0.1:8080/files/abc123").as_deref(),
            Some("abc123")
        );
        assert_eq!(upload_of("/files/"), None);
        assert_eq!(upload_of("/upload"), None);
    }
}
