//! Cutting a file into the parts of a multipart upload.

/// The smallest part S3 accepts (all but the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// The most parts one upload may have.
pub const MAX_PARTS: u64 = 10_000;

/// How a file of some length is cut: `count` parts of `size` bytes, the last one shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    /// The file's length.
    pub len: u64,
    /// Bytes per part (the last may be shorter).
    pub size: u64,
    /// Number of parts (at least 1, even for an empty file).
    pub count: u64,
}

impl PartPlan {
    /// Part `number` (1-based, as S3 counts): its offset in the file and its length.
    ///
    /// ```
    /// let plan = uptask_proto::s3::plan_parts(12 << 20, 5 << 20);
    /// assert_eq!(plan.part(3), Some((10 << 20, 2 << 20)));
    /// assert_eq!(plan.part(4), None);
    /// ```
    #[must_use]
    pub fn part(&self, number: u64) -> Option<(u64, u64)> {
        if number == 0 || number > self.count {
            return None;
        }
        let offset = (number - 1) * self.size;
        Some((offset, self.size.min(self.len - offset.min(self.len))))
    }
}

/// Plans the parts: at least `wanted` bytes each (raised to [`MIN_PART_SIZE`]), grown to the
/// next MiB when that would need more than [`MAX_PARTS`] parts.
///
/// ```
/// use uptask_proto::s3::{plan_parts, MAX_PARTS};
/// let huge = plan_parts(100 << 30, 5 << 20); // 100 GiB
/// assert!(huge.count <= MAX_PARTS && huge.size >= 5 << 20);
/// assert_eq!(plan_parts(0, 8 << 20).count, 1);
/// ```
#[must_use]
pub fn plan_parts(len: u64, wanted: u64) -> PartPlan {
    let mib = 1 << 20;
    let mut size = wanted.max(MIN_PART_SIZE);
    let needed = len.div_ceil(MAX_PARTS);
    if needed > size {
        size = needed.div_ceil(mib) * mib;
    }
    PartPlan {
        len,
        size,
        count: len.div_ceil(size).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parts_cover_the_file_in_order(len in 0u64..(1 << 44), wanted in 0u64..(64 << 20)) {
            let plan = plan_parts(len, wanted);
            prop_assert!(plan.count <= MAX_PARTS);
            prop_assert!(plan.size >= MIN_PART_SIZE);
            let (last_offset, last_len) = plan.part(plan.count).unwrap();
            prop_assert_eq!(last_offset + last_len, len);
            prop_assert!(last_len <= plan.size);
            prop_assert!(len == 0 || last_len > 0);
        }
    }

    #[test]
    fn boundaries() {
        assert_eq!(plan_parts(5 << 20, 5 << 20).count, 1);
        assert_eq!(plan_parts((5 << 20) + 1, 5 << 20).count, 2);
        assert_eq!(
            plan_parts((5 << 20) + 1, 5 << 20).part(2),
            Some((5 << 20, 1))
        );
    }
}
