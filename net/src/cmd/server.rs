//! Connection and server commands: PING, HELLO, CLIENT, INFO, CONFIG,
//! COMMAND and friends. None of them touches a shard's data directly.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use shardis_shards::glob::glob_match;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::all_commands;
use super::args::int;
use super::args::is;
use super::args::lossy;
use super::lookup;
use crate::info;
use crate::reply::CmdError;
use crate::resp::Protocol;
use crate::resp::Reply;
use crate::server::gather;

const GROUP: &str = "server";

/// The Redis version we answer as: the behaviour we implement is 7.0's.
pub const REDIS_VERSION: &str = "7.0.15";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("ping", -1, ["fast", "stale"], 0, 0, 0, ping),
    spec!("echo", 2, ["fast"], 0, 0, 0, echo),
    spec!(
        "quit",
        -1,
        ["fast", "noscript", "loading", "stale", "allow_busy"],
        0,
        0,
        0,
        quit
    ),
    spec!(
        "hello",
        -1,
        [
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy"
        ],
        0,
        0,
        0,
        hello
    ),
    spec!(
        "auth",
        -2,
        [
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy"
        ],
        0,
        0,
        0,
        auth
    ),
    spec!("select", 2, ["loading", "stale", "fast"], 0, 0, 0, select),
    spec!("command", -1, ["loading", "stale"], 0, 0, 0, command),
    spec!(
        "client",
        -2,
        ["noscript", "loading", "stale"],
        0,
        0,
        0,
        client
    ),
    spec!("info", -1, ["loading", "stale"], 0, 0, 0, info_cmd),
    spec!(
        "config",
        -2,
        ["admin", "noscript", "loading", "stale"],
        0,
        0,
        0,
        config
    ),
    spec!("time", 1, ["loading", "stale", "fast"], 0, 0, 0, time),
    spec!(
        "debug",
        -2,
        ["admin", "noscript", "loading", "stale"],
        0,
        0,
        0,
        debug
    ),
    spec!("function", -2, ["noscript"], 0, 0, 0, function),
];

/// DEBUG is refused, as in a Redis built with `enable-debug-command no`
/// (the default): it exists to crash, stall or corrupt a server.
fn debug(_ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    reply(Reply::error(
        "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
    ))
}

/// FUNCTION: Redis Functions are not implemented (EVAL scripts are), so
/// the function library is always empty: FLUSH succeeds, LIST is empty,
/// and loading is refused.
fn function(_ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let sub = &a[1];
    if is(sub, "flush") && a.len() <= 3 {
        reply(Reply::Ok)
    } else if is(sub, "list") {
        reply(Reply::Array(Vec::new()))
    } else if is(sub, "load") || is(sub, "restore") {
        reply(Reply::error(
            "ERR Redis Functions are not supported by this server; use EVAL",
        ))
    } else {
        Err(CmdError::UnknownSubcommand {
            command: "function".into(),
            sub: lossy(sub),
        })
    }
}

fn reply(r: Reply) -> Result<Plan, CmdError> {
    Ok(Plan::Reply(r))
}

fn ping(_ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    match a.len() {
        1 => reply(Reply::Simple("PONG".into())),
        2 => reply(Reply::Bulk(a[1].clone())),
        _ => Err(CmdError::WrongArity("ping".into())),
    }
}

fn echo(_ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    reply(Reply::Bulk(a[1].clone()))
}

fn quit(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    ctx.conn.closing = true;
    reply(Reply::Ok)
}

fn auth(_ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    reply(Reply::error(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    ))
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]].
fn hello(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let mut proto = ctx.conn.proto;
    if let Some(v) = a.get(1) {
        let Ok(v) = int(v) else {
            return reply(Reply::error(
                "ERR Protocol version is not an integer or out of range",
            ));
        };
        proto = match v {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(CmdError::NoProto),
        };
    }
    let mut name = None;
    let mut i = 2;
    while i < a.len() {
        if is(&a[i], "auth") && i + 2 < a.len() {
            // No ACLs: the default user has no password, any password passes.
            i += 3;
        } else if is(&a[i], "setname") && i + 1 < a.len() {
            check_client_name(&a[i + 1])?;
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return reply(Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                lossy(&a[i])
            )));
        }
    }
    if let Some(n) = name {
        *ctx.conn.info.name.borrow_mut() = Some(n);
    }
    ctx.conn.set_proto(proto);
    let proto_num = if proto == Protocol::Resp3 { 3 } else { 2 };
    reply(Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
        (Reply::bulk("proto"), Reply::Int(proto_num)),
        (Reply::bulk("id"), Reply::Int(ctx.conn.info.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(vec![])),
    ]))
}

fn select(_ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    match int(&a[1])? {
        0 => reply(Reply::Ok),
        _ => Err(CmdError::DbIndexOutOfRange),
    }
}

fn command_info(spec: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(spec.name),
        Reply::Int(spec.arity as i64),
        Reply::Set(
            spec.flags
                .iter()
                .map(|f| Reply::Simple((*f).into()))
                .collect(),
        ),
        Reply::Int(spec.first_key as i64),
        Reply::Int(spec.last_key as i64),
        Reply::Int(spec.step as i64),
        Reply::Set(vec![]),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

fn command_docs(spec: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (
            Reply::bulk("summary"),
            Reply::bulk(format!("the {} command", spec.name)),
        ),
        (Reply::bulk("since"), Reply::bulk("1.0.0")),
        (Reply::bulk("group"), Reply::bulk(spec.group)),
    ])
}

fn sorted_commands() -> Vec<&'static CommandSpec> {
    let mut v: Vec<_> = all_commands().collect();
    v.sort_by_key(|s| s.name);
    v
}

fn command(_ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let Some(sub) = a.get(1) else {
        return reply(Reply::Array(
            sorted_commands().into_iter().map(command_info).collect(),
        ));
    };
    if is(sub, "count") && a.len() == 2 {
        reply(Reply::Int(all_commands().count() as i64))
    } else if is(sub, "list") {
        reply(Reply::Array(
            sorted_commands()
                .into_iter()
                .map(|s| Reply::bulk(s.name))
                .collect(),
        ))
    } else if is(sub, "info") {
        let specs: Vec<Option<&CommandSpec>> = if a.len() == 2 {
            sorted_commands().into_iter().map(Some).collect()
        } else {
            a[2..].iter().map(|n| lookup(n)).collect()
        };
        reply(Reply::Array(
            specs
                .into_iter()
                .map(|s| s.map_or(Reply::Nil, command_info))
                .collect(),
        ))
    } else if is(sub, "docs") {
        let specs: Vec<&CommandSpec> = if a.len() == 2 {
            sorted_commands()
        } else {
            a[2..].iter().filter_map(|n| lookup(n)).collect()
        };
        reply(Reply::Map(
            specs
                .into_iter()
                .map(|s| (Reply::bulk(s.name), command_docs(s)))
                .collect(),
        ))
    } else {
        Err(CmdError::UnknownSubcommand {
            command: "command".into(),
            sub: lossy(sub),
        })
    }
}

/// Redis refuses names with spaces, newlines and other special characters.
fn check_client_name(name: &[u8]) -> Result<(), CmdError> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::BadClientName);
    }
    Ok(())
}

fn client(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let sub = &a[1];
    let arity = |n: usize, name: &str| {
        if a.len() == n {
            Ok(())
        } else {
            Err(CmdError::WrongArity(format!("client|{name}")))
        }
    };
    if is(sub, "id") {
        arity(2, "id")?;
        reply(Reply::Int(ctx.conn.info.id as i64))
    } else if is(sub, "setname") {
        arity(3, "setname")?;
        check_client_name(&a[2])?;
        *ctx.conn.info.name.borrow_mut() = if a[2].is_empty() {
            None
        } else {
            Some(a[2].clone())
        };
        reply(Reply::Ok)
    } else if is(sub, "getname") {
        arity(2, "getname")?;
        reply(
            ctx.conn
                .info
                .name
                .borrow()
                .clone()
                .map_or(Reply::Nil, Reply::Bulk),
        )
    } else if is(sub, "info") {
        arity(2, "info")?;
        reply(Reply::Verbatim(ctx.conn.info.describe()))
    } else if is(sub, "setinfo") {
        arity(4, "setinfo")?;
        let slot = if is(&a[2], "lib-name") {
            &ctx.conn.info.lib_name
        } else if is(&a[2], "lib-ver") {
            &ctx.conn.info.lib_ver
        } else {
            return reply(Reply::error(format!(
                "ERR Unrecognized option '{}'",
                lossy(&a[2])
            )));
        };
        check_client_name(&a[3])?;
        *slot.borrow_mut() = Some(a[3].clone());
        reply(Reply::Ok)
    } else if is(sub, "list") {
        let ids: Option<Vec<u64>> = match a.get(2) {
            None => None,
            Some(o) if is(o, "id") && a.len() > 3 => {
                let parsed: Result<Vec<u64>, _> =
                    a[3..].iter().map(|v| int(v).map(|i| i as u64)).collect();
                Some(parsed.map_err(|_| CmdError::Syntax)?)
            }
            Some(o) if is(o, "type") && a.len() == 4 => {
                if !is(&a[3], "normal") {
                    return reply(Reply::Bulk(Bytes::new()));
                }
                None
            }
            _ => return Err(CmdError::Syntax),
        };
        let cx = ctx.cx.clone();
        Ok(Plan::Async(Box::pin(async move {
            let lines = gather(&cx, move |cx| {
                let mut list: Vec<_> = cx
                    .clients
                    .borrow()
                    .values()
                    .map(|c| (c.id, c.describe()))
                    .collect();
                list.sort();
                list
            })
            .await;
            let mut all: Vec<(u64, String)> = lines.into_iter().flatten().collect();
            all.sort();
            let text: String = all
                .into_iter()
                .filter(|(id, _)| ids.as_ref().is_none_or(|want| want.contains(id)))
                .map(|(_, l)| l)
                .collect();
            Reply::Verbatim(text)
        })))
    } else if is(sub, "unblock") {
        if a.len() != 3 && a.len() != 4 {
            return Err(CmdError::Syntax);
        }
        let id = int(&a[2])?;
        let error = match a.get(3) {
            None => false,
            Some(m) if is(m, "timeout") => false,
            Some(m) if is(m, "error") => true,
            Some(_) => {
                return reply(Reply::error(
                    "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
                ));
            }
        };
        let cx = ctx.cx.clone();
        Ok(Plan::Async(Box::pin(async move {
            let id = id as u64;
            let done = gather(&cx, move |cx| {
                cx.clients
                    .borrow()
                    .get(&id)
                    .is_some_and(|c| c.unblock.request(error))
            })
            .await;
            Reply::Int(i64::from(done.into_iter().any(|d| d)))
        })))
    } else if is(sub, "no-evict") || is(sub, "no-touch") {
        arity(3, &lossy(sub).to_lowercase())?;
        if is(&a[2], "on") || is(&a[2], "off") {
            reply(Reply::Ok)
        } else {
            Err(CmdError::Syntax)
        }
    } else if is(sub, "help") {
        reply(Reply::Array(
            [
                "CLIENT <subcommand> [<arg> ...]",
                "ID",
                "GETNAME",
                "SETNAME <name>",
                "SETINFO <option> <value>",
                "INFO",
                "LIST [TYPE normal|ID id ...]",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            ]
            .iter()
            .map(|l| Reply::Simple((*l).into()))
            .collect(),
        ))
    } else {
        Err(CmdError::UnknownSubcommand {
            command: "client".into(),
            sub: lossy(sub),
        })
    }
}

fn info_cmd(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let sections: Vec<String> = a[1..].iter().map(|s| lossy(s).to_lowercase()).collect();
    let cx = ctx.cx.clone();
    Ok(Plan::Async(Box::pin(async move {
        let cores = gather(&cx, info::CoreSnapshot::take).await;
        Reply::Verbatim(info::render(&cx.shared, &cores, &sections))
    })))
}

fn config(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let sub = &a[1];
    let shared = &ctx.cx.shared;
    if is(sub, "get") {
        if a.len() < 3 {
            return Err(CmdError::WrongArity("config|get".into()));
        }
        let all = shared.config_snapshot();
        let mut out = Vec::new();
        for (k, v) in &all {
            if a[2..]
                .iter()
                .any(|p| glob_match(&p.to_ascii_lowercase(), k.as_bytes()))
            {
                out.push((Reply::bulk(k.clone()), Reply::bulk(v.clone())));
            }
        }
        reply(Reply::Map(out))
    } else if is(sub, "set") {
        if a.len() < 4 || !a.len().is_multiple_of(2) {
            return Err(CmdError::WrongArity("config|set".into()));
        }
        for pair in a[2..].chunks(2) {
            config_set(shared, &lossy(&pair[0]).to_lowercase(), &lossy(&pair[1]))?;
        }
        reply(Reply::Ok)
    } else if is(sub, "resetstat") {
        reply(Reply::Ok)
    } else if is(sub, "rewrite") {
        reply(Reply::error(
            "ERR The server is running without a config file",
        ))
    } else {
        Err(CmdError::UnknownSubcommand {
            command: "config".into(),
            sub: lossy(sub),
        })
    }
}

fn config_set(shared: &crate::shared::Shared, name: &str, value: &str) -> Result<(), CmdError> {
    let invalid = |reason: &str| CmdError::ConfigSetInvalid {
        name: name.into(),
        reason: reason.into(),
    };
    let number = || {
        value
            .parse::<u64>()
            .map_err(|_| invalid("argument couldn't be parsed into an integer"))
    };
    match name {
        "maxclients" => shared
            .maxclients
            .store(number()? as usize, Ordering::Relaxed),
        "proto-max-bulk-len" => {
            let n = number()?;
            if n < 1024 * 1024 {
                return Err(invalid(
                    "argument must be between 1048576 and 9223372036854775807 inclusive",
                ));
            }
            shared
                .proto_max_bulk_len
                .store(n as usize, Ordering::Relaxed)
        }
        "maxmemory" => shared.maxmemory.store(
            crate::shared::parse_memory(value)
                .ok_or_else(|| invalid("argument must be a memory value"))?,
            Ordering::Relaxed,
        ),
        "client-query-buffer-limit" => shared
            .query_buffer_limit
            .store(number()?.max(1024 * 1024) as usize, Ordering::Relaxed),
        "client-output-write-timeout" => {
            shared.output_timeout_ms.store(number()?, Ordering::Relaxed)
        }
        "appendfsync" if value.eq_ignore_ascii_case(shared.opts.appendfsync.name()) => {}
        "appendfsync" => {
            return Err(invalid(
                "changing appendfsync needs a restart (--appendfsync)",
            ));
        }
        "bind" | "port" | "dir" => return Err(invalid("can't set immutable config")),
        // Two names for one setting since Redis 7.0.
        "busy-reply-threshold" | "lua-time-limit" => {
            let ms = number()?;
            shared.script.limit_ms.store(ms, Ordering::Relaxed);
            if let Ok(mut table) = shared.config.lock() {
                for n in ["busy-reply-threshold", "lua-time-limit"] {
                    table.insert(n.into(), ms.to_string());
                }
            }
        }
        _ => {
            let mut table = shared
                .config
                .lock()
                .map_err(|_| invalid("config table unavailable"))?;
            match table.get_mut(name) {
                Some(v) => *v = value.to_string(),
                None => return Err(CmdError::ConfigSetUnknown(name.into())),
            }
        }
    }
    Ok(())
}

fn time(_ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    reply(Reply::Array(vec![
        Reply::bulk(d.as_secs().to_string()),
        Reply::bulk(d.subsec_micros().to_string()),
    ]))
}
