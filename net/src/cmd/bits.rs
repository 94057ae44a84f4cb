//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT.

use bytes::Bytes;
use shardis_shards::op::Op;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::int;
use super::args::is;
use super::on_key;
use super::output_reply;
use crate::reply::CmdError;
use crate::resp::Reply;

const GROUP: &str = "bitmap";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("setbit", 4, ["write", "denyoom"], 1, 1, 1, setbit),
    spec!("getbit", 3, ["readonly", "fast"], 1, 1, 1, getbit),
    spec!("bitcount", -2, ["readonly"], 1, 1, 1, bitcount),
];

/// Strings are at most 512 MB, so bit offsets stop at 2^32.
const MAX_BIT_OFFSET: u64 = 512 * 1024 * 1024 * 8;

fn offset(arg: &[u8]) -> Result<u64, Reply> {
    let bad = || Reply::error("ERR bit offset is not an integer or out of range");
    let n = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(bad)?;
    if n < 0 || n as u64 >= MAX_BIT_OFFSET {
        return Err(bad());
    }
    Ok(n as u64)
}

fn setbit(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let offset = match offset(&a[2]) {
        Ok(o) => o,
        Err(r) => return Ok(Plan::Reply(r)),
    };
    let on = match a[3].as_ref() {
        b"1" => true,
        b"0" => false,
        _ => {
            return Ok(Plan::Reply(Reply::error(
                "ERR bit is not an integer or out of range",
            )));
        }
    };
    let op = Op::SetBit {
        key: a[1].clone(),
        offset,
        on,
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn getbit(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let offset = match offset(&a[2]) {
        Ok(o) => o,
        Err(r) => return Ok(Plan::Reply(r)),
    };
    let op = Op::GetBit {
        key: a[1].clone(),
        offset,
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn bitcount(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let span = match a.len() {
        2 => None,
        4 | 5 => {
            let bits = match a.get(4) {
                None => false,
                Some(u) if is(u, "byte") => false,
                Some(u) if is(u, "bit") => true,
                Some(_) => return Err(CmdError::Syntax),
            };
            Some((int(&a[2])?, int(&a[3])?, bits))
        }
        _ => return Err(CmdError::Syntax),
    };
    let op = Op::BitCount {
        key: a[1].clone(),
        span,
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}
