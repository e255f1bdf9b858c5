//! A small in-place sort for the code the binary's applets share with the host (the index
//! builder and writer, `modprobe -c`): heapsort, O(n log n) with no allocation.
//!
//! The standard library's sorts are faster but each use instantiates several kilobytes of code
//! (about 30 KB for the builder's six), which the static binary carries. Heapsort is not
//! stable, so every caller sorts by a total order (ties broken by something unique).

use core::cmp::Ordering;

/// Sorts `v` by `cmp`, which must be a total order.
pub fn sort_by<T>(v: &mut [T], cmp: &mut dyn FnMut(&T, &T) -> Ordering) {
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift_down(v, start, n, cmp);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, cmp);
    }
}

/// Sorts `v` in its natural order.
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, &mut |a, b| a.cmp(b));
}

/// Moves `v[root]` down the max-heap `v[..end]` until both children are not greater.
fn sift_down<T>(v: &mut [T], mut root: usize, end: usize, cmp: &mut dyn FnMut(&T, &T) -> Ordering) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && cmp(&v[child], &v[child + 1]) == Ordering::Less {
            child += 1;
        }
        if cmp(&v[root], &v[child]) != Ordering::Less {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn sorts_like_the_standard_library() {
        let mut seed = 0x2545_f491_u64;
        for len in [0, 1, 2, 3, 5, 16, 17, 100, 1000] {
            let mut v: Vec<u32> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 50) as u32
                })
                .collect();
            let mut expected = v.clone();
            expected.sort();
            sort(&mut v);
            assert_eq!(v, expected, "length {len}");
        }
        let mut words = ["b", "a", "c", "a"];
        sort_by(&mut words, &mut |a, b| b.cmp(a));
        assert_eq!(words, ["c", "b", "a", "a"]);
    }
}
