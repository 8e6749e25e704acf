//! The events of one upload and the task that hands them to its listeners.
//!
//! The transport runs on one task and only *queues* events; a second task, the dispatcher, hands
//! them in batches to the listeners, which run off the async runtime (on native targets, on the
//! blocking pool). A slow or blocking listener therefore delays other events, never the upload,
//! even on a single-threaded runtime. The queue cannot grow without bound: the progress gate lets
//! through at most one event per whole percent plus about 20 per second.
//!
//! The outcome is decided in exactly one place, [`Shared::settle`], by an atomic state change.
//! `abort()` races with completion through the same state, so the caller that wins decides the
//! result and no listener is called once it is decided.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uptask_proto::progress::ProgressGate;

use crate::listeners::Listeners;
use crate::{
    ErrorKind, Header, HeadersReceived, Notice, ProgressUpdate, UploadError, UploadSuccess,
};

const RUNNING: u8 = 0;
const ABORTED: u8 = 1;
const DONE: u8 = 2;

/// What the transport reports, in order; `Done` is last.
#[derive(Debug)]
pub(crate) enum Event {
    Progress(ProgressUpdate),
    Headers(HeadersReceived),
    Notice(Notice),
    /// Boxed: the outcome is much larger than the events before it, and comes once.
    Done(Box<Result<UploadSuccess, UploadError>>),
}

/// What the task, its handles and the dispatcher share: the outcome's state, abort and pause,
/// and the listeners.
#[derive(Debug)]
pub(crate) struct Shared {
    state: AtomicU8,
    pub(crate) cancel: CancellationToken,
    /// `true` while paused; only resumable protocols watch it.
    pause: tokio::sync::watch::Sender<bool>,
    resumable: AtomicBool,
    pub(crate) progress: Listeners<ProgressUpdate>,
    pub(crate) headers: Listeners<HeadersReceived>,
    pub(crate) notices: Listeners<Notice>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU8::new(RUNNING),
            cancel: CancellationToken::new(),
            pause: tokio::sync::watch::Sender::new(false),
            resumable: AtomicBool::new(false),
            progress: Listeners::new(),
            headers: Listeners::new(),
            notices: Listeners::new(),
        }
    }

    pub(crate) fn running(&self) -> bool {
        self.state.load(Ordering::Acquire) == RUNNING
    }

    pub(crate) fn abort(&self) -> bool {
        let won = self
            .state
            .compare_exchange(RUNNING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if won {
            tracing::debug!("upload aborted by caller");
            self.cancel.cancel();
        }
        won
    }

    /// Decides the outcome: the transport's result, unless an abort got there first.
    pub(crate) fn settle(
        &self,
        result: Result<UploadSuccess, UploadError>,
    ) -> Result<UploadSuccess, UploadError> {
        match self.state.swap(DONE, Ordering::AcqRel) {
            RUNNING => result,
            _ => Err(UploadError::aborted()),
        }
    }

    /// Whether pause and resume apply (a protocol that continues where it stopped).
    pub(crate) fn set_resumable(&self, resumable: bool) {
        self.resumable.store(resumable, Ordering::Release);
    }

    /// Abort and pause, as the transport watches them.
    pub(crate) fn control(&self) -> Control {
        Control {
            cancel: self.cancel.clone(),
            paused: self.pause.subscribe(),
        }
    }

    fn has_listeners(&self) -> bool {
        !self.progress.is_empty() || !self.headers.is_empty() || !self.notices.is_empty()
    }

    /// Sets the pause flag; `true` if that changed it on a running, resumable upload.
    pub(crate) fn set_paused(&self, paused: bool) -> bool {
        if !self.running() || !self.resumable.load(Ordering::Acquire) {
            return false;
        }
        self.pause.send_if_modified(|p| {
            let changed = *p != paused;
            *p = paused;
            changed
        })
    }

    fn emit<T>(&self, listeners: &Listeners<T>, event: &T) {
        for cb in listeners.snapshot() {
            // A listener may have aborted the task: nothing is delivered after that.
            if !self.running() {
                return;
            }
            if catch_unwind(AssertUnwindSafe(|| cb(event))).is_err() {
                tracing::error!("an upload listener panicked; the upload goes on");
            }
        }
    }
}

/// The transport's side of the event queue: it offers byte counts and head arrival, and
/// finishes with the result.
#[derive(Debug)]
pub(crate) struct EventSink {
    tx: mpsc::UnboundedSender<Event>,
    gate: ProgressGate,
    headers_sent: bool,
    /// When the upload entered and left its client's queue.
    queued: Option<(std::time::Duration, std::time::Duration)>,
}

impl EventSink {
    /// `sent` body bytes have been accepted by the transport so far.
    pub(crate) fn progress(&mut self, sent: u64) {
        self.progress_at(sent, crate::backend::now());
    }

    /// `sent` body bytes had been accepted by the transport at `at` (on the backend clock).
    pub(crate) fn progress_at(&mut self, sent: u64, at: std::time::Duration) {
        if let Some(update) = self.gate.offer(sent, at) {
            let _ = self.tx.send(Event::Progress(update));
        }
    }

    /// The (final) response head arrived; reported at most once.
    pub(crate) fn headers(&mut self, header: &Header) {
        if !self.headers_sent {
            self.headers_sent = true;
            let _ = self.tx.send(Event::Headers(HeadersReceived {
                header: header.clone(),
            }));
        }
    }

    /// A source of unknown length has been read this far: the expected total grows.
    pub(crate) fn grow(&mut self, expected: u64) {
        self.gate.grow(expected);
    }

    /// A resumable upload restarts from the server's offset: the next count may be lower.
    pub(crate) fn rewind(&mut self) {
        self.gate.rewind();
    }

    /// The upload waited in its client's queue from `start` to `end`.
    pub(crate) fn dequeued(&mut self, start: std::time::Duration, end: std::time::Duration) {
        self.queued = Some((start, end));
    }

    /// When the upload entered and left its client's queue, if it had one.
    pub(crate) fn queued(&self) -> Option<(std::time::Duration, std::time::Duration)> {
        self.queued
    }

    pub(crate) fn notice(&mut self, notice: Notice) {
        let _ = self.tx.send(Event::Notice(notice));
    }

    pub(crate) fn done(self, result: Result<UploadSuccess, UploadError>) {
        let _ = self.tx.send(Event::Done(Box::new(result)));
    }
}

/// What the caller can do to a running upload besides listening: abort and pause.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub(crate) cancel: CancellationToken,
    pub(crate) paused: tokio::sync::watch::Receiver<bool>,
}

/// The transport's end of a new upload's events (counting to `expected` bytes), and the
/// dispatcher that hands them to the listeners and sends the outcome to `outcome`.
pub(crate) fn channel(
    shared: Arc<Shared>,
    expected: u64,
    outcome: oneshot::Sender<Result<UploadSuccess, UploadError>>,
) -> (EventSink, impl Future<Output = ()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = EventSink {
        tx,
        gate: ProgressGate::new(expected),
        headers_sent: false,
        queued: None,
    };
    (sink, dispatch(shared, rx, outcome))
}

async fn dispatch(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Event>,
    tx: oneshot::Sender<Result<UploadSuccess, UploadError>>,
) {
    let mut outcome = None;
    while outcome.is_none() {
        let Some(first) = rx.recv().await else {
            break;
        };
        // Everything queued so far goes to the listeners in one hop off the runtime.
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(event) = next {
            match event {
                Event::Done(result) => {
                    outcome = Some(*result);
                    break;
                }
                other => batch.push(other),
            }
            next = rx.try_recv().ok();
        }
        if !batch.is_empty() && shared.has_listeners() {
            let shared = Arc::clone(&shared);
            crate::backend::run_listeners(move || {
                for event in batch {
                    match event {
                        Event::Progress(p) => shared.emit(&shared.progress, &p),
                        Event::Headers(h) => shared.emit(&shared.headers, &h),
                        Event::Notice(n) => shared.emit(&shared.notices, &n),
                        Event::Done(_) => {}
                    }
                }
            })
            .await;
        }
    }
    let result = outcome.unwrap_or_else(|| {
        Err(UploadError::new(
            ErrorKind::Internal,
            "the upload stopped without a result (its runtime shut down?)",
        ))
    });
    let _ = tx.send(shared.settle(result));
}
