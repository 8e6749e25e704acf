//! The vocabulary every protocol machine speaks, and the pieces they share.
//!
//! A machine (see [`crate::tus::machine`], [`crate::s3::machine`]) holds no socket, file or
//! clock. Its runner asks it what to do with [`Machine::poll`] and carries out the [`Action`]:
//! sends a [`Request`], hashes or reads part of the source, reports an [`Event`], or waits. What
//! comes back (a [`Response`], a transport error, a digest, bytes read, body bytes accepted by
//! the socket) is handed in with [`Machine::answer`] and [`Machine::sent`]. Time is passed to
//! `poll`; randomness (the retry jitter) is a seed given to the machine when it is made.
//!
//! ```text
//!            ┌──────────── answer / sent ◄───────────┐
//!            ▼                                       │
//!   poll(now) ──► Send · Digest · Read ──► the runner's IO
//!       │    └──► Event (progress, notice, remember)
//!       ├──► Wait { until }   nothing to do before an answer (or `until`)
//!       └──► Done(Outcome) | Fail(Failure)
//! ```
//!
//! An upload the caller stops (abort, deadline) or that ends on its own without success has
//! [`Machine::last_words`]: requests to send within a bound (tus `DELETE`, S3
//! `AbortMultipartUpload`), whose answers do not change the outcome.
//!
//! ```
//! use uptask_proto::engine::{Machine, RetryPolicy};
//! use uptask_proto::tus::machine::{TusConfig, TusMachine};
//!
//! let config = TusConfig::new("http://127.0.0.1:1080/files/".parse().unwrap(), 11);
//! let mut machine: TusMachine<std::io::Error> = TusMachine::new(config);
//! // The first thing a tus upload does is ask the server what it supports.
//! let action = machine.poll(std::time::Duration::ZERO);
//! assert!(matches!(action, uptask_proto::engine::Action::Send { ref request, .. } if request.method == "OPTIONS"));
//! ```

mod action;
mod memo;
mod meter;
mod outbox;
mod request;
mod retry;
mod step;

pub use action::{
    Action, Answer, DigestAlgorithm, DigestOf, Event, Failure, LastWords, Outcome, Why,
};
pub use memo::{Memo, S3Entry, TusEntry};
pub use meter::Meter;
pub use outbox::Outbox;
pub use request::{Body, Header, Request, RequestId, Response};
pub use retry::{Retry, RetryPolicy};
pub use step::{Step, Stop};

use std::time::Duration;

/// A protocol as a state machine: see the [module documentation](self).
pub trait Machine {
    /// The error type of the transport the machine runs over (kept as it is, so an upload that
    /// runs out of retries fails with the transport's own error).
    type Error;

    /// What to do next, at `now` on the runner's monotonic clock.
    fn poll(&mut self, now: Duration) -> Action<Self::Error>;

    /// What came back for the action `id`.
    fn answer(&mut self, id: RequestId, answer: Answer<Self::Error>);

    /// The body of request `id` has had `n` bytes accepted by the transport so far.
    fn sent(&mut self, id: RequestId, n: u64);

    /// The runner dropped request `id` without an answer (a pause): it is to be treated as cut.
    fn dropped(&mut self, id: RequestId);

    /// The head of request `id`'s response arrived (before its body): a machine that reports
    /// headers as soon as they come says so with [`Event::Headers`].
    fn head(&mut self, id: RequestId, status: u16, header: &Header) {
        let _ = (id, status, header);
    }

    /// Whether the upload may be paused (only a protocol that can continue where it stopped).
    fn pausable(&self) -> bool;

    /// What to tell the server, and whether to forget the remembered upload, when the upload
    /// ends without success for `why`.
    fn last_words(&mut self, why: Why) -> LastWords;
}
