//! Strings: GET/SET and the commands that read or rewrite a string value.

use bytes::Bytes;

use super::number::format_f64;
use super::number::parse_f64;
use super::number::parse_i64;
use crate::error::OpError;
use crate::error::OpResult;
use crate::op::GetExExpiry;
use crate::op::Output;
use crate::op::SetCond;
use crate::op::SetExpiry;
use crate::shard::Shard;
use crate::storage::meta::Body;
use crate::storage::meta::Meta;

/// Largest string value, as Redis's default `proto-max-bulk-len`.
pub const MAX_STRING_LEN: usize = 512 * 1024 * 1024;

/// The live string under `key`: `Ok(None)` when absent, WRONGTYPE otherwise.
pub(crate) fn live_string(
    sh: &Shard,
    key: &[u8],
    now: i64,
) -> OpResult<(crate::shard::Entry, Option<Bytes>)> {
    let e = sh.entry(key, now)?;
    let v = match e.live() {
        Some(m) => Some(m.as_string()?.clone()),
        None => None,
    };
    Ok((e, v))
}

/// Writes `value` under `key`, keeping the key's live expiry (APPEND,
/// SETRANGE, INCR* change the value but not the TTL).
pub(crate) fn put_keep_ttl(sh: &mut Shard, key: &[u8], e: &crate::shard::Entry, value: Bytes) {
    let expire_at = e.live().and_then(|m| m.expire_at);
    sh.put(
        key,
        e,
        &Meta {
            expire_at,
            body: Body::String(value),
        },
    );
}

pub fn op_get(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::bulk_or_nil(live_string(sh, key, now)?.1))
}

pub fn op_set(
    sh: &mut Shard,
    key: &[u8],
    value: Bytes,
    expiry: SetExpiry,
    cond: SetCond,
    get: bool,
    now: i64,
) -> OpResult<Output> {
    let e = sh.entry(key, now)?;
    let old_value = match (get, e.live()) {
        (true, Some(m)) => Some(m.as_string()?.clone()),
        _ => None,
    };
    let allowed = match cond {
        SetCond::Always => true,
        SetCond::IfAbsent => !e.exists(),
        SetCond::IfPresent => e.exists(),
    };
    if allowed {
        let expire_at = match expiry {
            SetExpiry::Clear => None,
            SetExpiry::At(t) => Some(t),
            SetExpiry::Keep => e.live().and_then(|m| m.expire_at),
        };
        sh.put(
            key,
            &e,
            &Meta {
                expire_at,
                body: Body::String(value),
            },
        );
    }
    Ok(match (get, allowed) {
        (true, _) => Output::bulk_or_nil(old_value),
        (false, true) => Output::Ok,
        (false, false) => Output::Nil,
    })
}

pub fn op_getdel(sh: &mut Shard, key: &[u8], now: i64) -> OpResult<Output> {
    let (e, v) = live_string(sh, key, now)?;
    if v.is_some() {
        sh.remove(key, &e);
    }
    Ok(Output::bulk_or_nil(v))
}

pub fn op_getex(sh: &mut Shard, key: &[u8], expiry: GetExExpiry, now: i64) -> OpResult<Output> {
    let (e, v) = live_string(sh, key, now)?;
    let (Some(value), Some(m)) = (&v, e.live()) else {
        return Ok(Output::Nil);
    };
    match expiry {
        GetExExpiry::Unchanged => {}
        GetExExpiry::At(t) => sh.set_expiry(key, &e, Some(t), now),
        GetExExpiry::Persist if m.expire_at.is_some() => sh.set_expiry(key, &e, None, now),
        GetExExpiry::Persist => {}
    }
    Ok(Output::Bulk(value.clone()))
}

pub fn op_append(sh: &mut Shard, key: &[u8], value: &[u8], now: i64) -> OpResult<Output> {
    let (e, old) = live_string(sh, key, now)?;
    let old = old.unwrap_or_default();
    if old.len() + value.len() > MAX_STRING_LEN {
        return Err(OpError::TooLarge);
    }
    let mut v = Vec::with_capacity(old.len() + value.len());
    v.extend_from_slice(&old);
    v.extend_from_slice(value);
    let len = v.len() as i64;
    put_keep_ttl(sh, key, &e, v.into());
    Ok(Output::Int(len))
}

pub fn op_strlen(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::Int(
        live_string(sh, key, now)?.1.map_or(0, |v| v.len() as i64),
    ))
}

pub fn op_getrange(sh: &Shard, key: &[u8], start: i64, end: i64, now: i64) -> OpResult<Output> {
    let v = live_string(sh, key, now)?.1.unwrap_or_default();
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Output::Bulk(Bytes::new()));
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        return Ok(Output::Bulk(Bytes::new()));
    }
    Ok(Output::Bulk(v.slice(s as usize..=e as usize)))
}

pub fn op_setrange(
    sh: &mut Shard,
    key: &[u8],
    offset: usize,
    value: &[u8],
    now: i64,
) -> OpResult<Output> {
    let (e, old) = live_string(sh, key, now)?;
    let old = old.unwrap_or_default();
    if value.is_empty() {
        return Ok(Output::Int(old.len() as i64));
    }
    if offset.saturating_add(value.len()) > MAX_STRING_LEN {
        return Err(OpError::TooLarge);
    }
    let mut v = old.to_vec();
    if v.len() < offset + value.len() {
        v.resize(offset + value.len(), 0);
    }
    v[offset..offset + value.len()].copy_from_slice(value);
    let len = v.len() as i64;
    put_keep_ttl(sh, key, &e, v.into());
    Ok(Output::Int(len))
}

pub fn op_incrby(sh: &mut Shard, key: &[u8], delta: i64, now: i64) -> OpResult<Output> {
    let (e, old) = live_string(sh, key, now)?;
    let cur = match &old {
        Some(v) => parse_i64(v).ok_or(OpError::NotInteger)?,
        None => 0,
    };
    let new = cur.checked_add(delta).ok_or(OpError::Overflow)?;
    put_keep_ttl(sh, key, &e, Bytes::from(new.to_string()));
    Ok(Output::Int(new))
}

pub fn op_incrbyfloat(sh: &mut Shard, key: &[u8], delta: f64, now: i64) -> OpResult<Output> {
    let (e, old) = live_string(sh, key, now)?;
    let cur = match &old {
        Some(v) => parse_f64(v).ok_or(OpError::NotFloat)?,
        None => 0.0,
    };
    let new = cur + delta;
    if !new.is_finite() {
        return Err(OpError::NanOrInfinity);
    }
    let text = Bytes::from(format_f64(new));
    put_keep_ttl(sh, key, &e, text.clone());
    Ok(Output::Bulk(text))
}

pub fn op_mget(sh: &Shard, keys: &[Bytes], now: i64) -> OpResult<Output> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let e = sh.entry(k, now)?;
        out.push(match e.live().map(|m| &m.body) {
            Some(Body::String(v)) => Output::Bulk(v.clone()),
            _ => Output::Nil,
        });
    }
    Ok(Output::Array(out))
}

pub fn op_mset(sh: &mut Shard, pairs: Vec<(Bytes, Bytes)>, now: i64) -> OpResult<Output> {
    for (k, v) in pairs {
        let e = sh.entry(&k, now)?;
        sh.put(&k, &e, &Meta::string(v));
    }
    Ok(Output::Ok)
}

pub fn op_msetnx(sh: &mut Shard, pairs: Vec<(Bytes, Bytes)>, now: i64) -> OpResult<Output> {
    for (k, _) in &pairs {
        if sh.entry(k, now)?.exists() {
            return Ok(Output::Int(0));
        }
    }
    op_mset(sh, pairs, now)?;
    Ok(Output::Int(1))
}
