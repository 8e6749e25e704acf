//! uptask: uploads you can abort and watch.
//!
//! This is the `UploadTask` of WeChat/Taro `uploadFile`, in Rust: start an upload of a file as a
//! `multipart/form-data` POST (or a resumable tus 1.0 upload, see [`TusOptions`]), listen to its
//! progress (`progress`, `totalBytesSent`,
//! `totalBytesExpectedToSend`) and to its response headers, abort it, and await its outcome.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), uptask::UploadError> {
//! use uptask::{upload_file, UploadOptions};
//!
//! let task = upload_file(
//!     UploadOptions::new("http://127.0.0.1:8080/upload", "report.pdf", "file")
//!         .form_data("owner", "ann")
//!         .header("Authorization", "Bearer t0k3n"),
//! );
//! task.progress(|p| eprintln!("{:>3}%  {}/{}", p.progress, p.total_bytes_sent, p.total_bytes_expected_to_send))
//!     .headers_received(|h| eprintln!("headers: {:?}", h.header));
//! let done = task.await?;
//! println!("{} {}", done.status_code, done.data);
//! # Ok(()) }
//! ```
//!
//! # Event rules
//! - `totalBytesExpectedToSend` is the whole encoded body, framing included, and is sent as
//!   `Content-Length` (never chunked).
//! - `totalBytesSent` counts body bytes the socket accepted (not bytes read from disk); it never
//!   decreases. Bytes still in kernel buffers count as sent, as in browsers' XHR.
//! - `progress` is `floor(100 * sent / expected)`; 100 only when every byte is out.
//! - Events are coalesced: at least one per whole percent, at most about 20 per second beyond
//!   that, never two identical in a row, and the final one is never dropped.
//! - The headers event fires at most once, before the outcome, for any status. A server that
//!   answers early (a 413 mid-body) stops the body, and the outcome is a success with that status.
//! - A 307 or 308 to the same origin re-sends the whole body there (at most 5 times); to another
//!   origin, and for other 3xx, nothing is followed and the redirect is the outcome, so neither
//!   the body nor headers such as `Authorization` ever reach another origin. Progress does not
//!   step back when a body is re-sent.
//! - Exactly one outcome; no event after it. `abort()` is idempotent and may be called from a
//!   listener. Listeners run on a task of their own, so a slow listener never slows the upload.
//!
//! # tus
//! With [`UploadOptions::tus`] the same task runs the tus 1.0 protocol: discovery, creation,
//! `PATCH` from the server's offset, checksums, retries with backoff that always ask the server
//! where to continue, [`UploadHandle::pause`] / [`UploadHandle::resume`], `DELETE` on abort,
//! parallel parts joined by concatenation, resume across process restarts
//! ([`TusOptions::resume_store`]), and sources of unknown length (pipes) with a deferred
//! length. The rules above hold with two additions: `totalBytesExpectedToSend` is the file's
//! length (for a pipe, the bytes read so far), and progress may step back to the server's
//! offset when an upload resumes, announced by [`Notice::Resumed`] just before.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), uptask::UploadError> {
//! use uptask::{upload_file, TusOptions, UploadOptions};
//!
//! let opts = UploadOptions::new("http://127.0.0.1:8080/files/", "video.mp4", "file")
//!     .tus(TusOptions::new().resume_store(std::env::temp_dir().join("myapp-tus")));
//! let task = upload_file(opts);
//! task.on_notice(|n| eprintln!("{n:?}"));
//! let done = task.await?;
//! println!("{}", done.status_code); // 204: the last PATCH completed the upload
//! # Ok(()) }
//! ```
//!
//! # S3
//! With [`UploadOptions::s3`] and an `s3://bucket/key` URL the same task puts the file into an
//! S3-compatible store: one signed `PUT` for a small file, otherwise a multipart upload with
//! parts in parallel, each checked by the store (CRC32C or `Content-MD5`), retried on its own,
//! and counted once in the progress, which never goes down. An abort aborts the multipart
//! upload. With [`S3Options::resume_store`] a failed or killed upload is continued by the next
//! upload of the same file: the store lists the parts it has, each is checked against the file,
//! and only the rest are sent ([`Notice::Resumed`] says how many bytes were already there).
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), uptask::UploadError> {
//! use uptask::s3::Credentials;
//! use uptask::{upload_file, S3Options, UploadOptions};
//!
//! let s3 = S3Options::new(Credentials::new("AKID", "SECRET"))
//!     .endpoint("http://127.0.0.1:8333")
//!     .resume_store(std::env::temp_dir().join("myapp-s3"));
//! let done = upload_file(UploadOptions::new("s3://backups/db.dump", "db.dump", "file").s3(s3)).await?;
//! println!("{}", done.status_code); // 200
//! # Ok(()) }
//! ```

mod backend;
pub mod blocking;
mod client;
mod digest;
mod error;
mod events;
mod join;
mod listeners;
mod notice;
mod options;
mod outcome;
mod prepare;
mod profile;
mod proxy;
mod queue;
mod resume;
mod runner;
pub mod s3;
mod source;
mod task;
mod tus;
mod upload;

pub use backend::Blob;
pub use client::{Client, DEFAULT_MAX_CONCURRENT};
pub use error::{ErrorKind, UploadError};

pub use backend::RateLimit;
pub use listeners::ListenerId;
pub use notice::Notice;
pub use options::{DEFAULT_TIMEOUT, Protocol, UploadOptions};
pub use outcome::{Header, HeadersReceived, ProgressUpdate, UploadSuccess};
pub use profile::Profile;
pub use proxy::Proxy;
pub use s3::S3Options;
pub use source::{FormFile, Source};
pub use task::{UploadHandle, UploadTask, upload_file};
pub use tus::TusOptions;

/// The README's examples, compiled as doctests so they cannot rot.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
