//! DUMP and RESTORE.
//!
//! A DUMP payload is opaque to clients; like Redis's it ends with a 2-byte
//! format version and a CRC-64 (Redis's polynomial) of everything before,
//! so RESTORE refuses a truncated or altered payload with Redis's text.
//! The body is the shard's own dumped form (metadata record and fields),
//! not RDB: a payload from Redis fails the body check, one from shardis
//! restores on any shardis node.

use bytes::Bytes;
use crc::CRC_64_REDIS;
use crc::Crc;
use shardis_shards::core::now_ms;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::int;
use super::args::is;
use super::on_key;
use super::output_reply;
use crate::reply::CmdError;
use crate::resp::Reply;

const GROUP: &str = "generic";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("dump", 2, ["readonly"], 1, 1, 1, dump),
    spec!("restore", -4, ["write", "denyoom"], 1, 1, 1, restore),
];

/// Version written after the body: bumped if the dumped form changes.
const FORMAT: u16 = 1;
const CRC: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

/// `body` + version + CRC-64, all little-endian as Redis writes them.
pub fn wrap(body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(body.len() + 10);
    out.extend_from_slice(body);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    let crc = CRC.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.into()
}

/// The body of a payload whose version and checksum are right.
pub fn unwrap(payload: &[u8]) -> Option<&[u8]> {
    let split = payload.len().checked_sub(10)?;
    let (signed, crc) = payload.split_at(split + 2);
    let version = u16::from_le_bytes([signed[split], signed[split + 1]]);
    let crc = u64::from_le_bytes(crc.try_into().ok()?);
    (version == FORMAT && CRC.checksum(signed) == crc).then(|| &payload[..split])
}

fn dump(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    fn finish(r: OpResult<Output>) -> Reply {
        match r {
            Ok(Output::Bulk(body)) => Reply::Bulk(wrap(&body)),
            other => output_reply(other),
        }
    }
    Ok(on_key(ctx, &a[1], Op::Dump(a[1].clone()), finish))
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]. IDLETIME and FREQ are checked and ignored (no LRU/LFU
/// here). Absolute times are resolved here, before the write is proposed.
fn restore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (false, false);
    let mut j = 4;
    while j < a.len() {
        let more = j + 1 < a.len();
        if is(&a[j], "replace") {
            replace = true;
        } else if is(&a[j], "absttl") {
            absttl = true;
        } else if is(&a[j], "idletime") && more && !freq {
            idle = true;
            if int(&a[j + 1])? < 0 {
                return Err(CmdError::Text("Invalid IDLETIME value, must be >= 0"));
            }
            j += 1;
        } else if is(&a[j], "freq") && more && !idle {
            freq = true;
            if !(0..=255).contains(&int(&a[j + 1])?) {
                return Err(CmdError::Text(
                    "Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let ttl = int(&a[2])?;
    if ttl < 0 {
        return Err(CmdError::Text("Invalid TTL value, must be >= 0"));
    }
    let Some(body) = unwrap(&a[3]) else {
        return Err(CmdError::Text("DUMP payload version or checksum are wrong"));
    };
    let expire_at = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(now_ms().saturating_add(t)),
    };
    let op = Op::RestoreDump {
        key: a[1].clone(),
        dumped: a[3].slice_ref(body),
        replace,
        expire_at,
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_damage_is_caught() {
        let p = wrap(b"hello");
        assert_eq!(unwrap(&p), Some(&b"hello"[..]));
        for i in 0..p.len() {
            let mut bad = p.to_vec();
            bad[i] ^= 1;
            assert_eq!(unwrap(&bad), None, "flipped byte {i}");
        }
        assert_eq!(unwrap(&p[..p.len() - 1]), None);
        assert_eq!(unwrap(b""), None);
        assert_eq!(unwrap(&wrap(b"")), Some(&b""[..]));
    }
}
