//! Count, minimum, mean, percentiles and maximum of a set of durations.
//!
//! Percentiles are **nearest-rank**: the p-th percentile of n sorted values
//! is the value at rank ⌈p·n⌉ (1-based), always one of the observed values,
//! computed with integers so every backend gives the same figure. The mean
//! is rounded half-up to the microsecond.

use super::sketch;

/// The percentiles reported, in hundredths.
pub const PERCENTILES: [u32; 4] = [50, 90, 95, 99];

/// Durations in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub count: i64,
    pub min: i64,
    pub mean: i64,
    pub p50: i64,
    pub p90: i64,
    pub p95: i64,
    pub p99: i64,
    pub max: i64,
    /// False when the percentiles (and min, max) were read off buckets.
    pub exact: bool,
}

/// 1-based nearest rank of percentile `p` (in hundredths) among `n`.
pub fn rank(p: u32, n: i64) -> i64 {
    ((i128::from(p) * i128::from(n) + 99) / 100).max(1) as i64
}

fn mean(sum: i128, count: i64) -> i64 {
    let c = i128::from(count);
    ((2 * sum + c) / (2 * c)) as i64
}

/// Exact statistics of `values` (sorted in place).
pub fn exact(values: &mut [i64]) -> Summary {
    if values.is_empty() {
        return Summary {
            exact: true,
            ..Summary::default()
        };
    }
    values.sort_unstable();
    let n = values.len() as i64;
    let at = |p| values[(rank(p, n) - 1) as usize];
    Summary {
        count: n,
        min: values[0],
        mean: mean(values.iter().map(|&v| i128::from(v)).sum(), n),
        p50: at(50),
        p90: at(90),
        p95: at(95),
        p99: at(99),
        max: values[values.len() - 1],
        exact: true,
    }
}

/// One bucket of a group: how many durations fell in it and their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCount {
    pub bucket: i32,
    pub count: i64,
    pub sum: i128,
}

/// Statistics from bucket counts: count and mean exact; min, max and the
/// percentiles are the representatives of the buckets holding those ranks,
/// within [`sketch::RELATIVE_ERROR`].
pub fn from_buckets(buckets: &mut Vec<BucketCount>) -> Summary {
    buckets.retain(|b| b.count > 0);
    if buckets.is_empty() {
        return Summary::default();
    }
    buckets.sort_by_key(|b| b.bucket);
    let n: i64 = buckets.iter().map(|b| b.count).sum();
    let at = |r: i64| {
        let mut seen = 0;
        for b in buckets.iter() {
            seen += b.count;
            if seen >= r {
                return sketch::representative(b.bucket);
            }
        }
        sketch::representative(buckets[buckets.len() - 1].bucket)
    };
    Summary {
        count: n,
        min: sketch::representative(buckets[0].bucket),
        mean: mean(buckets.iter().map(|b| b.sum).sum(), n),
        p50: at(rank(50, n)),
        p90: at(rank(90, n)),
        p95: at(rank(95, n)),
        p99: at(rank(99, n)),
        max: sketch::representative(buckets[buckets.len() - 1].bucket),
        exact: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_by_hand() {
        // 1..=10 hours.
        let mut v: Vec<i64> = (1..=10).rev().map(|h| h * 3_600_000_000).collect();
        let s = exact(&mut v);
        assert_eq!((s.count, s.min, s.max), (10, 3_600_000_000, 36_000_000_000));
        assert_eq!(s.mean, 19_800_000_000, "5.5 hours");
        assert_eq!(s.p50, 5 * 3_600_000_000, "rank ceil(5) = 5");
        assert_eq!(s.p90, 9 * 3_600_000_000, "rank 9");
        assert_eq!(s.p95, 10 * 3_600_000_000, "rank ceil(9.5) = 10");
        assert_eq!(s.p99, 10 * 3_600_000_000);
        let mut three = vec![1, 2, 4];
        assert_eq!(exact(&mut three).mean, 2, "7/3 = 2.33 rounds to 2");
        let mut two = vec![1, 2];
        assert_eq!(exact(&mut two).mean, 2, "1.5 rounds half-up");
    }

    #[test]
    fn buckets_agree_with_exact_within_the_bound() {
        let mut values: Vec<i64> = (0..5000)
            .map(|i| (i * 7919 % 100_000 + 30) as i64 * 1_000_000)
            .collect();
        let e = exact(&mut values.clone());
        let mut buckets: std::collections::BTreeMap<i32, BucketCount> = Default::default();
        for v in &values {
            let b = buckets.entry(sketch::bucket(*v)).or_insert(BucketCount {
                bucket: sketch::bucket(*v),
                count: 0,
                sum: 0,
            });
            b.count += 1;
            b.sum += i128::from(*v);
        }
        let mut list: Vec<BucketCount> = buckets.into_values().collect();
        let s = from_buckets(&mut list);
        assert_eq!((s.count, s.mean), (e.count, e.mean));
        for (a, b) in [
            (s.p50, e.p50),
            (s.p90, e.p90),
            (s.p99, e.p99),
            (s.max, e.max),
        ] {
            assert!(((a - b) as f64).abs() / (b as f64) <= 0.0051, "{a} vs {b}");
        }
        values.clear();
    }
}
