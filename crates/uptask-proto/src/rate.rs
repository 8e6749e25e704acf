//! A token bucket for bandwidth limits: how many bytes may go out now, or how long to wait.
//!
//! Time is passed in (any monotonic origin), so the bucket is plain arithmetic; the IO layer
//! asks it before each socket write and writes no more than it grants, which keeps progress
//! (bytes the socket accepted) honest under a limit.
//!
//! ```
//! use std::time::Duration;
//! use uptask_proto::rate::TokenBucket;
//!
//! let mut bucket = TokenBucket::new(1000); // 1000 bytes per second
//! let t = Duration::ZERO;
//! assert_eq!(bucket.take(5000, t), Ok(100)); // the burst: a tenth of a second's worth
//! assert_eq!(bucket.take(5000, t), Err(Duration::from_millis(10))); // empty: wait for 10 ms' worth
//! assert_eq!(bucket.take(5000, Duration::from_millis(50)), Ok(50)); // 50 ms refilled 50 bytes
//! ```

use std::time::Duration;

/// Bytes per second, with a burst of a tenth of a second's worth (at least one byte).
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    capacity: f64,
    tokens: f64,
    last: Option<Duration>,
}

impl TokenBucket {
    /// The burst, as a share of one second: small enough that a limit holds over any window
    /// of a second, large enough that each write is a useful size.
    pub const BURST: Duration = Duration::from_millis(100);

    /// The least a grant waits for (unless fewer bytes are wanted): granting each byte as it
    /// trickles in would have the writer spin, a few bytes per write, instead of sleeping.
    pub const QUANTUM: Duration = Duration::from_millis(10);

    /// A bucket that lets `bytes_per_second` through (at least 1), starting full.
    #[must_use]
    pub fn new(bytes_per_second: u64) -> Self {
        let rate = bytes_per_second.max(1);
        let capacity = (rate as f64 * Self::BURST.as_secs_f64()).max(1.0);
        Self {
            rate,
            capacity,
            tokens: capacity,
            last: None,
        }
    }

    /// The limit, in bytes per second.
    #[must_use]
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Takes up to `want` bytes at time `now`: `Ok(n)` with `0 < n <= want` bytes that may go
    /// out now, or `Err(wait)`, how long until a [`QUANTUM`](Self::QUANTUM)'s worth (or all of
    /// `want`, if less) may. `want == 0` is `Ok(0)`.
    ///
    /// # Errors
    /// The wait, when the bucket holds less than that.
    pub fn take(&mut self, want: u64, now: Duration) -> Result<u64, Duration> {
        if let Some(last) = self.last {
            let refill = now.saturating_sub(last).as_secs_f64() * self.rate as f64;
            self.tokens = (self.tokens + refill).min(self.capacity);
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        if want == 0 {
            return Ok(0);
        }
        let quantum = (self.rate as f64 * Self::QUANTUM.as_secs_f64()).clamp(1.0, self.capacity);
        let needed = quantum.min(want as f64);
        if self.tokens < needed {
            let missing = needed - self.tokens;
            let secs = missing / self.rate as f64;
            // At least a millisecond: shorter sleeps only spin.
            return Err(Duration::from_secs_f64(secs).max(Duration::from_millis(1)));
        }
        // tokens >= 1 and want >= 1: the grant is at least one byte.
        let granted = (self.tokens.floor() as u64).min(want);
        self.tokens -= granted as f64;
        Ok(granted)
    }
}

impl TokenBucket {
    /// Returns `n` bytes granted but not sent (the socket took fewer), up to the burst.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut bucket = uptask_proto::rate::TokenBucket::new(1000);
    /// assert_eq!(bucket.take(100, Duration::ZERO), Ok(100));
    /// bucket.refund(40);
    /// assert_eq!(bucket.take(100, Duration::ZERO), Ok(40));
    /// ```
    pub fn refund(&mut self, n: u64) {
        self.tokens = (self.tokens + n as f64).min(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Over any run, what was granted never exceeds the burst plus rate × elapsed time.
        #[test]
        fn grants_never_exceed_the_rate(
            rate in 1u64..10_000_000,
            steps in proptest::collection::vec((1u64..1_000_000, 0u64..200), 1..300),
        ) {
            let mut bucket = TokenBucket::new(rate);
            let mut now = Duration::ZERO;
            let mut granted = 0u64;
            for (want, dt_ms) in steps {
                now += Duration::from_millis(dt_ms);
                match bucket.take(want, now) {
                    Ok(n) => {
                        prop_assert!(n >= 1 && n <= want);
                        granted += n;
                    }
                    Err(wait) => prop_assert!(wait >= Duration::from_millis(1)),
                }
                let allowed = bucket.capacity + rate as f64 * now.as_secs_f64();
                prop_assert!(granted as f64 <= allowed + 1e-6, "{granted} > {allowed}");
            }
        }
    }

    #[test]
    fn a_waiter_that_sleeps_as_told_gets_bytes() {
        let mut bucket = TokenBucket::new(10);
        let mut now = Duration::ZERO;
        assert_eq!(bucket.take(100, now), Ok(1));
        let wait = bucket.take(100, now).unwrap_err();
        assert!(wait.abs_diff(Duration::from_millis(100)) < Duration::from_micros(1));
        now += wait;
        assert_eq!(bucket.take(100, now), Ok(1));
    }
}
