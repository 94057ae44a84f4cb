//! SORT and SORT_RO, following Redis 7.0's `sortCommandGeneric` step by
//! step: options, the type check, LIMIT clamping, the no-sort cases, BY
//! weights (numeric or ALPHA, missing ones counting as 0 / null), GET
//! patterns (`#`, `key*`, `hash*->field`) and STORE as a list.
//!
//! The key's elements come from its shard; BY and GET values are looked up
//! on whichever shards own the pattern keys, one message per shard. So a
//! SORT with BY/GET is not atomic across shards (in cluster mode Redis
//! refuses BY/GET patterns altogether); STORE writes the destination as
//! one entry (delete + push) on its shard.

use std::cmp::Ordering;
use std::rc::Rc;

use bytes::Bytes;
use shardis_shards::core::Core;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::ListOp;
use shardis_shards::op::Op;
use shardis_shards::op::Output;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::float;
use super::args::int;
use super::args::is;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

const GROUP: &str = "generic";

pub static COMMANDS: &[CommandSpec] = &[
    spec!(
        "sort",
        -2,
        ["write", "denyoom", "movablekeys"],
        1,
        1,
        1,
        sort
    ),
    spec!("sort_ro", -2, ["readonly", "movablekeys"], 1, 1, 1, sort_ro),
];

/// Parsed options of one SORT.
#[derive(Debug, Default, Clone)]
struct Options {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// BY without `*`: keep the key's own order.
    dontsort: bool,
    gets: Vec<Bytes>,
}

fn sort(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    plan(ctx, a, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    plan(ctx, a, true)
}

fn parse(a: &[Bytes], readonly: bool) -> Result<Options, CmdError> {
    let mut o = Options::default();
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let arg = &a[j];
        if is(arg, "asc") {
            o.desc = false;
        } else if is(arg, "desc") {
            o.desc = true;
        } else if is(arg, "alpha") {
            o.alpha = true;
        } else if is(arg, "limit") && left >= 2 {
            o.limit = Some((int(&a[j + 1])?, int(&a[j + 2])?));
            j += 2;
        } else if !readonly && is(arg, "store") && left >= 1 {
            o.store = Some(a[j + 1].clone());
            j += 1;
        } else if is(arg, "by") && left >= 1 {
            o.dontsort = !a[j + 1].contains(&b'*');
            o.by = Some(a[j + 1].clone());
            j += 1;
        } else if is(arg, "get") && left >= 1 {
            o.gets.push(a[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

fn plan(ctx: &mut Ctx<'_>, a: &[Bytes], readonly: bool) -> Result<Plan, CmdError> {
    let o = parse(a, readonly)?;
    let (core, key) = (ctx.cx.core.clone(), a[1].clone());
    Ok(Plan::Async(Box::pin(async move {
        match run(&core, key, o).await {
            Ok(r) => r,
            Err(e) => op_error_reply(&e),
        }
    })))
}

/// Where a pattern points for one element: `(key, hash field)`, or None
/// when the pattern has no `*` (a fixed key is never looked up).
fn substitute(pattern: &[u8], elem: &[u8]) -> Option<(Bytes, Option<Bytes>)> {
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&p| p + 2 < after.len());
    let (suffix, field) = match arrow {
        Some(p) => (&after[..p], Some(Bytes::copy_from_slice(&after[p + 2..]))),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + suffix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(suffix);
    Some((key.into(), field))
}

/// The value `pattern` gives each of `elems` (`#`: the element itself),
/// looked up with one message per shard.
async fn lookup_all(
    core: &Rc<Core>,
    pattern: &[u8],
    elems: &[Bytes],
) -> OpResult<Vec<Option<Bytes>>> {
    if pattern == b"#" {
        return Ok(elems.iter().cloned().map(Some).collect());
    }
    let mut out = vec![None; elems.len()];
    // Elements whose pattern names a key, and those keys.
    let (mut elem_of, mut keys, mut fields) = (Vec::new(), Vec::new(), Vec::new());
    for (i, e) in elems.iter().enumerate() {
        if let Some((key, field)) = substitute(pattern, e) {
            elem_of.push(i);
            keys.push(key);
            fields.push(field);
        }
    }
    let mut pending = Vec::new();
    for (shard, positions) in super::group_keys(&core.router, &keys) {
        let items = positions
            .iter()
            .map(|&p| (keys[p].clone(), fields[p].clone()))
            .collect();
        let idx: Vec<usize> = positions.iter().map(|&p| elem_of[p]).collect();
        pending.push((core.submit(shard, vec![Op::Lookup(items)]), idx));
    }
    for (p, idx) in pending {
        let r = core.finish(p).await.pop().unwrap_or(Ok(Output::Nil))?;
        let Output::Array(values) = r else {
            return Err(OpError::Storage("lookup answered no array".into()));
        };
        for (i, v) in idx.into_iter().zip(values) {
            out[i] = match v {
                Output::Bulk(b) => Some(b),
                _ => None,
            };
        }
    }
    Ok(out)
}

/// One element being sorted and what it is compared by.
struct Item {
    elem: Bytes,
    score: f64,
    cmp: Option<Bytes>,
}

async fn run(core: &Rc<Core>, key: Bytes, mut o: Options) -> OpResult<Reply> {
    let source = core
        .call_one(core.router.shard_of_key(&key), Op::SortSource(key))
        .await?;
    let (kind, elems) = match source {
        Output::Array(mut v) if v.len() == 2 => {
            let elems = match v.pop() {
                Some(Output::Array(items)) => items
                    .into_iter()
                    .filter_map(|i| match i {
                        Output::Bulk(b) => Some(b),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            };
            let kind = match v.pop() {
                Some(Output::Status(s)) => s,
                _ => "".into(),
            };
            (kind, elems)
        }
        _ => return Err(OpError::Storage("sort source answered no pair".into())),
    };
    // A set has no order of its own: with STORE its output must not depend
    // on one, so Redis sorts it as strings.
    if o.dontsort && kind == "set" && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elems.len() as i64;
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.clamp(0, len);
    let count = limit_count.clamp(-1, len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    if o.dontsort {
        // Lists and zsets keep their order (reversed by DESC).
        if o.desc && (kind == "list" || kind == "zset") {
            items.reverse();
        }
    } else {
        let by_values = match &o.by {
            Some(p) => {
                let elems: Vec<Bytes> = items.iter().map(|i| i.elem.clone()).collect();
                Some(lookup_all(core, p, &elems).await?)
            }
            None => None,
        };
        let mut bad_score = false;
        for (j, item) in items.iter_mut().enumerate() {
            let by = match &by_values {
                Some(values) => match &values[j] {
                    Some(v) => v.clone(),
                    None => continue,
                },
                None => item.elem.clone(),
            };
            if o.alpha {
                if by_values.is_some() {
                    item.cmp = Some(by);
                }
            } else {
                match float(&by) {
                    Ok(s) if !s.is_nan() => item.score = s,
                    _ => bad_score = true,
                }
            }
        }
        if bad_score {
            return Ok(Reply::error(
                "ERR One or more scores can't be converted into double",
            ));
        }
        let by_pattern = by_values.is_some();
        let (alpha, desc) = (o.alpha, o.desc);
        items.sort_by(|x, y| {
            let c = if !alpha {
                x.score
                    .partial_cmp(&y.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| x.elem.cmp(&y.elem))
            } else if by_pattern {
                x.cmp.cmp(&y.cmp)
            } else {
                x.elem.cmp(&y.elem)
            };
            if desc { c.reverse() } else { c }
        });
    }
    let picked: Vec<Bytes> = if end >= start {
        items
            .into_iter()
            .skip(start as usize)
            .take((end - start + 1) as usize)
            .map(|i| i.elem)
            .collect()
    } else {
        Vec::new()
    };
    // Output: the elements, or per element one value per GET.
    let mut output: Vec<Option<Bytes>> = Vec::new();
    if o.gets.is_empty() {
        output = picked.into_iter().map(Some).collect();
    } else {
        let mut columns = Vec::with_capacity(o.gets.len());
        for g in &o.gets {
            columns.push(lookup_all(core, g, &picked).await?);
        }
        for row in 0..picked.len() {
            for col in &columns {
                output.push(col[row].clone());
            }
        }
    }
    let Some(dst) = o.store else {
        return Ok(Reply::Array(
            output
                .into_iter()
                .map(|v| v.map_or(Reply::Nil, Reply::Bulk))
                .collect(),
        ));
    };
    let n = output.len() as i64;
    let mut ops = vec![Op::Del(vec![dst.clone()])];
    if n > 0 {
        ops.push(Op::Lists(ListOp::Push {
            key: dst.clone(),
            elements: output.into_iter().map(Option::unwrap_or_default).collect(),
            left: false,
            only_existing: false,
        }));
    }
    match core
        .call_one(core.router.shard_of_key(&dst), Op::Multi(ops))
        .await?
    {
        Output::Multi(results) => {
            for r in results {
                r?;
            }
        }
        _ => return Err(OpError::Storage("store answered no results".into())),
    }
    Ok(Reply::Int(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn patterns_substitute_like_redis() {
        assert_eq!(substitute(b"w_*", b"3"), Some((b("w_3"), None)));
        assert_eq!(substitute(b"h_*->f", b"3"), Some((b("h_3"), Some(b("f")))));
        assert_eq!(substitute(b"pre*post", b"x"), Some((b("prexpost"), None)));
        // An empty field is no field: the key keeps the arrow.
        assert_eq!(substitute(b"h_*->", b"3"), Some((b("h_3->"), None)));
        assert_eq!(substitute(b"fixed", b"3"), None);
    }

    #[test]
    fn options_parse_like_redis() {
        let a: Vec<Bytes> = [
            "sort", "k", "by", "w_*", "limit", "0", "2", "get", "#", "desc", "alpha", "store", "d",
        ]
        .iter()
        .map(|s| b(s))
        .collect();
        let o = parse(&a, false).unwrap();
        assert!(o.desc && o.alpha && !o.dontsort);
        assert_eq!(o.limit, Some((0, 2)));
        assert_eq!(o.store, Some(b("d")));
        assert_eq!(o.gets, vec![b("#")]);
        assert_eq!(parse(&a, true).unwrap_err(), CmdError::Syntax);
        let nosort: Vec<Bytes> = ["sort", "k", "by", "nosort"].iter().map(|s| b(s)).collect();
        assert!(parse(&nosort, false).unwrap().dontsort);
        let bad: Vec<Bytes> = ["sort", "k", "limit", "x", "1"]
            .iter()
            .map(|s| b(s))
            .collect();
        assert_eq!(parse(&bad, false).unwrap_err(), CmdError::NotInteger);
        let short: Vec<Bytes> = ["sort", "k", "limit", "1"].iter().map(|s| b(s)).collect();
        assert_eq!(parse(&short, false).unwrap_err(), CmdError::Syntax);
    }
}
