//! One retry policy for every protocol: the delays between tries, varied by jitter so clients
//! that failed together do not retry together, and a count that starts again once the upload
//! made progress since its last failure (a long upload over a flaky link is not failed by
//! failures spread over hours).

use std::time::Duration;

/// The delays before each retry, and the jitter source.
///
/// ```
/// use std::time::Duration;
/// use uptask_proto::engine::{Retry, RetryPolicy};
///
/// let mut policy = RetryPolicy::new([Duration::from_secs(1)], 7);
/// let mut retry = Retry::default();
/// let (attempt, delay) = retry.next(&mut policy, 0).unwrap();
/// assert_eq!(attempt, 1);
/// assert!(delay >= Duration::from_millis(750) && delay <= Duration::from_millis(1250));
/// assert_eq!(retry.next(&mut policy, 0), None); // out of retries
/// assert!(retry.next(&mut policy, 10).is_some()); // progress since: the count starts again
/// ```
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    delays: Vec<Duration>,
    /// xorshift64 state; never zero.
    state: u64,
}

impl RetryPolicy {
    /// Retries after `delays` (one try more than there are delays), jittered from `seed`.
    pub fn new(delays: impl IntoIterator<Item = Duration>, seed: u64) -> Self {
        Self {
            delays: delays.into_iter().collect(),
            state: seed | 1,
        }
    }

    /// `base` varied by up to ±25 %.
    fn jitter(&mut self, base: Duration) -> Duration {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        // The top 16 bits as a fraction of one.
        let unit = f64::from(u16::try_from(x >> 48).unwrap_or(u16::MAX)) / f64::from(u16::MAX);
        base.mul_f64(0.75 + unit * 0.5)
    }
}

/// The retry count of one request (or part), and the progress when it last failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retry {
    attempt: usize,
    progress_at_failure: Option<u64>,
}

impl Retry {
    /// After a failure with `progress` acknowledged: the attempt number and the delay before
    /// it, or `None` when the retries ran out.
    pub fn next(&mut self, policy: &mut RetryPolicy, progress: u64) -> Option<(u32, Duration)> {
        if self.progress_at_failure.is_some_and(|p| progress > p) {
            self.attempt = 0;
        }
        self.progress_at_failure = Some(progress);
        let base = *policy.delays.get(self.attempt)?;
        self.attempt += 1;
        let delay = if base.is_zero() {
            base
        } else {
            policy.jitter(base)
        };
        Some((u32::try_from(self.attempt).unwrap_or(u32::MAX), delay))
    }
}
