//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. The Lua side
//! (VM, conversions, the node-wide gate) lives in `crate::script`.

use bytes::Bytes;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::int;
use super::args::is;
use super::args::lossy;
use crate::reply::CmdError;
use crate::resp::Reply;
use crate::script::cache::sha1_hex;
use crate::script::vm;
use crate::script::vm::Call;
use crate::script::vm::Source;

const GROUP: &str = "scripting";

pub static COMMANDS: &[CommandSpec] = &[
    spec!(
        "eval",
        -3,
        [
            "noscript",
            "skip_monitor",
            "may_replicate",
            "no_mandatory_keys",
            "stale"
        ],
        0,
        0,
        0,
        eval
    ),
    spec!(
        "evalsha",
        -3,
        [
            "noscript",
            "skip_monitor",
            "may_replicate",
            "no_mandatory_keys",
            "stale"
        ],
        0,
        0,
        0,
        evalsha
    ),
    spec!(
        "eval_ro",
        -3,
        [
            "noscript",
            "skip_monitor",
            "no_mandatory_keys",
            "stale",
            "readonly"
        ],
        0,
        0,
        0,
        eval_ro
    ),
    spec!(
        "evalsha_ro",
        -3,
        [
            "noscript",
            "skip_monitor",
            "no_mandatory_keys",
            "stale",
            "readonly"
        ],
        0,
        0,
        0,
        evalsha_ro
    ),
    spec!("script", -2, ["noscript"], 0, 0, 0, script),
];

fn eval(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    run(ctx, a, Source::Body(a[1].clone()), false)
}

fn eval_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    run(ctx, a, Source::Body(a[1].clone()), true)
}

fn evalsha(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    run(
        ctx,
        a,
        Source::Sha(lossy(&a[1]).to_ascii_lowercase()),
        false,
    )
}

fn evalsha_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    run(ctx, a, Source::Sha(lossy(&a[1]).to_ascii_lowercase()), true)
}

/// Checks `numkeys`, then runs the script as a dependent step (it sees
/// every earlier command of the pipeline).
fn run(ctx: &mut Ctx<'_>, a: &[Bytes], source: Source, read_only: bool) -> Result<Plan, CmdError> {
    let numkeys = int(&a[2])?;
    if numkeys < 0 {
        return Ok(Plan::Reply(Reply::error(
            "ERR Number of keys can't be negative",
        )));
    }
    let rest = &a[3..];
    if numkeys as u64 > rest.len() as u64 {
        return Ok(Plan::Reply(Reply::error(
            "ERR Number of keys can't be greater than number of args",
        )));
    }
    let (keys, argv) = rest.split_at(numkeys as usize);
    let call = Call {
        source,
        keys: keys.to_vec(),
        argv: argv.to_vec(),
        read_only,
    };
    Ok(Plan::Async(Box::pin(vm::eval(ctx.cx.clone(), call))))
}

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP.
fn script(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let shared = &ctx.cx.shared;
    let sub = &a[1];
    let reply = if is(sub, "load") && a.len() == 3 {
        let sha = sha1_hex(&a[2]);
        if let Err(e) = vm::check_syntax(&a[2]) {
            return Ok(Plan::Reply(e));
        }
        shared.scripts.insert(&sha, &a[2], true);
        Reply::bulk(sha)
    } else if is(sub, "exists") && a.len() >= 3 {
        Reply::Array(
            a[2..]
                .iter()
                .map(|s| {
                    let sha = lossy(s).to_ascii_lowercase();
                    Reply::Int(shared.scripts.contains(&sha) as i64)
                })
                .collect(),
        )
    } else if is(sub, "flush") && a.len() <= 3 {
        if a.len() == 3 && !is(&a[2], "async") && !is(&a[2], "sync") {
            return Ok(Plan::Reply(Reply::error(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            )));
        }
        shared.scripts.flush();
        Reply::Ok
    } else if is(sub, "kill") && a.len() == 2 {
        match shared.script.kill() {
            Ok(()) => Reply::Ok,
            Err(e) => Reply::error(e.text()),
        }
    } else if is(sub, "help") && a.len() == 2 {
        Reply::Array(
            [
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
                "HELP",
                "    Prints this help.",
            ]
            .into_iter()
            .map(|l| Reply::Simple(l.into()))
            .collect(),
        )
    } else {
        return Err(CmdError::UnknownSubcommand {
            command: "script".into(),
            sub: lossy(sub),
        });
    };
    Ok(Plan::Reply(reply))
}
