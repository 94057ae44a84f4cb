//! The metadata record stored once per key (Kvrocks-style).
//!
//! Layout, frozen on disk:
//! ```text
//! byte 0      RedisType discriminant
//! byte 1      flags (bit 0: has expire)
//! [8 bytes]   expire-at, unix ms, big-endian (only when bit 0 is set)
//! string:     the value, inline, to the end of the record
//! collection: version u64 BE, size u64 BE (sub-keys carry the version, so
//!             DEL/overwrite of a big key only rewrites this record)
//! list:       as a collection, then head u64 BE: the index of the first
//!             element (elements are sub-keys named by their u64 BE index)
//! ```

use bytes::Bytes;

use crate::error::OpError;

/// Type of the value under a key. Discriminants are on disk: never renumber.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisType {
    String = 1,
    Hash = 2,
    List = 3,
    Set = 4,
    ZSet = 5,
}

impl RedisType {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => RedisType::String,
            2 => RedisType::Hash,
            3 => RedisType::List,
            4 => RedisType::Set,
            5 => RedisType::ZSet,
            _ => return None,
        })
    }

    /// Name reported by TYPE.
    pub fn name(self) -> &'static str {
        match self {
            RedisType::String => "string",
            RedisType::Hash => "hash",
            RedisType::List => "list",
            RedisType::Set => "set",
            RedisType::ZSet => "zset",
        }
    }
}

const FLAG_EXPIRE: u8 = 1;

/// Body of a key's record.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A string value, stored inline.
    String(Bytes),
    /// A collection whose elements live in versioned sub-keys.
    Collection {
        kind: RedisType,
        version: u64,
        size: u64,
        /// Lists only: index of the first element (0 for other kinds).
        head: u64,
    },
}

/// Decoded metadata record of one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Absolute expiry in unix milliseconds, if any.
    pub expire_at: Option<i64>,
    pub body: Body,
}

impl Meta {
    /// A string record without expiry.
    pub fn string(value: Bytes) -> Self {
        Meta {
            expire_at: None,
            body: Body::String(value),
        }
    }

    pub fn kind(&self) -> RedisType {
        match &self.body {
            Body::String(_) => RedisType::String,
            Body::Collection { kind, .. } => *kind,
        }
    }

    /// True when the key is logically gone at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        matches!(self.expire_at, Some(t) if t <= now_ms)
    }

    /// The string value, or WRONGTYPE.
    pub fn as_string(&self) -> Result<&Bytes, OpError> {
        match &self.body {
            Body::String(v) => Ok(v),
            Body::Collection { .. } => Err(OpError::WrongType),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let payload = match &self.body {
            Body::String(v) => v.len(),
            Body::Collection { .. } => 24,
        };
        let mut out = Vec::with_capacity(2 + 8 + payload);
        out.push(self.kind() as u8);
        match self.expire_at {
            Some(t) => {
                out.push(FLAG_EXPIRE);
                out.extend_from_slice(&t.to_be_bytes());
            }
            None => out.push(0),
        }
        match &self.body {
            Body::String(v) => out.extend_from_slice(v),
            Body::Collection {
                kind,
                version,
                size,
                head,
            } => {
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(&size.to_be_bytes());
                if *kind == RedisType::List {
                    out.extend_from_slice(&head.to_be_bytes());
                }
            }
        }
        out
    }

    /// Decodes a record; `None` means the bytes are not a record we wrote.
    pub fn decode(raw: &[u8]) -> Option<Self> {
        Self::decode_bytes(&Bytes::copy_from_slice(raw))
    }

    /// Decodes a record held in `Bytes`; a string value is a slice of
    /// `raw`, not a copy (GET replies straight from the read cache).
    pub fn decode_bytes(raw: &Bytes) -> Option<Self> {
        let kind = RedisType::from_u8(*raw.first()?)?;
        let flags = *raw.get(1)?;
        let mut at = 2;
        let expire_at = if flags & FLAG_EXPIRE != 0 {
            let t = i64::from_be_bytes(raw.get(2..10)?.try_into().ok()?);
            at = 10;
            Some(t)
        } else {
            None
        };
        let rest = &raw[at..];
        let body = match kind {
            RedisType::String => Body::String(raw.slice(at..)),
            _ => {
                let want = if kind == RedisType::List { 24 } else { 16 };
                if rest.len() != want {
                    return None;
                }
                Body::Collection {
                    kind,
                    version: u64::from_be_bytes(rest[..8].try_into().ok()?),
                    size: u64::from_be_bytes(rest[8..16].try_into().ok()?),
                    head: match kind {
                        RedisType::List => u64::from_be_bytes(rest[16..24].try_into().ok()?),
                        _ => 0,
                    },
                }
            }
        };
        Some(Meta { expire_at, body })
    }

    /// Reads only the type of an encoded record.
    pub fn peek_kind(raw: &[u8]) -> Option<RedisType> {
        RedisType::from_u8(*raw.first()?)
    }

    /// Reads only the expiry of an encoded record, without copying the value.
    pub fn peek_expire(raw: &[u8]) -> Option<i64> {
        if raw.len() >= 10 && raw[1] & FLAG_EXPIRE != 0 {
            Some(i64::from_be_bytes(raw[2..10].try_into().ok()?))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn string_round_trip() {
        let m = Meta {
            expire_at: Some(1_700_000_000_123),
            body: Body::String(Bytes::from_static(b"v")),
        };
        assert_eq!(Meta::decode(&m.encode()), Some(m.clone()));
        assert_eq!(Meta::peek_expire(&m.encode()), Some(1_700_000_000_123));
        assert_eq!(
            Meta::peek_expire(&Meta::string(Bytes::new()).encode()),
            None
        );
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        assert_eq!(Meta::decode(b""), None);
        assert_eq!(Meta::decode(&[9, 0]), None);
        assert_eq!(Meta::decode(&[1, 1, 0]), None);
        assert_eq!(Meta::decode(&[2, 0, 1]), None);
    }

    proptest! {
        #[test]
        fn any_record_round_trips(value in proptest::collection::vec(any::<u8>(), 0..64),
                                  exp in proptest::option::of(any::<i64>()),
                                  version: u64, size: u64, head: u64, kind in 2u8..=5) {
            let s = Meta { expire_at: exp, body: Body::String(Bytes::from(value)) };
            prop_assert_eq!(Meta::decode(&s.encode()), Some(s));
            let kind = RedisType::from_u8(kind).unwrap();
            // Only lists store a head.
            let head = if kind == RedisType::List { head } else { 0 };
            let c = Meta { expire_at: exp, body: Body::Collection { kind, version, size, head } };
            prop_assert_eq!(Meta::decode(&c.encode()), Some(c));
        }

        #[test]
        fn decode_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Meta::decode(&raw);
            let _ = Meta::peek_expire(&raw);
        }
    }
}
