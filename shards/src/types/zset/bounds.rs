//! Where the live part of each recently popped zset's score index begins
//! and ends.
//!
//! Why: a pop deletes the first (ZPOPMIN) or last (ZPOPMAX) index fields,
//! and the deletes stay behind as tombstones until a compaction drops
//! them. An iterator that starts at the front of the index steps over
//! every one of them, so a zset used as a priority queue got slower with
//! every pop: measured, on a 200k-member zset, ZPOPMIN went from 0.3 ms to
//! 1.2 ms after 4k pops, and 50 clients popping saw 89 pops/s. Each pop
//! now records where the live fields start (or end), and walks seek there,
//! past the tombstones.
//!
//! The bounds live in memory only: they speed walks up and never change
//! what a walk finds. The invariant is that no live index field of the
//! recorded version sorts before `low` or at/after `high`. Pops set them;
//! every index write widens them again ([`IndexBounds::added`]); a restart,
//! a snapshot install or a failed commit forgets them (the first walk then
//! starts from the front again).

use std::collections::HashMap;

/// Zsets remembered at most; past this the map starts over (the bounds are
/// only a shortcut, so forgetting them costs one slow walk each).
const MAX_ZSETS: usize = 4096;

struct Bound {
    version: u64,
    /// No live field sorts before it.
    low: Option<Vec<u8>>,
    /// Every live field sorts before it.
    high: Option<Vec<u8>>,
}

#[derive(Default)]
pub struct IndexBounds {
    by_key: HashMap<Vec<u8>, Bound>,
}

impl IndexBounds {
    /// Narrows a walk over `[from, to)` of `key`'s index at `version` to the
    /// part that can hold live fields (borrowing the bounds, so a walk of
    /// a zset without pops copies nothing).
    pub fn narrow<'a>(
        &'a self,
        key: &[u8],
        version: u64,
        from: &'a [u8],
        to: &'a [u8],
    ) -> (&'a [u8], &'a [u8]) {
        let Some(b) = self.by_key.get(key).filter(|b| b.version == version) else {
            return (from, to);
        };
        let from = match b.low.as_deref() {
            Some(low) if low > from => low,
            _ => from,
        };
        let to = match b.high.as_deref() {
            Some(high) if high < to => high,
            _ => to,
        };
        (from, to)
    }

    /// Every field up to and including `field` is gone (a ZPOPMIN deleted
    /// the first live fields, the last of them `field`).
    pub fn popped_front(&mut self, key: &[u8], version: u64, field: Vec<u8>) {
        self.entry(key, version).low = Some(field);
    }

    /// Every field from `field` on is gone (ZPOPMAX; `field` is the
    /// smallest field it deleted).
    pub fn popped_back(&mut self, key: &[u8], version: u64, field: Vec<u8>) {
        self.entry(key, version).high = Some(field);
    }

    /// `field` was written: the bounds widen to take it in.
    pub fn added(&mut self, key: &[u8], version: u64, field: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        let Some(b) = self.by_key.get_mut(key).filter(|b| b.version == version) else {
            return;
        };
        if b.low.as_deref().is_some_and(|low| field < low) {
            b.low = Some(field.to_vec());
        }
        if b.high.as_deref().is_some_and(|high| field >= high) {
            // The smallest key after `field`.
            let mut after = field.to_vec();
            after.push(0);
            b.high = Some(after);
        }
    }

    pub fn clear(&mut self) {
        self.by_key.clear();
    }

    fn entry(&mut self, key: &[u8], version: u64) -> &mut Bound {
        if self.by_key.len() >= MAX_ZSETS && !self.by_key.contains_key(key) {
            self.by_key.clear();
        }
        let b = self.by_key.entry(key.to_vec()).or_insert(Bound {
            version,
            low: None,
            high: None,
        });
        if b.version != version {
            *b = Bound {
                version,
                low: None,
                high: None,
            };
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn narrowed(b: &IndexBounds, version: u64) -> (Vec<u8>, Vec<u8>) {
        let (from, to) = b.narrow(b"z", version, &[1], &[2]);
        (from.to_vec(), to.to_vec())
    }

    #[test]
    fn pops_narrow_and_writes_widen() {
        let mut b = IndexBounds::default();
        b.added(b"z", 7, &[1, 5]);
        assert_eq!(narrowed(&b, 7), (vec![1], vec![2]));
        b.popped_front(b"z", 7, vec![1, 5]);
        b.popped_back(b"z", 7, vec![1, 9]);
        assert_eq!(narrowed(&b, 7), (vec![1, 5], vec![1, 9]));
        // Another version of the key is not narrowed.
        assert_eq!(narrowed(&b, 8), (vec![1], vec![2]));
        // Writes inside the bounds change nothing; outside, they widen.
        b.added(b"z", 7, &[1, 6]);
        assert_eq!(narrowed(&b, 7), (vec![1, 5], vec![1, 9]));
        b.added(b"z", 7, &[1, 3]);
        b.added(b"z", 7, &[1, 9]);
        assert_eq!(narrowed(&b, 7), (vec![1, 3], vec![1, 9, 0]));
        // A new version starts without bounds.
        b.popped_front(b"z", 8, vec![1, 4]);
        assert_eq!(narrowed(&b, 7), (vec![1], vec![2]));
        assert_eq!(narrowed(&b, 8), (vec![1, 4], vec![2]));
        b.clear();
        assert_eq!(narrowed(&b, 8), (vec![1], vec![2]));
    }

    #[test]
    fn the_map_stays_bounded() {
        let mut b = IndexBounds::default();
        for i in 0..(MAX_ZSETS as u32 * 3) {
            b.popped_front(&i.to_be_bytes(), 1, vec![1, 1]);
            assert!(b.by_key.len() <= MAX_ZSETS);
        }
    }
}
