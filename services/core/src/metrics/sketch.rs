//! Log-bucketed durations: exact to the second below a minute, then buckets
//! whose bounds grow by `GAMMA` (1%), so any value inside a bucket is within
//! 0.5% of the bucket's representative. Bucket numbers are computed here and
//! stored, so both databases hold the same buckets.

use std::sync::LazyLock;

/// Below this many seconds, a bucket is one second.
const EXACT_SECONDS: i64 = 60;
/// Bucket growth; the relative error bound is (GAMMA - 1) / (GAMMA + 1).
const GAMMA: f64 = 1.01;
/// Covers a century of waiting.
const LOG_BUCKETS: usize = 2000;

/// The stated bound on a percentile read off the buckets, relative to the
/// exact value (durations under a minute are exact to the second).
pub const RELATIVE_ERROR: &str = "0.005";

/// Lower bounds, in whole seconds, of the log buckets; computed once.
static LOWER: LazyLock<Vec<i64>> = LazyLock::new(|| {
    let mut bounds = Vec::with_capacity(LOG_BUCKETS);
    let mut lo = EXACT_SECONDS as f64;
    for _ in 0..LOG_BUCKETS {
        let b = lo.ceil() as i64;
        // Strictly increasing integer bounds, even where 1% is under a second.
        let b = bounds.last().map_or(b, |&prev: &i64| b.max(prev + 1));
        bounds.push(b);
        lo *= GAMMA;
    }
    bounds
});

/// The bucket of a duration of `micros` (negative durations cannot occur:
/// steps are ordered by when they occurred).
pub fn bucket(micros: i64) -> i32 {
    let secs = micros.max(0) / 1_000_000;
    if secs < EXACT_SECONDS {
        return secs as i32;
    }
    let k = LOWER.partition_point(|&lo| lo <= secs) - 1;
    (EXACT_SECONDS as usize + k) as i32
}

/// The bucket's bounds in seconds, `[lo, hi)`.
pub fn bounds(bucket: i32) -> (i64, i64) {
    let b = bucket.max(0) as i64;
    if b < EXACT_SECONDS {
        return (b, b + 1);
    }
    let k = (b - EXACT_SECONDS) as usize;
    let lo = LOWER[k.min(LOG_BUCKETS - 1)];
    let hi = LOWER.get(k + 1).copied().unwrap_or(i64::MAX);
    (lo, hi)
}

/// The value reported for a bucket, in microseconds: the second itself below
/// a minute, else the point minimising the relative error to either bound.
pub fn representative(bucket: i32) -> i64 {
    let (lo, hi) = bounds(bucket);
    if hi - lo == 1 {
        return lo * 1_000_000;
    }
    // 2·lo·hi / (lo + hi), in whole seconds.
    let (lo, hi) = (lo as i128, hi as i128);
    ((2 * lo * hi + (lo + hi) / 2) / (lo + hi)) as i64 * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_bound_the_relative_error() {
        assert_eq!(bucket(59_999_999), 59);
        assert_eq!(representative(59), 59_000_000);
        for secs in [
            60i64, 61, 3_599, 3_600, 86_400, 86_401, 10_368_000, 31_536_000,
        ] {
            let b = bucket(secs * 1_000_000);
            let (lo, hi) = bounds(b);
            assert!(lo <= secs && secs < hi, "{secs} in [{lo}, {hi})");
            let rep = representative(b) as f64 / 1e6;
            assert!(
                (rep - secs as f64).abs() / (secs as f64) <= 0.0051,
                "{secs}: {rep}"
            );
        }
        // Monotonic: a longer wait never lands in an earlier bucket.
        let mut last = 0;
        for secs in (0..200_000).step_by(37) {
            let b = bucket(secs * 1_000_000);
            assert!(b >= last);
            last = b;
        }
    }
}
