//! Uploads for programs without an async runtime: the same task, waited for on the calling
//! thread.
//!
//! The upload runs on uptask's own small runtime whatever the caller's context, so waiting
//! never starves it, even from inside another runtime's thread. Listeners, abort and the other
//! methods are those of [`UploadHandle`], reached through the task.
//!
//! ```no_run
//! use uptask::{blocking, UploadOptions};
//!
//! let task = blocking::upload_file(UploadOptions::new("http://127.0.0.1:8080/upload", "photo.jpg", "file"));
//! task.on_progress_update(|p| eprintln!("{}% ({:?} B/s)", p.progress, p.speed));
//! let done = task.wait()?;
//! println!("{} {}", done.status_code, done.data);
//! # Ok::<(), uptask::UploadError>(())
//! ```
//!
//! In the browser a page cannot block: [`UploadTask::wait`] there fails at once with an
//! [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error; await the async task.

use std::ops::Deref;

use crate::{UploadError, UploadHandle, UploadOptions, UploadSuccess};

/// Starts an upload, as [`crate::upload_file`], on uptask's own runtime.
///
/// ```no_run
/// let task = uptask::blocking::upload_file(uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "a.bin", "file"));
/// let handle = task.handle();
/// std::thread::spawn(move || { std::thread::sleep(std::time::Duration::from_secs(5)); handle.abort(); });
/// let outcome = task.wait(); // the result, or `uploadFile:fail abort` after 5 s
/// # let _ = outcome;
/// ```
#[must_use = "the upload runs anyway; wait for the task to learn its outcome"]
pub fn upload_file(options: UploadOptions) -> UploadTask {
    let task = crate::backend::on_own_runtime(|| crate::upload_file(options));
    UploadTask {
        handle: task.handle(),
        task,
    }
}

/// [`upload_file`], with `listen` called on the task's handle before the upload starts: the
/// listeners it adds see every event, even of a small upload that is over before this call
/// returns (one added after `upload_file` returns sees only what comes after).
///
/// ```no_run
/// let task = uptask::blocking::upload_file_with(
///     uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "tiny.txt", "file"),
///     |handle| {
///         handle.on_progress_update(|p| eprintln!("{}%", p.progress));
///     },
/// );
/// let done = task.wait(); // the listener saw 100 % before this
/// # let _ = done;
/// ```
#[expect(
    clippy::needless_pass_by_value,
    reason = "the options are the upload's, handed over as in upload_file"
)]
pub fn upload_file_with(options: UploadOptions, listen: impl FnOnce(&UploadHandle)) -> UploadTask {
    let task = crate::backend::on_own_runtime(|| crate::task::upload_file_with(&options, listen));
    UploadTask {
        handle: task.handle(),
        task,
    }
}

/// A running upload to wait for; every [`UploadHandle`] method (`abort`,
/// `on_progress_update`, `off_headers_received_all`, `progress`, ...) works on it directly.
///
/// ```no_run
/// let task = uptask::blocking::upload_file(uptask::UploadOptions::new("http://127.0.0.1:8080/upload", "a.bin", "file"));
/// task.progress(|p| println!("{}%", p.progress)).headers_received(|h| println!("{:?}", h.header));
/// let done = task.wait();
/// # let _ = done;
/// ```
#[derive(Debug)]
#[must_use = "the upload runs anyway; wait for the task to learn its outcome"]
pub struct UploadTask {
    handle: UploadHandle,
    task: crate::UploadTask,
}

impl UploadTask {
    /// Blocks the calling thread until the upload ends, and returns its outcome.
    ///
    /// # Errors
    /// The upload's failure, as awaiting the async task gives it.
    pub fn wait(self) -> Result<UploadSuccess, UploadError> {
        crate::backend::block_on(self.task)?
    }

    /// A handle that stays valid after [`wait`](Self::wait) consumed the task.
    pub fn handle(&self) -> UploadHandle {
        self.handle.clone()
    }
}

impl Deref for UploadTask {
    type Target = UploadHandle;

    fn deref(&self) -> &UploadHandle {
        &self.handle
    }
}
