//! Bandwidth limits as a schedule: each grant of bytes gets the next stretch of the budget's
//! time, in the order asked, and says how long to wait before sending them.
//!
//! Time is passed in (any monotonic origin), so the limiter is plain arithmetic; the IO layer
//! asks it before each socket write and writes no more than it grants, which keeps progress
//! (bytes the socket accepted) honest under a limit. Because every grant books time after the
//! ones before it, uploads sharing a limit take turns: one that asks while another is waiting
//! is served after it, however the sleeps happen to wake (a bucket that hands its tokens to
//! whoever wakes first let one upload starve the others).
//!
//! ```
//! use std::time::Duration;
//! use uptask_proto::rate::{Grant, TokenBucket};
//!
//! let mut bucket = TokenBucket::new(1000); // 1000 bytes per second
//! let t = Duration::ZERO;
//! // The burst, a tenth of a second's worth, may go at once.
//! assert_eq!(bucket.take(5000, t), Grant { bytes: 100, wait: Duration::ZERO });
//! // Then each grant is a quantum (10 ms' worth) booked after the last one, and goes once its
//! // time has passed.
//! assert_eq!(bucket.take(5000, t), Grant { bytes: 10, wait: Duration::from_millis(10) });
//! assert_eq!(bucket.take(5000, t), Grant { bytes: 10, wait: Duration::from_millis(20) });
//! ```

use std::time::Duration;

const NANOS: i128 = 1_000_000_000;

/// Bytes per second, with a burst of a tenth of a second's worth (at least one byte).
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    /// When the bytes granted so far have all had their time (nanoseconds on the caller's
    /// clock): a grant of `n` bytes books the `n / rate` seconds after it.
    booked_until: Option<i128>,
}

/// Bytes that may be sent, and how long to wait (from the `now` of the request) before
/// sending them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// How many bytes, at least 1 unless none were wanted.
    pub bytes: u64,
    /// How long to wait before they go.
    pub wait: Duration,
}

impl TokenBucket {
    /// The burst, as a share of one second: small enough that a limit holds over any window
    /// of a second, large enough that each write is a useful size.
    pub const BURST: Duration = Duration::from_millis(100);

    /// The least a grant books when it must wait (unless fewer bytes are wanted): granting each
    /// byte as it comes due would have the writer spin, a few bytes per write, instead of
    /// sleeping.
    pub const QUANTUM: Duration = Duration::from_millis(10);

    /// A limiter that lets `bytes_per_second` through (at least 1), its burst available at once.
    #[must_use]
    pub fn new(bytes_per_second: u64) -> Self {
        Self {
            rate: bytes_per_second.max(1),
            booked_until: None,
        }
    }

    /// The limit, in bytes per second.
    #[must_use]
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Grants up to `want` bytes asked for at time `now`: what the budget holds now (up to the
    /// burst) goes at once; when it holds less than a [`QUANTUM`](Self::QUANTUM)'s worth, a
    /// quantum (or all of `want`, if less) is booked after every earlier grant, and the grant
    /// says how long to wait for it. `want == 0` grants nothing, at once.
    pub fn take(&mut self, want: u64, now: Duration) -> Grant {
        if want == 0 {
            return Grant {
                bytes: 0,
                wait: Duration::ZERO,
            };
        }
        let now = nanos(now);
        // Time not booked for longer than the burst is gone: an idle limit saves up no more.
        let floor = now - nanos(Self::BURST);
        let start = self.booked_until.map_or(floor, |b| b.max(floor));
        let ready = self.bytes_in(now - start);
        let quantum = self.bytes_in(nanos(Self::QUANTUM)).max(1);
        let bytes = want.min(ready.max(quantum));
        let end = start + self.time_of(bytes);
        self.booked_until = Some(end);
        // The bytes go once their time has passed: at once for what the budget held.
        let wait = u64::try_from(end - now).map_or(Duration::ZERO, Duration::from_nanos);
        Grant { bytes, wait }
    }

    /// Gives back `n` bytes granted but not sent (the socket took fewer): the time they booked
    /// is free again for the next grant.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uptask_proto::rate::TokenBucket;
    /// let mut bucket = TokenBucket::new(1000);
    /// assert_eq!(bucket.take(100, Duration::ZERO).bytes, 100);
    /// bucket.refund(40);
    /// assert_eq!(bucket.take(100, Duration::ZERO).bytes, 40);
    /// ```
    pub fn refund(&mut self, n: u64) {
        let back = self.time_of(n);
        if let Some(booked) = &mut self.booked_until {
            *booked = booked.saturating_sub(back);
        }
    }

    /// The bytes the limit lets through in `time` nanoseconds (none in negative time).
    fn bytes_in(&self, time: i128) -> u64 {
        u64::try_from(time.max(0).saturating_mul(i128::from(self.rate)) / NANOS).unwrap_or(u64::MAX)
    }

    /// The nanoseconds `bytes` take at the limit.
    fn time_of(&self, bytes: u64) -> i128 {
        i128::from(bytes).saturating_mul(NANOS) / i128::from(self.rate)
    }
}

/// A time as signed nanoseconds, so the burst may reach back before the clock's origin.
fn nanos(time: Duration) -> i128 {
    i128::try_from(time.as_nanos()).unwrap_or(i128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Over any run, the bytes sent by any moment never exceed the burst plus rate × elapsed
        /// time, when each grant goes when it says.
        #[test]
        fn grants_never_exceed_the_rate(
            rate in 1u64..10_000_000,
            steps in proptest::collection::vec((1u64..1_000_000, 0u64..200), 1..300),
        ) {
            let mut bucket = TokenBucket::new(rate);
            let mut now = Duration::ZERO;
            let mut sent: Vec<(Duration, u64)> = Vec::new();
            for (want, dt_ms) in steps {
                now += Duration::from_millis(dt_ms);
                let grant = bucket.take(want, now);
                prop_assert!(grant.bytes >= 1 && grant.bytes <= want);
                sent.push((now + grant.wait, grant.bytes));
            }
            sent.sort();
            let mut total = 0u64;
            let burst = bucket.bytes_in(nanos(TokenBucket::BURST)).max(1) as f64;
            for (at, bytes) in sent {
                total += bytes;
                let allowed = burst + rate as f64 * at.as_secs_f64();
                prop_assert!(total as f64 <= allowed + 1.0, "{total} > {allowed} at {at:?}");
            }
        }
    }

    #[test]
    fn waiters_take_turns_in_the_order_they_asked() {
        let mut bucket = TokenBucket::new(1000);
        let t = Duration::ZERO;
        assert_eq!(bucket.take(1000, t).bytes, 100); // the burst
        // Two uploads ask in turn at the same moment: each gets the next 10 ms, none twice in a row.
        let a1 = bucket.take(1000, t);
        let b1 = bucket.take(1000, t);
        let a2 = bucket.take(1000, t);
        assert_eq!(
            [a1.wait, b1.wait, a2.wait].map(|w| w.as_millis()),
            [10, 20, 30]
        );
    }

    #[test]
    fn a_waiter_that_sleeps_as_told_gets_bytes() {
        let mut bucket = TokenBucket::new(10);
        let mut now = Duration::ZERO;
        assert_eq!(bucket.take(100, now).bytes, 1); // the burst
        let next = bucket.take(100, now);
        assert_eq!((next.bytes, next.wait), (1, Duration::from_millis(100)));
        now += next.wait;
        assert_eq!(bucket.take(100, now).wait, Duration::from_millis(100));
    }

    #[test]
    fn an_idle_limit_saves_up_no_more_than_the_burst() {
        let mut bucket = TokenBucket::new(1000);
        assert_eq!(bucket.take(10_000, Duration::from_secs(60)).bytes, 100);
    }
}
