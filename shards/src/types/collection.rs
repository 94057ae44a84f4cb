//! What every collection type (hash, list, set, zset) shares: its
//! metadata record (version, size, list head) loaded as one value, created
//! on first write and deleted when it becomes empty, as Redis does.

use crate::error::OpError;
use crate::error::OpResult;
use crate::shard::Entry;
use crate::shard::Shard;
use crate::storage::meta::Body;
use crate::storage::meta::Meta;
use crate::storage::meta::RedisType;

/// A live collection as read at the start of an operation. Ops change
/// `size` (and `head` for lists) while they write sub-keys, then [`store`].
#[derive(Debug, Clone)]
pub struct Coll {
    pub entry: Entry,
    pub expire_at: Option<i64>,
    pub version: u64,
    pub size: u64,
    /// Lists: index of the first element.
    pub head: u64,
}

/// Head index of a new list: the middle of the u64 range, so pushes on
/// either side never run out of room.
pub const LIST_START: u64 = 1 << 63;

/// The live collection of type `kind` under `key`; None when absent,
/// WRONGTYPE when the key holds another type.
pub fn load(sh: &Shard, key: &[u8], now: i64, kind: RedisType) -> OpResult<Option<Coll>> {
    let entry = sh.entry(key, now)?;
    let Some(m) = entry.live() else {
        return Ok(None);
    };
    match m.body {
        Body::Collection {
            kind: k,
            version,
            size,
            head,
        } if k == kind => {
            let expire_at = m.expire_at;
            Ok(Some(Coll {
                entry,
                expire_at,
                version,
                size,
                head,
            }))
        }
        _ => Err(OpError::WrongType),
    }
}

/// The collection under `key`, or a new empty one (not stored until
/// [`store`]) under a fresh version.
pub fn load_or_new(sh: &mut Shard, key: &[u8], now: i64, kind: RedisType) -> OpResult<Coll> {
    if let Some(c) = load(sh, key, now, kind)? {
        return Ok(c);
    }
    let entry = sh.entry(key, now)?;
    let version = sh.new_version(now);
    // Members are looked up before they are added; lists only push.
    if kind != RedisType::List {
        sh.track_fresh(key, version);
    }
    Ok(Coll {
        entry,
        expire_at: None,
        version,
        size: 0,
        head: LIST_START,
    })
}

/// Writes the metadata of `c` after its elements changed; an emptied
/// collection is deleted.
pub fn store(sh: &mut Shard, key: &[u8], kind: RedisType, c: &Coll) {
    if c.size == 0 {
        sh.remove(key, &c.entry);
        return;
    }
    let meta = Meta {
        expire_at: c.expire_at,
        body: Body::Collection {
            kind,
            version: c.version,
            size: c.size,
            head: if kind == RedisType::List { c.head } else { 0 },
        },
    };
    sh.put(key, &c.entry, &meta);
}
