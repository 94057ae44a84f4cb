//! What SORT needs from a shard: the elements of the key being sorted, and
//! the values its BY / GET patterns point at. The sorting itself happens
//! at the connection (the pattern keys may live on any shard).

use bytes::Bytes;

use super::hash;
use super::list;
use super::set;
use super::string;
use super::zset;
use crate::error::OpError;
use crate::error::OpResult;
use crate::op::ListOp;
use crate::op::Output;
use crate::op::SetOp;
use crate::op::ZSetOp;
use crate::op::zset::RangeQuery;
use crate::op::zset::RangeSpec;
use crate::shard::Shard;
use crate::storage::meta::RedisType;

/// `[type, [elements]]` of a list (in order), set or zset (by score);
/// `["none", []]` when absent; WRONGTYPE for strings and hashes.
pub fn op_sort_source(sh: &mut Shard, key: &Bytes, now: i64) -> OpResult<Output> {
    let kind = sh.entry(key, now)?.live().map(|m| m.kind());
    let elements = match kind {
        None => Output::Array(Vec::new()),
        Some(RedisType::List) => list::execute(
            sh,
            ListOp::Range {
                key: key.clone(),
                start: 0,
                stop: -1,
            },
            now,
        )?
        .unpacked(),
        Some(RedisType::Set) => set::execute(sh, SetOp::Members(key.clone()), now)?.unpacked(),
        Some(RedisType::ZSet) => {
            let query = RangeQuery {
                spec: RangeSpec::Rank { start: 0, stop: -1 },
                rev: false,
                limit: None,
                withscores: false,
            };
            let op = ZSetOp::Range {
                key: key.clone(),
                query,
            };
            zset::execute(sh, op, now)?
        }
        Some(RedisType::String | RedisType::Hash) => return Err(OpError::WrongType),
    };
    let name = kind.map_or("none", |k| k.name());
    Ok(Output::Array(vec![Output::Status(name.into()), elements]))
}

/// For each `(key, field)`: the string at `key` (no field) or the hash
/// field's value; Nil when missing or of another type, as SORT's
/// `lookupKeyByPattern` answers.
pub fn op_lookup(sh: &Shard, items: &[(Bytes, Option<Bytes>)], now: i64) -> OpResult<Output> {
    let mut out = Vec::with_capacity(items.len());
    for (key, field) in items {
        let v = match field {
            None => string::op_get(sh, key, now),
            Some(f) => hash::op_hget(sh, key, f, now),
        };
        out.push(match v {
            Err(OpError::WrongType) => Output::Nil,
            v => v?,
        });
    }
    Ok(Output::Array(out))
}
