//! The life of one request inside a machine, and what a failed one leads to.

use std::time::Duration;

use super::{Action, Event, Failure, Outcome, RequestId, Response, Retry, RetryPolicy};

/// Where one request (or digest, or read) of a machine is.
///
/// ```
/// use std::time::Duration;
/// use uptask_proto::engine::Step;
/// let mut s: Step<()> = Step::Backoff(Duration::from_secs(1));
/// assert_eq!(s.timer(Duration::from_secs(5)), Some(Some(Duration::from_secs(6))));
/// assert_eq!(s.timer(Duration::from_secs(6)), None); // ready now
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step<P> {
    /// Ready to go.
    Ready,
    /// To go this long after the next poll (a retry's delay).
    Backoff(Duration),
    /// To go at this time.
    Until(Duration),
    /// Under way, with what it is.
    InFlight(RequestId, P),
}

impl<P: Copy> Step<P> {
    /// Moves the timer on at `now`: `None` when the step is ready, otherwise `Some` of when it
    /// will be (`None` inside for a step under way).
    pub fn timer(&mut self, now: Duration) -> Option<Option<Duration>> {
        if let Step::Backoff(delay) = *self {
            *self = Step::Until(now + delay);
        }
        match *self {
            Step::Ready => None,
            Step::Until(t) if t <= now => {
                *self = Step::Ready;
                None
            }
            Step::Until(t) => Some(Some(t)),
            Step::Backoff(_) | Step::InFlight(..) => Some(None),
        }
    }

    /// Whether `id` is the step under way.
    pub fn is(&self, id: RequestId) -> bool {
        matches!(self, Step::InFlight(at, _) if *at == id)
    }
}

/// Why a step did not go on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stop<E> {
    /// Worth another try.
    Retry(Failure<E>),
    /// A final answer: the outcome, as with a multipart upload.
    Answered(Response),
    /// Not worth another try.
    Fatal(Failure<E>),
}

impl<E: std::fmt::Display> Stop<E> {
    /// The stop a transport failure means.
    pub fn transport(error: E, retryable: bool) -> Self {
        if retryable {
            Stop::Retry(Failure::Transport(error))
        } else {
            Stop::Fatal(Failure::Transport(error))
        }
    }

    /// What the stop leads to, with `progress` acknowledged: another try after a delay (and
    /// the event announcing it), or the action that ends the upload.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uptask_proto::engine::{Action, Failure, Retry, RetryPolicy, Step, Stop};
    /// let mut policy = RetryPolicy::new([Duration::ZERO], 1);
    /// let mut retry = Retry::default();
    /// let stop: Stop<String> = Stop::Retry(Failure::Protocol("the server answered 503".into()));
    /// assert!(stop.settle(&mut retry, &mut policy, 0).is_ok());
    /// let again: Stop<String> = Stop::Retry(Failure::Protocol("the server answered 503".into()));
    /// assert!(matches!(again.settle(&mut retry, &mut policy, 0).map_err(|e| *e), Err(Action::Fail(_))));
    /// ```
    pub fn settle(
        self,
        retry: &mut Retry,
        policy: &mut RetryPolicy,
        progress: u64,
    ) -> Result<(Event, Duration), Box<Action<E>>> {
        match self {
            Stop::Retry(failure) => match retry.next(policy, progress) {
                Some((attempt, delay)) => Ok((
                    Event::Retrying {
                        attempt,
                        delay,
                        error: failure.to_string(),
                    },
                    delay,
                )),
                None => Err(Box::new(Action::Fail(failure))),
            },
            Stop::Answered(response) => Err(Box::new(Action::Done(Outcome {
                response,
                upload_url: None,
                complete: false,
            }))),
            Stop::Fatal(failure) => Err(Box::new(Action::Fail(failure))),
        }
    }
}
