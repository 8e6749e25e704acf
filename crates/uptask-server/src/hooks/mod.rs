//! Hooks, tusd's model: `POST` JSON to one receiver (`--hooks-http URL`).
//!
//! - `pre-create` asks before an upload starts: a 2xx lets it (its JSON may set the `key` and
//!   the `metadata`); any other status goes back to the client with its body.
//! - `post-finish` and `post-terminate` are told at least once: each event is written to an
//!   outbox in the store before it is sent, sent with backoff, and removed once the receiver
//!   answers 2xx. Whatever is still in the outbox (a receiver down for a while, an instance
//!   killed) is sent again by whichever instance sweeps it next, so an event can arrive twice
//!   but is never lost while the store keeps it.

// Refusals are whole HTTP answers, made once per request: boxing them would buy nothing.
#![expect(clippy::result_large_err, reason = "refusals are axum responses")]

mod form;
mod outbox;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;

use crate::client::error_chain;
use crate::error::ApiError;
pub(crate) use form::Told;
pub(crate) use outbox::Outbox;

/// The longest a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Delays between the first attempts at a post event; after them the outbox sweep retries.
const BACKOFF: [Duration; 4] = [
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// The peer of a connection, as the server accepted it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) std::net::SocketAddr);

/// What a hook is told of the request that caused it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestFacts {
    method: String,
    uri: String,
    remote_addr: String,
    header: BTreeMap<String, Vec<String>>,
}

impl RequestFacts {
    pub(crate) fn of(parts: &axum::http::request::Parts) -> Self {
        let mut header: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &parts.headers {
            // The receiver learns who asked, never the caller's secrets.
            if name == axum::http::header::AUTHORIZATION || name == axum::http::header::COOKIE {
                continue;
            }
            header
                .entry(name.as_str().to_owned())
                .or_default()
                .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        Self {
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            remote_addr: parts
                .extensions
                .get::<Peer>()
                .map(|p| p.0.to_string())
                .unwrap_or_default(),
            header,
        }
    }
}

/// Where an upload is (or goes) in the store.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct StorageFacts {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
}

/// What a hook is told of the upload.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct UploadFacts {
    pub(crate) id: String,
    pub(crate) size: Option<u64>,
    pub(crate) offset: u64,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) storage: StorageFacts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256: Option<String>,
}

/// One event, as the receiver gets it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Event {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) upload: UploadFacts,
    pub(crate) request: RequestFacts,
}

/// What a pre-create receiver may decide, besides yes or no.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Changes {
    pub(crate) key: Option<String>,
    pub(crate) metadata: Option<BTreeMap<String, String>>,
}

/// The receiver and the outbox of undelivered events.
#[derive(Debug)]
pub(crate) struct Hooks {
    url: String,
    client: crate::client::Client,
    outbox: Outbox,
    sweep_every: Duration,
}

impl Hooks {
    pub(crate) fn new(url: String, outbox: Outbox, sweep_every: Duration) -> Arc<Self> {
        let hooks = Arc::new(Self {
            url,
            client: crate::client::new(),
            outbox,
            sweep_every,
        });
        // A weak handle: the sweep ends with the server. Without a runtime (a router built
        // outside one) only the first attempts are made.
        let weak = Arc::downgrade(&hooks);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime: undelivered hook events are not sent again");
            return hooks;
        };
        runtime.spawn(async move {
            loop {
                let every = match weak.upgrade() {
                    Some(h) => h.sweep_every,
                    None => return,
                };
                tokio::time::sleep(every).await;
                match weak.upgrade() {
                    Some(h) => h.redeliver().await,
                    None => return,
                }
            }
        });
        hooks
    }

    /// Asks the receiver whether an upload may start; `Err` is the answer for the client.
    pub(crate) async fn pre_create(&self, event: &Event) -> Result<Changes, Response> {
        let (status, body) = self.send(event).await.map_err(|e| {
            tracing::error!(error = e, "pre-create hook unreachable");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the pre-create hook could not be asked: {e}"),
            )
            .into_response()
        })?;
        if !status.is_success() {
            tracing::info!(%status, "pre-create hook refused an upload");
            return Err((status, body).into_response());
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Changes::default());
        }
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "the pre-create hook answered JSON that is not {{\"key\", \"metadata\"}}: {e}"
                ),
            )
            .into_response()
        })
    }

    /// Tells the receiver of a finished or terminated upload, at least once, in the
    /// background.
    pub(crate) fn post(self: &Arc<Self>, event: Event) {
        let hooks = Arc::clone(self);
        tokio::spawn(async move {
            let json = match serde_json::to_vec(&event) {
                Ok(j) => Bytes::from(j),
                Err(e) => return tracing::error!(error = %e, "cannot encode a hook event"),
            };
            let name = match hooks.outbox.put(json.clone()).await {
                Ok(name) => Some(name),
                Err(e) => {
                    tracing::warn!(
                        error = e.message,
                        "hook event not kept: sent from memory only"
                    );
                    None
                }
            };
            for delay in std::iter::once(Duration::ZERO).chain(BACKOFF) {
                tokio::time::sleep(delay).await;
                if hooks.deliver(&json).await {
                    if let Some(name) = &name {
                        hooks.outbox.delete(name).await;
                    }
                    return;
                }
            }
            tracing::warn!(
                kind = event.kind,
                "hook receiver down: the event waits in the outbox"
            );
        });
    }

    /// Sends what waits in the outbox for longer than the first attempts take.
    async fn redeliver(&self) {
        // Past the first attempts of the instance that wrote it (if it still runs).
        let old_enough = BACKOFF.iter().sum::<Duration>() + self.sweep_every;
        for (name, json) in self.outbox.waiting(old_enough).await {
            if self.deliver(&json).await {
                self.outbox.delete(&name).await;
            } else {
                // Down still: the rest waits for the next sweep.
                return;
            }
        }
    }

    async fn deliver(&self, json: &Bytes) -> bool {
        match self.send_raw(json.clone()).await {
            Ok((status, _)) if status.is_success() => true,
            Ok((status, _)) => {
                tracing::warn!(%status, "hook receiver refused an event");
                false
            }
            Err(e) => {
                tracing::debug!(error = e, "hook receiver unreachable");
                false
            }
        }
    }

    async fn send(&self, event: &Event) -> Result<(StatusCode, Bytes), String> {
        let json = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        self.send_raw(Bytes::from(json)).await
    }

    async fn send_raw(&self, json: Bytes) -> Result<(StatusCode, Bytes), String> {
        let request = axum::http::Request::post(&self.url)
            .header("content-type", "application/json")
            .body(
                http_body_util::Full::new(json)
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| error_chain(&e))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
    }
}

/// A key a hook chose, checked: relative, no `.` or `..` segment, no segment starting with a
/// dot (the server's own state lives there), no control characters, at most 1024 bytes.
pub(crate) fn checked_key(key: &str) -> Result<&str, Response> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && !key.starts_with('/')
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key.split('/').all(|s| !s.is_empty() && !s.starts_with('.'));
    if ok {
        Ok(key)
    } else {
        Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "the pre-create hook chose the key {key:?}: not a relative key without . segments"
            ),
        )
        .into_response())
    }
}

/// The metadata a tus client sent, decoded for a hook (values that are not UTF-8 are left
/// out).
pub(crate) fn metadata_of(header: Option<&str>) -> BTreeMap<String, String> {
    header
        .and_then(|m| uptask_proto::tus::decode_metadata(m).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| Some((k, String::from_utf8(v).ok()?)))
        .collect()
}
