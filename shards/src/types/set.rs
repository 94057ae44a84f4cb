//! Sets: a metadata record (version, size) plus one sub-key per member with
//! an empty value. Members sort bytewise, so every walk of a set is in
//! member order, which is what makes seeded choices (SPOP) the same on
//! every replica.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::collection;
use super::collection::Coll;
use super::sample;
use super::sample::Picker;
use crate::error::OpResult;
use crate::op::Output;
use crate::op::Packed;
use crate::op::SetOp;
use crate::op::set::SetAlgebra;
use crate::shard::Shard;
use crate::storage::meta::RedisType;

type Set = Coll;

/// Runs one set op at time `now`.
pub fn execute(sh: &mut Shard, op: SetOp, now: i64) -> OpResult<Output> {
    match op {
        SetOp::Add { key, members } => op_sadd(sh, &key, &members, now),
        SetOp::Rem { key, members } => op_srem(sh, &key, &members, now),
        SetOp::Members(key) => op_smembers(sh, &key, now),
        SetOp::IsMember { key, member } => op_sismember(sh, &key, &member, now),
        SetOp::MIsMember { key, members } => op_smismember(sh, &key, &members, now),
        SetOp::Card(key) => op_scard(sh, &key, now),
        SetOp::Pop { key, count, seed } => op_spop(sh, &key, count, seed, now),
        SetOp::RandMember { key, count } => {
            let seed = sh.random_u64();
            op_srandmember(sh, &key, count, seed, now)
        }
        SetOp::Move { src, dst, member } => op_smove(sh, &src, &dst, &member, now),
        SetOp::Combine { kind, keys, store } => op_combine(sh, kind, &keys, store, now),
        SetOp::InterCard { keys, limit } => op_sintercard(sh, &keys, limit, now),
        SetOp::Replace { key, members } => op_replace(sh, &key, members, now),
    }
}

fn load(sh: &Shard, key: &[u8], now: i64) -> OpResult<Option<Set>> {
    collection::load(sh, key, now, RedisType::Set)
}

fn load_or_new(sh: &mut Shard, key: &[u8], now: i64) -> OpResult<Set> {
    collection::load_or_new(sh, key, now, RedisType::Set)
}

fn store(sh: &mut Shard, key: &[u8], s: &Set) {
    collection::store(sh, key, RedisType::Set, s)
}

fn contains(sh: &Shard, key: &[u8], s: &Set, member: &[u8]) -> OpResult<bool> {
    sh.sub_exists(key, s.version, member)
}

/// Every member of `s`, in member order.
fn all_members(sh: &Shard, key: &[u8], s: &Set) -> OpResult<Vec<Bytes>> {
    let mut out = Vec::with_capacity(s.size.min(1 << 16) as usize);
    sh.sub_scan(key, s.version, b"", None, false, |m, _| {
        out.push(Bytes::copy_from_slice(m));
        true
    })?;
    Ok(out)
}

/// The members at the given positions of the member walk; `positions`
/// must be sorted, distinct and below the set's size. One pass, stopping
/// after the last position.
fn members_at(sh: &Shard, key: &[u8], s: &Set, positions: &[u64]) -> OpResult<Vec<Bytes>> {
    let mut out = Vec::with_capacity(positions.len());
    let mut wanted = positions.iter().peekable();
    let mut i = 0u64;
    sh.sub_scan(key, s.version, b"", None, false, |m, _| {
        if wanted.peek() == Some(&&i) {
            out.push(Bytes::copy_from_slice(m));
            wanted.next();
        }
        i += 1;
        wanted.peek().is_some()
    })?;
    Ok(out)
}

/// `n` distinct members (`n < s.size`) at random: exact positions for a
/// small set or a big share of one; for a big set, picks by
/// [`sample::random_field`] (a walk to random positions would read half
/// the set per member).
fn pick_distinct(
    sh: &Shard,
    key: &[u8],
    s: &Set,
    n: u64,
    rng: &mut Picker,
) -> OpResult<Vec<Bytes>> {
    if !sample::descends(s.size, n) {
        return members_at(sh, key, s, &rng.distinct(n, s.size));
    }
    match sample::distinct_fields(sample::Fields::all(sh, key, s.version), n, rng)? {
        Some(picked) => Ok(picked.into_iter().map(Bytes::from).collect()),
        // The picks kept colliding (a very uneven set): walk after all.
        None => members_at(sh, key, s, &rng.distinct(n, s.size)),
    }
}

fn bulks(members: Vec<Bytes>) -> Output {
    Output::Array(members.into_iter().map(Output::Bulk).collect())
}

pub fn op_sadd(sh: &mut Shard, key: &[u8], members: &[Bytes], now: i64) -> OpResult<Output> {
    let mut s = load_or_new(sh, key, now)?;
    let mut added = 0;
    for m in members {
        if !contains(sh, key, &s, m)? {
            sh.sub_put_member(key, s.version, m, Vec::new());
            s.size += 1;
            added += 1;
        }
    }
    if added > 0 {
        store(sh, key, &s);
    }
    Ok(Output::Int(added))
}

pub fn op_srem(sh: &mut Shard, key: &[u8], members: &[Bytes], now: i64) -> OpResult<Output> {
    let Some(mut s) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    let mut removed = 0;
    for m in members {
        if contains(sh, key, &s, m)? {
            sh.sub_delete(key, s.version, m);
            s.size -= 1;
            removed += 1;
        }
    }
    if removed > 0 {
        store(sh, key, &s);
    }
    Ok(Output::Int(removed))
}

pub fn op_smembers(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    let Some(s) = load(sh, key, now)? else {
        return Ok(Output::Array(Vec::new()));
    };
    // One buffer for the whole reply (see `op::Packed`).
    let mut out = Packed::with_capacity(s.size.min(4096) as usize, 16);
    sh.sub_scan(key, s.version, b"", None, false, |m, _| {
        out.push(m);
        true
    })?;
    Ok(Output::Packed(out))
}

pub fn op_sismember(sh: &Shard, key: &[u8], member: &[u8], now: i64) -> OpResult<Output> {
    let found = match load(sh, key, now)? {
        Some(s) => contains(sh, key, &s, member)?,
        None => false,
    };
    Ok(Output::Int(i64::from(found)))
}

pub fn op_smismember(sh: &Shard, key: &[u8], members: &[Bytes], now: i64) -> OpResult<Output> {
    let s = load(sh, key, now)?;
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let found = match &s {
            Some(s) => contains(sh, key, s, m)?,
            None => false,
        };
        out.push(Output::Int(i64::from(found)));
    }
    Ok(Output::Array(out))
}

pub fn op_scard(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::Int(
        load(sh, key, now)?.map_or(0, |s| s.size as i64),
    ))
}

/// SPOP: without a count one member (Nil when absent); with a count up to
/// that many distinct members, the whole set (and the key) when it asks
/// for as many as there are.
pub fn op_spop(
    sh: &mut Shard,
    key: &[u8],
    count: Option<u64>,
    seed: u64,
    now: i64,
) -> OpResult<Output> {
    let Some(mut s) = load(sh, key, now)? else {
        return Ok(match count {
            None => Output::Nil,
            Some(_) => Output::Array(Vec::new()),
        });
    };
    let mut rng = Picker(seed);
    let mut popped = match count {
        None => pick_distinct(sh, key, &s, 1, &mut rng)?,
        Some(0) => return Ok(Output::Array(Vec::new())),
        Some(c) if c >= s.size => all_members(sh, key, &s)?,
        Some(c) => pick_distinct(sh, key, &s, c, &mut rng)?,
    };
    for m in &popped {
        sh.sub_delete(key, s.version, m);
    }
    s.size -= popped.len() as u64;
    store(sh, key, &s);
    if count.is_none() {
        return Ok(Output::bulk_or_nil(popped.pop()));
    }
    rng.shuffle(&mut popped);
    Ok(bulks(popped))
}

/// SRANDMEMBER: without a count one member (Nil when absent); a positive
/// count gives distinct members (the whole set at most), a negative one
/// exactly |count| members that may repeat, in draw order.
pub fn op_srandmember(
    sh: &Shard,
    key: &[u8],
    count: Option<i64>,
    seed: u64,
    now: i64,
) -> OpResult<Output> {
    let Some(s) = load(sh, key, now)? else {
        return Ok(match count {
            None => Output::Nil,
            Some(_) => Output::Array(Vec::new()),
        });
    };
    let mut rng = Picker(seed);
    let Some(count) = count else {
        let mut one = pick_distinct(sh, key, &s, 1, &mut rng)?;
        return Ok(Output::bulk_or_nil(one.pop()));
    };
    if count >= 0 {
        let mut picked = if count as u64 >= s.size {
            all_members(sh, key, &s)?
        } else {
            pick_distinct(sh, key, &s, count as u64, &mut rng)?
        };
        rng.shuffle(&mut picked);
        return Ok(bulks(picked));
    }
    let draws_wanted = count.unsigned_abs();
    if sample::descends(s.size, draws_wanted) {
        // Few draws from a big set: pick each (repeats allowed).
        let drawn = sample::fields_with_repeats(
            sample::Fields::all(sh, key, s.version),
            draws_wanted,
            &mut rng,
        )?;
        return Ok(bulks(drawn.into_iter().map(Bytes::from).collect()));
    }
    let draws: Vec<u64> = (0..draws_wanted).map(|_| rng.below(s.size)).collect();
    let mut positions = draws.clone();
    positions.sort_unstable();
    positions.dedup();
    let found = members_at(sh, key, &s, &positions)?;
    let out = draws
        .iter()
        .filter_map(|d| positions.binary_search(d).ok().and_then(|i| found.get(i)))
        .map(|m| Output::Bulk(m.clone()))
        .collect();
    Ok(Output::Array(out))
}

/// SMOVE with both keys here, checked in Redis's order: an absent source
/// answers 0 before any type check; then source, then destination type.
pub fn op_smove(
    sh: &mut Shard,
    src: &[u8],
    dst: &[u8],
    member: &[u8],
    now: i64,
) -> OpResult<Output> {
    let Some(mut from) = load(sh, src, now)? else {
        return Ok(Output::Int(0));
    };
    load(sh, dst, now)?;
    let present = contains(sh, src, &from, member)?;
    if src == dst || !present {
        return Ok(Output::Int(i64::from(present)));
    }
    sh.sub_delete(src, from.version, member);
    from.size -= 1;
    store(sh, src, &from);
    op_sadd(sh, dst, &[Bytes::copy_from_slice(member)], now)?;
    Ok(Output::Int(1))
}

/// The sets under `keys` (None where absent), type-checked in order as
/// Redis does before computing anything.
fn load_all(sh: &Shard, keys: &[Bytes], now: i64) -> OpResult<Vec<Option<Set>>> {
    keys.iter().map(|k| load(sh, k, now)).collect()
}

/// Members of the first set that are in all the others, visiting at most
/// `limit` matches (0: all). `sets` pairs each key with its live set.
fn intersect(sh: &Shard, sets: &mut [(&Bytes, Set)], limit: u64) -> OpResult<Vec<Bytes>> {
    // Walking the smallest set and probing the others is O(min * n).
    sets.sort_by_key(|(_, s)| s.size);
    let Some(((k0, s0), rest)) = sets.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut failed = None;
    sh.sub_scan(k0, s0.version, b"", None, false, |m, _| {
        let mut all = true;
        for (k, s) in rest.iter() {
            match contains(sh, k, s, m) {
                Ok(true) => {}
                Ok(false) => {
                    all = false;
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    return false;
                }
            }
        }
        if all {
            out.push(Bytes::copy_from_slice(m));
        }
        limit == 0 || (out.len() as u64) < limit
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Members of `first` in none of the `others`.
fn difference(sh: &Shard, first: (&Bytes, &Set), others: &[(&Bytes, Set)]) -> OpResult<Vec<Bytes>> {
    let mut out = Vec::new();
    for m in all_members(sh, first.0, first.1)? {
        let mut keep = true;
        for (k, s) in others {
            if contains(sh, k, s, &m)? {
                keep = false;
                break;
            }
        }
        if keep {
            out.push(m);
        }
    }
    Ok(out)
}

/// The result of SINTER / SUNION / SDIFF over `keys`, in member order.
fn combined(sh: &Shard, kind: SetAlgebra, keys: &[Bytes], now: i64) -> OpResult<Vec<Bytes>> {
    let loaded = load_all(sh, keys, now)?;
    let missing = loaded.iter().any(Option::is_none);
    let first_missing = loaded.first().is_none_or(Option::is_none);
    let mut live: Vec<(&Bytes, Set)> = keys
        .iter()
        .zip(loaded)
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
    match kind {
        // Intersection with an absent (empty) set is empty.
        SetAlgebra::Inter if missing => Ok(Vec::new()),
        SetAlgebra::Inter => intersect(sh, &mut live, 0),
        SetAlgebra::Union => {
            let mut all = BTreeSet::new();
            for (k, s) in &live {
                all.extend(all_members(sh, k, s)?);
            }
            Ok(all.into_iter().collect())
        }
        SetAlgebra::Diff if first_missing => Ok(Vec::new()),
        SetAlgebra::Diff => {
            let (k0, s0) = live.remove(0);
            difference(sh, (k0, &s0), &live)
        }
    }
}

/// SINTER / SUNION / SDIFF and their *STORE variants, all keys here.
pub fn op_combine(
    sh: &mut Shard,
    kind: SetAlgebra,
    keys: &[Bytes],
    dst: Option<Bytes>,
    now: i64,
) -> OpResult<Output> {
    let members = combined(sh, kind, keys, now)?;
    match dst {
        Some(dst) => op_replace(sh, &dst, members, now),
        None => Ok(bulks(members)),
    }
}

/// SINTERCARD: the size of the intersection, counting at most `limit`
/// (0: no limit).
pub fn op_sintercard(sh: &Shard, keys: &[Bytes], limit: u64, now: i64) -> OpResult<Output> {
    let loaded = load_all(sh, keys, now)?;
    if loaded.iter().any(Option::is_none) {
        return Ok(Output::Int(0));
    }
    let mut live: Vec<(&Bytes, Set)> = keys.iter().zip(loaded.into_iter().flatten()).collect();
    Ok(Output::Int(intersect(sh, &mut live, limit)?.len() as i64))
}

/// Replaces whatever `key` holds (any type, any TTL) with a set of
/// `members`, deleting the key when there are none, as SINTERSTORE and
/// friends do. Answers the new cardinality.
pub fn op_replace(
    sh: &mut Shard,
    key: &[u8],
    mut members: Vec<Bytes>,
    now: i64,
) -> OpResult<Output> {
    let entry = sh.entry(key, now)?;
    members.sort_unstable();
    members.dedup();
    // A fresh version: the old value's sub-keys (of whatever type) are
    // never read again, even when the destination was also a source.
    let s = Set {
        entry,
        expire_at: None,
        version: sh.new_version(now),
        size: members.len() as u64,
        head: 0,
    };
    for m in &members {
        sh.sub_put(key, s.version, m, Vec::new());
    }
    store(sh, key, &s);
    Ok(Output::Int(s.size as i64))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::error::OpError;
    use crate::op::Op;
    use crate::shard::test_bytes as b;
    use crate::shard::test_shard as shard;

    /// Runs `op`; a packed answer comes back as the bulks it stands for.
    fn run(sh: &mut Shard, op: SetOp) -> OpResult<Output> {
        sh.execute(Op::Sets(op), 1000).map(Output::unpacked)
    }

    fn sadd(sh: &mut Shard, key: &str, members: &[&str]) -> Output {
        let members = members.iter().map(|m| b(m)).collect();
        run(
            sh,
            SetOp::Add {
                key: b(key),
                members,
            },
        )
        .unwrap()
    }

    fn arr(items: &[&str]) -> Output {
        Output::Array(items.iter().map(|s| Output::Bulk(b(s))).collect())
    }

    /// The members of an Output array, as strings.
    fn names(o: Output) -> Vec<String> {
        let Output::Array(a) = o else {
            panic!("not an array: {o:?}")
        };
        a.into_iter()
            .map(|x| match x {
                Output::Bulk(m) => String::from_utf8(m.to_vec()).unwrap(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect()
    }

    fn members(sh: &mut Shard, key: &str) -> Vec<String> {
        names(run(sh, SetOp::Members(b(key))).unwrap())
    }

    fn card(sh: &mut Shard, key: &str) -> i64 {
        match run(sh, SetOp::Card(b(key))).unwrap() {
            Output::Int(n) => n,
            o => panic!("{o:?}"),
        }
    }

    fn set_string(sh: &mut Shard, key: &str) {
        let op = Op::Set {
            key: b(key),
            value: b("v"),
            expiry: crate::op::SetExpiry::Clear,
            cond: crate::op::SetCond::Always,
            get: false,
        };
        sh.execute(op, 1000).unwrap();
    }

    /// Sets past the exact-walk size pick by descent: SPOP and
    /// SRANDMEMBER still answer distinct members of the set, and SPOP
    /// removes exactly what it answers.
    #[test]
    fn big_sets_pop_and_sample_members() {
        let (_d, mut sh) = shard();
        let n = sample::EXACT_UP_TO * 4;
        let all: Vec<String> = (0..n).map(|i| format!("m:{i}")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        sadd(&mut sh, "s", &refs);
        let mut left: BTreeSet<String> = all.iter().cloned().collect();
        for seed in 0..40 {
            let op = SetOp::Pop {
                key: b("s"),
                count: None,
                seed,
            };
            let Output::Bulk(m) = run(&mut sh, op).unwrap() else {
                panic!("no member")
            };
            assert!(
                left.remove(std::str::from_utf8(&m).unwrap()),
                "{m:?} popped twice"
            );
        }
        let op = SetOp::Pop {
            key: b("s"),
            count: Some(7),
            seed: 99,
        };
        let popped = names(run(&mut sh, op).unwrap());
        assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), 7);
        for m in &popped {
            assert!(left.remove(m), "{m} popped twice");
        }
        assert_eq!(card(&mut sh, "s"), left.len() as i64);
        assert_eq!(
            members(&mut sh, "s"),
            left.iter().cloned().collect::<Vec<_>>()
        );
        let op = SetOp::RandMember {
            key: b("s"),
            count: Some(10),
        };
        let picked = names(run(&mut sh, op).unwrap());
        assert_eq!(picked.iter().collect::<BTreeSet<_>>().len(), 10);
        assert!(picked.iter().all(|m| left.contains(m)));
        let op = SetOp::RandMember {
            key: b("s"),
            count: Some(-5),
        };
        let drawn = names(run(&mut sh, op).unwrap());
        assert_eq!(drawn.len(), 5);
        assert!(drawn.iter().all(|m| left.contains(m)));
    }

    #[test]
    fn add_remove_members_card_and_wrongtype() {
        let (_d, mut sh) = shard();
        assert_eq!(sadd(&mut sh, "s", &["b", "a", "b", "c"]), Output::Int(3));
        assert_eq!(sadd(&mut sh, "s", &["a", "d"]), Output::Int(1));
        assert_eq!(members(&mut sh, "s"), ["a", "b", "c", "d"]);
        assert_eq!(card(&mut sh, "s"), 4);
        assert_eq!(card(&mut sh, "nokey"), 0);
        assert_eq!(
            sh.execute(Op::Type(b("s")), 1000).unwrap(),
            Output::Status("set".into())
        );
        let op = SetOp::IsMember {
            key: b("s"),
            member: b("c"),
        };
        assert_eq!(run(&mut sh, op).unwrap(), Output::Int(1));
        let op = SetOp::MIsMember {
            key: b("s"),
            members: vec![b("a"), b("zz"), b("d")],
        };
        assert_eq!(
            run(&mut sh, op).unwrap(),
            Output::Array(vec![Output::Int(1), Output::Int(0), Output::Int(1)])
        );
        let op = SetOp::MIsMember {
            key: b("nokey"),
            members: vec![b("a")],
        };
        assert_eq!(
            run(&mut sh, op).unwrap(),
            Output::Array(vec![Output::Int(0)])
        );
        let op = SetOp::Rem {
            key: b("s"),
            members: vec![b("a"), b("zz"), b("a")],
        };
        assert_eq!(run(&mut sh, op).unwrap(), Output::Int(1));
        let op = SetOp::Rem {
            key: b("s"),
            members: vec![b("b"), b("c"), b("d")],
        };
        assert_eq!(run(&mut sh, op).unwrap(), Output::Int(3));
        assert_eq!(
            sh.execute(Op::Exists(vec![b("s")]), 1000).unwrap(),
            Output::Int(0)
        );
        assert_eq!(sh.stats().keys, 0);

        set_string(&mut sh, "str");
        for op in [
            SetOp::Add {
                key: b("str"),
                members: vec![b("a")],
            },
            SetOp::Rem {
                key: b("str"),
                members: vec![b("a")],
            },
            SetOp::Members(b("str")),
            SetOp::Card(b("str")),
            SetOp::IsMember {
                key: b("str"),
                member: b("a"),
            },
            SetOp::MIsMember {
                key: b("str"),
                members: vec![b("a")],
            },
            SetOp::Pop {
                key: b("str"),
                count: None,
                seed: 1,
            },
            SetOp::RandMember {
                key: b("str"),
                count: Some(-3),
            },
        ] {
            assert_eq!(run(&mut sh, op.clone()), Err(OpError::WrongType), "{op:?}");
        }
    }

    #[test]
    fn delete_then_recreate_does_not_resurrect_members() {
        let (_d, mut sh) = shard();
        sadd(&mut sh, "s", &["old"]);
        sh.execute(Op::Del(vec![b("s")]), 1000).unwrap();
        sadd(&mut sh, "s", &["new"]);
        assert_eq!(members(&mut sh, "s"), ["new"]);
    }

    #[test]
    fn spop_is_deterministic_for_a_seed_and_removes_what_it_returns() {
        let all: Vec<String> = (0..50).map(|i| format!("m{i:02}")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let pop = |seed: u64, count: Option<u64>| {
            let (_d, mut sh) = shard();
            sadd(&mut sh, "s", &refs);
            let got = run(
                &mut sh,
                SetOp::Pop {
                    key: b("s"),
                    count,
                    seed,
                },
            )
            .unwrap();
            (got, members(&mut sh, "s"))
        };
        for seed in [0, 1, 42, u64::MAX] {
            let (one, left) = pop(seed, None);
            assert_eq!(pop(seed, None).0, one, "same seed, same member");
            let Output::Bulk(m) = one else { panic!() };
            let m = String::from_utf8(m.to_vec()).unwrap();
            assert!(all.contains(&m) && !left.contains(&m));
            assert_eq!(left.len(), 49);

            let (some, left) = pop(seed, Some(7));
            assert_eq!(pop(seed, Some(7)).0, some);
            let some = names(some);
            let distinct: BTreeSet<&String> = some.iter().collect();
            assert_eq!(distinct.len(), 7);
            assert_eq!(left.len(), 43);
            assert!(some.iter().all(|m| !left.contains(m)));
        }
        let (every, left) = pop(3, Some(1 << 60));
        let mut every = names(every);
        every.sort();
        assert_eq!(every, all);
        assert!(left.is_empty());
        // Different seeds do not all pick the same member.
        let picks: BTreeSet<String> = (0..20).map(|s| format!("{:?}", pop(s, None).0)).collect();
        assert!(picks.len() > 1, "{picks:?}");
    }

    #[test]
    fn spop_edge_cases() {
        let (_d, mut sh) = shard();
        let pop = |sh: &mut Shard, key: &str, count| {
            run(
                sh,
                SetOp::Pop {
                    key: b(key),
                    count,
                    seed: 9,
                },
            )
            .unwrap()
        };
        assert_eq!(pop(&mut sh, "nokey", None), Output::Nil);
        assert_eq!(pop(&mut sh, "nokey", Some(3)), arr(&[]));
        sadd(&mut sh, "s", &["a", "b"]);
        assert_eq!(pop(&mut sh, "s", Some(0)), arr(&[]));
        assert_eq!(card(&mut sh, "s"), 2);
        let Output::Bulk(_) = pop(&mut sh, "s", None) else {
            panic!()
        };
        let Output::Bulk(_) = pop(&mut sh, "s", None) else {
            panic!()
        };
        assert_eq!(sh.stats().keys, 0, "the emptied set is deleted");
    }

    #[test]
    fn srandmember_count_rules() {
        let (_d, mut sh) = shard();
        let rand = |sh: &mut Shard, key: &str, count| {
            run(sh, SetOp::RandMember { key: b(key), count }).unwrap()
        };
        assert_eq!(rand(&mut sh, "nokey", None), Output::Nil);
        assert_eq!(rand(&mut sh, "nokey", Some(-5)), arr(&[]));
        sadd(&mut sh, "s", &["a", "b", "c", "d", "e"]);
        let Output::Bulk(one) = rand(&mut sh, "s", None) else {
            panic!()
        };
        assert!(b"abcde".contains(&one[0]));
        assert_eq!(rand(&mut sh, "s", Some(0)), arr(&[]));
        let three = names(rand(&mut sh, "s", Some(3)));
        assert_eq!(three.iter().collect::<BTreeSet<_>>().len(), 3);
        let mut all = names(rand(&mut sh, "s", Some(100)));
        all.sort();
        assert_eq!(all, ["a", "b", "c", "d", "e"]);
        let many = names(rand(&mut sh, "s", Some(-40)));
        assert_eq!(many.len(), 40);
        assert!(
            many.iter()
                .all(|m| ["a", "b", "c", "d", "e"].contains(&m.as_str()))
        );
        assert!(
            many.iter().collect::<BTreeSet<_>>().len() > 1,
            "draws are not all one member"
        );
        assert_eq!(card(&mut sh, "s"), 5, "read-only");
    }

    #[test]
    fn smove_follows_redis_order_of_checks() {
        let (_d, mut sh) = shard();
        let mv = |sh: &mut Shard, src: &str, dst: &str, m: &str| {
            run(
                sh,
                SetOp::Move {
                    src: b(src),
                    dst: b(dst),
                    member: b(m),
                },
            )
        };
        set_string(&mut sh, "str");
        assert_eq!(mv(&mut sh, "nokey", "str", "a"), Ok(Output::Int(0)));
        assert_eq!(mv(&mut sh, "str", "x", "a"), Err(OpError::WrongType));
        sadd(&mut sh, "s", &["a", "b"]);
        assert_eq!(mv(&mut sh, "s", "str", "a"), Err(OpError::WrongType));
        assert_eq!(mv(&mut sh, "s", "s", "a"), Ok(Output::Int(1)));
        assert_eq!(mv(&mut sh, "s", "s", "zz"), Ok(Output::Int(0)));
        assert_eq!(mv(&mut sh, "s", "d", "zz"), Ok(Output::Int(0)));
        assert_eq!(mv(&mut sh, "s", "d", "a"), Ok(Output::Int(1)));
        assert_eq!(members(&mut sh, "s"), ["b"]);
        assert_eq!(members(&mut sh, "d"), ["a"]);
        sadd(&mut sh, "d", &["b"]);
        assert_eq!(mv(&mut sh, "s", "d", "b"), Ok(Output::Int(1)));
        assert_eq!(members(&mut sh, "d"), ["a", "b"]);
        assert_eq!(card(&mut sh, "s"), 0, "emptied source is deleted");
        assert_eq!(sh.stats().keys, 2);
    }

    fn combine(
        sh: &mut Shard,
        kind: SetAlgebra,
        keys: &[&str],
        dst: Option<&str>,
    ) -> OpResult<Output> {
        let op = SetOp::Combine {
            kind,
            keys: keys.iter().map(|k| b(k)).collect(),
            store: dst.map(b),
        };
        run(sh, op)
    }

    #[test]
    fn inter_union_diff_with_absent_and_wrong_keys() {
        use SetAlgebra::*;
        let (_d, mut sh) = shard();
        sadd(&mut sh, "x", &["a", "b", "c", "d"]);
        sadd(&mut sh, "y", &["c", "d", "e"]);
        sadd(&mut sh, "z", &["d", "e", "f"]);
        set_string(&mut sh, "str");
        let ok = |o: OpResult<Output>| names(o.unwrap());
        assert_eq!(ok(combine(&mut sh, Inter, &["x", "y", "z"], None)), ["d"]);
        assert_eq!(ok(combine(&mut sh, Inter, &["x", "y"], None)), ["c", "d"]);
        assert_eq!(
            ok(combine(&mut sh, Inter, &["x"], None)),
            ["a", "b", "c", "d"]
        );
        assert!(ok(combine(&mut sh, Inter, &["x", "nokey"], None)).is_empty());
        assert_eq!(
            ok(combine(&mut sh, Union, &["x", "nokey", "z"], None)),
            ["a", "b", "c", "d", "e", "f"]
        );
        assert_eq!(
            ok(combine(&mut sh, Diff, &["x", "y", "nokey"], None)),
            ["a", "b"]
        );
        assert_eq!(
            ok(combine(&mut sh, Diff, &["x", "y", "z"], None)),
            ["a", "b"]
        );
        assert!(ok(combine(&mut sh, Diff, &["x", "x"], None)).is_empty());
        assert!(ok(combine(&mut sh, Diff, &["nokey", "x"], None)).is_empty());
        for kind in [Inter, Union, Diff] {
            // A wrong-type key errors even after an absent one.
            assert_eq!(
                combine(&mut sh, kind, &["nokey", "x", "str"], None),
                Err(OpError::WrongType)
            );
            assert_eq!(
                combine(&mut sh, kind, &["x", "str"], Some("dst")),
                Err(OpError::WrongType)
            );
        }
        let op = SetOp::InterCard {
            keys: vec![b("x"), b("y")],
            limit: 0,
        };
        assert_eq!(run(&mut sh, op), Ok(Output::Int(2)));
        let op = SetOp::InterCard {
            keys: vec![b("x"), b("x")],
            limit: 3,
        };
        assert_eq!(run(&mut sh, op), Ok(Output::Int(3)));
        let op = SetOp::InterCard {
            keys: vec![b("x"), b("nokey")],
            limit: 0,
        };
        assert_eq!(run(&mut sh, op), Ok(Output::Int(0)));
        let op = SetOp::InterCard {
            keys: vec![b("nokey"), b("str")],
            limit: 0,
        };
        assert_eq!(run(&mut sh, op), Err(OpError::WrongType));
    }

    #[test]
    fn store_overwrites_any_type_and_deletes_on_empty() {
        use SetAlgebra::*;
        let (_d, mut sh) = shard();
        sadd(&mut sh, "x", &["a", "b", "c"]);
        sadd(&mut sh, "y", &["b", "c", "d"]);
        set_string(&mut sh, "dst");
        let op = Op::Expire {
            key: b("dst"),
            at_ms: 100_000,
            cond: crate::op::ExpireCond::Always,
        };
        sh.execute(op, 1000).unwrap();
        assert_eq!(
            combine(&mut sh, Union, &["x", "y"], Some("dst")),
            Ok(Output::Int(4))
        );
        assert_eq!(members(&mut sh, "dst"), ["a", "b", "c", "d"]);
        assert_eq!(
            sh.execute(Op::Pttl(b("dst")), 1000).unwrap(),
            Output::Int(-1),
            "the destination loses its TTL"
        );
        assert_eq!(sh.stats().expires, 0);
        // The destination may also be a source.
        assert_eq!(
            combine(&mut sh, Inter, &["dst", "x"], Some("dst")),
            Ok(Output::Int(3))
        );
        assert_eq!(members(&mut sh, "dst"), ["a", "b", "c"]);
        assert_eq!(
            combine(&mut sh, Diff, &["x", "y"], Some("x")),
            Ok(Output::Int(1))
        );
        assert_eq!(members(&mut sh, "x"), ["a"]);
        assert_eq!(
            combine(&mut sh, Inter, &["x", "nokey"], Some("dst")),
            Ok(Output::Int(0))
        );
        assert_eq!(card(&mut sh, "dst"), 0);
        assert_eq!(sh.stats().keys, 2);
        let op = SetOp::Replace {
            key: b("y"),
            members: vec![b("q"), b("p"), b("q")],
        };
        assert_eq!(run(&mut sh, op), Ok(Output::Int(2)));
        assert_eq!(members(&mut sh, "y"), ["p", "q"]);
        let op = SetOp::Replace {
            key: b("y"),
            members: vec![],
        };
        assert_eq!(run(&mut sh, op), Ok(Output::Int(0)));
        assert_eq!(sh.stats().keys, 1);
    }

    proptest! {
        /// Random SADD/SREM/SPOP/SMOVE/SINTERSTORE sequences over two keys
        /// agree with a BTreeSet model, committed or not.
        #[test]
        fn matches_a_model(cmds in proptest::collection::vec((0u8..6, 0u8..8, any::<u64>()), 1..60)) {
            let (_d, mut sh) = shard();
            let keys = [b("{t}p"), b("{t}q")];
            let mut model: [BTreeSet<Bytes>; 2] = Default::default();
            for (kind, m, seed) in cmds {
                let member = Bytes::from(vec![b'a' + m]);
                let k = (seed % 2) as usize;
                let key = keys[k].clone();
                match kind {
                    0 => {
                        let got = run(&mut sh, SetOp::Add { key, members: vec![member.clone()] }).unwrap();
                        prop_assert_eq!(got, Output::Int(i64::from(model[k].insert(member))));
                    }
                    1 => {
                        let got = run(&mut sh, SetOp::Rem { key, members: vec![member.clone()] }).unwrap();
                        prop_assert_eq!(got, Output::Int(i64::from(model[k].remove(&member))));
                    }
                    2 => {
                        let count = u64::from(m % 4);
                        let got = run(&mut sh, SetOp::Pop { key, count: Some(count), seed }).unwrap();
                        let got = names(got);
                        prop_assert_eq!(got.len() as u64, count.min(model[k].len() as u64));
                        for g in got {
                            prop_assert!(model[k].remove(g.as_bytes()));
                        }
                    }
                    3 => {
                        let got = run(&mut sh, SetOp::Move { src: key, dst: keys[1 - k].clone(), member: member.clone() }).unwrap();
                        let moved = model[k].remove(&member);
                        if moved {
                            model[1 - k].insert(member);
                        }
                        prop_assert_eq!(got, Output::Int(i64::from(moved)));
                    }
                    4 => {
                        let kind = [SetAlgebra::Inter, SetAlgebra::Union, SetAlgebra::Diff][(seed % 3) as usize];
                        let op = SetOp::Combine { kind, keys: vec![keys[0].clone(), keys[1].clone()], store: Some(key) };
                        let got = run(&mut sh, op).unwrap();
                        let (p, q) = (&model[0], &model[1]);
                        let want: BTreeSet<Bytes> = match kind {
                            SetAlgebra::Inter => p.intersection(q).cloned().collect(),
                            SetAlgebra::Union => p.union(q).cloned().collect(),
                            SetAlgebra::Diff => p.difference(q).cloned().collect(),
                        };
                        prop_assert_eq!(got, Output::Int(want.len() as i64));
                        model[k] = want;
                    }
                    _ => {
                        let op = SetOp::InterCard { keys: keys.to_vec(), limit: u64::from(m % 3) };
                        let n = model[0].intersection(&model[1]).count() as u64;
                        let want = if m % 3 == 0 { n } else { n.min(u64::from(m % 3)) };
                        prop_assert_eq!(run(&mut sh, op).unwrap(), Output::Int(want as i64));
                    }
                }
                // Committing now and then makes SMEMBERS fill and then
                // answer from the shard's scan cache across later writes.
                if seed % 3 == 0 {
                    sh.commit().unwrap();
                }
                for (k, model) in keys.iter().zip(&model) {
                    let want: Vec<Output> = model.iter().map(|m| Output::Bulk(m.clone())).collect();
                    prop_assert_eq!(run(&mut sh, SetOp::Members(k.clone())).unwrap(), Output::Array(want.clone()));
                    prop_assert_eq!(run(&mut sh, SetOp::Members(k.clone())).unwrap(), Output::Array(want));
                    prop_assert_eq!(run(&mut sh, SetOp::Card(k.clone())).unwrap(), Output::Int(model.len() as i64));
                }
                let live = model.iter().filter(|m| !m.is_empty()).count() as u64;
                prop_assert_eq!(sh.stats().keys, live);
            }
        }
    }
}
