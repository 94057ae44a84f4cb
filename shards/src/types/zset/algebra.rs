//! ZUNION / ZINTER / ZDIFF over materialised inputs. Pure, so the same code
//! runs inside a shard (every key local) and in the coordinator (inputs
//! read from several shards).

use std::collections::HashMap;

use bytes::Bytes;

use crate::op::zset::Aggregate;
use crate::op::zset::SetAlgebra;

/// Combines `inputs` (each a list of distinct (member, score) pairs) like
/// Redis's `zunionInterDiffGenericCommand`: scores are multiplied by their
/// input's weight (missing weights are 1; NaN products become 0), merged
/// with `aggregate`, and the result is in zset order (score, then member).
pub fn combine(
    algebra: SetAlgebra,
    inputs: Vec<Vec<(Bytes, f64)>>,
    weights: &[f64],
    aggregate: Aggregate,
) -> Vec<(Bytes, f64)> {
    let mut weighted: Vec<(Vec<(Bytes, f64)>, f64)> = inputs
        .into_iter()
        .enumerate()
        .map(|(i, pairs)| (pairs, weights.get(i).copied().unwrap_or(1.0)))
        .collect();
    let mut out = match algebra {
        SetAlgebra::Union => {
            // Redis walks the inputs smallest first; it matters only to the
            // rounding of sums, but matching it keeps scores identical.
            weighted.sort_by_key(|(p, _)| p.len());
            union(weighted, aggregate)
        }
        SetAlgebra::Inter => {
            weighted.sort_by_key(|(p, _)| p.len());
            inter(weighted, aggregate)
        }
        SetAlgebra::Diff => diff(weighted),
    };
    for (_, s) in out.iter_mut() {
        // -0.0 (a weight of -1 on 0) is stored and shown as 0.
        *s += 0.0;
    }
    out.sort_by(|(ma, sa), (mb, sb)| sa.total_cmp(sb).then_with(|| ma.cmp(mb)));
    out
}

fn merge(target: &mut f64, v: f64, aggregate: Aggregate) {
    match aggregate {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

fn weigh(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() { 0.0 } else { v }
}

fn union(inputs: Vec<(Vec<(Bytes, f64)>, f64)>, aggregate: Aggregate) -> Vec<(Bytes, f64)> {
    let mut acc: HashMap<Bytes, f64> = HashMap::new();
    for (pairs, w) in inputs {
        for (m, s) in pairs {
            let v = weigh(s, w);
            match acc.get_mut(&m) {
                Some(t) => merge(t, v, aggregate),
                None => {
                    acc.insert(m, v);
                }
            }
        }
    }
    acc.into_iter().collect()
}

fn inter(inputs: Vec<(Vec<(Bytes, f64)>, f64)>, aggregate: Aggregate) -> Vec<(Bytes, f64)> {
    let mut it = inputs.into_iter();
    let Some((first, w0)) = it.next() else {
        return Vec::new();
    };
    let rest: Vec<(HashMap<Bytes, f64>, f64)> =
        it.map(|(p, w)| (p.into_iter().collect(), w)).collect();
    let mut out = Vec::new();
    'members: for (m, s) in first {
        let mut score = weigh(s, w0);
        for (map, w) in &rest {
            let Some(v) = map.get(&m) else {
                continue 'members;
            };
            merge(&mut score, v * w, aggregate);
        }
        out.push((m, score));
    }
    out
}

/// Members of the first input found in no other, with their own scores.
fn diff(inputs: Vec<(Vec<(Bytes, f64)>, f64)>) -> Vec<(Bytes, f64)> {
    let mut it = inputs.into_iter();
    let Some((first, _)) = it.next() else {
        return Vec::new();
    };
    let others: Vec<std::collections::HashSet<Bytes>> = it
        .map(|(p, _)| p.into_iter().map(|(m, _)| m).collect())
        .collect();
    first
        .into_iter()
        .filter(|(m, _)| !others.iter().any(|o| o.contains(m)))
        .collect()
}
