//! tus 1.0 client behaviour: request, response and event order against a scripted server (the
//! scenarios of tus-js-client's conformance contract that apply to uptask), then interop with
//! independent servers.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::panic,
    clippy::needless_pass_by_value,
    missing_debug_implementations,
    reason = "test-only helpers: a failed setup should stop the test loudly"
)]

#[path = "../common/mod.rs"]
mod common;
mod contract;
mod interop;
mod script;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use common::payload;
use uptask::{Notice, TusOptions, UploadError, UploadOptions, UploadSuccess, upload_file};

/// A tus upload of `data` to `endpoint`, retries without waiting.
pub fn tus_opts(endpoint: &str, data: &[u8], tus: TusOptions) -> UploadOptions {
    UploadOptions::from_bytes(endpoint, data.to_vec(), "file")
        .file_name("hello.txt")
        .timeout(Duration::from_secs(20))
        .tus(tus)
}

/// Retries right away, twice.
pub fn quick() -> TusOptions {
    TusOptions::new().retry_delays([Duration::ZERO, Duration::ZERO])
}

/// Events in order: `progress:SENT:TOTAL`, `headers`, and notices as `created`, `resumed:N`,
/// `retrying:N`.
#[derive(Debug, Clone, Default)]
pub struct Trace(Arc<Mutex<Vec<String>>>);

impl Trace {
    pub fn attach(&self, task: &uptask::UploadTask) {
        let t = self.clone();
        task.on_progress_update(move |p| {
            t.push(format!(
                "progress:{}:{}",
                p.total_bytes_sent, p.total_bytes_expected_to_send
            ));
        });
        let t = self.clone();
        task.on_headers_received(move |_| t.push("headers".into()));
        let t = self.clone();
        task.on_notice(move |n| {
            t.push(match n {
                Notice::UploadCreated { .. } => "created".into(),
                Notice::Resumed { offset } => format!("resumed:{offset}"),
                Notice::Retrying { attempt, .. } => format!("retrying:{attempt}"),
                _ => "other".into(),
            });
        });
    }

    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }

    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Events without progress samples (which may come in any number).
    pub fn milestones(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|e| !e.starts_with("progress:"))
            .collect()
    }

    /// The byte counts of the progress events.
    pub fn sent(&self) -> Vec<u64> {
        self.events()
            .iter()
            .filter_map(|e| e.strip_prefix("progress:"))
            .map(|e| e.split(':').next().unwrap().parse().unwrap())
            .collect()
    }
}

/// Runs an upload to its outcome, with its trace.
pub async fn run(opts: UploadOptions) -> (Result<UploadSuccess, UploadError>, Trace) {
    let trace = Trace::default();
    let task = upload_file(opts);
    trace.attach(&task);
    let outcome = task.await;
    (outcome, trace)
}
