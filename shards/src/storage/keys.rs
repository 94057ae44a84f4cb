//! Layout of keys inside a shard's data column family.
//!
//! Every record starts with a one-byte namespace so the namespaces sort apart
//! and can be scanned or range-deleted on their own:
//! - `m` + user key: the key's metadata record ([`super::meta::Meta`]).
//! - `e` + expire-at (u64 BE, so it sorts by time) + user key: the expiry
//!   index that active expiry walks from its start.
//! - `s` + ...: versioned sub-keys of collections (hash, list, set, zset).

pub const META: u8 = b'm';
pub const EXPIRE: u8 = b'e';

/// `r` + name: Raft state kept beside the data (last applied log id,
/// membership) so applying a batch writes both in one WriteBatch.
pub const RAFT: u8 = b'r';

/// First key after every namespace: upper bound for "delete everything".
pub const END: &[u8] = &[0xff];

/// Key ranges holding user data (metadata, expiry index, sub-keys): what
/// FLUSHDB clears. The Raft namespace is not among them.
pub const USER_RANGES: &[(&[u8], &[u8])] = &[(&[EXPIRE], &[META + 1]), (b"s", b"t")];

pub const SUBKEY: u8 = b's';

/// Prefix of every sub-key of `user_key` at `version`:
/// `s` + key length (u32 BE) + key + version (u64 BE). The length makes
/// prefixes of different keys disjoint; the version makes DEL/overwrite
/// O(1): records of an old version are simply never read again.
pub fn subkey_prefix(user_key: &[u8], version: u64) -> Vec<u8> {
    subkey_with_room(user_key, version, 0)
}

/// The prefix, allocated with room for `extra` more bytes (a field), so
/// appending the field does not reallocate (it showed in LRANGE profiles).
pub fn subkey_with_room(user_key: &[u8], version: u64, extra: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(13 + user_key.len() + extra);
    k.push(SUBKEY);
    k.extend_from_slice(&(user_key.len() as u32).to_be_bytes());
    k.extend_from_slice(user_key);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Sub-keys of one collection version built one after another in one
/// buffer: the prefix is written once, each field replaces the last.
pub struct SubKeys {
    buf: Vec<u8>,
    prefix: usize,
}

impl SubKeys {
    pub fn new(user_key: &[u8], version: u64) -> Self {
        let buf = subkey_with_room(user_key, version, 16);
        SubKeys {
            prefix: buf.len(),
            buf,
        }
    }

    /// The sub-key of `field`.
    pub fn of(&mut self, field: &[u8]) -> &[u8] {
        self.buf.truncate(self.prefix);
        self.buf.extend_from_slice(field);
        &self.buf
    }
}

/// The sub-key of `field` in `user_key`'s collection at `version`.
pub fn subkey(user_key: &[u8], version: u64, field: &[u8]) -> Vec<u8> {
    let mut k = subkey_with_room(user_key, version, field.len());
    k.extend_from_slice(field);
    k
}

/// First key after every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    END.to_vec()
}

pub fn raft_key(name: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(RAFT);
    k.extend_from_slice(name);
    k
}

pub fn meta_key(user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + user_key.len());
    k.push(META);
    k.extend_from_slice(user_key);
    k
}

/// The user key inside a metadata key, if it is one.
pub fn user_key_of_meta(raw: &[u8]) -> Option<&[u8]> {
    match raw.split_first() {
        Some((&META, rest)) => Some(rest),
        _ => None,
    }
}

/// Expiry times before the epoch are clamped to 0: they are all "already past".
pub fn expire_key(at_ms: i64, user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + user_key.len());
    k.push(EXPIRE);
    k.extend_from_slice(&(at_ms.max(0) as u64).to_be_bytes());
    k.extend_from_slice(user_key);
    k
}

/// Splits an expiry-index key into (expire-at, user key).
pub fn parse_expire_key(raw: &[u8]) -> Option<(i64, &[u8])> {
    if raw.len() < 9 || raw[0] != EXPIRE {
        return None;
    }
    let at = u64::from_be_bytes(raw[1..9].try_into().ok()?);
    Some((at.min(i64::MAX as u64) as i64, &raw[9..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_keys_sort_by_time_and_round_trip() {
        let a = expire_key(5, b"zzz");
        let b = expire_key(6, b"aaa");
        assert!(a < b);
        assert_eq!(parse_expire_key(&a), Some((5, &b"zzz"[..])));
        assert_eq!(
            parse_expire_key(&expire_key(-7, b"k")),
            Some((0, &b"k"[..]))
        );
        assert_eq!(parse_expire_key(b"e123"), None);
    }

    #[test]
    fn subkeys_of_different_keys_never_share_a_prefix() {
        // "ab" + field "c..." must not fall under the prefix of key "abc".
        let a = subkey(b"ab", 1, b"c");
        let p = subkey_prefix(b"abc", 1);
        assert!(!a.starts_with(&p));
        assert!(subkey(b"k", 7, b"f").starts_with(&subkey_prefix(b"k", 7)));
        assert!(!subkey(b"k", 7, b"f").starts_with(&subkey_prefix(b"k", 8)));
        assert_eq!(prefix_end(b"ab"), b"ac".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
    }

    #[test]
    fn meta_keys_round_trip() {
        assert_eq!(user_key_of_meta(&meta_key(b"foo")), Some(&b"foo"[..]));
        assert_eq!(user_key_of_meta(b"efoo"), None);
    }
}
