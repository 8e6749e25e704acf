//! What a machine asks of its runner, and what it is given back.

use std::time::Duration;

use bytes::Bytes;

use super::{Memo, Request, RequestId, Response};

/// The next thing a machine wants done.
///
/// ```
/// use uptask_proto::engine::{Action, Event};
/// let a: Action<std::io::Error> = Action::Event(Event::Progress { sent: 5, rewind: false });
/// assert!(matches!(a, Action::Event(_)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Action<E> {
    /// Send `request`; answer with [`Answer::Response`] or [`Answer::Failed`], and report body
    /// bytes with [`Machine::sent`](super::Machine::sent) as the transport accepts them.
    Send {
        /// The id its answer carries.
        id: RequestId,
        /// What to send.
        request: Request,
    },
    /// Hash part of the source (or bytes); answer with [`Answer::Digest`].
    Digest {
        /// The id its answer carries.
        id: RequestId,
        /// Which digest.
        algorithm: DigestAlgorithm,
        /// Of what.
        of: DigestOf,
    },
    /// Read up to `max` bytes of a stream source (fewer only at its end); answer with
    /// [`Answer::Read`].
    Read {
        /// The id its answer carries.
        id: RequestId,
        /// The most to read.
        max: usize,
    },
    /// Something to report.
    Event(Event),
    /// Nothing to do before an answer comes, or before `until` on the runner's clock.
    Wait {
        /// When to poll again even without an answer.
        until: Option<Duration>,
    },
    /// The upload ended with a response: the outcome.
    Done(Outcome),
    /// The upload failed.
    Fail(Failure<E>),
}

/// What came back for an action.
#[derive(Debug)]
#[non_exhaustive]
pub enum Answer<E> {
    /// The response to a [`Action::Send`].
    Response(Response),
    /// The transport could not complete a [`Action::Send`] (or a digest or read failed);
    /// `retryable` for a network error or a stall, worth another try.
    Failed {
        /// The transport's error.
        error: E,
        /// Whether another try may succeed.
        retryable: bool,
    },
    /// The digest a [`Action::Digest`] asked for.
    Digest(Vec<u8>),
    /// The bytes a [`Action::Read`] asked for.
    Read(Bytes),
}

/// A digest the machine needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// tus `Upload-Checksum: sha1`.
    Sha1,
    /// tus `sha256`, and S3 payload hashes.
    Sha256,
    /// S3 `Content-MD5`, and checking stored parts against the file.
    Md5,
    /// S3 `x-amz-checksum-crc32c` (big-endian).
    Crc32c,
}

/// What a digest is taken of.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestOf {
    /// `len` bytes of the source from `offset`.
    Range {
        /// Where in the source.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
    /// Bytes in memory.
    Bytes(Bytes),
}

/// Something the upload reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `sent` bytes counted so far; `rewind` when the count may have gone back (a resume at
    /// the server's offset).
    Progress {
        /// The count.
        sent: u64,
        /// Whether it may be lower than the last.
        rewind: bool,
    },
    /// A source of unknown length has been read this far: the expected total grows.
    Grow {
        /// The new total.
        expected: u64,
    },
    /// The upload was created on the server at `url`.
    Created {
        /// Where it lives.
        url: String,
    },
    /// The upload continues from `offset`, where the server is.
    Resumed {
        /// The server's offset.
        offset: u64,
    },
    /// A request failed and is tried again after `delay`.
    Retrying {
        /// 1 for the first retry.
        attempt: u32,
        /// The wait before it.
        delay: Duration,
        /// What failed.
        error: String,
    },
    /// The final response's head arrived: the headers event (once, before the outcome).
    Headers(super::Header),
    /// Keep this, so a later run of the same upload can continue it.
    Remember(Memo),
    /// The remembered upload is finished or gone: forget it.
    Forget,
}

/// How a machine's upload ended with a response.
///
/// ```
/// use uptask_proto::engine::{Outcome, Response};
/// let o = Outcome { response: Response::new(204), upload_url: None, complete: true };
/// assert!(o.complete);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The response that is the outcome.
    pub response: Response,
    /// The upload's URL on the server (tus).
    pub upload_url: Option<String>,
    /// Whether the upload completed; `false` when a final answer (a 413, a 403) ended it.
    pub complete: bool,
}

/// Why an upload failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure<E> {
    /// The transport's error, as it was (retries ran out, or it was not worth one).
    Transport(E),
    /// The server broke the protocol.
    Protocol(String),
    /// The upload cannot be made as asked (a file over the server's limit, a pipe to a server
    /// without deferred lengths).
    InvalidInput(String),
}

impl<E: std::fmt::Display> std::fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Transport(e) => e.fmt(f),
            Failure::Protocol(m) | Failure::InvalidInput(m) => f.write_str(m),
        }
    }
}

/// Why an upload ends without success, for [`Machine::last_words`](super::Machine::last_words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Why {
    /// The caller aborted it.
    Aborted,
    /// Its deadline passed.
    TimedOut,
    /// It failed ([`Action::Fail`]).
    Failed,
    /// A final answer ended it ([`Outcome::complete`] is `false`).
    Answered,
}

/// What to do when an upload ends without success.
///
/// ```
/// let words = uptask_proto::engine::LastWords::default();
/// assert!(words.requests.is_empty() && !words.forget);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastWords {
    /// Requests to send, each within a bound; their answers are only logged.
    pub requests: Vec<Request>,
    /// Whether to forget the remembered upload.
    pub forget: bool,
}
