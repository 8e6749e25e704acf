//! Progress events and the rules that coalesce raw byte counts into them.
//!
//! The IO layer reports every socket write; [`ProgressGate`] decides which of those samples
//! become events a listener sees (rules 3 and 4 of the event contract):
//! - `progress` is `floor(100 * sent / expected)`, and a zero-length body is one event `0/0` at 100;
//! - every whole-percent step is reported;
//! - beyond that, at most one event per [`ProgressGate::MIN_INTERVAL`];
//! - never two identical events in a row, and the final one (`sent == expected`) always.

use std::time::Duration;

/// One progress event, with the seed's field names when serialized.
///
/// ```
/// use uptask_proto::progress::ProgressUpdate;
/// let p = ProgressUpdate::new(1, 3);
/// assert_eq!(p.progress, 33);
/// let json = serde_json::to_string(&p).unwrap();
/// assert_eq!(json, r#"{"progress":33,"totalBytesSent":1,"totalBytesExpectedToSend":3}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressUpdate {
    /// Whole percent sent, `floor(100 * sent / expected)`, 0..=100.
    pub progress: u8,
    /// Body bytes accepted by the transport so far.
    pub total_bytes_sent: u64,
    /// The whole encoded body length, framing included.
    pub total_bytes_expected_to_send: u64,
}

impl ProgressUpdate {
    /// Builds the event for `sent` of `expected` bytes; `sent` is clamped to `expected`.
    ///
    /// ```
    /// use uptask_proto::progress::ProgressUpdate;
    /// assert_eq!(ProgressUpdate::new(0, 0).progress, 100);
    /// assert_eq!(ProgressUpdate::new(999, 1000).progress, 99);
    /// ```
    #[must_use]
    pub fn new(sent: u64, expected: u64) -> Self {
        let sent = sent.min(expected);
        Self {
            progress: percent(sent, expected),
            total_bytes_sent: sent,
            total_bytes_expected_to_send: expected,
        }
    }
}

fn percent(sent: u64, expected: u64) -> u8 {
    if expected == 0 {
        return 100;
    }
    let p = u128::from(sent) * 100 / u128::from(expected);
    // sent <= expected, so p <= 100 always fits.
    u8::try_from(p).unwrap_or(100)
}

/// Turns raw byte counts into the events listeners see.
///
/// Time is passed in by the caller (any monotonic origin), which keeps this type free of clocks.
///
/// ```
/// use std::time::Duration;
/// use uptask_proto::progress::ProgressGate;
///
/// let mut gate = ProgressGate::new(1000);
/// let t = Duration::ZERO;
/// assert_eq!(gate.offer(5, t).map(|p| p.progress), Some(0)); // the first sample
/// assert_eq!(gate.offer(6, t), None); // same percent, too soon
/// assert_eq!(gate.offer(10, t).map(|p| p.progress), Some(1)); // a new percent
/// assert!(gate.offer(1000, t).is_some()); // the final event is never dropped
/// assert!(gate.offer(1000, t).is_none()); // and never repeated
/// ```
#[derive(Debug, Clone)]
pub struct ProgressGate {
    expected: u64,
    last: Option<(ProgressUpdate, Duration)>,
}

impl ProgressGate {
    /// The shortest gap between two events of the same whole percent (about 20 per second).
    pub const MIN_INTERVAL: Duration = Duration::from_millis(50);

    /// A gate for a body of `expected` bytes.
    #[must_use]
    pub fn new(expected: u64) -> Self {
        Self {
            expected,
            last: None,
        }
    }

    /// The body length this gate was made for.
    #[must_use]
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// The last event let through, if any.
    #[must_use]
    pub fn last(&self) -> Option<ProgressUpdate> {
        self.last.map(|(p, _)| p)
    }

    /// Raises the expected length, for a source whose length is learnt as it is read. It never
    /// goes down.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uptask_proto::progress::ProgressGate;
    /// let mut gate = ProgressGate::new(0);
    /// gate.grow(200);
    /// assert_eq!(gate.offer(100, Duration::ZERO).map(|p| p.progress), Some(50));
    /// ```
    pub fn grow(&mut self, expected: u64) {
        self.expected = self.expected.max(expected);
    }

    /// Lets the next sample through even if it is lower than the last event: a resumable upload
    /// that restarts from the server's offset may step back to it (and only then).
    ///
    /// ```
    /// use std::time::Duration;
    /// use uptask_proto::progress::ProgressGate;
    /// let mut gate = ProgressGate::new(100);
    /// assert!(gate.offer(60, Duration::ZERO).is_some());
    /// assert!(gate.offer(40, Duration::ZERO).is_none()); // never backwards within a request
    /// gate.rewind();
    /// assert_eq!(gate.offer(40, Duration::ZERO).map(|p| p.progress), Some(40));
    /// ```
    pub fn rewind(&mut self) {
        self.last = None;
    }

    /// Offers a sample: `sent` bytes accepted so far, at time `now`. Returns the event to emit,
    /// or `None` when the sample is coalesced away.
    ///
    /// A sample below an earlier one is ignored: within one request the count never decreases.
    pub fn offer(&mut self, sent: u64, now: Duration) -> Option<ProgressUpdate> {
        let next = ProgressUpdate::new(sent, self.expected);
        let emit = match self.last {
            None => true,
            Some((prev, at)) => {
                next.total_bytes_sent > prev.total_bytes_sent
                    && (next.progress > prev.progress
                        || next.total_bytes_sent == self.expected
                        || now.saturating_sub(at) >= Self::MIN_INTERVAL)
            }
        };
        if emit {
            self.last = Some((next, now));
            Some(next)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_length_body_is_one_event_at_100() {
        let mut gate = ProgressGate::new(0);
        let first = gate.offer(0, Duration::ZERO);
        assert_eq!(first, Some(ProgressUpdate::new(0, 0)));
        assert_eq!(first.map(|p| p.progress), Some(100));
        assert_eq!(gate.offer(0, Duration::from_secs(1)), None);
    }

    #[test]
    fn percent_is_floored_and_100_only_at_the_end() {
        assert_eq!(ProgressUpdate::new(1, 3).progress, 33);
        assert_eq!(ProgressUpdate::new(2, 3).progress, 66);
        assert_eq!(ProgressUpdate::new(u64::MAX - 1, u64::MAX).progress, 99);
        assert_eq!(ProgressUpdate::new(u64::MAX, u64::MAX).progress, 100);
    }

    #[test]
    fn same_percent_is_let_through_at_most_every_interval() {
        let mut gate = ProgressGate::new(1_000_000);
        let ms = Duration::from_millis;
        assert!(gate.offer(1, ms(0)).is_some());
        assert!(gate.offer(2, ms(10)).is_none());
        assert!(gate.offer(3, ms(49)).is_none());
        assert!(gate.offer(4, ms(50)).is_some());
        assert!(gate.offer(5, ms(60)).is_none());
    }

    proptest! {
        #[test]
        fn events_follow_the_contract(
            expected in 1u64..10_000_000,
            mut steps in proptest::collection::vec((0u64..200_000, 0u64..30), 1..400),
        ) {
            let mut gate = ProgressGate::new(expected);
            let mut sent = 0u64;
            let mut now = Duration::ZERO;
            let mut events = Vec::new();
            let mut percents_seen = std::collections::BTreeSet::new();
            steps.push((expected, 0)); // always finish
            for (add, dt) in steps {
                sent = (sent + add).min(expected);
                now += Duration::from_millis(dt);
                percents_seen.insert(ProgressUpdate::new(sent, expected).progress);
                if let Some(ev) = gate.offer(sent, now) {
                    events.push(ev);
                }
            }
            // never decreasing, never two identical in a row
            for w in events.windows(2) {
                prop_assert!(w[1].total_bytes_sent > w[0].total_bytes_sent);
                prop_assert!(w[1].progress >= w[0].progress);
            }
            // every whole percent that a sample reached is reported
            let reported: std::collections::BTreeSet<u8> = events.iter().map(|e| e.progress).collect();
            prop_assert_eq!(reported, percents_seen);
            // the final event is there, at 100
            let last = events.last().copied();
            prop_assert_eq!(last, Some(ProgressUpdate::new(expected, expected)));
        }
    }
}
