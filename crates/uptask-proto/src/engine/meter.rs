//! Progress of an upload sent in parts: each part's count, summed.

/// Each part's count of bytes, and their sum.
///
/// ```
/// use uptask_proto::engine::Meter;
/// let mut m = Meter::new(2);
/// assert_eq!(m.set(0, 10), 10);
/// assert_eq!(m.raise(1, 5), Some(15));
/// assert_eq!(m.raise(1, 3), None); // a part sent again counts only past its best try
/// ```
#[derive(Debug, Clone, Default)]
pub struct Meter {
    parts: Vec<u64>,
}

impl Meter {
    /// `parts` parts at zero.
    pub fn new(parts: usize) -> Self {
        Self {
            parts: vec![0; parts],
        }
    }

    /// Part `i` stands at `sent`; the new sum.
    pub fn set(&mut self, i: usize, sent: u64) -> u64 {
        if let Some(p) = self.parts.get_mut(i) {
            *p = sent;
        }
        self.total()
    }

    /// Part `i` has `sent` bytes out in its current try: the new sum when that passes its best
    /// try so far, so the sum never falls.
    pub fn raise(&mut self, i: usize, sent: u64) -> Option<u64> {
        match self.parts.get_mut(i) {
            Some(p) if sent >= *p => *p = sent,
            _ => return None,
        }
        Some(self.total())
    }

    /// The sum of every part.
    pub fn total(&self) -> u64 {
        self.parts.iter().sum()
    }
}
