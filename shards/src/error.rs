//! Errors of shard operations. They carry meaning, not wire text: the net
//! crate turns each into a Redis error string in exactly one place.

use serde::Deserialize;
use serde::Serialize;
use thiserror::Error;

/// Why a shard operation failed.
#[derive(Debug, Clone, PartialEq, Error, Serialize, Deserialize)]
pub enum OpError {
    /// The key holds a value of another type.
    #[error("wrong type")]
    WrongType,
    /// The stored value is not an integer (or out of range) for INCR and friends.
    #[error("value is not an integer or out of range")]
    NotInteger,
    /// HINCRBY on a field that does not hold an integer.
    #[error("hash value is not an integer")]
    HashNotInteger,
    /// HINCRBYFLOAT on a field that does not hold a float.
    #[error("hash value is not a float")]
    HashNotFloat,
    /// The stored value is not a valid float for INCRBYFLOAT.
    #[error("value is not a valid float")]
    NotFloat,
    /// INCR/DECR would overflow a signed 64-bit integer.
    #[error("increment or decrement would overflow")]
    Overflow,
    /// INCRBYFLOAT would produce NaN or Infinity.
    #[error("increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// A string would grow past `proto-max-bulk-len` (SETRANGE, APPEND).
    #[error("string exceeds maximum allowed size")]
    TooLarge,
    /// RENAME of a key that does not exist.
    #[error("no such key")]
    NoSuchKey,
    /// The shard's Raft group has no leader here right now.
    #[error("no leader for this shard")]
    NoLeader,
    /// The storage engine failed; the shard refuses further writes.
    #[error("storage error: {0}")]
    Storage(String),
    /// LSET at an index outside the list.
    #[error("index out of range")]
    IndexOutOfRange,
    /// RESTORE onto an existing key without REPLACE.
    #[error("target key name already exists")]
    BusyKey,
    /// RESTORE of a payload whose checksum is right but whose content is not
    /// a value this server wrote.
    #[error("bad data format")]
    BadDataFormat,
    /// ZADD INCR / ZINCRBY would make a score NaN (inf + -inf).
    #[error("resulting score is not a number")]
    ScoreNaN,
}

impl From<rocksdb::Error> for OpError {
    fn from(e: rocksdb::Error) -> Self {
        OpError::Storage(e.into_string())
    }
}

/// Result of one shard operation.
pub type OpResult<T> = Result<T, OpError>;
