//! The sans-IO core of uptask.
//!
//! Everything here is pure computation over bytes and numbers: no sockets, no files, no clocks,
//! no async runtime. The `uptask` crate drives these pieces over real IO on each platform, and
//! tests drive them directly.
//!
//! In scope:
//! - [`multipart`]: the `multipart/form-data` encoder (RFC 7578) with an exact length known before
//!   the first byte, and restartable at any byte offset.
//! - [`http1`]: HTTP/1.1 request heads, response head parsing and response body framing.
//! - [`progress`]: the progress event value and the coalescing rules that decide which samples
//!   become events.
//! - [`s3`]: S3 targets, endpoints, credentials from the AWS environment, part planning, XML.
//! - [`sigv4`]: AWS Signature Version 4 for S3-compatible stores.
//! - [`tus`]: tus 1.0 header values and the decisions of a resumable upload.
//! - [`engine`]: what every protocol machine says and is told, one retry policy, part meters.
//! - [`header`]: validation of user-supplied header names and values.
//!
//! Out of scope: connecting, TLS, timers, reading files. Those belong to the IO layer.
//!
//! ```
//! use uptask_proto::multipart::{Boundary, FilePart, MultipartBody};
//!
//! let body = MultipartBody::new(
//!     Boundary::from_random([7; 16]),
//!     &[("user".to_owned(), "ann".to_owned())],
//!     &FilePart::new("file", "a.txt", 5),
//! );
//! // The whole encoded length, framing included, is known before any byte is sent.
//! assert_eq!(body.len(), body.framing_len() + 5);
//! ```

pub mod engine;
pub mod error;
pub mod header;
pub mod http1;
pub mod multipart;
pub mod progress;
pub mod proxy;
pub mod rate;
pub mod s3;
pub mod sigv4;
pub mod tus;

pub use error::ProtoError;
