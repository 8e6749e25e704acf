//! Progress events and the rules that coalesce raw byte counts into them.
//!
//! The IO layer reports every socket write; [`ProgressGate`] decides which of those samples
//! become events a listener sees (rules 3 and 4 of the event contract):
//! - `progress` is `floor(100 * sent / expected)`, and a zero-length body is one event `0/0` at 100;
//! - every whole-percent step is reported;
//! - beyond that, at most one event per [`ProgressGate::MIN_INTERVAL`];
//! - never two identical events in a row, and the final one (`sent == expected`) always.
//!
//! Each event also carries the recent speed and the time left at that speed, measured by the
//! gate over a few seconds of samples (every sample counts, not only those let through).

use std::collections::VecDeque;
use std::time::Duration;

/// One progress event, with the seed's field names when serialized, plus `speed` and `eta`
/// once they are known.
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
#[non_exhaustive]
pub struct ProgressUpdate {
    /// Whole percent sent, `floor(100 * sent / expected)`, 0..=100.
    pub progress: u8,
    /// Body bytes accepted by the transport so far.
    pub total_bytes_sent: u64,
    /// The whole encoded body length, framing included.
    pub total_bytes_expected_to_send: u64,
    /// Bytes per second over the last few seconds; `None` until a quarter second of samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<u64>,
    /// Whole seconds left at that speed (rounded up; 0 when everything is sent); `None` while
    /// the speed is unknown or zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<u64>,
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
            speed: None,
            eta: None,
        }
    }

    /// The same event with a speed in bytes per second, and the time left at that speed.
    ///
    /// ```
    /// use uptask_proto::progress::ProgressUpdate;
    /// let p = ProgressUpdate::new(500, 2000).with_speed(300);
    /// assert_eq!((p.speed, p.eta), (Some(300), Some(5))); // 1500 bytes left: 5 s, rounded up
    /// assert_eq!(ProgressUpdate::new(9, 9).with_speed(0).eta, Some(0));
    /// assert_eq!(ProgressUpdate::new(1, 9).with_speed(0).eta, None);
    /// ```
    #[must_use]
    pub fn with_speed(mut self, bytes_per_second: u64) -> Self {
        let left = self.total_bytes_expected_to_send - self.total_bytes_sent;
        self.speed = Some(bytes_per_second);
        self.eta = if left == 0 {
            Some(0)
        } else {
            (bytes_per_second > 0).then(|| left.div_ceil(bytes_per_second))
        };
        self
    }
}

/// Recent throughput: byte counts sampled over a sliding window of a few seconds.
///
/// ```
/// use std::time::Duration;
/// use uptask_proto::progress::Speedometer;
/// let mut speed = Speedometer::default();
/// speed.record(0, Duration::ZERO);
/// speed.record(1_000, Duration::from_millis(500));
/// assert_eq!(speed.bytes_per_second(), Some(2_000));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Speedometer {
    samples: VecDeque<(Duration, u64)>,
}

impl Speedometer {
    /// How far back the speed looks: long enough to smooth bursts, short enough to follow a
    /// change of network within a few seconds.
    pub const WINDOW: Duration = Duration::from_secs(3);
    /// The shortest span a speed is computed over.
    pub const MIN_SPAN: Duration = Duration::from_millis(250);
    /// Samples closer together than this replace each other (bounds the memory to ~30).
    const SPACING: Duration = Duration::from_millis(100);

    /// Notes that `sent` bytes were out at time `now` (any monotonic origin).
    pub fn record(&mut self, sent: u64, now: Duration) {
        // The newest sample keeps moving; the older ones stay at least SPACING apart.
        let n = self.samples.len();
        if n >= 2
            && self
                .samples
                .get(n - 2)
                .is_some_and(|&(t, _)| now.saturating_sub(t) < Self::SPACING)
        {
            self.samples.pop_back();
        }
        self.samples.push_back((now, sent));
        // Keep one sample at or before the window's start, so the window is always full.
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|&(t, _)| now.saturating_sub(t) >= Self::WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Forgets every sample: the count jumped (a resumed upload starts from the server's
    /// offset), which says nothing about the speed.
    pub fn reset(&mut self) {
        self.samples.clear();
    }

    /// Bytes per second between the oldest and the newest sample, once they span
    /// [`MIN_SPAN`](Self::MIN_SPAN).
    #[must_use]
    pub fn bytes_per_second(&self) -> Option<u64> {
        let (&(t0, s0), &(t1, s1)) = (self.samples.front()?, self.samples.back()?);
        let span = t1.saturating_sub(t0);
        if span < Self::MIN_SPAN {
            return None;
        }
        // Byte counts below 2^53 and spans of seconds: f64 is exact enough, and the result is
        // a rate, not a count.
        Some((s1.saturating_sub(s0) as f64 / span.as_secs_f64()) as u64)
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
    speed: Speedometer,
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
            speed: Speedometer::default(),
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
        self.speed.reset();
    }

    /// Offers a sample: `sent` bytes accepted so far, at time `now`. Returns the event to emit,
    /// or `None` when the sample is coalesced away.
    ///
    /// A sample below an earlier one is ignored: within one request the count never decreases.
    pub fn offer(&mut self, sent: u64, now: Duration) -> Option<ProgressUpdate> {
        let mut next = ProgressUpdate::new(sent, self.expected);
        let emit = match self.last {
            None => true,
            Some((prev, at)) => {
                next.total_bytes_sent > prev.total_bytes_sent
                    && (next.progress > prev.progress
                        || next.total_bytes_sent == self.expected
                        || now.saturating_sub(at) >= Self::MIN_INTERVAL)
            }
        };
        if self
            .last
            .is_none_or(|(prev, _)| sent >= prev.total_bytes_sent)
        {
            self.speed.record(next.total_bytes_sent, now);
        }
        if emit {
            if let Some(speed) = self.speed.bytes_per_second() {
                next = next.with_speed(speed);
            }
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

    #[test]
    fn speed_and_eta_follow_the_recent_rate() {
        let mut gate = ProgressGate::new(10_000_000);
        let ms = Duration::from_millis;
        // 1 MB/s for four seconds, sampled every 10 ms.
        let mut last = None;
        for i in 0..=400u64 {
            if let Some(ev) = gate.offer(i * 10_000, ms(i * 10)) {
                last = Some(ev);
            }
        }
        let ev = last.unwrap();
        assert_eq!(ev.total_bytes_sent, 4_000_000);
        assert!(ev.speed.unwrap().abs_diff(1_000_000) < 20_000, "{ev:?}");
        assert!(matches!(ev.eta, Some(6 | 7)), "{ev:?}");
        // The link slows to 100 kB/s: within the window the speed follows.
        for i in 1..=400u64 {
            if let Some(ev) = gate.offer(4_000_000 + i * 1_000, ms(4_000 + i * 10)) {
                last = Some(ev);
            }
        }
        let ev = last.unwrap();
        assert!(ev.speed.unwrap().abs_diff(100_000) < 5_000, "{ev:?}");
        // A rewind (a resumed upload's jump) starts the measurement over.
        gate.rewind();
        let ev = gate.offer(9_000_000, ms(8_010)).unwrap();
        assert_eq!((ev.speed, ev.eta), (None, None));
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
            let last = events.last().map(|e| (e.total_bytes_sent, e.progress, e.eta.unwrap_or(0)));
            prop_assert_eq!(last, Some((expected, 100, 0)));
        }
    }
}
