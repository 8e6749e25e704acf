//! `UploadTask` and its handle: the seed's methods over the upload's shared state
//! ([`crate::events`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::events::Shared;
use crate::listeners::{Callback, ListenerId};
use crate::{ErrorKind, HeadersReceived, Notice, ProgressUpdate, UploadError, UploadSuccess};

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
    upload_file_with(&options, |_| {})
}

/// [`upload_file`], calling `listen` with the task's handle before the upload starts: the
/// listeners it adds see every event, even of an upload that ends at once.
pub(crate) fn upload_file_with(
    options: &crate::UploadOptions,
    listen: impl FnOnce(&UploadHandle),
) -> UploadTask {
    let shared = Arc::new(Shared::new());
    let (tx, rx) = oneshot::channel();
    let task = UploadTask {
        handle: UploadHandle {
            shared: Arc::clone(&shared),
        },
        rx,
    };
    listen(&task.handle);
    let plan = match crate::prepare::prepare(options) {
        Ok(plan) => plan,
        Err(err) => {
            tracing::debug!(error = %err, "upload rejected before sending");
            let _ = tx.send(shared.settle(Err(err)));
            return task;
        }
    };
    let (sink, dispatcher) = crate::events::channel(Arc::clone(&shared), plan.expected(), tx);
    shared.set_resumable(matches!(plan.kind, crate::prepare::Kind::Tus(_)));
    let control = shared.control();
    if let Err(err) = crate::upload::start(plan, sink, control, dispatcher) {
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
