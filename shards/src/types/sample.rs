//! Picks a random field of a big collection without walking it.
//!
//! Why: fields are sorted sub-keys, and RocksDB cannot skip to the n-th of
//! them, so picking a uniformly random position walks half the collection
//! on average. SPOP on a 200k-member set took ~25 ms (50 clients: 40
//! pops/s). For big collections the pick now descends the field bytes
//! instead: between the first and the last field of the range it draws a
//! byte where they first differ, narrows the range to the fields starting
//! with the bytes drawn so far, and repeats. Each level is two seeks.
//!
//! Like Redis's own pick from a big hash table, the result is random but
//! not exactly uniform: a field's chance depends on how the fields spread
//! over byte values. Names of one width (`member:000123`) come out close to
//! uniform; mixed widths (`member:7` beside `member:1234`) favour the short
//! names, which sit higher in the byte tree. Small collections keep the
//! exact walk (see [`descends`]), which is what Redis's distribution tests
//! look at.

use std::collections::BTreeSet;

use crate::error::OpResult;
use crate::shard::Shard;
use crate::storage::keys::prefix_end;

/// The fields picks are drawn from: those of `key`'s collection at
/// `version` in `[from, to)` (`to` None: every field from `from` on).
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    pub sh: &'a Shard,
    pub key: &'a [u8],
    pub version: u64,
    pub from: &'a [u8],
    pub to: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    /// Every field of `key`'s collection at `version`.
    pub fn all(sh: &'a Shard, key: &'a [u8], version: u64) -> Self {
        Fields {
            sh,
            key,
            version,
            from: b"",
            to: None,
        }
    }
}

/// Collections up to this size pick by exact position (a walk of at most
/// this many fields); bigger ones descend.
pub const EXACT_UP_TO: u64 = 512;

/// How many fields a walk reads for the cost of one descent. Measured on a
/// 200k-member set: a descent (two seeks a level, then up to 64 steps) costs
/// ~70-100 µs, a walk well under 1 µs per field, so `n` descents only pay
/// off on a collection more than ~100-1000 times bigger than `n`.
const WALK_PER_DESCENT: u64 = 256;

/// Whether `picks` picks from a collection of `size` fields should each
/// descend ([`random_field`]) rather than walk once to exact positions: the
/// collection is big, and a walk would read far more fields than the
/// descents cost.
pub fn descends(size: u64, picks: u64) -> bool {
    size > EXACT_UP_TO && picks.saturating_mul(WALK_PER_DESCENT) <= size
}

/// `n` distinct fields, each picked by descent, in field order; None when
/// the picks keep colliding (a very uneven collection), so the caller
/// should walk instead. For `n` well below the collection's size
/// ([`descends`]).
pub fn distinct_fields(
    fields: Fields<'_>,
    n: u64,
    rng: &mut Picker,
) -> OpResult<Option<Vec<Vec<u8>>>> {
    let mut picked = BTreeSet::new();
    for _ in 0..n * 4 + 16 {
        if picked.len() as u64 == n {
            break;
        }
        if let Some(f) = random_field(fields, rng)? {
            picked.insert(f);
        }
    }
    if (picked.len() as u64) < n {
        return Ok(None);
    }
    Ok(Some(picked.into_iter().collect()))
}

/// `n` fields picked by descent, in random order: distinct ones (None when
/// they keep colliding: walk instead) or, without `distinct`, ones that may
/// repeat. HRANDFIELD's and ZRANDMEMBER's rule.
pub fn shuffled_picks(
    fields: Fields<'_>,
    n: u64,
    distinct: bool,
    rng: &mut Picker,
) -> OpResult<Option<Vec<Vec<u8>>>> {
    if !distinct {
        return fields_with_repeats(fields, n, rng).map(Some);
    }
    let mut picked = distinct_fields(fields, n, rng)?;
    if let Some(p) = &mut picked {
        rng.shuffle(p);
    }
    Ok(picked)
}

/// `n` fields that may repeat, each picked by descent (empty when there
/// are none).
pub fn fields_with_repeats(fields: Fields<'_>, n: u64, rng: &mut Picker) -> OpResult<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
    for _ in 0..n {
        match random_field(fields, rng)? {
            Some(f) => out.push(f),
            None => break,
        }
    }
    Ok(out)
}

/// Levels descended at most before taking the first field of the range
/// reached (long fields sharing long prefixes).
const MAX_DEPTH: usize = 64;

/// One of `fields`, picked with `rng`; None when there are none.
pub fn random_field(fields: Fields<'_>, rng: &mut Picker) -> OpResult<Option<Vec<u8>>> {
    let Fields {
        sh,
        key,
        version,
        from,
        to,
    } = fields;
    let Some(landed) = descend(fields, rng)? else {
        return Ok(None);
    };
    // Step a random number of fields on (wrapping round), so a field's
    // chance is the average landing chance of the SMOOTHING fields before
    // it: descending weighs byte values alike, not the fields under them.
    let mut steps = rng.below(SMOOTHING);
    let mut found = None;
    // From where it landed, then (past the last field) from the first.
    for start in [landed.as_slice(), from] {
        if found.is_some() {
            break;
        }
        sh.sub_scan(key, version, start, to, false, |f, _| {
            if steps == 0 {
                found = Some(f.to_vec());
                return false;
            }
            steps -= 1;
            true
        })?;
    }
    Ok(found.or(Some(landed)))
}

/// How many fields a pick steps on at most after its descent.
const SMOOTHING: u64 = 64;

/// The field the byte-wise descent lands on.
fn descend(fields: Fields<'_>, rng: &mut Picker) -> OpResult<Option<Vec<u8>>> {
    let Fields {
        sh,
        key,
        version,
        from,
        to,
    } = fields;
    let mut cursor = sh.sub_cursor(key, version);
    let mut edge = |lo: &[u8], hi: Option<&[u8]>, last| cursor.edge(lo, hi, last);
    let (mut lo, mut hi) = (from.to_vec(), to.map(<[u8]>::to_vec));
    let Some(mut first) = edge(&lo, hi.as_deref(), false)? else {
        return Ok(None);
    };
    for _ in 0..MAX_DEPTH {
        let Some(last) = edge(&lo, hi.as_deref(), true)? else {
            return Ok(Some(first));
        };
        if first == last {
            return Ok(Some(first));
        }
        // first < last, so last is longer than their common prefix.
        let common = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
        // `first` may be the common prefix itself: one more choice.
        let low = if first.len() == common {
            -1
        } else {
            i32::from(first[common])
        };
        let span = (i32::from(last[common]) - low + 1) as u64;
        let byte = low + rng.below(span) as i32;
        if byte < 0 {
            return Ok(Some(first));
        }
        let mut prefix = last[..common].to_vec();
        prefix.push(byte as u8);
        // The first field from the bytes drawn on (there is one: `last`).
        let Some(next) = edge(&prefix, hi.as_deref(), false)? else {
            return Ok(Some(last));
        };
        if !next.starts_with(&prefix) {
            // No field starts with the bytes drawn: the next one after.
            return Ok(Some(next));
        }
        let end = prefix_end(&prefix);
        lo = lo.max(prefix);
        hi = Some(match hi {
            Some(h) => h.min(end),
            None => end,
        });
        first = next;
    }
    Ok(Some(first))
}

/// A small portable generator (SplitMix64). SPOP's choices must be the
/// same on every replica and every build, so they come from the seed in
/// the op through a fixed algorithm, not a platform-dependent RNG.
pub struct Picker(pub u64);

impl Picker {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A position in `[0, n)`, `n > 0` (multiply-shift, no modulo bias
    /// worth speaking of for set sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// `k` distinct positions in `[0, n)`, `k <= n`, sorted (Floyd's
    /// algorithm: O(k) draws whatever `n` is).
    pub fn distinct(&mut self, k: u64, n: u64) -> Vec<u64> {
        let mut chosen = BTreeSet::new();
        for j in n - k..n {
            let t = self.below(j + 1);
            if !chosen.insert(t) {
                chosen.insert(j);
            }
        }
        chosen.into_iter().collect()
    }

    /// Fisher-Yates, so a sample does not come back in member order.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::shard::test_shard;

    /// A collection at version 1 of `key` with `fields`, committed.
    fn fill(sh: &mut Shard, key: &[u8], fields: &[Vec<u8>]) {
        for f in fields {
            sh.sub_put(key, 1, f, Vec::new());
        }
        sh.commit().unwrap();
    }

    /// How many of `fields` 20 000 picks hit, and the most any one got.
    fn spread(fields: &[Vec<u8>]) -> (usize, u32) {
        let (_d, mut sh) = test_shard();
        fill(&mut sh, b"k", fields);
        let mut next = Picker(7);
        let mut hits: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        for _ in 0..20_000 {
            let f = random_field(Fields::all(&sh, b"k", 1), &mut next)
                .unwrap()
                .unwrap();
            assert!(fields.contains(&f), "{f:?}");
            *hits.entry(f).or_default() += 1;
        }
        (hits.len(), hits.values().copied().max().unwrap_or(0))
    }

    #[test]
    fn picks_spread_over_the_fields() {
        // 10 draws per field on average. Names of one width come out close
        // to uniform: nearly every field is drawn, none much too often.
        let even: Vec<Vec<u8>> = (0..2000)
            .map(|i| format!("member:{i:06}").into_bytes())
            .collect();
        let (drawn, most) = spread(&even);
        assert!(
            drawn > 1900 && most < 40,
            "{drawn} fields drawn, at most {most} times"
        );
        // Names of mixed widths are drawn unevenly (short names sit higher
        // in the byte tree), but still widely.
        let mixed: Vec<Vec<u8>> = (0..2000)
            .map(|i| format!("member:{i}").into_bytes())
            .collect();
        let (drawn, most) = spread(&mixed);
        assert!(
            drawn > 1000 && most < 200,
            "{drawn} fields drawn, at most {most} times"
        );
    }

    #[test]
    fn prefixes_gaps_ranges_and_other_versions() {
        let (_d, mut sh) = test_shard();
        let fields: Vec<Vec<u8>> = [&b"a"[..], b"ab", b"abc", b"b\xff\xff", b"z", b"zz\x00"]
            .iter()
            .map(|f| f.to_vec())
            .collect();
        fill(&mut sh, b"k", &fields);
        sh.sub_put(b"k", 2, b"other", Vec::new());
        sh.sub_put(b"j", 1, b"other", Vec::new());
        let mut next = Picker(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let f = random_field(Fields::all(&sh, b"k", 1), &mut next)
                .unwrap()
                .unwrap();
            assert!(fields.contains(&f), "{f:?}");
            seen.insert(f);
        }
        assert_eq!(seen.len(), fields.len(), "every field can come up");
        // A sub-range only yields fields inside it.
        for _ in 0..200 {
            let f = random_field(
                Fields {
                    from: b"ab",
                    to: Some(b"z"),
                    ..Fields::all(&sh, b"k", 1)
                },
                &mut next,
            )
            .unwrap()
            .unwrap();
            assert!(
                f.as_slice() >= b"ab".as_slice() && f.as_slice() < b"z".as_slice(),
                "{f:?}"
            );
        }
        assert_eq!(
            random_field(
                Fields {
                    from: b"c",
                    to: Some(b"d"),
                    ..Fields::all(&sh, b"k", 1)
                },
                &mut next,
            )
            .unwrap(),
            None
        );
        assert_eq!(
            random_field(Fields::all(&sh, b"k", 9), &mut next).unwrap(),
            None
        );
        // This tick's writes are seen before they are committed.
        sh.sub_put(b"k", 5, b"new", Vec::new());
        assert_eq!(
            random_field(Fields::all(&sh, b"k", 5), &mut next).unwrap(),
            Some(b"new".to_vec())
        );
    }
}
