//! `UploadTask`, its handle, and the dispatch of events to listeners.
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
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uptask_proto::progress::ProgressGate;

use crate::listeners::{Callback, ListenerId, Listeners};
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

#[derive(Debug)]
pub(crate) struct Shared {
    state: AtomicU8,
    pub(crate) cancel: CancellationToken,
    /// `true` while paused; only resumable protocols watch it.
    pause: tokio::sync::watch::Sender<bool>,
    resumable: AtomicBool,
    progress: Listeners<ProgressUpdate>,
    headers: Listeners<HeadersReceived>,
    notices: Listeners<Notice>,
}

impl Shared {
    fn new() -> Self {
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

    fn running(&self) -> bool {
        self.state.load(Ordering::Acquire) == RUNNING
    }

    fn abort(&self) -> bool {
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
    fn settle(
        &self,
        result: Result<UploadSuccess, UploadError>,
    ) -> Result<UploadSuccess, UploadError> {
        match self.state.swap(DONE, Ordering::AcqRel) {
            RUNNING => result,
            _ => Err(UploadError::aborted()),
        }
    }

    fn has_listeners(&self) -> bool {
        !self.progress.is_empty() || !self.headers.is_empty() || !self.notices.is_empty()
    }

    /// Sets the pause flag; `true` if that changed it on a running, resumable upload.
    fn set_paused(&self, paused: bool) -> bool {
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

/// Starts an upload and returns its task at once (JavaScript semantics: the upload runs whether or
/// not the task is awaited; dropping the task does not cancel it, [`UploadTask::abort`] does).
///
/// Options are checked first: invalid input ends the task with an
/// [`ErrorKind::InvalidInput`] error before any byte goes out.
///
/// On native targets the upload runs on the current tokio runtime, or on a small runtime of
/// uptask's own when called outside one.
///
/// ```no_run
/// # async fn demo() -> Result<(), uptask::UploadError> {
/// use uptask::{upload_file, UploadOptions};
///
/// let task = upload_file(UploadOptions::new("http://127.0.0.1:8080/upload", "photo.jpg", "file"));
/// task.on_progress_update(|p| eprintln!("{}% ({} of {} bytes)", p.progress, p.total_bytes_sent, p.total_bytes_expected_to_send));
/// task.on_headers_received(|h| eprintln!("server answered with {:?}", h.header));
/// let done = task.await?;
/// println!("{} {}", done.status_code, done.data);
/// # Ok(()) }
/// ```
#[must_use = "the upload runs anyway; keep the task to learn its outcome"]
#[expect(
    clippy::needless_pass_by_value,
    reason = "the options are the upload's: a builder value handed over, as in WeChat's call"
)]
pub fn upload_file(options: crate::UploadOptions) -> UploadTask {
    let shared = Arc::new(Shared::new());
    let (tx, rx) = oneshot::channel();
    let task = UploadTask {
        handle: UploadHandle {
            shared: Arc::clone(&shared),
        },
        rx,
    };
    let plan = match crate::prepare::prepare(&options) {
        Ok(plan) => plan,
        Err(err) => {
            tracing::debug!(error = %err, "upload rejected before sending");
            let _ = tx.send(shared.settle(Err(err)));
            return task;
        }
    };
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let sink = EventSink {
        tx: ev_tx,
        gate: ProgressGate::new(plan.expected()),
        headers_sent: false,
        queued: None,
    };
    shared.resumable.store(
        matches!(plan.kind, crate::prepare::Kind::Tus(_)),
        Ordering::Release,
    );
    let control = Control {
        cancel: shared.cancel.clone(),
        paused: shared.pause.subscribe(),
    };
    let dispatcher = dispatch(Arc::clone(&shared), ev_rx, tx);
    if let Err(err) = crate::backend::start(plan, sink, control, dispatcher) {
        // The dispatcher (and its sender) went down with the failed spawn; report directly.
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(shared.settle(Err(err)));
        return UploadTask {
            handle: task.handle,
            rx,
        };
    }
    task
}

/// A running upload: a `Future` of its outcome, with the seed's listener and abort methods.
///
/// Get a [`UploadHandle`] with [`UploadTask::handle`] to keep control after moving the task into
/// an `.await`.
#[derive(Debug)]
#[must_use = "the upload runs anyway; await the task to learn its outcome"]
pub struct UploadTask {
    handle: UploadHandle,
    rx: oneshot::Receiver<Result<UploadSuccess, UploadError>>,
}

impl UploadTask {
    /// A cheap, cloneable handle with the same abort and listener methods, valid after the task
    /// is awaited (abort then returns `false`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// // A server that accepts and never answers.
    /// let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let url = format!("http://{}/upload", silent.local_addr().unwrap());
    /// let task = uptask::upload_file(uptask::UploadOptions::from_bytes(url, vec![0], "f"));
    /// let handle = task.handle();
    /// let waiter = tokio::spawn(task);
    /// handle.abort();
    /// assert!(waiter.await.unwrap().unwrap_err().is_aborted());
    /// # }
    /// ```
    pub fn handle(&self) -> UploadHandle {
        self.handle.clone()
    }

    /// See [`UploadHandle::abort`].
    pub fn abort(&self) -> bool {
        self.handle.abort()
    }

    /// See [`UploadHandle::on_progress_update`].
    pub fn on_progress_update(
        &self,
        cb: impl Fn(&ProgressUpdate) + Send + Sync + 'static,
    ) -> ListenerId {
        self.handle.on_progress_update(cb)
    }

    /// See [`UploadHandle::off_progress_update`].
    pub fn off_progress_update(&self, id: ListenerId) -> bool {
        self.handle.off_progress_update(id)
    }

    /// See [`UploadHandle::off_progress_update_all`].
    pub fn off_progress_update_all(&self) {
        self.handle.off_progress_update_all();
    }

    /// See [`UploadHandle::on_headers_received`].
    pub fn on_headers_received(
        &self,
        cb: impl Fn(&HeadersReceived) + Send + Sync + 'static,
    ) -> ListenerId {
        self.handle.on_headers_received(cb)
    }

    /// See [`UploadHandle::off_headers_received`].
    pub fn off_headers_received(&self, id: ListenerId) -> bool {
        self.handle.off_headers_received(id)
    }

    /// See [`UploadHandle::off_headers_received_all`].
    pub fn off_headers_received_all(&self) {
        self.handle.off_headers_received_all();
    }

    /// See [`UploadHandle::pause`].
    pub fn pause(&self) -> bool {
        self.handle.pause()
    }

    /// See [`UploadHandle::resume`].
    pub fn resume(&self) -> bool {
        self.handle.resume()
    }

    /// See [`UploadHandle::on_notice`].
    pub fn on_notice(&self, cb: impl Fn(&Notice) + Send + Sync + 'static) -> ListenerId {
        self.handle.on_notice(cb)
    }

    /// See [`UploadHandle::off_notice`].
    pub fn off_notice(&self, id: ListenerId) -> bool {
        self.handle.off_notice(id)
    }

    /// Taro's chainable alias of [`on_progress_update`](Self::on_progress_update).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// task.progress(|p| println!("{}%", p.progress)).headers_received(|h| println!("{:?}", h.header));
    /// # task.abort();
    /// # }
    /// ```
    pub fn progress(&self, cb: impl Fn(&ProgressUpdate) + Send + Sync + 'static) -> &Self {
        self.handle.on_progress_update(cb);
        self
    }

    /// Taro's chainable alias of [`on_headers_received`](Self::on_headers_received).
    pub fn headers_received(&self, cb: impl Fn(&HeadersReceived) + Send + Sync + 'static) -> &Self {
        self.handle.on_headers_received(cb);
        self
    }
}

impl Future for UploadTask {
    type Output = Result<UploadSuccess, UploadError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| {
            r.unwrap_or_else(|_| {
                Err(UploadError::new(
                    ErrorKind::Internal,
                    "the upload stopped without a result (its runtime shut down?)",
                ))
            })
        })
    }
}

/// Controls an upload from anywhere: `Clone + Send + Sync`, and valid after the task finished.
///
/// ```
/// # #[tokio::main] async fn main() {
/// let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let url = format!("http://{}/upload", silent.local_addr().unwrap());
/// let task = uptask::upload_file(uptask::UploadOptions::from_bytes(url, vec![0], "f"));
/// let handle = task.handle();
/// std::thread::spawn(move || { handle.abort(); }).join().unwrap();
/// assert!(task.await.unwrap_err().is_aborted());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct UploadHandle {
    shared: Arc<Shared>,
}

impl UploadHandle {
    /// Aborts the upload: the connection is closed and the outcome is `uploadFile:fail abort`.
    ///
    /// Returns `true` if this call aborted it; `false` if it had already finished or been aborted.
    /// Safe to call from inside a listener.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let url = format!("http://{}/", silent.local_addr().unwrap());
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes(url, vec![0], "f"));
    /// let handle = task.handle();
    /// assert!(handle.abort());
    /// assert!(!handle.abort()); // idempotent
    /// # }
    /// ```
    pub fn abort(&self) -> bool {
        self.shared.abort()
    }

    /// Listens to progress updates; returns an id for [`off_progress_update`](Self::off_progress_update).
    /// A listener added late gets no replay of earlier events.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// let id = handle.on_progress_update(|p| println!("{}% of {} bytes", p.progress, p.total_bytes_expected_to_send));
    /// # let _ = id; handle.abort(); }
    /// ```
    pub fn on_progress_update(
        &self,
        cb: impl Fn(&ProgressUpdate) + Send + Sync + 'static,
    ) -> ListenerId {
        self.shared
            .progress
            .add(Arc::new(cb) as Callback<ProgressUpdate>)
    }

    /// Removes one progress listener (from the next event on); `false` if it was not registered.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// let id = handle.on_progress_update(|_| {});
    /// assert!(handle.off_progress_update(id));
    /// # handle.abort(); }
    /// ```
    pub fn off_progress_update(&self, id: ListenerId) -> bool {
        self.shared.progress.remove(id)
    }

    /// Removes every progress listener (WeChat's `offProgressUpdate()` with no argument).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// handle.on_progress_update(|_| {});
    /// handle.on_progress_update(|_| {});
    /// handle.off_progress_update_all();
    /// # handle.abort(); }
    /// ```
    pub fn off_progress_update_all(&self) {
        self.shared.progress.clear();
    }

    /// Listens to the response head: called at most once, before the outcome, for any status.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// handle.on_headers_received(|h| println!("etag: {:?}", h.header.get("etag")));
    /// # handle.abort(); }
    /// ```
    pub fn on_headers_received(
        &self,
        cb: impl Fn(&HeadersReceived) + Send + Sync + 'static,
    ) -> ListenerId {
        self.shared
            .headers
            .add(Arc::new(cb) as Callback<HeadersReceived>)
    }

    /// Removes one headers listener; `false` if it was not registered.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// let id = handle.on_headers_received(|_| {});
    /// assert!(handle.off_headers_received(id));
    /// assert!(!handle.off_headers_received(id));
    /// # handle.abort(); }
    /// ```
    pub fn off_headers_received(&self, id: ListenerId) -> bool {
        self.shared.headers.remove(id)
    }

    /// Removes every headers listener.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// handle.on_headers_received(|_| {});
    /// handle.off_headers_received_all();
    /// # handle.abort(); }
    /// ```
    pub fn off_headers_received_all(&self) {
        self.shared.headers.clear();
    }

    /// Chainable alias of [`on_progress_update`](Self::on_progress_update).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// handle.progress(|p| println!("{}%", p.progress)).headers_received(|_| println!("head"));
    /// # handle.abort(); }
    /// ```
    pub fn progress(&self, cb: impl Fn(&ProgressUpdate) + Send + Sync + 'static) -> &Self {
        self.on_progress_update(cb);
        self
    }

    /// Chainable alias of [`on_headers_received`](Self::on_headers_received).
    pub fn headers_received(&self, cb: impl Fn(&HeadersReceived) + Send + Sync + 'static) -> &Self {
        self.on_headers_received(cb);
        self
    }

    /// Pauses a resumable (tus) upload: the request in flight is dropped and its connection
    /// closed; nothing is sent until [`resume`](Self::resume). Returns `false` when there is
    /// nothing to pause: a multipart upload (it cannot continue where it stopped), an upload
    /// already paused, or one that has finished. The `timeout` does not run while paused.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// # let url = format!("http://{}/files/", silent.local_addr().unwrap());
    /// let opts = uptask::UploadOptions::from_bytes(url, vec![0; 10], "f").tus(uptask::TusOptions::new());
    /// let task = uptask::upload_file(opts);
    /// assert!(task.pause());
    /// assert!(!task.pause()); // already paused
    /// assert!(task.resume());
    /// # task.abort();
    /// # }
    /// ```
    pub fn pause(&self) -> bool {
        self.shared.set_paused(true)
    }

    /// Resumes a paused upload from the server's offset (asked with `HEAD`). Progress may step
    /// back to that offset. Returns `false` if it was not paused.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// assert!(!task.resume()); // a multipart upload is never paused
    /// # task.abort();
    /// # }
    /// ```
    pub fn resume(&self) -> bool {
        self.shared.set_paused(false)
    }

    /// Listens to [`Notice`]s (upload created, resumed, retrying); returns an id for
    /// [`off_notice`](Self::off_notice).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// handle.on_notice(|n| if let uptask::Notice::Retrying { attempt, .. } = n { eprintln!("retry {attempt}") });
    /// # handle.abort(); }
    /// ```
    pub fn on_notice(&self, cb: impl Fn(&Notice) + Send + Sync + 'static) -> ListenerId {
        self.shared.notices.add(Arc::new(cb) as Callback<Notice>)
    }

    /// Removes one notice listener; `false` if it was not registered.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// let id = handle.on_notice(|_| {});
    /// assert!(handle.off_notice(id));
    /// # handle.abort(); }
    /// ```
    pub fn off_notice(&self, id: ListenerId) -> bool {
        self.shared.notices.remove(id)
    }

    /// Whether the outcome is decided (completed, failed or aborted).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let task = uptask::upload_file(uptask::UploadOptions::from_bytes("http://127.0.0.1:9/", vec![0], "f"));
    /// let handle = task.handle();
    /// handle.abort();
    /// assert!(handle.is_finished());
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        !self.shared.running()
    }
}

#[allow(dead_code, reason = "compile-time check only")]
fn assert_auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<UploadHandle>();
    send_sync::<UploadError>();
    send_sync::<UploadSuccess>();
    send::<UploadTask>();
}
