//! Lists over versioned sub-keys.
//!
//! The metadata record holds `head`, the position of the first element,
//! and `size`. Element `i` lives in the sub-key whose field is the
//! big-endian u64 `head + i`, so fields sort in list order: LINDEX and LSET
//! are point reads, LRANGE and LPOS are seeks, pushes and pops touch one
//! sub-key per element (a left push moves `head` down). A new list starts
//! in the middle of the u64 range ([`collection::LIST_START`]), so either
//! end has room for 2^63 pushes.
//!
//! Edits in the middle (LINSERT, LREM) rewrite the elements between the
//! edit and the nearer end, O(N) as in Kvrocks. Every element that leaves
//! the list has its sub-key deleted, so an emptied list leaves nothing.

use bytes::Bytes;

use super::collection;
use super::collection::Coll;
use crate::error::OpError;
use crate::error::OpResult;
use crate::op::ListOp;
use crate::op::Output;
use crate::op::Packed;
use crate::shard::Shard;
use crate::storage::meta::RedisType;

type List = Coll;

/// Runs one list op at time `now`.
pub fn execute(sh: &mut Shard, op: ListOp, now: i64) -> OpResult<Output> {
    match op {
        ListOp::Push {
            key,
            elements,
            left,
            only_existing,
        } => op_push(sh, &key, elements, left, only_existing, now),
        ListOp::Pop { key, left, count } => op_pop(sh, &key, left, count, now),
        ListOp::PopFirst {
            keys,
            left,
            count,
            skip_wrong_type,
        } => op_pop_first(sh, &keys, left, count, skip_wrong_type, now),
        ListOp::AnyNonEmpty(keys) => op_any_non_empty(sh, &keys, now),
        ListOp::Len(key) => op_len(sh, &key, now),
        ListOp::Range { key, start, stop } => op_range(sh, &key, start, stop, now),
        ListOp::Index { key, index } => op_index(sh, &key, index, now),
        ListOp::Set {
            key,
            index,
            element,
        } => op_set(sh, &key, index, element, now),
        ListOp::Insert {
            key,
            before,
            pivot,
            element,
        } => op_insert(sh, &key, before, &pivot, element, now),
        ListOp::Rem {
            key,
            count,
            element,
        } => op_rem(sh, &key, count, &element, now),
        ListOp::Trim { key, start, stop } => op_trim(sh, &key, start, stop, now),
        ListOp::Pos {
            key,
            element,
            rank,
            count,
            maxlen,
        } => op_pos(sh, &key, &element, rank, count, maxlen, now),
        ListOp::Move {
            src,
            dst,
            from_left,
            to_left,
        } => op_move(sh, &src, &dst, from_left, to_left, now),
        ListOp::ServeMove {
            src,
            dst,
            from_left,
            to_left,
        } => match load(sh, &src, now) {
            Err(OpError::WrongType) => Ok(Output::Nil),
            _ => op_move(sh, &src, &dst, from_left, to_left, now),
        },
    }
}

fn load(sh: &Shard, key: &[u8], now: i64) -> OpResult<Option<List>> {
    collection::load(sh, key, now, RedisType::List)
}

fn load_or_new(sh: &mut Shard, key: &[u8], now: i64) -> OpResult<List> {
    collection::load_or_new(sh, key, now, RedisType::List)
}

fn store(sh: &mut Shard, key: &[u8], l: &List) {
    collection::store(sh, key, RedisType::List, l)
}

/// The sub-key field of the element at index `i` of `l`.
fn field(l: &List, i: u64) -> [u8; 8] {
    l.head.wrapping_add(i).to_be_bytes()
}

/// Ranges up to this many elements are read with point lookups.
const POINT_READS: u64 = 128;

/// Longer ranges up to this many elements are put into the read cache as
/// they are scanned (redis-benchmark's LRANGE_600 reads 600; a range of
/// thousands is one iterator walk that would mostly evict other records).
const CACHE_FILL: u64 = 1024;

/// Elements `[from, to)` of `l`, in list order or (with `reverse`) from
/// `to - 1` down to `from`.
fn read(
    sh: &Shard,
    key: &[u8],
    l: &List,
    from: u64,
    to: u64,
    reverse: bool,
) -> OpResult<Vec<Bytes>> {
    let mut out = Vec::with_capacity(to.saturating_sub(from).min(POINT_READS) as usize);
    read_range_each(sh, key, l, from, to, reverse, |v| {
        out.push(Bytes::copy_from_slice(v))
    })?;
    Ok(out)
}

/// [`read`] into one buffer, for replies that only encode the elements.
fn read_packed(sh: &Shard, key: &[u8], l: &List, from: u64, to: u64) -> OpResult<Packed> {
    let n = to.saturating_sub(from).min(POINT_READS) as usize;
    let mut out = Packed::with_capacity(n, 64);
    read_range_each(sh, key, l, from, to, false, |v| out.push(v))?;
    Ok(out)
}

/// Lends elements `[from, to)` of `l` to `f`, in the order [`read`] gives.
fn read_range_each(
    sh: &Shard,
    key: &[u8],
    l: &List,
    from: u64,
    to: u64,
    reverse: bool,
    mut f: impl FnMut(&[u8]),
) -> OpResult<()> {
    if from >= to {
        return Ok(());
    }
    let mut g = |v: Option<&[u8]>| {
        if let Some(v) = v {
            f(v)
        }
    };
    // Position `k` of the answer is element `at(k)`.
    let at = |k: u64| if reverse { to - 1 - k } else { from + k };
    let n = to - from;
    // Elements are dense (index head + i), so a few of them are point
    // reads. Those find the newest version at once, while an iterator has
    // to step over every older version of the same index that a
    // push/pop churn leaves in the memtable (LPOP fell to 0.09x of Redis
    // with 16-deep pipelines on one list).
    if n <= POINT_READS {
        return sh.sub_get_many(key, l.version, (0..n).map(|k| field(l, at(k))), g);
    }
    // A longer range: as far as memory (the read cache) knows it, point
    // reads still, and an iterator from the first element it does not.
    // An iterator step costs ~200 ns against ~25 ns for a cached point
    // read (LRANGE 0 299 ran at 0.39x of Redis), so a range short enough
    // to be read again is put into the cache as the iterator reads it.
    let known = sh.sub_get_known(key, l.version, (0..n).map(|k| field(l, at(k))), &mut g) as u64;
    if known == n {
        return Ok(());
    }
    let (lo, hi) = if reverse {
        (from, to - known)
    } else {
        (from + known, to)
    };
    let (lo_field, hi_field) = (field(l, lo), field(l, hi));
    if hi - lo <= CACHE_FILL {
        return sh.sub_scan_filling(key, l.version, &lo_field, &hi_field, reverse, |v| {
            g(Some(v))
        });
    }
    sh.sub_scan(
        key,
        l.version,
        &lo_field,
        Some(&hi_field),
        reverse,
        |_, v| {
            g(Some(v));
            true
        },
    )
}

fn put(sh: &mut Shard, key: &[u8], l: &List, i: u64, v: &[u8]) {
    sh.sub_put(key, l.version, &field(l, i), v.to_vec());
}

fn delete(sh: &mut Shard, key: &[u8], l: &List, i: u64) {
    sh.sub_delete(key, l.version, &field(l, i));
}

/// Appends `elements` one by one at the head (each becomes the new first,
/// as LPUSH does) or at the tail. The caller stores `l`.
fn push(sh: &mut Shard, key: &[u8], l: &mut List, elements: &[Bytes], left: bool) {
    for e in elements {
        if left {
            l.head = l.head.wrapping_sub(1);
            put(sh, key, l, 0, e);
        } else {
            put(sh, key, l, l.size, e);
        }
        l.size += 1;
    }
}

/// Removes and returns up to `n` elements from one end, the outermost
/// first (so RPOP with a count answers the tail backwards), and stores `l`.
fn pop_n(sh: &mut Shard, key: &[u8], l: &mut List, left: bool, n: u64) -> OpResult<Vec<Bytes>> {
    let n = n.min(l.size);
    let (from, to) = if left { (0, n) } else { (l.size - n, l.size) };
    let out = read(sh, key, l, from, to, !left)?;
    for i in from..to {
        delete(sh, key, l, i);
    }
    if left {
        l.head = l.head.wrapping_add(n);
    }
    l.size -= n;
    store(sh, key, l);
    Ok(out)
}

/// Redis's inclusive range `[start, stop]` of a list of `len`, negatives
/// counting from the end; None when it selects nothing.
fn clamp_range(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as u64, stop.min(len - 1) as u64))
}

/// The position of `index` (negative: from the end) in a list of `len`.
fn position(index: i64, len: u64) -> Option<u64> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as u64)
}

pub fn op_push(
    sh: &mut Shard,
    key: &[u8],
    elements: Vec<Bytes>,
    left: bool,
    only_existing: bool,
    now: i64,
) -> OpResult<Output> {
    let mut l = if only_existing {
        match load(sh, key, now)? {
            Some(l) => l,
            None => return Ok(Output::Int(0)),
        }
    } else {
        load_or_new(sh, key, now)?
    };
    push(sh, key, &mut l, &elements, left);
    store(sh, key, &l);
    Ok(Output::Int(l.size as i64))
}

pub fn op_pop(
    sh: &mut Shard,
    key: &[u8],
    left: bool,
    count: Option<u64>,
    now: i64,
) -> OpResult<Output> {
    let Some(mut l) = load(sh, key, now)? else {
        return Ok(Output::Nil);
    };
    if count == Some(0) {
        return Ok(Output::Array(Vec::new()));
    }
    let popped = pop_n(sh, key, &mut l, left, count.unwrap_or(1))?;
    Ok(match count {
        None => Output::bulk_or_nil(popped.into_iter().next()),
        Some(_) => Output::Array(popped.into_iter().map(Output::Bulk).collect()),
    })
}

pub fn op_pop_first(
    sh: &mut Shard,
    keys: &[Bytes],
    left: bool,
    count: Option<u64>,
    skip_wrong_type: bool,
    now: i64,
) -> OpResult<Output> {
    for key in keys {
        let mut l = match load(sh, key, now) {
            Ok(Some(l)) if l.size > 0 => l,
            Ok(_) => continue,
            Err(OpError::WrongType) if skip_wrong_type => continue,
            Err(e) => return Err(e),
        };
        let popped = pop_n(sh, key, &mut l, left, count.unwrap_or(1))?;
        let value = match count {
            None => Output::bulk_or_nil(popped.into_iter().next()),
            Some(_) => Output::Array(popped.into_iter().map(Output::Bulk).collect()),
        };
        return Ok(Output::Array(vec![Output::Bulk(key.clone()), value]));
    }
    Ok(Output::Nil)
}

pub fn op_any_non_empty(sh: &Shard, keys: &[Bytes], now: i64) -> OpResult<Output> {
    for key in keys {
        match load(sh, key, now) {
            Ok(Some(l)) if l.size > 0 => return Ok(Output::Int(1)),
            Ok(_) | Err(OpError::WrongType) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Output::Int(0))
}

pub fn op_len(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::Int(
        load(sh, key, now)?.map_or(0, |l| l.size as i64),
    ))
}

pub fn op_range(sh: &Shard, key: &[u8], start: i64, stop: i64, now: i64) -> OpResult<Output> {
    let Some(l) = load(sh, key, now)? else {
        return Ok(Output::Array(Vec::new()));
    };
    let Some((from, to)) = clamp_range(start, stop, l.size) else {
        return Ok(Output::Array(Vec::new()));
    };
    Ok(Output::Packed(read_packed(sh, key, &l, from, to + 1)?))
}

pub fn op_index(sh: &Shard, key: &[u8], index: Option<i64>, now: i64) -> OpResult<Output> {
    let Some(l) = load(sh, key, now)? else {
        return Ok(Output::Nil);
    };
    let index = index.ok_or(OpError::NotInteger)?;
    let Some(i) = position(index, l.size) else {
        return Ok(Output::Nil);
    };
    Ok(Output::bulk_or_nil(sh.sub_get(
        key,
        l.version,
        &field(&l, i),
    )?))
}

pub fn op_set(
    sh: &mut Shard,
    key: &[u8],
    index: Option<i64>,
    element: Bytes,
    now: i64,
) -> OpResult<Output> {
    let l = load(sh, key, now)?.ok_or(OpError::NoSuchKey)?;
    let index = index.ok_or(OpError::NotInteger)?;
    let i = position(index, l.size).ok_or(OpError::IndexOutOfRange)?;
    put(sh, key, &l, i, &element);
    Ok(Output::Ok)
}

/// Index of the first element equal to `value`, scanning from the head.
fn find(sh: &Shard, key: &[u8], l: &List, value: &[u8]) -> OpResult<Option<u64>> {
    let (mut i, mut found) = (0u64, None);
    read_each(sh, key, l, false, |v| {
        if v == value {
            found = Some(i);
            return false;
        }
        i += 1;
        true
    })?;
    Ok(found)
}

/// Walks every element from the head (or the tail); `f` returns false to stop.
fn read_each(
    sh: &Shard,
    key: &[u8],
    l: &List,
    reverse: bool,
    mut f: impl FnMut(&[u8]) -> bool,
) -> OpResult<()> {
    if l.size == 0 {
        return Ok(());
    }
    let (lo, hi) = (field(l, 0), field(l, l.size));
    sh.sub_scan(key, l.version, &lo, Some(&hi), reverse, |_, v| f(v))
}

/// Inserts `element` so that it ends up at index `q` (`0..=size`),
/// shifting the shorter side of the list by one.
fn insert_at(sh: &mut Shard, key: &[u8], l: &mut List, q: u64, element: &[u8]) -> OpResult<()> {
    if q < l.size - q {
        let before = read(sh, key, l, 0, q, false)?;
        l.head = l.head.wrapping_sub(1);
        for (i, v) in before.iter().enumerate() {
            put(sh, key, l, i as u64, v);
        }
    } else {
        let after = read(sh, key, l, q, l.size, false)?;
        for (i, v) in after.iter().enumerate() {
            put(sh, key, l, q + 1 + i as u64, v);
        }
    }
    put(sh, key, l, q, element);
    l.size += 1;
    Ok(())
}

pub fn op_insert(
    sh: &mut Shard,
    key: &[u8],
    before: bool,
    pivot: &[u8],
    element: Bytes,
    now: i64,
) -> OpResult<Output> {
    let Some(mut l) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    let Some(p) = find(sh, key, &l, pivot)? else {
        return Ok(Output::Int(-1));
    };
    let q = if before { p } else { p + 1 };
    insert_at(sh, key, &mut l, q, &element)?;
    store(sh, key, &l);
    Ok(Output::Int(l.size as i64))
}

pub fn op_rem(
    sh: &mut Shard,
    key: &[u8],
    count: i64,
    element: &[u8],
    now: i64,
) -> OpResult<Output> {
    let Some(mut l) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    let items = read(sh, key, &l, 0, l.size, false)?;
    let limit = count.unsigned_abs();
    let mut removed = vec![false; items.len()];
    let mut n = 0u64;
    let mut mark = |i: usize| {
        if items[i] == element && (limit == 0 || n < limit) {
            removed[i] = true;
            n += 1;
        }
    };
    if count < 0 {
        (0..items.len()).rev().for_each(&mut mark);
    } else {
        (0..items.len()).for_each(&mut mark);
    }
    if n > 0 {
        compact(sh, key, &mut l, &items, &removed);
        store(sh, key, &l);
    }
    Ok(Output::Int(n as i64))
}

/// Drops the elements flagged in `removed` (`items` is the whole list) by
/// rewriting the part between the first and last removed element and the
/// nearer end of the list, then deleting the sub-keys left over.
fn compact(sh: &mut Shard, key: &[u8], l: &mut List, items: &[Bytes], removed: &[bool]) {
    let first = removed.iter().position(|&r| r).unwrap_or(0);
    let last = removed.iter().rposition(|&r| r).unwrap_or(0);
    let gone = removed.iter().filter(|&&r| r).count() as u64;
    let size = l.size;
    if size - first as u64 <= last as u64 + 1 {
        // Shift what follows `first` towards the head.
        let mut at = first as u64;
        for (v, _) in items.iter().zip(removed).skip(first).filter(|(_, r)| !**r) {
            put(sh, key, l, at, v);
            at += 1;
        }
        for i in at..size {
            delete(sh, key, l, i);
        }
    } else {
        // Shift what precedes `last` towards the tail.
        let mut at = last as u64 + 1;
        let kept = items[..=last].iter().zip(&removed[..=last]);
        for (v, _) in kept.rev().filter(|(_, r)| !**r) {
            at -= 1;
            put(sh, key, l, at, v);
        }
        for i in 0..at {
            delete(sh, key, l, i);
        }
        l.head = l.head.wrapping_add(gone);
    }
    l.size -= gone;
}

pub fn op_trim(sh: &mut Shard, key: &[u8], start: i64, stop: i64, now: i64) -> OpResult<Output> {
    let Some(mut l) = load(sh, key, now)? else {
        return Ok(Output::Ok);
    };
    let (ltrim, rtrim) = match clamp_range(start, stop, l.size) {
        Some((from, to)) => (from, l.size - to - 1),
        None => (l.size, 0),
    };
    for i in (0..ltrim).chain(l.size - rtrim..l.size) {
        delete(sh, key, &l, i);
    }
    l.head = l.head.wrapping_add(ltrim);
    l.size -= ltrim + rtrim;
    store(sh, key, &l);
    Ok(Output::Ok)
}

pub fn op_pos(
    sh: &Shard,
    key: &[u8],
    element: &[u8],
    rank: i64,
    count: Option<u64>,
    maxlen: u64,
    now: i64,
) -> OpResult<Output> {
    let Some(l) = load(sh, key, now)? else {
        return Ok(match count {
            Some(_) => Output::Array(Vec::new()),
            None => Output::Nil,
        });
    };
    let reverse = rank < 0;
    let skip = rank.unsigned_abs() - 1;
    let (mut scanned, mut matches) = (0u64, 0u64);
    let mut found = Vec::new();
    read_each(sh, key, &l, reverse, |v| {
        if maxlen != 0 && scanned >= maxlen {
            return false;
        }
        let index = if reverse {
            l.size - 1 - scanned
        } else {
            scanned
        };
        scanned += 1;
        if v != element {
            return true;
        }
        matches += 1;
        if matches <= skip {
            return true;
        }
        found.push(Output::Int(index as i64));
        match count {
            None => false,
            Some(c) => c == 0 || (found.len() as u64) < c,
        }
    })?;
    Ok(match count {
        Some(_) => Output::Array(found),
        None => found.pop().unwrap_or(Output::Nil),
    })
}

pub fn op_move(
    sh: &mut Shard,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
    now: i64,
) -> OpResult<Output> {
    let Some(mut s) = load(sh, src, now)? else {
        return Ok(Output::Nil);
    };
    // Redis checks the destination's type before popping anything.
    load(sh, dst, now)?;
    let popped = pop_n(sh, src, &mut s, from_left, 1)?;
    let Some(value) = popped.into_iter().next() else {
        return Ok(Output::Nil);
    };
    // Loaded after the pop: `dst` may be `src`, just changed or deleted.
    let mut d = load_or_new(sh, dst, now)?;
    push(sh, dst, &mut d, std::slice::from_ref(&value), to_left);
    store(sh, dst, &d);
    Ok(Output::Bulk(value))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;
    use crate::op::Op;
    use crate::shard::test_bytes as b;
    use crate::shard::test_shard as shard;

    /// Runs `op`; a packed range comes back as the bulks it stands for.
    fn run(sh: &mut Shard, op: ListOp) -> OpResult<Output> {
        sh.execute(Op::Lists(op), 1000).map(Output::unpacked)
    }

    fn bulks(items: &[&str]) -> Output {
        Output::Array(items.iter().map(|s| Output::Bulk(b(s))).collect())
    }

    fn ints(items: &[i64]) -> Output {
        Output::Array(items.iter().map(|&i| Output::Int(i)).collect())
    }

    fn push(sh: &mut Shard, key: &str, items: &[&str], left: bool) -> OpResult<Output> {
        run(
            sh,
            ListOp::Push {
                key: b(key),
                elements: items.iter().map(|s| b(s)).collect(),
                left,
                only_existing: false,
            },
        )
    }

    fn all(sh: &mut Shard, key: &str) -> Output {
        run(
            sh,
            ListOp::Range {
                key: b(key),
                start: 0,
                stop: -1,
            },
        )
        .unwrap()
    }

    /// Sub-keys stored for any version of `key`: an emptied list leaves none.
    fn sub_keys(sh: &Shard) -> usize {
        let mut n = 0;
        sh.store()
            .scan(
                &[crate::storage::keys::SUBKEY],
                &[crate::storage::keys::SUBKEY + 1],
                |_, _| {
                    n += 1;
                    true
                },
            )
            .unwrap();
        n
    }

    #[test]
    fn push_pop_len_and_order() {
        let (_d, mut sh) = shard();
        assert_eq!(push(&mut sh, "l", &["a", "b"], false), Ok(Output::Int(2)));
        assert_eq!(push(&mut sh, "l", &["x", "y"], true), Ok(Output::Int(4)));
        assert_eq!(all(&mut sh, "l"), bulks(&["y", "x", "a", "b"]));
        assert_eq!(run(&mut sh, ListOp::Len(b("l"))), Ok(Output::Int(4)));
        let pop = |left, count| ListOp::Pop {
            key: b("l"),
            left,
            count,
        };
        assert_eq!(run(&mut sh, pop(true, None)), Ok(Output::Bulk(b("y"))));
        assert_eq!(run(&mut sh, pop(false, Some(0))), Ok(bulks(&[])));
        assert_eq!(run(&mut sh, pop(false, Some(2))), Ok(bulks(&["b", "a"])));
        assert_eq!(run(&mut sh, pop(false, Some(5))), Ok(bulks(&["x"])));
        assert_eq!(run(&mut sh, pop(true, None)), Ok(Output::Nil));
        assert_eq!(run(&mut sh, pop(true, Some(3))), Ok(Output::Nil));
        assert_eq!(sh.stats().keys, 0);
        assert_eq!(sub_keys(&sh), 0);
    }

    #[test]
    fn pushx_only_on_existing_lists_and_wrongtype() {
        let (_d, mut sh) = shard();
        let pushx = |key: &str| ListOp::Push {
            key: b(key),
            elements: vec![b("v")],
            left: true,
            only_existing: true,
        };
        assert_eq!(run(&mut sh, pushx("l")), Ok(Output::Int(0)));
        assert_eq!(sh.stats().keys, 0);
        push(&mut sh, "l", &["a"], true).unwrap();
        assert_eq!(run(&mut sh, pushx("l")), Ok(Output::Int(2)));
        let set = Op::Set {
            key: b("s"),
            value: b("v"),
            expiry: crate::op::SetExpiry::Clear,
            cond: crate::op::SetCond::Always,
            get: false,
        };
        sh.execute(set, 1000).unwrap();
        assert_eq!(run(&mut sh, pushx("s")), Err(OpError::WrongType));
        assert_eq!(push(&mut sh, "s", &["a"], true), Err(OpError::WrongType));
        assert_eq!(run(&mut sh, ListOp::Len(b("s"))), Err(OpError::WrongType));
        assert_eq!(
            sh.execute(Op::Type(b("l")), 1000),
            Ok(Output::Status("list".into()))
        );
    }

    #[test]
    fn range_index_and_set() {
        let (_d, mut sh) = shard();
        push(&mut sh, "l", &["a", "b", "c", "d"], false).unwrap();
        let range = |start, stop| ListOp::Range {
            key: b("l"),
            start,
            stop,
        };
        assert_eq!(run(&mut sh, range(1, 2)), Ok(bulks(&["b", "c"])));
        assert_eq!(run(&mut sh, range(-3, -2)), Ok(bulks(&["b", "c"])));
        assert_eq!(
            run(&mut sh, range(-100, 100)),
            Ok(bulks(&["a", "b", "c", "d"]))
        );
        assert_eq!(run(&mut sh, range(3, 1)), Ok(bulks(&[])));
        assert_eq!(run(&mut sh, range(4, 10)), Ok(bulks(&[])));
        assert_eq!(
            run(&mut sh, range(i64::MIN, i64::MAX)),
            Ok(bulks(&["a", "b", "c", "d"]))
        );
        let index = |key: &str, index| ListOp::Index { key: b(key), index };
        assert_eq!(run(&mut sh, index("l", Some(-1))), Ok(Output::Bulk(b("d"))));
        assert_eq!(run(&mut sh, index("l", Some(4))), Ok(Output::Nil));
        assert_eq!(run(&mut sh, index("l", None)), Err(OpError::NotInteger));
        assert_eq!(run(&mut sh, index("none", None)), Ok(Output::Nil));
        let set = |key: &str, index| ListOp::Set {
            key: b(key),
            index,
            element: b("z"),
        };
        assert_eq!(run(&mut sh, set("l", Some(-4))), Ok(Output::Ok));
        assert_eq!(
            run(&mut sh, set("l", Some(4))),
            Err(OpError::IndexOutOfRange)
        );
        assert_eq!(run(&mut sh, set("l", None)), Err(OpError::NotInteger));
        assert_eq!(run(&mut sh, set("none", None)), Err(OpError::NoSuchKey));
        assert_eq!(all(&mut sh, "l"), bulks(&["z", "b", "c", "d"]));
    }

    #[test]
    fn insert_shifts_either_side() {
        let (_d, mut sh) = shard();
        push(&mut sh, "l", &["a", "b", "c", "d", "e"], false).unwrap();
        let insert = |before, pivot: &str, element: &str| ListOp::Insert {
            key: b("l"),
            before,
            pivot: b(pivot),
            element: b(element),
        };
        assert_eq!(run(&mut sh, insert(true, "b", "1")), Ok(Output::Int(6)));
        assert_eq!(run(&mut sh, insert(false, "d", "2")), Ok(Output::Int(7)));
        assert_eq!(run(&mut sh, insert(false, "e", "3")), Ok(Output::Int(8)));
        assert_eq!(run(&mut sh, insert(true, "a", "0")), Ok(Output::Int(9)));
        assert_eq!(run(&mut sh, insert(true, "zz", "x")), Ok(Output::Int(-1)));
        assert_eq!(
            all(&mut sh, "l"),
            bulks(&["0", "a", "1", "b", "c", "d", "2", "e", "3"])
        );
        let missing = ListOp::Insert {
            key: b("none"),
            before: true,
            pivot: b("a"),
            element: b("b"),
        };
        assert_eq!(run(&mut sh, missing), Ok(Output::Int(0)));
        assert_eq!(sh.stats().keys, 1);
    }

    #[test]
    fn rem_from_head_tail_and_all() {
        let (_d, mut sh) = shard();
        push(&mut sh, "l", &["x", "a", "x", "b", "x", "c", "x"], false).unwrap();
        let rem = |count| ListOp::Rem {
            key: b("l"),
            count,
            element: b("x"),
        };
        assert_eq!(run(&mut sh, rem(1)), Ok(Output::Int(1)));
        assert_eq!(all(&mut sh, "l"), bulks(&["a", "x", "b", "x", "c", "x"]));
        assert_eq!(run(&mut sh, rem(-2)), Ok(Output::Int(2)));
        assert_eq!(all(&mut sh, "l"), bulks(&["a", "x", "b", "c"]));
        assert_eq!(run(&mut sh, rem(0)), Ok(Output::Int(1)));
        assert_eq!(all(&mut sh, "l"), bulks(&["a", "b", "c"]));
        assert_eq!(run(&mut sh, rem(0)), Ok(Output::Int(0)));
        let rem_all = |e: &str| ListOp::Rem {
            key: b("l"),
            count: 0,
            element: b(e),
        };
        run(&mut sh, rem_all("a")).unwrap();
        run(&mut sh, rem_all("c")).unwrap();
        assert_eq!(run(&mut sh, rem_all("b")), Ok(Output::Int(1)));
        assert_eq!(sh.stats().keys, 0);
        assert_eq!(sub_keys(&sh), 0);
    }

    #[test]
    fn trim_cuts_ends_and_deletes_their_sub_keys() {
        let (_d, mut sh) = shard();
        push(&mut sh, "l", &["a", "b", "c", "d", "e"], false).unwrap();
        let trim = |start, stop| ListOp::Trim {
            key: b("l"),
            start,
            stop,
        };
        assert_eq!(run(&mut sh, trim(1, -2)), Ok(Output::Ok));
        assert_eq!(all(&mut sh, "l"), bulks(&["b", "c", "d"]));
        assert_eq!(sub_keys(&sh), 3);
        assert_eq!(run(&mut sh, trim(0, 100)), Ok(Output::Ok));
        assert_eq!(all(&mut sh, "l"), bulks(&["b", "c", "d"]));
        assert_eq!(run(&mut sh, trim(2, 1)), Ok(Output::Ok));
        assert_eq!(sh.stats().keys, 0);
        assert_eq!(sub_keys(&sh), 0);
        assert_eq!(
            run(
                &mut sh,
                ListOp::Trim {
                    key: b("none"),
                    start: 0,
                    stop: 1
                }
            ),
            Ok(Output::Ok)
        );
    }

    #[test]
    fn pos_rank_count_maxlen() {
        let (_d, mut sh) = shard();
        push(
            &mut sh,
            "l",
            &["a", "b", "c", "1", "2", "3", "c", "c"],
            false,
        )
        .unwrap();
        let pos = |rank, count, maxlen| ListOp::Pos {
            key: b("l"),
            element: b("c"),
            rank,
            count,
            maxlen,
        };
        assert_eq!(run(&mut sh, pos(1, None, 0)), Ok(Output::Int(2)));
        assert_eq!(run(&mut sh, pos(2, None, 0)), Ok(Output::Int(6)));
        assert_eq!(run(&mut sh, pos(-1, None, 0)), Ok(Output::Int(7)));
        assert_eq!(run(&mut sh, pos(4, None, 0)), Ok(Output::Nil));
        assert_eq!(run(&mut sh, pos(1, Some(0), 0)), Ok(ints(&[2, 6, 7])));
        assert_eq!(run(&mut sh, pos(1, Some(2), 0)), Ok(ints(&[2, 6])));
        assert_eq!(run(&mut sh, pos(-2, Some(0), 0)), Ok(ints(&[6, 2])));
        assert_eq!(run(&mut sh, pos(1, Some(0), 7)), Ok(ints(&[2, 6])));
        assert_eq!(run(&mut sh, pos(1, None, 2)), Ok(Output::Nil));
        assert_eq!(run(&mut sh, pos(i64::MIN, None, 0)), Ok(Output::Nil));
        let missing = |count| ListOp::Pos {
            key: b("none"),
            element: b("c"),
            rank: 1,
            count,
            maxlen: 0,
        };
        assert_eq!(run(&mut sh, missing(None)), Ok(Output::Nil));
        assert_eq!(run(&mut sh, missing(Some(1))), Ok(ints(&[])));
    }

    #[test]
    fn move_within_a_shard_and_rotation() {
        let (_d, mut sh) = shard();
        push(&mut sh, "a", &["1", "2", "3"], false).unwrap();
        let mv = |src: &str, dst: &str, from_left, to_left| ListOp::Move {
            src: b(src),
            dst: b(dst),
            from_left,
            to_left,
        };
        assert_eq!(
            run(&mut sh, mv("a", "a", false, true)),
            Ok(Output::Bulk(b("3")))
        );
        assert_eq!(all(&mut sh, "a"), bulks(&["3", "1", "2"]));
        assert_eq!(
            run(&mut sh, mv("a", "b", true, false)),
            Ok(Output::Bulk(b("3")))
        );
        assert_eq!(
            run(&mut sh, mv("a", "b", true, false)),
            Ok(Output::Bulk(b("1")))
        );
        assert_eq!(all(&mut sh, "b"), bulks(&["3", "1"]));
        assert_eq!(run(&mut sh, mv("none", "b", true, true)), Ok(Output::Nil));
        let set = Op::Set {
            key: b("s"),
            value: b("v"),
            expiry: crate::op::SetExpiry::Clear,
            cond: crate::op::SetCond::Always,
            get: false,
        };
        sh.execute(set, 1000).unwrap();
        assert_eq!(
            run(&mut sh, mv("a", "s", true, true)),
            Err(OpError::WrongType)
        );
        assert_eq!(
            run(&mut sh, mv("s", "a", true, true)),
            Err(OpError::WrongType)
        );
        assert_eq!(run(&mut sh, mv("none", "s", true, true)), Ok(Output::Nil));
        // Serving a blocked move: a source of another type reads as empty,
        // a destination of another type is still WRONGTYPE, before a pop.
        let serve = |src: &str, dst: &str| ListOp::ServeMove {
            src: b(src),
            dst: b(dst),
            from_left: true,
            to_left: true,
        };
        assert_eq!(run(&mut sh, serve("s", "a")), Ok(Output::Nil));
        assert_eq!(run(&mut sh, serve("a", "s")), Err(OpError::WrongType));
        assert_eq!(run(&mut sh, serve("none", "a")), Ok(Output::Nil));
        assert_eq!(all(&mut sh, "a"), bulks(&["2"]));
        // A single element rotating onto its own list survives.
        assert_eq!(
            run(&mut sh, mv("a", "a", true, false)),
            Ok(Output::Bulk(b("2")))
        );
        assert_eq!(all(&mut sh, "a"), bulks(&["2"]));
        assert_eq!(
            run(&mut sh, mv("a", "b", true, true)),
            Ok(Output::Bulk(b("2")))
        );
        assert_eq!(all(&mut sh, "b"), bulks(&["2", "3", "1"]));
        assert_eq!(run(&mut sh, ListOp::Len(b("a"))), Ok(Output::Int(0)));
    }

    #[test]
    fn pop_first_takes_the_first_non_empty_list() {
        let (_d, mut sh) = shard();
        push(&mut sh, "b", &["1", "2"], false).unwrap();
        let set = Op::Set {
            key: b("s"),
            value: b("v"),
            expiry: crate::op::SetExpiry::Clear,
            cond: crate::op::SetCond::Always,
            get: false,
        };
        sh.execute(set, 1000).unwrap();
        let first = |keys: &[&str], count, skip| ListOp::PopFirst {
            keys: keys.iter().map(|k| b(k)).collect(),
            left: false,
            count,
            skip_wrong_type: skip,
        };
        assert_eq!(
            run(&mut sh, first(&["a", "b", "s"], None, false)),
            Ok(bulks(&["b", "2"]))
        );
        assert_eq!(
            run(&mut sh, first(&["s", "b"], None, false)),
            Err(OpError::WrongType)
        );
        assert_eq!(
            run(&mut sh, first(&["s", "b"], Some(5), true)),
            Ok(Output::Array(vec![Output::Bulk(b("b")), bulks(&["1"])]))
        );
        assert_eq!(
            run(&mut sh, first(&["a", "b"], None, false)),
            Ok(Output::Nil)
        );
        let any = |keys: &[&str]| ListOp::AnyNonEmpty(keys.iter().map(|k| b(k)).collect());
        assert_eq!(run(&mut sh, any(&["a", "s"])), Ok(Output::Int(0)));
        push(&mut sh, "a", &["x"], true).unwrap();
        assert_eq!(run(&mut sh, any(&["s", "a"])), Ok(Output::Int(1)));
    }

    #[test]
    fn delete_then_recreate_does_not_resurrect_elements() {
        let (_d, mut sh) = shard();
        push(&mut sh, "l", &["old1", "old2"], false).unwrap();
        sh.execute(Op::Del(vec![b("l")]), 1000).unwrap();
        push(&mut sh, "l", &["new"], false).unwrap();
        assert_eq!(all(&mut sh, "l"), bulks(&["new"]));
        assert_eq!(
            run(
                &mut sh,
                ListOp::Index {
                    key: b("l"),
                    index: Some(1)
                }
            ),
            Ok(Output::Nil)
        );
    }

    /// One step of the model test.
    #[derive(Debug, Clone)]
    enum Step {
        Push(bool, u8),
        Pop(bool, u64),
        Insert(bool, u8, u8),
        Rem(i64, u8),
        Trim(i64, i64),
        Set(i64, u8),
        Move(bool, bool),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (any::<bool>(), 0u8..4).prop_map(|(l, v)| Step::Push(l, v)),
            1 => (any::<bool>(), 0u64..4).prop_map(|(l, n)| Step::Pop(l, n)),
            1 => (any::<bool>(), 0u8..4, 0u8..4).prop_map(|(b, p, v)| Step::Insert(b, p, v)),
            1 => (-3i64..3, 0u8..4).prop_map(|(c, v)| Step::Rem(c, v)),
            1 => (-8i64..8, -8i64..8).prop_map(|(s, e)| Step::Trim(s, e)),
            1 => (-8i64..8, 0u8..4).prop_map(|(i, v)| Step::Set(i, v)),
            1 => (any::<bool>(), any::<bool>()).prop_map(|(f, t)| Step::Move(f, t)),
        ]
    }

    fn val(v: u8) -> Bytes {
        Bytes::from(vec![b'a' + v])
    }

    /// Applies `s` to the in-memory model, answering what Redis would.
    fn model_apply(m: &mut VecDeque<Bytes>, other: &mut VecDeque<Bytes>, s: &Step) -> Output {
        let len = m.len() as u64;
        match *s {
            Step::Push(left, v) => {
                if left {
                    m.push_front(val(v));
                } else {
                    m.push_back(val(v));
                }
                Output::Int(m.len() as i64)
            }
            Step::Pop(left, n) => {
                if m.is_empty() {
                    return Output::Nil;
                }
                let popped = (0..n)
                    .filter_map(|_| if left { m.pop_front() } else { m.pop_back() })
                    .map(Output::Bulk);
                Output::Array(popped.collect())
            }
            Step::Insert(before, p, v) => {
                if m.is_empty() {
                    return Output::Int(0);
                }
                match m.iter().position(|x| *x == val(p)) {
                    None => Output::Int(-1),
                    Some(i) => {
                        m.insert(if before { i } else { i + 1 }, val(v));
                        Output::Int(m.len() as i64)
                    }
                }
            }
            Step::Rem(count, v) => {
                let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == val(v)).collect();
                if count < 0 {
                    idx.reverse();
                }
                if count != 0 {
                    idx.truncate(count.unsigned_abs() as usize);
                }
                idx.sort_unstable();
                for i in idx.iter().rev() {
                    m.remove(*i);
                }
                Output::Int(idx.len() as i64)
            }
            Step::Trim(start, stop) => {
                let keep = clamp_range(start, stop, len);
                let kept: VecDeque<Bytes> = m
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| keep.is_some_and(|(a, z)| (a..=z).contains(&(*i as u64))))
                    .map(|(_, x)| x.clone())
                    .collect();
                *m = kept;
                Output::Ok
            }
            Step::Set(index, v) => {
                if m.is_empty() {
                    return Output::Nil;
                }
                match position(index, len) {
                    Some(i) => {
                        m[i as usize] = val(v);
                        Output::Ok
                    }
                    None => Output::Int(-1),
                }
            }
            Step::Move(from_left, to_left) => {
                let x = if from_left {
                    m.pop_front()
                } else {
                    m.pop_back()
                };
                let Some(x) = x else { return Output::Nil };
                if to_left {
                    other.push_front(x.clone());
                } else {
                    other.push_back(x.clone());
                }
                Output::Bulk(x)
            }
        }
    }

    /// The same step on the shard, with its answer in the model's terms.
    fn shard_apply(sh: &mut Shard, s: &Step) -> Output {
        let key = b("l");
        let op = match *s {
            Step::Push(left, v) => ListOp::Push {
                key,
                elements: vec![val(v)],
                left,
                only_existing: false,
            },
            Step::Pop(left, n) => ListOp::Pop {
                key,
                left,
                count: Some(n),
            },
            Step::Insert(before, p, v) => ListOp::Insert {
                key,
                before,
                pivot: val(p),
                element: val(v),
            },
            Step::Rem(count, v) => ListOp::Rem {
                key,
                count,
                element: val(v),
            },
            Step::Trim(start, stop) => ListOp::Trim { key, start, stop },
            Step::Set(index, v) => ListOp::Set {
                key,
                index: Some(index),
                element: val(v),
            },
            Step::Move(from_left, to_left) => ListOp::Move {
                src: key,
                dst: b("o"),
                from_left,
                to_left,
            },
        };
        match run(sh, op) {
            Ok(o) => o,
            Err(OpError::NoSuchKey) => Output::Nil,
            Err(OpError::IndexOutOfRange) => Output::Int(-1),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    fn as_output(m: &VecDeque<Bytes>) -> Output {
        Output::Array(m.iter().cloned().map(Output::Bulk).collect())
    }

    /// Ranges longer than the point-read limit read the same whether
    /// their elements are in the read cache, partly there (point reads up
    /// to the first miss, an iterator after it) or not at all, forwards
    /// and backwards, within and past the cache-fill bound, with and
    /// without uncommitted writes of this tick.
    #[test]
    fn long_ranges_read_alike_cold_warm_and_half_warm() {
        let (_d, mut sh) = shard();
        let items: Vec<String> = (0..1500).map(|i| format!("e{i}")).collect();
        let refs: Vec<&str> = items.iter().map(|s| s.as_str()).collect();
        push(&mut sh, "l", &refs, false).unwrap();
        sh.commit().unwrap();
        let range = |start: usize, stop: usize| ListOp::Range {
            key: b("l"),
            start: start as i64,
            stop: stop as i64,
        };
        let want = |a: usize, b: usize| bulks(&refs[a..=b]);
        // Cold, then warm (the first read filled the cache).
        assert_eq!(run(&mut sh, range(0, 599)), Ok(want(0, 599)));
        assert_eq!(run(&mut sh, range(0, 599)), Ok(want(0, 599)));
        // Half warm: 0..=599 cached, the rest not; past CACHE_FILL too.
        assert_eq!(run(&mut sh, range(300, 899)), Ok(want(300, 899)));
        assert_eq!(run(&mut sh, range(0, 1499)), Ok(want(0, 1499)));
        assert_eq!(run(&mut sh, range(0, 1499)), Ok(want(0, 1499)));
        // Backwards (RPOP with a count) over cached and uncached elements,
        // after a write of this tick that the read must see.
        push(&mut sh, "l", &["new"], false).unwrap();
        let mut tail: Vec<&str> = refs[1000..].to_vec();
        tail.push("new");
        tail.reverse();
        let pop = ListOp::Pop {
            key: b("l"),
            left: false,
            count: Some(501),
        };
        assert_eq!(run(&mut sh, pop), Ok(bulks(&tail)));
        sh.commit().unwrap();
        assert_eq!(run(&mut sh, range(0, 999)), Ok(want(0, 999)));
        assert_eq!(run(&mut sh, ListOp::Len(b("l"))), Ok(Output::Int(1000)));
        // Backwards from a cached tail into elements never read.
        push(&mut sh, "r", &refs[..700], false).unwrap();
        sh.commit().unwrap();
        let tail_range = ListOp::Range {
            key: b("r"),
            start: 650,
            stop: 699,
        };
        assert_eq!(run(&mut sh, tail_range), Ok(want(650, 699)));
        let pop = ListOp::Pop {
            key: b("r"),
            left: false,
            count: Some(600),
        };
        let mut tail: Vec<&str> = refs[100..700].to_vec();
        tail.reverse();
        assert_eq!(run(&mut sh, pop), Ok(bulks(&tail)));
        sh.commit().unwrap();
        assert_eq!(all(&mut sh, "r"), want(0, 99));
    }

    proptest! {
        /// Random list edits agree with a VecDeque model, element for
        /// element, and an emptied list leaves no sub-keys behind.
        #[test]
        fn matches_a_model(steps in proptest::collection::vec(step(), 1..60)) {
            let (_d, mut sh) = shard();
            let (mut model, mut other) = (VecDeque::new(), VecDeque::new());
            for s in &steps {
                let want = model_apply(&mut model, &mut other, s);
                prop_assert_eq!(shard_apply(&mut sh, s), want, "step {:?}", s);
                prop_assert_eq!(all(&mut sh, "l"), as_output(&model));
                prop_assert_eq!(run(&mut sh, ListOp::Len(b("l"))).unwrap(), Output::Int(model.len() as i64));
                for (i, x) in model.iter().enumerate() {
                    let got = run(&mut sh, ListOp::Index { key: b("l"), index: Some(i as i64) }).unwrap();
                    prop_assert_eq!(got, Output::Bulk(x.clone()));
                }
            }
            prop_assert_eq!(all(&mut sh, "o"), as_output(&other));
            run(&mut sh, ListOp::Trim { key: b("l"), start: 1, stop: 0 }).unwrap();
            run(&mut sh, ListOp::Trim { key: b("o"), start: 1, stop: 0 }).unwrap();
            prop_assert_eq!(sub_keys(&sh), 0);
        }
    }
}
