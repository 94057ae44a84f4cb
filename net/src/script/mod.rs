//! Lua scripting (EVAL and friends): a Lua VM per core (`vm`), Redis's
//! conversions between replies and Lua values (`convert`), the node's
//! script cache (`cache`), the cjson and bit libraries (`libs`) and the gate that makes a running script the
//! only thing the node runs (`gate`).

pub mod cache;
pub mod convert;
pub mod gate;
pub mod libs;
pub mod vm;

use bytes::Bytes;

use crate::cmd::CommandSpec;
use crate::cmd::args::is;

/// Commands a client may still run while a script is busy, as Redis's
/// `allow_busy` flag says (SCRIPT KILL, MULTI, WATCH ...).
pub fn allowed_while_busy(spec: &CommandSpec, args: &[Bytes]) -> bool {
    if spec.flags.contains(&"allow_busy") {
        return true;
    }
    match spec.name {
        "script" => args.len() == 2 && is(&args[1], "kill"),
        "function" => args.len() == 2 && (is(&args[1], "kill") || is(&args[1], "stats")),
        _ => false,
    }
}
