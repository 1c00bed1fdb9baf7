//! Sorting through a single instantiation of the standard library's sort, for the page's size.
//!
//! Each call of `sort_by_key`, `sort_unstable_by` and the like on a new element type or with a
//! new closure compiles the standard library's whole sort again: quicksort, heapsort, the small
//! sorts, and for the stable sorts driftsort's merging too, about 3 to 6 KB of WebAssembly each.
//! With some twenty sorted types (counting the sorts `BTreeMap::from_iter` makes) that was 59 KB
//! of the page's wasm. The functions here sort a permutation of `u32` indices instead, by
//! comparing the items through a `dyn FnMut`, so the standard sort is compiled once; what each
//! element type adds is the short loop that moves the items into that order.
//!
//! Every sort here is stable: items that compare equal keep their order. It therefore gives
//! the same result as `sort_by` and, wherever no two items compare equal, as `sort_unstable_by`.
//! The indirection costs some speed on large inputs: ordering the 100,000 chains of a
//! 10,000-Service nat table by name takes about 34 ms instead of 26 ms natively.

use std::cmp::Ordering;

/// Sorts `items` by `compare`, keeping the order of equal items.
pub fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    let order = {
        let items = &*items;
        permutation(items.len(), &mut |a, b| compare(&items[a], &items[b]))
    };
    apply(items, order);
}

/// Sorts `items` by the key `key` gives each, keeping the order of equal items; the key is
/// computed at every comparison, so it should be cheap (a number, or a borrowed field).
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` by a key computed once per item, like `slice::sort_by_cached_key`.
pub fn sort_by_cached_key<T, K: Ord>(items: &mut [T], key: impl FnMut(&T) -> K) {
    let keys: Vec<K> = items.iter().map(key).collect();
    let order = permutation(keys.len(), &mut |a, b| keys[a].cmp(&keys[b]));
    apply(items, order);
}

/// Sorts `items` in their natural order.
pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// The indices `0..len` in the order `compare` (which compares the items at two indices) sorts
/// them, ties in index order. This is the one place the standard library's sort is instantiated.
#[inline(never)]
fn permutation(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<u32> {
    let len = u32::try_from(len).expect("fewer than 2^32 items to sort");
    let mut order: Vec<u32> = (0..len).collect();
    // Breaking ties by index makes every key unique, so the unstable sort gives the stable order.
    order.sort_unstable_by(|&a, &b| compare(a as usize, b as usize).then(a.cmp(&b)));
    order
}

/// Moves the items so that position `k` holds the item that was at `order[k]`, following each
/// cycle of the permutation with swaps.
fn apply<T>(items: &mut [T], mut order: Vec<u32>) {
    for start in 0..items.len() {
        let mut current = start;
        loop {
            let next = order[current] as usize;
            // A position whose item is in place points at itself, which ends its cycle at once.
            order[current] = current as u32;
            if next == start {
                break;
            }
            items.swap(current, next);
            current = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sort here against the standard library's stable sorts, on inputs with ties.
    #[test]
    fn same_order_as_the_standard_stable_sorts() {
        let mut rng = crate::rng::Rng::new(7);
        for len in 0..200 {
            let items: Vec<(u32, u32)> = (0..len).map(|index| (rng.next_u32() % 13, index)).collect();

            let mut expected = items.clone();
            expected.sort_by_key(|item| item.0);
            let mut actual = items.clone();
            sort_by_key(&mut actual, |item| item.0);
            assert_eq!(actual, expected);

            let mut actual = items.clone();
            sort_by(&mut actual, |a, b| b.0.cmp(&a.0));
            let mut expected = items.clone();
            expected.sort_by_key(|item| std::cmp::Reverse(item.0));
            assert_eq!(actual, expected);

            let mut actual = items.clone();
            sort_by_cached_key(&mut actual, |item| item.0.to_string());
            let mut expected = items.clone();
            expected.sort_by_cached_key(|item| item.0.to_string());
            assert_eq!(actual, expected);

            let mut actual: Vec<u32> = items.iter().map(|item| item.0).collect();
            sort(&mut actual);
            let mut expected: Vec<u32> = items.iter().map(|item| item.0).collect();
            expected.sort();
            assert_eq!(actual, expected);
        }
    }
}
