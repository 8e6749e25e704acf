//! The `UploadTask` object the bindings hand out: the seed's methods over an upload running on
//! uptask's own runtime, and its outcome, which any number of callers may wait for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::shapes::{
    HeadersListener, NoticeListener, Progress, ProgressListener, UploadFailure, UploadNotice,
    UploadSuccess,
};

type Outcome = Result<UploadSuccess, UploadFailure>;

/// The outcome once settled, and a condition to wait on until then.
#[derive(Debug, Default)]
struct Settled {
    outcome: Mutex<Option<Outcome>>,
    ready: Condvar,
}

impl Settled {
    fn settle(&self, outcome: Outcome) {
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        self.ready.notify_all();
    }
}

/// Which listener kind an id belongs to, and uptask's own id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Progress,
    Headers,
    Notice,
}

/// A running upload: abort it, listen to it, pause and resume it (tus), wait for its outcome.
///
/// ```no_run
/// let task = uptask_ffi::upload_file(uptask_ffi::UploadRequest::new(
///     "http://127.0.0.1:8080/upload".into(), "photo.jpg".into(), "file".into()));
/// let done = task.wait(Some(60_000));
/// # let _ = done;
/// ```
#[derive(Debug, uniffi::Object)]
pub struct UploadTask {
    handle: Option<uptask::UploadHandle>,
    settled: Arc<Settled>,
    listeners: Mutex<HashMap<u64, (Kind, uptask::ListenerId)>>,
    next_id: AtomicU64,
}

impl UploadTask {
    /// Starts `options` and settles when the upload ends; a thread waits for it so that any
    /// number of callers can wait, with or without a deadline.
    pub(crate) fn start(options: uptask::UploadOptions) -> Arc<Self> {
        let task = uptask::blocking::upload_file(options);
        let handle = task.handle();
        let settled = Arc::new(Settled::default());
        let settles = Arc::clone(&settled);
        let waiter = std::thread::Builder::new()
            .name("uptask-ffi-wait".to_owned())
            .spawn(move || {
                let outcome = task
                    .wait()
                    .map(UploadSuccess::from)
                    .map_err(|e| UploadFailure::from(&e));
                settles.settle(outcome);
            });
        if let Err(e) = waiter {
            handle.abort();
            let e = uptask::UploadError::new(
                uptask::ErrorKind::Internal,
                format!("cannot start the thread that waits for the upload: {e}"),
            );
            settled.settle(Err(UploadFailure::from(&e)));
        }
        Arc::new(Self {
            handle: Some(handle),
            settled,
            listeners: Mutex::default(),
            next_id: AtomicU64::new(1),
        })
    }

    /// A task that failed before it started.
    pub(crate) fn failed(error: &uptask::UploadError) -> Arc<Self> {
        let settled = Arc::new(Settled::default());
        settled.settle(Err(UploadFailure::from(error)));
        Arc::new(Self {
            handle: None,
            settled,
            listeners: Mutex::default(),
            next_id: AtomicU64::new(1),
        })
    }

    fn keep(&self, kind: Kind, id: Option<uptask::ListenerId>) -> u64 {
        let Some(id) = id else { return 0 };
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Never reused: an old id must not remove a newer listener.
        let ours = self.next_id.fetch_add(1, Ordering::Relaxed);
        listeners.insert(ours, (kind, id));
        ours
    }

    /// Removes listener `id` of `kind`, or every listener of that kind.
    fn remove(&self, kind: Kind, id: Option<u64>) -> bool {
        let Some(handle) = &self.handle else {
            return false;
        };
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let chosen: Vec<u64> = listeners
            .iter()
            .filter(|(n, (k, _))| *k == kind && id.is_none_or(|id| id == **n))
            .map(|(n, _)| *n)
            .collect();
        let mut removed = false;
        for n in chosen {
            if let Some((_, uptask_id)) = listeners.remove(&n) {
                removed |= match kind {
                    Kind::Progress => handle.off_progress_update(uptask_id),
                    Kind::Headers => handle.off_headers_received(uptask_id),
                    Kind::Notice => handle.off_notice(uptask_id),
                };
            }
        }
        removed
    }
}

#[uniffi::export]
impl UploadTask {
    /// Stops the upload at any stage; its outcome is then "uploadFile:fail abort". `false`
    /// when it had already ended.
    pub fn abort(&self) -> bool {
        self.handle
            .as_ref()
            .is_some_and(uptask::UploadHandle::abort)
    }

    /// Adds a progress listener; the id removes it.
    pub fn on_progress_update(&self, listener: Arc<dyn ProgressListener>) -> u64 {
        let id = self
            .handle
            .as_ref()
            .map(|h| h.on_progress_update(move |p| listener.on_progress(Progress::from(p))));
        self.keep(Kind::Progress, id)
    }

    /// Removes the progress listener `id`, or all of them without one.
    pub fn off_progress_update(&self, id: Option<u64>) -> bool {
        self.remove(Kind::Progress, id)
    }

    /// Adds a listener for the response's headers; the id removes it.
    pub fn on_headers_received(&self, listener: Arc<dyn HeadersListener>) -> u64 {
        let id = self.handle.as_ref().map(|h| {
            h.on_headers_received(move |h| {
                listener.on_headers(
                    h.header
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
            })
        });
        self.keep(Kind::Headers, id)
    }

    /// Removes the headers listener `id`, or all of them without one.
    pub fn off_headers_received(&self, id: Option<u64>) -> bool {
        self.remove(Kind::Headers, id)
    }

    /// Adds a listener for the upload's notices (created, resumed, retrying); the id removes it.
    pub fn on_notice(&self, listener: Arc<dyn NoticeListener>) -> u64 {
        let id = self
            .handle
            .as_ref()
            .map(|h| h.on_notice(move |n| listener.on_notice(UploadNotice::from(n))));
        self.keep(Kind::Notice, id)
    }

    /// Removes the notice listener `id`, or all of them without one.
    pub fn off_notice(&self, id: Option<u64>) -> bool {
        self.remove(Kind::Notice, id)
    }

    /// Pauses a tus upload after its current chunk; `false` for other protocols or once ended.
    pub fn pause(&self) -> bool {
        self.handle
            .as_ref()
            .is_some_and(uptask::UploadHandle::pause)
    }

    /// Resumes a paused tus upload from the server's offset.
    pub fn resume(&self) -> bool {
        self.handle
            .as_ref()
            .is_some_and(uptask::UploadHandle::resume)
    }

    /// Whether the upload has ended.
    pub fn is_finished(&self) -> bool {
        self.settled
            .outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Blocks until the upload ends (or for `timeout_ms` at most: then `None`, the upload
    /// going on) and gives its outcome; every call gives the same one.
    ///
    /// # Errors
    /// The upload's failure.
    pub fn wait(&self, timeout_ms: Option<u64>) -> Result<Option<UploadSuccess>, UploadFailure> {
        let guard = self
            .settled
            .outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let guard = match timeout_ms {
            Some(ms) => {
                self.settled
                    .ready
                    .wait_timeout_while(guard, Duration::from_millis(ms), |o| o.is_none())
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => self
                .settled
                .ready
                .wait_while(guard, |o| o.is_none())
                .unwrap_or_else(PoisonError::into_inner),
        };
        match &*guard {
            Some(outcome) => outcome.clone().map(Some),
            None => Ok(None),
        }
    }
}
