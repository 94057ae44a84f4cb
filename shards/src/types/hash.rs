//! Hashes: a metadata record (version, size) plus one sub-key per field.
//! DEL or overwrite only rewrites the metadata; the fields of the old
//! version are never read again.

use bytes::Bytes;

use super::collection;
use super::collection::Coll;
use super::number::format_f64;
use super::number::parse_f64;
use super::number::parse_i64;
use crate::error::OpError;
use crate::error::OpResult;
use crate::op::HashPart;
use crate::op::Output;
use crate::op::Packed;
use crate::shard::Shard;
use crate::storage::meta::RedisType;
use crate::types::sample;
use crate::types::sample::Picker;

type Hash = Coll;

fn load(sh: &Shard, key: &[u8], now: i64) -> OpResult<Option<Hash>> {
    collection::load(sh, key, now, RedisType::Hash)
}

fn load_or_new(sh: &mut Shard, key: &[u8], now: i64) -> OpResult<Hash> {
    collection::load_or_new(sh, key, now, RedisType::Hash)
}

fn store(sh: &mut Shard, key: &[u8], h: &Hash) {
    collection::store(sh, key, RedisType::Hash, h)
}

pub fn op_hset(
    sh: &mut Shard,
    key: &[u8],
    pairs: Vec<(Bytes, Bytes)>,
    nx: bool,
    now: i64,
) -> OpResult<Output> {
    let mut h = load_or_new(sh, key, now)?;
    let mut added = 0;
    for (f, v) in pairs {
        let exists = sh.sub_exists(key, h.version, &f)?;
        if nx && exists {
            continue;
        }
        sh.sub_put_member(key, h.version, &f, v.to_vec());
        if !exists {
            added += 1;
            h.size += 1;
        }
    }
    if added > 0 || h.size > 0 {
        store(sh, key, &h);
    }
    Ok(Output::Int(added))
}

pub fn op_hget(sh: &Shard, key: &[u8], field: &[u8], now: i64) -> OpResult<Output> {
    let Some(h) = load(sh, key, now)? else {
        return Ok(Output::Nil);
    };
    Ok(Output::bulk_or_nil(sh.sub_get(key, h.version, field)?))
}

pub fn op_hmget(sh: &Shard, key: &[u8], fields: &[Bytes], now: i64) -> OpResult<Output> {
    let h = load(sh, key, now)?;
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        out.push(match &h {
            Some(h) => Output::bulk_or_nil(sh.sub_get(key, h.version, f)?),
            None => Output::Nil,
        });
    }
    Ok(Output::Array(out))
}

pub fn op_hdel(sh: &mut Shard, key: &[u8], fields: &[Bytes], now: i64) -> OpResult<Output> {
    let Some(mut h) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    let mut removed = 0;
    for f in fields {
        if sh.sub_exists(key, h.version, f)? {
            sh.sub_delete(key, h.version, f);
            removed += 1;
            h.size -= 1;
        }
    }
    if removed > 0 {
        store(sh, key, &h);
    }
    Ok(Output::Int(removed))
}

pub fn op_hlen(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::Int(
        load(sh, key, now)?.map_or(0, |h| h.size as i64),
    ))
}

pub fn op_hexists(sh: &Shard, key: &[u8], field: &[u8], now: i64) -> OpResult<Output> {
    let Some(h) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    Ok(Output::Int(i64::from(
        sh.sub_exists(key, h.version, field)?,
    )))
}

pub fn op_hgetall(sh: &mut Shard, key: &[u8], what: HashPart, now: i64) -> OpResult<Output> {
    let Some(h) = load(sh, key, now)? else {
        return Ok(Output::Array(Vec::new()));
    };
    // One buffer for the whole reply (see `op::Packed`), filled straight
    // from the scan.
    let per = if what == HashPart::Both { 2 } else { 1 };
    let mut out = Packed::with_capacity((per * h.size as usize).min(4096), 16);
    sh.sub_scan(key, h.version, b"", None, false, |f, v| {
        if what != HashPart::Values {
            out.push(f);
        }
        if what != HashPart::Fields {
            out.push(v);
        }
        true
    })?;
    Ok(Output::Packed(out))
}

/// HRANDFIELD, with Redis's count rules (see `Op::HRandField`). A hash
/// too big to read whole for a few picks is sampled by descending its
/// field bytes ([`sample`]); smaller ones pick exactly from a full read.
pub fn op_hrandfield(
    sh: &mut Shard,
    key: &[u8],
    count: Option<i64>,
    with_values: bool,
    now: i64,
) -> OpResult<Output> {
    let Some(h) = load(sh, key, now)? else {
        return Ok(match count {
            None => Output::Nil,
            Some(_) => Output::Array(Vec::new()),
        });
    };
    let wanted = count.map_or(1, i64::unsigned_abs);
    if wanted == 0 {
        return Ok(Output::Array(Vec::new()));
    }
    let mut rng = Picker(sh.random_u64());
    let distinct = count.is_none_or(|c| c > 0);
    let whole = distinct && wanted >= h.size;
    let mut picked = None;
    if !whole && sample::descends(h.size, wanted) {
        picked = sampled_fields(sh, key, &h, wanted, distinct, with_values, &mut rng)?;
    }
    let picked = match picked {
        Some(p) => p,
        None => exact_fields(sh, key, &h, wanted, distinct, &mut rng)?,
    };
    if count.is_none() {
        return Ok(Output::bulk_or_nil(
            picked.into_iter().next().map(|(f, _)| Bytes::from(f)),
        ));
    }
    let mut out = Vec::with_capacity(picked.len() * if with_values { 2 } else { 1 });
    for (f, v) in picked {
        out.push(Output::Bulk(Bytes::from(f)));
        if with_values {
            out.push(Output::Bulk(Bytes::from(v)));
        }
    }
    Ok(Output::Array(out))
}

/// (field, value) pairs.
type FieldValues = Vec<(Vec<u8>, Vec<u8>)>;

/// `n` (field, value) pairs picked by descent (values left empty unless
/// `with_values`: each is one more read); None when distinct picks keep
/// colliding (read the hash instead).
fn sampled_fields(
    sh: &Shard,
    key: &[u8],
    h: &Hash,
    n: u64,
    distinct: bool,
    with_values: bool,
    rng: &mut Picker,
) -> OpResult<Option<FieldValues>> {
    let Some(fields) =
        sample::shuffled_picks(sample::Fields::all(sh, key, h.version), n, distinct, rng)?
    else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        if !with_values {
            out.push((f, Vec::new()));
            continue;
        }
        // Found in this same state a moment ago, so it has a value.
        if let Some(v) = sh.sub_get(key, h.version, &f)? {
            out.push((f, v.to_vec()));
        }
    }
    Ok(Some(out))
}

/// `n` (field, value) pairs picked exactly from the whole hash: all of them
/// in field order when `distinct` asks for at least the hash's size.
fn exact_fields(
    sh: &Shard,
    key: &[u8],
    h: &Hash,
    n: u64,
    distinct: bool,
    rng: &mut Picker,
) -> OpResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut all = sh.sub_fields(key, h.version)?;
    let size = all.len() as u64;
    if size == 0 || (distinct && n >= size) {
        return Ok(all);
    }
    if !distinct {
        return Ok((0..n)
            .map(|_| all[rng.below(size) as usize].clone())
            .collect());
    }
    let positions = rng.distinct(n, size);
    let mut picked: Vec<_> = positions
        .iter()
        .rev()
        .map(|&p| all.swap_remove(p as usize))
        .collect();
    rng.shuffle(&mut picked);
    Ok(picked)
}

pub fn op_hstrlen(sh: &Shard, key: &[u8], field: &[u8], now: i64) -> OpResult<Output> {
    let Some(h) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    Ok(Output::Int(
        sh.sub_get(key, h.version, field)?
            .map_or(0, |v| v.len() as i64),
    ))
}

pub fn op_hincrby(
    sh: &mut Shard,
    key: &[u8],
    field: &[u8],
    delta: i64,
    now: i64,
) -> OpResult<Output> {
    let mut h = load_or_new(sh, key, now)?;
    let old = sh.sub_get(key, h.version, field)?;
    let cur = match &old {
        Some(v) => parse_i64(v).ok_or(OpError::HashNotInteger)?,
        None => 0,
    };
    let new = cur.checked_add(delta).ok_or(OpError::Overflow)?;
    sh.sub_put_member(key, h.version, field, new.to_string().into_bytes());
    if old.is_none() {
        h.size += 1;
    }
    store(sh, key, &h);
    Ok(Output::Int(new))
}

pub fn op_hincrbyfloat(
    sh: &mut Shard,
    key: &[u8],
    field: &[u8],
    delta: f64,
    now: i64,
) -> OpResult<Output> {
    let mut h = load_or_new(sh, key, now)?;
    let old = sh.sub_get(key, h.version, field)?;
    let cur = match &old {
        Some(v) => parse_f64(v).ok_or(OpError::HashNotFloat)?,
        None => 0.0,
    };
    let new = cur + delta;
    if !new.is_finite() {
        return Err(OpError::NanOrInfinity);
    }
    let text = format_f64(new);
    sh.sub_put_member(key, h.version, field, text.clone().into_bytes());
    if old.is_none() {
        h.size += 1;
    }
    store(sh, key, &h);
    Ok(Output::Bulk(Bytes::from(text)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::op::Op;

    use crate::shard::test_bytes as b;
    use crate::shard::test_shard as shard;

    fn randfield(sh: &mut Shard, key: &str, count: Option<i64>, with_values: bool) -> Output {
        let op = Op::HRandField {
            key: b(key),
            count,
            with_values,
        };
        sh.execute(op, 1000).unwrap()
    }

    /// Field names (and, with values, checks each value is its field's).
    fn picked(o: Output, with_values: bool) -> Vec<String> {
        let Output::Array(flat) = o else {
            panic!("not an array: {o:?}")
        };
        let step = if with_values { 2 } else { 1 };
        flat.chunks(step)
            .map(|p| {
                let Output::Bulk(f) = &p[0] else {
                    panic!("{p:?}")
                };
                let f = String::from_utf8(f.to_vec()).unwrap();
                if with_values {
                    assert_eq!(p[1], Output::Bulk(Bytes::from(format!("v{f}"))));
                }
                f
            })
            .collect()
    }

    fn fill(sh: &mut Shard, key: &str, n: u64) {
        let pairs = (0..n)
            .map(|i| (b(&format!("f{i:05}")), b(&format!("vf{i:05}"))))
            .collect();
        let op = Op::HSet {
            key: b(key),
            pairs,
            nx: false,
        };
        sh.execute(op, 1000).unwrap();
    }

    /// Redis's count rules on a small hash (exact picks) and a big one
    /// (sampled picks): distinct for a positive count, |count| with repeats
    /// for a negative one, the whole hash for a count past its size.
    #[test]
    fn hrandfield_counts_small_and_big() {
        let (_d, mut sh) = shard();
        fill(&mut sh, "small", 5);
        fill(&mut sh, "big", crate::types::sample::EXACT_UP_TO * 8);
        assert_eq!(randfield(&mut sh, "none", None, false), Output::Nil);
        assert_eq!(
            randfield(&mut sh, "none", Some(3), false),
            Output::Array(vec![])
        );
        assert_eq!(
            randfield(&mut sh, "small", Some(0), true),
            Output::Array(vec![])
        );
        let all = picked(randfield(&mut sh, "small", Some(9), true), true);
        assert_eq!(all, ["f00000", "f00001", "f00002", "f00003", "f00004"]);
        for key in ["small", "big"] {
            let three = picked(randfield(&mut sh, key, Some(3), true), true);
            assert_eq!(
                three
                    .iter()
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
                3
            );
            let repeats = picked(randfield(&mut sh, key, Some(-12), true), true);
            assert_eq!(repeats.len(), 12);
            let Output::Bulk(one) = randfield(&mut sh, key, None, false) else {
                panic!()
            };
            assert!(one.starts_with(b"f"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            seen.extend(picked(randfield(&mut sh, "big", Some(4), false), false));
        }
        assert!(
            seen.len() > 40,
            "picks cluster: {} distinct of 80",
            seen.len()
        );
        let set = b("s");
        sh.execute(
            Op::Sets(crate::op::set::SetOp::Add {
                key: set.clone(),
                members: vec![b("m")],
            }),
            1000,
        )
        .unwrap();
        let op = Op::HRandField {
            key: set,
            count: None,
            with_values: false,
        };
        assert_eq!(sh.execute(op, 1000), Err(OpError::WrongType));
    }

    #[test]
    fn set_get_delete_and_wrongtype() {
        let (_d, mut sh) = shard();
        let op = Op::HSet {
            key: b("h"),
            pairs: vec![(b("a"), b("1")), (b("b"), b("2"))],
            nx: false,
        };
        assert_eq!(sh.execute(op, 1000).unwrap(), Output::Int(2));
        assert_eq!(
            sh.execute(
                Op::HGet {
                    key: b("h"),
                    field: b("a")
                },
                1000
            )
            .unwrap(),
            Output::Bulk(b("1"))
        );
        assert_eq!(sh.execute(Op::HLen(b("h")), 1000).unwrap(), Output::Int(2));
        assert_eq!(
            sh.execute(Op::Type(b("h")), 1000).unwrap(),
            Output::Status("hash".into())
        );
        assert_eq!(sh.execute(Op::Get(b("h")), 1000), Err(OpError::WrongType));
        let op = Op::HDel {
            key: b("h"),
            fields: vec![b("a"), b("b"), b("zz")],
        };
        assert_eq!(sh.execute(op, 1000).unwrap(), Output::Int(2));
        assert_eq!(
            sh.execute(Op::Exists(vec![b("h")]), 1000).unwrap(),
            Output::Int(0)
        );
        assert_eq!(sh.stats().keys, 0);
    }

    #[test]
    fn delete_then_recreate_does_not_resurrect_fields() {
        let (_d, mut sh) = shard();
        let op = Op::HSet {
            key: b("h"),
            pairs: vec![(b("old"), b("1"))],
            nx: false,
        };
        sh.execute(op, 1000).unwrap();
        sh.execute(Op::Del(vec![b("h")]), 1000).unwrap();
        let op = Op::HSet {
            key: b("h"),
            pairs: vec![(b("new"), b("2"))],
            nx: false,
        };
        sh.execute(op, 1000).unwrap();
        let all = sh
            .execute(
                Op::HGetAll {
                    key: b("h"),
                    what: HashPart::Both,
                },
                1000,
            )
            .unwrap()
            .unpacked();
        assert_eq!(
            all,
            Output::Array(vec![Output::Bulk(b("new")), Output::Bulk(b("2"))])
        );
    }

    #[test]
    fn rename_moves_fields() {
        let (_d, mut sh) = shard();
        let op = Op::HSet {
            key: b("{t}a"),
            pairs: vec![(b("f"), b("v"))],
            nx: false,
        };
        sh.execute(op, 1000).unwrap();
        sh.execute(
            Op::Rename {
                src: b("{t}a"),
                dst: b("{t}b"),
                nx: false,
            },
            1000,
        )
        .unwrap();
        assert_eq!(
            sh.execute(
                Op::HGet {
                    key: b("{t}b"),
                    field: b("f")
                },
                1000
            )
            .unwrap(),
            Output::Bulk(b("v"))
        );
        assert_eq!(
            sh.execute(Op::HLen(b("{t}a")), 1000).unwrap(),
            Output::Int(0)
        );
    }

    /// Hashes past the scan cache's bounds (records, bytes) read right
    /// whole and after a write, committed and read twice each time.
    #[test]
    fn big_hashes_read_alike_past_the_scan_cache_bounds() {
        let (_d, mut sh) = shard();
        for (key, fields, size) in [("many", 300usize, 8usize), ("wide", 10, 20_000)] {
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for round in 0..2 {
                let pairs: Vec<(Bytes, Bytes)> = (0..fields)
                    .map(|i| {
                        let f = format!("f{i:04}").into_bytes();
                        let v = vec![b'a' + (round as u8) + (i % 7) as u8; size];
                        model.insert(f.clone(), v.clone());
                        (Bytes::from(f), Bytes::from(v))
                    })
                    .collect();
                sh.execute(
                    Op::HSet {
                        key: b(key),
                        pairs,
                        nx: false,
                    },
                    1000,
                )
                .unwrap();
                sh.commit().unwrap();
                let want: Vec<Output> = model
                    .iter()
                    .flat_map(|(f, v)| {
                        [
                            Output::Bulk(Bytes::from(f.clone())),
                            Output::Bulk(Bytes::from(v.clone())),
                        ]
                    })
                    .collect();
                for _ in 0..2 {
                    let got = sh
                        .execute(
                            Op::HGetAll {
                                key: b(key),
                                what: HashPart::Both,
                            },
                            1000,
                        )
                        .unwrap()
                        .unpacked();
                    assert_eq!(got, Output::Array(want.clone()), "{key} round {round}");
                }
            }
        }
    }

    proptest! {
        /// Random HSET/HDEL/HINCRBY sequences agree with a BTreeMap model,
        /// committed or not.
        #[test]
        fn matches_a_model(cmds in proptest::collection::vec((0u8..3, 0u8..6, 0i64..5), 1..60)) {
            let (_d, mut sh) = shard();
            let mut model: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
            for (kind, f, n) in cmds {
                let field = Bytes::from(vec![b'a' + f]);
                match kind {
                    0 => {
                        let op = Op::HSet { key: b("h"), pairs: vec![(field.clone(), Bytes::from(n.to_string()))], nx: false };
                        sh.execute(op, 1000).unwrap();
                        model.insert(field.to_vec(), n);
                    }
                    1 => {
                        sh.execute(Op::HDel { key: b("h"), fields: vec![field.clone()] }, 1000).unwrap();
                        model.remove(field.as_ref());
                    }
                    _ => {
                        let got = sh.execute(Op::HIncrBy { key: b("h"), field: field.clone(), delta: n }, 1000).unwrap();
                        let v = model.entry(field.to_vec()).or_insert(0);
                        *v += n;
                        prop_assert_eq!(got, Output::Int(*v));
                    }
                }
                prop_assert_eq!(sh.execute(Op::HLen(b("h")), 1000).unwrap(), Output::Int(model.len() as i64));
                // Committing now and then makes HGETALL fill and then
                // answer from the shard's scan cache across later writes.
                if n % 2 == 0 {
                    sh.commit().unwrap();
                }
                let want: Vec<Output> = model.iter().flat_map(|(f, v)| [
                    Output::Bulk(Bytes::from(f.clone())), Output::Bulk(Bytes::from(v.to_string()))]).collect();
                for _ in 0..2 {
                    let got = sh.execute(Op::HGetAll { key: b("h"), what: HashPart::Both }, 1000).unwrap().unpacked();
                    prop_assert_eq!(got, Output::Array(want.clone()));
                }
            }
            let want: Vec<Output> = model.iter().flat_map(|(f, v)| [
                Output::Bulk(Bytes::from(f.clone())), Output::Bulk(Bytes::from(v.to_string()))]).collect();
            prop_assert_eq!(sh.execute(Op::HGetAll { key: b("h"), what: HashPart::Both }, 1000).unwrap().unpacked(), Output::Array(want));
        }
    }
}
