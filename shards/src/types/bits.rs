//! Bit operations on string values: SETBIT, GETBIT, BITCOUNT.
//! Bit 0 is the most significant bit of byte 0, as in Redis.

use super::string::live_string;
use super::string::put_keep_ttl;
use crate::error::OpResult;
use crate::op::Output;
use crate::shard::Shard;

fn bit_at(v: &[u8], offset: u64) -> u8 {
    let byte = (offset >> 3) as usize;
    let bit = 7 - (offset & 7) as u8;
    v.get(byte).map_or(0, |b| (b >> bit) & 1)
}

/// Sets the bit at `offset` (the coordinator bounds it to Redis's 2^32
/// bits); answers the previous bit. The string grows with zero bytes.
pub fn op_setbit(sh: &mut Shard, key: &[u8], offset: u64, on: bool, now: i64) -> OpResult<Output> {
    let (e, old) = live_string(sh, key, now)?;
    let mut v = old.map(|b| b.to_vec()).unwrap_or_default();
    let byte = (offset >> 3) as usize;
    if v.len() <= byte {
        v.resize(byte + 1, 0);
    }
    let prev = bit_at(&v, offset);
    let mask = 1u8 << (7 - (offset & 7) as u8);
    if on {
        v[byte] |= mask;
    } else {
        v[byte] &= !mask;
    }
    put_keep_ttl(sh, key, &e, v.into());
    Ok(Output::Int(i64::from(prev)))
}

pub fn op_getbit(sh: &Shard, key: &[u8], offset: u64, now: i64) -> OpResult<Output> {
    let (_, v) = live_string(sh, key, now)?;
    Ok(Output::Int(v.map_or(0, |v| i64::from(bit_at(&v, offset)))))
}

/// Resolves Redis's inclusive, possibly negative `[start, end]` against
/// `len` units; None when the range is empty.
fn range(start: i64, end: i64, len: i64) -> Option<(i64, i64)> {
    let fix = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (s, e) = (fix(start), fix(end).min(len - 1));
    (len > 0 && s <= e).then_some((s, e))
}

/// BITCOUNT, over the whole value or `[start, end]` in bytes or bits.
pub fn op_bitcount(
    sh: &Shard,
    key: &[u8],
    span: Option<(i64, i64, bool)>,
    now: i64,
) -> OpResult<Output> {
    let (_, v) = live_string(sh, key, now)?;
    let v = v.unwrap_or_default();
    let n = match span {
        None => v.iter().map(|b| b.count_ones() as i64).sum(),
        Some((s, e, false)) => match range(s, e, v.len() as i64) {
            Some((s, e)) => v[s as usize..=e as usize]
                .iter()
                .map(|b| b.count_ones() as i64)
                .sum(),
            None => 0,
        },
        Some((s, e, true)) => match range(s, e, v.len() as i64 * 8) {
            Some((s, e)) => (s..=e).map(|i| i64::from(bit_at(&v, i as u64))).sum(),
            None => 0,
        },
    };
    Ok(Output::Int(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::test_shard;

    #[test]
    fn set_get_count_bits() {
        let (_d, mut sh) = test_shard();
        assert_eq!(
            op_setbit(&mut sh, b"k", 7, true, 0).unwrap(),
            Output::Int(0)
        );
        assert_eq!(
            op_setbit(&mut sh, b"k", 7, true, 0).unwrap(),
            Output::Int(1)
        );
        assert_eq!(op_getbit(&sh, b"k", 7, 0).unwrap(), Output::Int(1));
        assert_eq!(op_getbit(&sh, b"k", 6, 0).unwrap(), Output::Int(0));
        assert_eq!(op_getbit(&sh, b"k", 1000, 0).unwrap(), Output::Int(0));
        op_setbit(&mut sh, b"k", 17, true, 0).unwrap();
        // "\x01\x00\x40"
        assert_eq!(op_bitcount(&sh, b"k", None, 0).unwrap(), Output::Int(2));
        assert_eq!(
            op_bitcount(&sh, b"k", Some((1, -1, false)), 0).unwrap(),
            Output::Int(1)
        );
        assert_eq!(
            op_bitcount(&sh, b"k", Some((0, 7, true)), 0).unwrap(),
            Output::Int(1)
        );
        assert_eq!(
            op_bitcount(&sh, b"k", Some((5, 2, false)), 0).unwrap(),
            Output::Int(0)
        );
        assert_eq!(
            op_setbit(&mut sh, b"k", 7, false, 0).unwrap(),
            Output::Int(1)
        );
        assert_eq!(op_bitcount(&sh, b"k", None, 0).unwrap(), Output::Int(1));
    }
}
