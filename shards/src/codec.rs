//! The one place bytes on disk and on the wire are encoded: Raft entries,
//! snapshots, RPCs. bincode 2 (pinned; 3.x is an empty release) through
//! serde, behind two functions, so the format can be swapped in one file.

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CodecError {
    #[error("encode: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("decode: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("decode: {0} trailing bytes")]
    Trailing(usize),
}

impl From<CodecError> for std::io::Error {
    fn from(e: CodecError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// Most bytes one decode may claim. Without a limit bincode trusts a length
/// prefix and allocates it before reading: random or hostile bytes (a
/// RESTORE payload is client data) could ask for exabytes and abort the
/// process. Far above any real record (values are bounded by
/// proto-max-bulk-len, snapshot chunks by 64 MiB).
const DECODE_LIMIT: usize = 4 << 30;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_LIMIT>,
>;

fn config() -> Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    Ok(bincode::serde::encode_to_vec(value, config())?)
}

/// Decodes a whole buffer; trailing bytes are an error (a torn or mixed-up
/// record must not decode as something valid).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (v, used) = bincode::serde::decode_from_slice(bytes, config())?;
    if used != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - used));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::op::Op;
    use crate::op::SetCond;
    use crate::op::SetExpiry;

    #[test]
    fn ops_round_trip_and_garbage_is_an_error() {
        let op = Op::Set {
            key: Bytes::from_static(b"k"),
            value: Bytes::from_static(b"\x00v"),
            expiry: SetExpiry::At(1_700_000_000_000),
            cond: SetCond::IfAbsent,
            get: true,
        };
        let raw = encode(&op).unwrap();
        assert_eq!(decode::<Op>(&raw).unwrap(), op);
        let mut longer = raw.clone();
        longer.push(0);
        assert!(decode::<Op>(&longer).is_err());
        assert!(decode::<Op>(&raw[..raw.len() - 1]).is_err());
    }

    proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode::<Op>(&raw);
        }

        #[test]
        fn huge_length_prefixes_are_errors(len in (DECODE_LIMIT as u64 + 1)..u64::MAX) {
            // varint tag 253: a u64 length follows; nothing after it.
            let mut raw = vec![253u8];
            raw.extend_from_slice(&len.to_le_bytes());
            prop_assert!(decode::<Vec<u8>>(&raw).is_err());
            prop_assert!(decode::<bytes::Bytes>(&raw).is_err());
        }

        #[test]
        fn mset_round_trips(pairs in proptest::collection::vec((any::<Vec<u8>>(), any::<Vec<u8>>()), 0..8)) {
            let op = Op::MSet(pairs.into_iter().map(|(k, v)| (Bytes::from(k), Bytes::from(v))).collect());
            prop_assert_eq!(decode::<Op>(&encode(&op).unwrap()).unwrap(), op);
        }
    }
}
