//! Type-independent key commands: existence, deletion, expiry, iteration,
//! and the two halves of a cross-shard RENAME.

use bytes::Bytes;

use crate::error::OpError;
use crate::error::OpResult;
use crate::glob::glob_match;
use crate::op::ExpireCond;
use crate::op::Output;
use crate::shard::Shard;
use crate::storage::keys;
use crate::storage::meta::Body;
use crate::storage::meta::Meta;
use crate::storage::meta::RedisType;

pub fn op_exists(sh: &Shard, ks: &[Bytes], now: i64) -> OpResult<Output> {
    let mut n = 0;
    for k in ks {
        if sh.entry(k, now)?.exists() {
            n += 1;
        }
    }
    Ok(Output::Int(n))
}

pub fn op_del(sh: &mut Shard, ks: &[Bytes], now: i64) -> OpResult<Output> {
    let mut n = 0;
    for k in ks {
        let e = sh.entry(k, now)?;
        if e.exists() {
            n += 1;
        }
        // An expired record is removed too, it just does not count.
        sh.remove(k, &e);
    }
    Ok(Output::Int(n))
}

pub fn op_type(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::Status(
        sh.entry(key, now)?
            .live()
            .map_or("none", |m| m.kind().name())
            .into(),
    ))
}

pub fn op_expire(
    sh: &mut Shard,
    key: &[u8],
    at_ms: i64,
    cond: ExpireCond,
    now: i64,
) -> OpResult<Output> {
    let e = sh.entry(key, now)?;
    let Some(m) = e.live() else {
        return Ok(Output::Int(0));
    };
    let ok = match (cond, m.expire_at) {
        (ExpireCond::Always, _) => true,
        (ExpireCond::Nx, cur) => cur.is_none(),
        (ExpireCond::Xx, cur) => cur.is_some(),
        // A key without expiry has an infinite TTL.
        (ExpireCond::Gt, Some(cur)) => at_ms > cur,
        (ExpireCond::Gt, None) => false,
        (ExpireCond::Lt, Some(cur)) => at_ms < cur,
        (ExpireCond::Lt, None) => true,
        (ExpireCond::XxLt, Some(cur)) => at_ms < cur,
        (ExpireCond::XxLt, None) => false,
    };
    if !ok {
        return Ok(Output::Int(0));
    }
    sh.set_expiry(key, &e, Some(at_ms), now);
    Ok(Output::Int(1))
}

pub fn op_pttl(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::Int(match sh.entry(key, now)?.live() {
        None => -2,
        Some(Meta {
            expire_at: None, ..
        }) => -1,
        Some(Meta {
            expire_at: Some(t), ..
        }) => (t - now).max(0),
    }))
}

pub fn op_pexpiretime(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::Int(match sh.entry(key, now)?.live() {
        None => -2,
        Some(m) => m.expire_at.unwrap_or(-1),
    }))
}

pub fn op_persist(sh: &mut Shard, key: &[u8], now: i64) -> OpResult<Output> {
    let e = sh.entry(key, now)?;
    match e.live() {
        Some(m) if m.expire_at.is_some() => {
            sh.set_expiry(key, &e, None, now);
            Ok(Output::Int(1))
        }
        _ => Ok(Output::Int(0)),
    }
}

/// The literal start of a glob: every match begins with it, so KEYS can seek
/// there instead of walking the whole shard.
fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern
        .iter()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pattern.len());
    &pattern[..end]
}

pub fn op_keys(sh: &mut Shard, pattern: &[u8], now: i64) -> OpResult<Output> {
    let from = keys::meta_key(literal_prefix(pattern));
    let to = keys::prefix_end(&from);
    let mut out = Vec::new();
    sh.store().scan(&from, &to, |k, v| {
        if let Some(user) = keys::user_key_of_meta(k) {
            let expired = Meta::peek_expire(v).is_some_and(|t| t <= now);
            if !expired && glob_match(pattern, user) {
                out.push(Output::Bulk(Bytes::copy_from_slice(user)));
            }
        }
        true
    })?;
    Ok(Output::Array(out))
}

/// One SCAN step over this shard: `cursor` 0 starts at the beginning, other
/// values are tokens from an earlier step (an unknown token restarts the
/// shard, which still returns every key at least once).
pub fn op_scan(
    sh: &mut Shard,
    cursor: u64,
    pattern: Option<&[u8]>,
    count: usize,
    type_name: Option<&[u8]>,
    now: i64,
) -> OpResult<Output> {
    let start = match (cursor, sh.cursor_position(cursor)) {
        (0, _) | (_, None) => vec![keys::META],
        (_, Some(last)) => {
            let mut k = last.to_vec();
            k.push(0); // first key after `last`
            k
        }
    };
    let mut found = Vec::new();
    let mut visited = 0usize;
    let mut last = None;
    let count = count.max(1);
    sh.store().scan(&start, &[keys::META + 1], |k, v| {
        visited += 1;
        last = Some(k.to_vec());
        if let (Some(user), Some(kind)) = (keys::user_key_of_meta(k), Meta::peek_kind(v)) {
            let live = Meta::peek_expire(v).is_none_or(|t| t > now);
            let wanted = live
                && pattern.is_none_or(|p| glob_match(p, user))
                && type_name.is_none_or(|t| t.eq_ignore_ascii_case(kind.name().as_bytes()));
            if wanted {
                found.push(Bytes::copy_from_slice(user));
            }
        }
        visited < count
    })?;
    let next = match last {
        Some(k) if visited >= count => sh.save_cursor(k),
        _ => 0,
    };
    Ok(Output::Scan {
        cursor: next,
        keys: found,
    })
}

pub fn op_randomkey(sh: &mut Shard, now: i64) -> OpResult<Output> {
    if sh.stats().keys == 0 {
        return Ok(Output::Nil);
    }
    // Seek to a random position and take the next live key, wrapping once.
    for _ in 0..16 {
        let mut probe = vec![keys::META];
        probe.extend_from_slice(&sh.random_u64().to_be_bytes());
        let mut pick = None;
        for (from, to) in [
            (probe.clone(), vec![keys::META + 1]),
            (vec![keys::META], probe),
        ] {
            sh.store().scan(&from, &to, |k, v| {
                let expired = Meta::peek_expire(v).is_some_and(|t| t <= now);
                if !expired {
                    pick = keys::user_key_of_meta(k).map(Bytes::copy_from_slice);
                }
                pick.is_none()
            })?;
            if pick.is_some() {
                return Ok(Output::bulk_or_nil(pick));
            }
        }
    }
    Ok(Output::Nil)
}

pub fn op_flushdb(sh: &mut Shard, now: i64) -> OpResult<Output> {
    sh.touch_all_watched(now)?;
    for (from, to) in keys::USER_RANGES {
        sh.store_mut().delete_range(from, to)?;
    }
    sh.reset_counts();
    Ok(Output::Ok)
}

/// Redis 7.0's size limits for the compact encodings (the defaults of
/// `*-max-listpack-*` and `set-max-intset-entries`).
const LISTPACK_ENTRIES: u64 = 128;
const LISTPACK_VALUE: usize = 64;
const INTSET_ENTRIES: u64 = 512;

/// OBJECT ENCODING: the name Redis 7.0 would report for this value, decided
/// from its size and element lengths (we store every type the same way).
pub fn op_encoding(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    let e = sh.entry(key, now)?;
    let Some(m) = e.live() else {
        return Ok(Output::Nil);
    };
    let name = match &m.body {
        Body::String(v) => {
            if v.len() <= 20 && super::number::parse_i64(v).is_some() {
                "int"
            } else if v.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Body::Collection {
            kind,
            version,
            size,
            ..
        } => {
            // Looks at no more elements than the compact limit allows.
            let small = |limit: u64, ok: &mut dyn FnMut(&[u8], &[u8]) -> bool| -> OpResult<bool> {
                if *size > limit {
                    return Ok(false);
                }
                let mut all = true;
                sh.sub_scan(key, *version, b"", None, false, |f, v| {
                    all = ok(f, v);
                    all
                })?;
                Ok(all)
            };
            match kind {
                RedisType::Hash => {
                    if small(LISTPACK_ENTRIES, &mut |f, v| {
                        f.len() <= LISTPACK_VALUE && v.len() <= LISTPACK_VALUE
                    })? {
                        "listpack"
                    } else {
                        "hashtable"
                    }
                }
                RedisType::List => "quicklist",
                RedisType::Set => {
                    if small(INTSET_ENTRIES, &mut |f, _| {
                        super::number::parse_i64(f).is_some()
                    })? {
                        "intset"
                    } else {
                        "hashtable"
                    }
                }
                RedisType::ZSet => {
                    // Member records are the fields tagged 0; the score
                    // index (tag 1) repeats them.
                    if small(LISTPACK_ENTRIES * 2, &mut |f, _| {
                        f.first() != Some(&0) || f.len() - 1 <= LISTPACK_VALUE
                    })? && *size <= LISTPACK_ENTRIES
                    {
                        "listpack"
                    } else {
                        "skiplist"
                    }
                }
                RedisType::String => "raw",
            }
        }
    };
    Ok(Output::Bulk(bytes::Bytes::from_static(name.as_bytes())))
}

/// A key as it travels between shards (cross-shard RENAME): its metadata
/// record and, for a collection, every field.
#[derive(serde::Serialize, serde::Deserialize)]
struct Dumped {
    record: Vec<u8>,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

fn fields_of(sh: &Shard, key: &[u8], m: &Meta) -> OpResult<Vec<(Vec<u8>, Vec<u8>)>> {
    match m.body {
        Body::String(_) => Ok(Vec::new()),
        Body::Collection { version, .. } => sh.sub_fields(key, version),
    }
}

fn codec_err(e: crate::codec::CodecError) -> OpError {
    OpError::Storage(e.to_string())
}

/// The dumped form of a live key, Nil when absent.
pub fn op_dump(sh: &mut Shard, key: &[u8], now: i64) -> OpResult<Output> {
    let e = sh.entry(key, now)?;
    let Some(m) = e.live().cloned() else {
        return Ok(Output::Nil);
    };
    let dumped = Dumped {
        record: m.encode(),
        fields: fields_of(sh, key, &m)?,
    };
    Ok(Output::Bulk(Bytes::from(
        crate::codec::encode(&dumped).map_err(codec_err)?,
    )))
}

/// Deletes `key` if its live record is still the one in `dumped` (Int 1),
/// else leaves it (Int 0).
pub fn op_delete_if_same(sh: &mut Shard, key: &[u8], dumped: &[u8], now: i64) -> OpResult<Output> {
    let d: Dumped = crate::codec::decode(dumped).map_err(codec_err)?;
    let e = sh.entry(key, now)?;
    match e.live() {
        Some(m) if m.encode() == d.record => {
            sh.remove(key, &e);
            Ok(Output::Int(1))
        }
        _ => Ok(Output::Int(0)),
    }
}

/// Writes `meta` (with `fields` for a collection, under a fresh version)
/// as `key`, replacing whatever `e` held.
fn write_key(
    sh: &mut Shard,
    key: &[u8],
    e: &crate::shard::Entry,
    meta: &Meta,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    now: i64,
) {
    let mut meta = meta.clone();
    if let Body::Collection { version, .. } = &mut meta.body {
        *version = sh.new_version(now);
        for (f, v) in fields {
            sh.sub_put(key, *version, &f, v);
        }
    }
    sh.put(key, e, &meta);
}

/// Writes a key produced by `op_dump`. With `nx` it refuses (Int 0) when
/// the key exists; otherwise it overwrites and answers Int 1.
pub fn op_restore(
    sh: &mut Shard,
    key: &[u8],
    dumped: &[u8],
    nx: bool,
    now: i64,
) -> OpResult<Output> {
    let d: Dumped = crate::codec::decode(dumped).map_err(codec_err)?;
    let meta = Meta::decode(&d.record)
        .ok_or_else(|| OpError::Storage("corrupt record in restore".into()))?;
    let e = sh.entry(key, now)?;
    if nx && e.exists() {
        return Ok(Output::Int(0));
    }
    write_key(sh, key, &e, &meta, d.fields, now);
    Ok(Output::Int(1))
}

/// RESTORE key ttl payload [REPLACE]: `dumped` is what `op_dump` made
/// (the DUMP command's checksum trailer already stripped). The value keeps
/// no expiry of its own: `expire_at` is the command's.
pub fn op_restore_dump(
    sh: &mut Shard,
    key: &[u8],
    dumped: &[u8],
    replace: bool,
    expire_at: Option<i64>,
    now: i64,
) -> OpResult<Output> {
    let d: Dumped = crate::codec::decode(dumped).map_err(|_| OpError::BadDataFormat)?;
    let mut meta = Meta::decode(&d.record).ok_or(OpError::BadDataFormat)?;
    // The payload came from a client: its record must agree with its fields.
    if !consistent(&meta, &d.fields) {
        return Err(OpError::BadDataFormat);
    }
    let e = sh.entry(key, now)?;
    if e.exists() && !replace {
        return Err(OpError::BusyKey);
    }
    if expire_at.is_some_and(|t| t <= now) {
        sh.remove(key, &e);
        return Ok(Output::Ok);
    }
    meta.expire_at = expire_at;
    write_key(sh, key, &e, &meta, d.fields, now);
    Ok(Output::Ok)
}

/// True when a dumped record and its fields describe one valid value: a
/// string has no fields; a collection is non-empty, its size matches its
/// fields (a zset has two per member), and a list's fields are exactly the
/// indexes `head..head+size`.
fn consistent(meta: &Meta, fields: &[(Vec<u8>, Vec<u8>)]) -> bool {
    match meta.body {
        Body::String(_) => fields.is_empty(),
        Body::Collection {
            kind, size, head, ..
        } => {
            let per = if kind == RedisType::ZSet { 2 } else { 1 };
            if size == 0 || fields.len() as u64 != size.saturating_mul(per) {
                return false;
            }
            if kind != RedisType::List {
                return true;
            }
            fields
                .iter()
                .enumerate()
                .all(|(i, (f, _))| f.as_slice() == head.wrapping_add(i as u64).to_be_bytes())
        }
    }
}

/// COPY on one shard: a new value (a collection gets a fresh version with
/// copies of every field) with the source's expiry.
pub fn op_copy(
    sh: &mut Shard,
    src: &[u8],
    dst: &[u8],
    replace: bool,
    now: i64,
) -> OpResult<Output> {
    let se = sh.entry(src, now)?;
    let Some(m) = se.live().cloned() else {
        return Ok(Output::Int(0));
    };
    let de = sh.entry(dst, now)?;
    if de.exists() && !replace {
        return Ok(Output::Int(0));
    }
    let fields = fields_of(sh, src, &m)?;
    write_key(sh, dst, &de, &m, fields, now);
    Ok(Output::Int(1))
}

pub fn op_rename(sh: &mut Shard, src: &[u8], dst: &[u8], nx: bool, now: i64) -> OpResult<Output> {
    let se = sh.entry(src, now)?;
    let Some(m) = se.live().cloned() else {
        return Err(OpError::NoSuchKey);
    };
    if src == dst {
        return Ok(if nx { Output::Int(0) } else { Output::Ok });
    }
    let de = sh.entry(dst, now)?;
    if nx && de.exists() {
        return Ok(Output::Int(0));
    }
    // Sub-keys are named by their key, so a collection's fields move too.
    let fields = fields_of(sh, src, &m)?;
    sh.remove(src, &se);
    write_key(sh, dst, &de, &m, fields, now);
    Ok(if nx { Output::Int(1) } else { Output::Ok })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;
    use crate::op::SetCond;
    use crate::op::SetExpiry;
    use crate::slot::ShardId;

    use crate::shard::test_bytes as b;
    use crate::shard::test_shard as shard;

    fn set(sh: &mut Shard, k: &str, v: &str, expiry: SetExpiry) {
        let op = Op::Set {
            key: b(k),
            value: b(v),
            expiry,
            cond: SetCond::Always,
            get: false,
        };
        assert_eq!(sh.execute(op, 1000).unwrap(), Output::Ok);
    }

    #[test]
    fn expiry_hides_keys_and_active_cycle_removes_them() {
        let (_d, mut sh) = shard();
        set(&mut sh, "a", "1", SetExpiry::At(1500));
        set(&mut sh, "b", "2", SetExpiry::Clear);
        assert_eq!(sh.stats().keys, 2);
        assert_eq!(sh.stats().expires, 1);
        assert_eq!(
            sh.execute(Op::Get(b("a")), 1499).unwrap(),
            Output::Bulk(b("1"))
        );
        assert_eq!(sh.execute(Op::Get(b("a")), 1500).unwrap(), Output::Nil);
        assert_eq!(
            sh.execute(Op::Pttl(b("a")), 1200).unwrap(),
            Output::Int(300)
        );
        let due = sh.due_expiries(2000, 100).unwrap();
        assert_eq!(
            sh.execute(Op::ExpireDue(due), 2000).unwrap(),
            Output::Int(1)
        );
        assert_eq!(sh.stats().keys, 1);
        assert_eq!(sh.stats().expires, 0);
    }

    #[test]
    fn rewriting_a_key_leaves_no_live_index_entry() {
        let (_d, mut sh) = shard();
        set(&mut sh, "a", "1", SetExpiry::At(1500));
        set(&mut sh, "a", "2", SetExpiry::Clear);
        let due = sh.due_expiries(2000, 100).unwrap();
        assert_eq!(
            sh.execute(Op::ExpireDue(due), 2000).unwrap(),
            Output::Int(0)
        );
        assert_eq!(
            sh.execute(Op::Get(b("a")), 3000).unwrap(),
            Output::Bulk(b("2"))
        );
    }

    #[test]
    fn keys_scan_and_flush() {
        let (_d, mut sh) = shard();
        for i in 0..25 {
            set(&mut sh, &format!("user:{i}"), "x", SetExpiry::Clear);
        }
        set(&mut sh, "other", "x", SetExpiry::Clear);
        let Output::Array(ks) = sh.execute(Op::Keys(b("user:*")), 1000).unwrap() else {
            panic!()
        };
        assert_eq!(ks.len(), 25);
        let mut cursor = 0;
        let mut seen = 0;
        loop {
            let op = Op::Scan {
                cursor,
                pattern: Some(b("user:*")),
                count: 10,
                type_name: None,
            };
            let Output::Scan { cursor: next, keys } = sh.execute(op, 1000).unwrap() else {
                panic!()
            };
            seen += keys.len();
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 25);
        assert!(matches!(
            sh.execute(Op::RandomKey, 1000).unwrap(),
            Output::Bulk(_)
        ));
        sh.execute(Op::FlushDb, 1000).unwrap();
        assert_eq!(sh.execute(Op::DbSize, 1000).unwrap(), Output::Int(0));
        assert_eq!(sh.execute(Op::RandomKey, 1000).unwrap(), Output::Nil);
    }

    #[test]
    fn rename_keeps_ttl_and_counts() {
        let (_d, mut sh) = shard();
        set(&mut sh, "a", "1", SetExpiry::At(5000));
        set(&mut sh, "b", "2", SetExpiry::Clear);
        let op = Op::Rename {
            src: b("a"),
            dst: b("b"),
            nx: false,
        };
        assert_eq!(sh.execute(op, 1000).unwrap(), Output::Ok);
        assert_eq!(
            sh.execute(Op::PexpireTime(b("b")), 1000).unwrap(),
            Output::Int(5000)
        );
        assert_eq!(sh.stats().keys, 1);
        let op = Op::Rename {
            src: b("a"),
            dst: b("b"),
            nx: false,
        };
        assert_eq!(sh.execute(op, 1000), Err(OpError::NoSuchKey));
    }

    #[test]
    fn counters_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = crate::storage::open(dir.path(), 1, &Default::default()).unwrap();
            let mut sh = Shard::open(ShardId(0), db, 1 << 20).unwrap();
            set(&mut sh, "a", "1", SetExpiry::At(5000));
            set(&mut sh, "b", "1", SetExpiry::Clear);
            sh.commit().unwrap();
        }
        let db = crate::storage::open(dir.path(), 1, &Default::default()).unwrap();
        let sh = Shard::open(ShardId(0), db, 1 << 20).unwrap();
        assert_eq!((sh.stats().keys, sh.stats().expires), (2, 1));
    }

    /// Every raw sub-key record (`s` namespace) on disk, after a commit.
    fn raw_subkeys(sh: &mut Shard) -> usize {
        sh.commit().unwrap();
        sh.dump_all()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.first() == Some(&crate::storage::keys::SUBKEY))
            .count()
    }

    fn hset(sh: &mut Shard, k: &str, n: usize) {
        let pairs = (0..n).map(|i| (b(&format!("f{i}")), b("v"))).collect();
        let op = Op::HSet {
            key: b(k),
            pairs,
            nx: false,
        };
        sh.execute(op, 1000).unwrap();
    }

    #[test]
    fn deleted_or_replaced_collections_leave_no_sub_keys() {
        let (_d, mut sh) = shard();
        hset(&mut sh, "h", 100);
        hset(&mut sh, "keep", 3);
        assert_eq!(raw_subkeys(&mut sh), 103);
        // DEL: one range tombstone, no walk.
        sh.execute(Op::Del(vec![b("h")]), 1000).unwrap();
        assert_eq!(raw_subkeys(&mut sh), 3);
        // Overwritten by a string.
        hset(&mut sh, "h", 10);
        set(&mut sh, "h", "s", SetExpiry::Clear);
        assert_eq!(raw_subkeys(&mut sh), 3);
        // Replaced by RENAME onto it; the renamed fields survive.
        hset(&mut sh, "x", 5);
        let op = Op::Rename {
            src: b("keep"),
            dst: b("x"),
            nx: false,
        };
        sh.execute(op, 1000).unwrap();
        assert_eq!(raw_subkeys(&mut sh), 3);
        // Written and deleted in the same batch.
        hset(&mut sh, "t", 4);
        sh.execute(Op::Del(vec![b("t")]), 1000).unwrap();
        assert_eq!(raw_subkeys(&mut sh), 3);
        let op = Op::HLen(b("x"));
        assert_eq!(sh.execute(op, 1000).unwrap(), Output::Int(3));
    }
}
