//! A list of byte strings in one buffer: what a range read returns.
//!
//! Why: LRANGE 0 99 used to hand back a `Vec<Output::Bulk(Bytes)>`, one
//! shared `Bytes` per element cloned out of the read cache and dropped
//! after encoding. Profiles of the shard thread put the reference counting
//! (an atomic increment and decrement on each element's shared header) at
//! 11% and the vectors and conversions at 5% more. Copying a 64-byte
//! element into one growing buffer is cheaper than either, and the encoder
//! then walks two flat vectors.

use serde::Deserialize;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Packed {
    /// The strings, back to back.
    data: Vec<u8>,
    /// Where each string ends in `data`.
    ends: Vec<usize>,
}

impl Packed {
    /// Room for `n` strings of about `each` bytes.
    pub fn with_capacity(n: usize, each: usize) -> Self {
        Packed {
            data: Vec::with_capacity(n.saturating_mul(each)),
            ends: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, s: &[u8]) {
        self.data.extend_from_slice(s);
        self.ends.push(self.data.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of all strings together.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        let mut start = 0;
        // `get`, not indexing: a `Packed` is deserialisable, and offsets
        // that are out of order or past the data must not panic.
        self.ends.iter().map(move |&end| {
            let s = self.data.get(start..end).unwrap_or_default();
            start = end;
            s
        })
    }
}

impl<'a> FromIterator<&'a [u8]> for Packed {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut p = Packed::default();
        for s in iter {
            p.push(s);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_come_back_in_order_empty_ones_included() {
        let items: [&[u8]; 4] = [b"a", b"", b"hello", b"\x00\xff"];
        let p: Packed = items.iter().copied().collect();
        assert_eq!(p.len(), 4);
        assert_eq!(p.bytes(), 8);
        assert_eq!(p.iter().collect::<Vec<_>>(), items);
        assert!(Packed::default().is_empty());
        assert_eq!(Packed::default().iter().count(), 0);
    }
}
