//! The `UploadTask` object the bindings hand out: the seed's methods over an upload running on
//! uptask's own runtime, and its outcome, which any number of callers may wait for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::replay::{History, Keep, Late};
use crate::shapes::{
    HeadersListener, NoticeListener, Progress, ProgressListener, SettledListener, UploadFailure,
    UploadNotice, UploadSuccess,
};

type Outcome = Result<UploadSuccess, UploadFailure>;

/// The outcome once settled, a condition to wait on until then, and who is to be told.
#[derive(Default)]
struct Settled {
    outcome: Mutex<Option<Outcome>>,
    ready: Condvar,
    listeners: Mutex<Vec<Arc<dyn SettledListener>>>,
}

impl std::fmt::Debug for Settled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settled")
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl Settled {
    fn settle(&self, outcome: Outcome) {
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        self.ready.notify_all();
        // Taken under the lock `listen` checks by, so each listener is told exactly once;
        // told outside it, so a listener may call back into the task.
        let told = std::mem::take(
            &mut *self
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for listener in told {
            listener.on_settled();
        }
    }

    fn listen(&self, listener: Arc<dyn SettledListener>) {
        {
            let mut listeners = self
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let ended = self
                .outcome
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some();
            if !ended {
                listeners.push(listener);
                return;
            }
        }
        listener.on_settled();
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
    /// What each kind of listener added late has missed.
    progress: Arc<History<Progress>>,
    headers: Arc<History<HashMap<String, String>>>,
    notices: Arc<History<UploadNotice>>,
    listeners: Mutex<HashMap<u64, (Kind, uptask::ListenerId)>>,
    next_id: AtomicU64,
}

impl UploadTask {
    /// Starts `options` and settles when the upload ends; a thread waits for it so that any
    /// number of callers can wait, with or without a deadline.
    pub(crate) fn start(options: uptask::UploadOptions) -> Arc<Self> {
        // Recorders first, before the upload starts: uptask calls listeners in the order they
        // were added, and a small upload can be over before `upload_file` returns.
        let progress = History::new(Keep::Last);
        let headers = History::new(Keep::All);
        let notices = History::new(Keep::All);
        let (p, h, n) = (
            Arc::clone(&progress),
            Arc::clone(&headers),
            Arc::clone(&notices),
        );
        let task = uptask::blocking::upload_file_with(options, move |handle| {
            handle.on_progress_update(move |u| p.record(Progress::from(u)));
            handle.on_headers_received(move |r| {
                h.record(
                    r.header
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
            });
            handle.on_notice(move |notice| n.record(UploadNotice::from(notice)));
        });
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
            progress,
            headers,
            notices,
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
            progress: History::new(Keep::Last),
            headers: History::new(Keep::All),
            notices: History::new(Keep::All),
            listeners: Mutex::default(),
            next_id: AtomicU64::new(1),
        })
    }

    /// Adds `late` to uptask's listeners of `kind` through `add`, then gives it what it
    /// missed; its id here.
    fn listen<T: Clone>(
        &self,
        kind: Kind,
        late: &Arc<Late<T>>,
        add: impl FnOnce(&uptask::UploadHandle, Arc<Late<T>>) -> uptask::ListenerId,
    ) -> u64 {
        let id = self.handle.as_ref().map(|h| add(h, Arc::clone(late)));
        late.catch_up();
        self.keep(kind, id)
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

    /// Adds a progress listener; the id removes it. A listener added once the upload has
    /// begun is first given the latest update (on the caller's thread).
    pub fn on_progress_update(&self, listener: Arc<dyn ProgressListener>) -> u64 {
        let late = Late::new(&self.progress, move |p: &Progress| {
            listener.on_progress(p.clone());
        });
        self.listen(Kind::Progress, &late, |h, live| {
            h.on_progress_update(move |_| live.catch_up())
        })
    }

    /// Removes the progress listener `id`, or all of them without one.
    pub fn off_progress_update(&self, id: Option<u64>) -> bool {
        self.remove(Kind::Progress, id)
    }

    /// Adds a listener for the response's headers; the id removes it. A listener added after
    /// they came is given them at once (on the caller's thread).
    pub fn on_headers_received(&self, listener: Arc<dyn HeadersListener>) -> u64 {
        let late = Late::new(&self.headers, move |h: &HashMap<String, String>| {
            listener.on_headers(h.clone());
        });
        self.listen(Kind::Headers, &late, |h, live| {
            h.on_headers_received(move |_| live.catch_up())
        })
    }

    /// Removes the headers listener `id`, or all of them without one.
    pub fn off_headers_received(&self, id: Option<u64>) -> bool {
        self.remove(Kind::Headers, id)
    }

    /// Adds a listener for the upload's notices (created, resumed, retrying); the id removes
    /// it. A listener added late is first given the notices so far (on the caller's thread).
    pub fn on_notice(&self, listener: Arc<dyn NoticeListener>) -> u64 {
        let late = Late::new(&self.notices, move |n: &UploadNotice| {
            listener.on_notice(n.clone());
        });
        self.listen(Kind::Notice, &late, |h, live| {
            h.on_notice(move |_| live.catch_up())
        })
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

    /// Tells `listener` once that the upload has ended (at once, if it has).
    pub fn on_settled(&self, listener: Arc<dyn SettledListener>) {
        self.settled.listen(listener);
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
