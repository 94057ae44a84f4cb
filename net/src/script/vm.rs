//! One Lua VM per core, running EVAL scripts for that core's clients.
//!
//! The script runs on the connection's core as an async Lua thread:
//! `redis.call` plans the command through the ordinary command table and
//! awaits its shard like any other command, so a script's commands reach
//! their shards (and Raft) exactly as a client's would. What makes the
//! script atomic is the node-wide gate (`gate.rs`), taken before it starts.
//!
//! Lua is 5.4, not Redis's 5.1: 5.4 lets the instruction hook yield, which
//! is how a long script hands its core back every millisecond (so clients
//! on that core can be told -BUSY and SCRIPT KILL can reach it). The 5.1
//! names scripts use most (`unpack`, `loadstring`) are provided.

use std::cell::Cell;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use mlua::Function;
use mlua::HookTriggers;
use mlua::Lua;
use mlua::LuaOptions;
use mlua::MultiValue;
use mlua::StdLib;
use mlua::Table;
use mlua::Value;
use mlua::VmState;

use super::cache::sha1_hex;
use super::convert;
use super::gate::BUSY;
use super::gate::RunClock;
use super::gate::Tick;
use crate::cmd;
use crate::cmd::Ctx;
use crate::conn_state::ClientInfo;
use crate::conn_state::ConnState;
use crate::resp::Reply;
use crate::server::CoreCtx;

/// Instructions between two calls of the hook (time limit, SCRIPT KILL,
/// handing the core back): a few tens of microseconds of Lua.
const HOOK_EVERY: u32 = 10_000;
/// Compiled scripts a core keeps before it starts over.
const MAX_COMPILED: usize = 2_000;
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
/// Memory one core's Lua VM may hold; past it a script fails with an
/// error instead of taking the server's memory (Redis sets no bound).
const MEMORY_LIMIT: usize = 512 << 20;

/// Where a script's body comes from.
pub enum Source {
    Body(Bytes),
    /// EVALSHA: a SHA1, lower-cased.
    Sha(String),
}

/// One EVAL / EVALSHA.
pub struct Call {
    pub source: Source,
    pub keys: Vec<Bytes>,
    pub argv: Vec<Bytes>,
    /// EVAL_RO / EVALSHA_RO: write commands are refused.
    pub read_only: bool,
}

/// What the running script's hook and `redis.call` need to know.
#[derive(Default)]
struct RunState {
    clock: RefCell<Option<RunClock>>,
    read_only: Cell<bool>,
    allow_oom: Cell<bool>,
    /// The node was over maxmemory when the script started.
    started_oom: Cell<bool>,
}

/// A compiled script and its shebang's flags.
#[derive(Clone)]
struct Compiled {
    func: Function,
    /// Refused as a whole while over maxmemory (a shebang without
    /// `allow-oom` or `no-writes`); scripts without one are checked per
    /// write command instead, as Redis 7.0 does for compatibility.
    oom_at_start: bool,
    no_writes: bool,
    allow_oom: bool,
}

pub struct Vm {
    lua: Lua,
    /// The globals scripts see: a read-only view of the real ones.
    env: Table,
    /// `pcall` of the script: errors come back as values, tables included.
    runner: Function,
    compiled: RefCell<HashMap<String, Compiled>>,
    /// The shared cache's epoch `compiled` belongs to.
    epoch: Cell<u64>,
    run: Rc<RunState>,
}

thread_local! {
    static VM: RefCell<Option<Rc<Vm>>> = const { RefCell::new(None) };
}

/// This core's VM, made on first use.
fn current(cx: &Rc<CoreCtx>) -> mlua::Result<Rc<Vm>> {
    if let Some(vm) = VM.with(|v| v.borrow().clone()) {
        return Ok(vm);
    }
    let vm = Rc::new(Vm::new(cx)?);
    VM.with(|v| *v.borrow_mut() = Some(vm.clone()));
    Ok(vm)
}

/// Runs one EVAL to its reply.
pub async fn eval(cx: Rc<CoreCtx>, call: Call) -> Reply {
    let vm = match current(&cx) {
        Ok(vm) => vm,
        Err(e) => return Reply::error(format!("ERR scripting unavailable: {e}")),
    };
    let script = match vm.resolve(&cx, call.source) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let oom = cx.shared.over_maxmemory();
    if script.oom_at_start && oom {
        return Reply::error(cmd::OOM);
    }
    let held = match cx.shared.script.acquire(cx.core.id.0).await {
        Ok(h) => h,
        Err(()) => return Reply::error(BUSY),
    };
    vm.run.clock.replace(Some(RunClock::start(held.id())));
    vm.run.read_only.set(call.read_only || script.no_writes);
    vm.run.allow_oom.set(script.allow_oom);
    vm.run.started_oom.set(oom);
    let hold = HoldWakeups::new(&cx);
    // Blocked clients' tries on the shards run out of flight: the ones that
    // started before the hold must end before the script reads anything
    // (`Router::begin_try`). Each is one Raft round at most.
    let deadline = Instant::now() + TRIES_LIMIT;
    while cx.core.router.tries_running() > 0 {
        if Instant::now() > deadline {
            tracing::warn!("script started while blocked clients' tries were still running");
            break;
        }
        glommio::timer::sleep(Duration::from_micros(20)).await;
    }
    let reply = vm.call(&script, call.keys, call.argv).await;
    vm.run.clock.replace(None);
    drop(hold);
    if cx.core.router.take_deferred_wakeups() {
        // Clients blocked on keys written meanwhile (the script's pushes)
        // are woken now, before the gate lets anyone else in, as Redis does.
        crate::server::gather(&cx, |cx| cx.core.wake_blocked()).await;
    }
    drop(held);
    reply
}

/// How long a script waits for blocked clients' tries already running
/// (one Raft round each, or a cross-shard push) before it runs anyway: a
/// try stuck behind a lost quorum must not hold the node forever.
const TRIES_LIMIT: Duration = Duration::from_secs(2);

/// Keeps blocked clients from being served in the middle of a script
/// (a BLPOP popping what the script just pushed, before its next call);
/// lets go on drop.
struct HoldWakeups(Rc<CoreCtx>);

impl HoldWakeups {
    fn new(cx: &Rc<CoreCtx>) -> Self {
        cx.core.router.hold_wakeups(true);
        HoldWakeups(cx.clone())
    }
}

impl Drop for HoldWakeups {
    fn drop(&mut self) {
        self.0.core.router.hold_wakeups(false);
    }
}

impl Vm {
    fn new(cx: &Rc<CoreCtx>) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let run = Rc::new(RunState::default());
        install_redis_lib(&lua, cx, &run)?;
        // Bound now: a script can't swap the `pcall` later runs go through.
        let runner: Function = lua
            .load("local pcall = pcall return function(f) return pcall(f) end")
            .set_name("=runner")
            .eval()?;
        let hook_run = run.clone();
        let shared = cx.shared.clone();
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                let clock = hook_run.clock.borrow();
                let Some(clock) = clock.as_ref() else {
                    return Ok(VmState::Continue);
                };
                match shared.script.tick(clock) {
                    Tick::Continue => Ok(VmState::Continue),
                    Tick::Yield => Ok(VmState::Yield),
                    Tick::Killed => Err(mlua::Error::RuntimeError(KILLED.into())),
                }
            },
        )?;
        super::libs::install(&lua)?;
        let env = seal(&lua, cx, &run)?;
        Ok(Vm {
            env,
            lua,
            runner,
            compiled: RefCell::new(HashMap::new()),
            epoch: Cell::new(cx.shared.scripts.epoch()),
            run,
        })
    }

    /// The compiled script for `source`, compiling (and caching) it when
    /// this core has not met it since the last SCRIPT FLUSH.
    fn resolve(&self, cx: &Rc<CoreCtx>, source: Source) -> Result<Compiled, Reply> {
        let cache = &cx.shared.scripts;
        let epoch = cache.epoch();
        if self.epoch.get() != epoch {
            self.compiled.borrow_mut().clear();
            self.epoch.set(epoch);
        }
        let (sha, body) = match source {
            Source::Body(body) => (sha1_hex(&body), Some(body)),
            Source::Sha(sha) => (sha, None),
        };
        if let Some(c) = self.compiled.borrow().get(&sha) {
            return Ok(c.clone());
        }
        let (body, new) = match body {
            Some(body) => (body, true),
            None => (
                cache
                    .get(&sha)
                    .ok_or_else(|| Reply::error("NOSCRIPT No matching script. Please use EVAL."))?,
                false,
            ),
        };
        let compiled = match compile(&self.lua, &body, Some(&self.env)) {
            // Compiled functions count against the VM's memory limit:
            // when it is reached, start the per-core cache over once.
            Err(_) if !self.compiled.borrow().is_empty() => {
                self.compiled.borrow_mut().clear();
                self.lua.gc_collect().ok();
                compile(&self.lua, &body, Some(&self.env))?
            }
            r => r?,
        };
        if new {
            // Only a body that compiles is kept, as SCRIPT EXISTS shows.
            cache.insert(&sha, &body, false);
        }
        let mut map = self.compiled.borrow_mut();
        if map.len() >= MAX_COMPILED {
            map.clear();
        }
        map.insert(sha, compiled.clone());
        Ok(compiled)
    }

    async fn call(&self, script: &Compiled, keys: Vec<Bytes>, argv: Vec<Bytes>) -> Reply {
        let globals = self.lua.globals();
        for (name, values) in [("KEYS", keys), ("ARGV", argv)] {
            let set = self
                .lua
                .create_table_with_capacity(values.len(), 0)
                .and_then(|t| {
                    for (i, v) in values.iter().enumerate() {
                        t.raw_set(i + 1, self.lua.create_string(v)?)?;
                    }
                    globals.raw_set(name, t)
                });
            if let Err(e) = set {
                return Reply::error(convert::error_text(&e));
            }
        }
        let outcome = self
            .runner
            .call_async::<(bool, Value)>(script.func.clone())
            .await;
        match outcome {
            Ok((true, v)) => convert::lua_to_reply(&v),
            Ok((false, Value::String(s))) => Reply::error(convert::with_code(&s.to_string_lossy())),
            Ok((false, Value::Integer(n))) => Reply::error(format!("ERR {n}")),
            Ok((false, Value::Number(n))) => Reply::error(format!("ERR {n}")),
            Ok((false, Value::Error(e))) => Reply::error(convert::error_text(&e)),
            Ok((false, v @ Value::Table(_))) => match convert::lua_to_reply(&v) {
                e @ Reply::Error(_) => e,
                _ => Reply::error("ERR Error running script: unknown error"),
            },
            Ok((false, _)) => Reply::error("ERR Error running script: unknown error"),
            Err(e) => Reply::error(convert::error_text(&e)),
        }
    }
}

/// Compiles a script body (shebang line included) into a function of
/// `lua` whose globals are `env` (the real globals when None).
fn compile(lua: &Lua, body: &[u8], env: Option<&Table>) -> Result<Compiled, Reply> {
    let (code, flags) = shebang(body).map_err(Reply::error)?;
    let mut chunk = lua.load(code);
    if let Some(env) = env {
        chunk = chunk.set_environment(env.clone());
    }
    let func = chunk
        .set_name("@user_script")
        // Source only: precompiled chunks could corrupt the VM's memory.
        .set_mode(mlua::ChunkMode::Text)
        .into_function()
        .map_err(|e| {
            Reply::error(format!(
                "ERR Error compiling script (new function): {}",
                convert::error_text(&e).trim_start_matches("ERR ")
            ))
        })?;
    Ok(Compiled {
        func,
        oom_at_start: flags.shebang && !flags.allow_oom && !flags.no_writes,
        no_writes: flags.no_writes,
        allow_oom: flags.allow_oom,
    })
}

/// SCRIPT LOAD's check: the body compiles (in a scratch VM; nothing runs).
pub fn check_syntax(body: &[u8]) -> Result<(), Reply> {
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::default())
        .map_err(|e| Reply::error(convert::error_text(&e)))?;
    compile(&lua, body, None).map(|_| ())
}

/// The shebang flags scripts act on.
#[derive(Debug, Default, PartialEq, Eq)]
struct Flags {
    /// The body starts with a `#!lua` line (Redis 7 flag semantics).
    shebang: bool,
    no_writes: bool,
    allow_oom: bool,
}

/// Splits a `#!lua flags=...` first line off the body (kept as an empty
/// line, so line numbers in errors still match); returns the code and
/// the flags.
fn shebang(body: &[u8]) -> Result<(&[u8], Flags), String> {
    let mut flags = Flags::default();
    if !body.starts_with(b"#!") {
        return Ok((body, flags));
    }
    flags.shebang = true;
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..end]).into_owned();
    let mut parts = line.split_whitespace();
    let engine = parts.next().unwrap_or("");
    if engine != "lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    // The code starts at the newline, which stands in for the shebang line.
    Ok((&body[end..], flags))
}

/// Builds the `redis` table: call, pcall, error_reply, status_reply,
/// sha1hex, log and the constants scripts look for.
fn install_redis_lib(lua: &Lua, cx: &Rc<CoreCtx>, run: &Rc<RunState>) -> mlua::Result<()> {
    let redis = lua.create_table()?;
    let info = Rc::new(ClientInfo {
        id: 0,
        addr: String::new(),
        laddr: String::new(),
        created: Instant::now(),
        name: Default::default(),
        lib_name: Default::default(),
        lib_ver: Default::default(),
        last_active: Instant::now().into(),
        last_command: "NULL".into(),
        resp: 2.into(),
        unblock: Default::default(),
    });
    let mut conn = ConnState::new(info);
    // As inside EXEC: blocking commands answer at once instead of waiting.
    conn.in_exec = true;
    let conn = Rc::new(RefCell::new(conn));
    let (cx, run) = (cx.clone(), run.clone());
    let pcall = lua.create_async_function(move |lua, args: MultiValue| {
        let (cx, conn, run) = (cx.clone(), conn.clone(), run.clone());
        async move { call_command(&lua, &cx, &conn, &run, args).await }
    })?;
    let call: Function = lua
        .load(
            "local pcall = ... local type, rawget, error = type, rawget, error \
             return function(...) \
               local r = pcall(...) \
               if type(r) == 'table' and rawget(r, 'err') ~= nil then error(r, 0) end \
               return r end",
        )
        .set_name("=redis.call")
        .call(pcall.clone())?;
    redis.raw_set("call", call)?;
    redis.raw_set("pcall", pcall)?;
    let helpers: Function = lua
        .load(
            "local redis = ... \
             redis.error_reply = function(e) \
               if type(e) ~= 'string' then error('wrong number or type of arguments') end \
               e = e:gsub('^%-', '') \
               if not e:find(' ') then e = 'ERR ' .. e end \
               return {err = e} end \
             redis.status_reply = function(s) return {ok = s} end \
             redis.set_repl = function() end \
             redis.replicate_commands = function() return true end \
             redis.breakpoint = function() return false end \
             redis.debug = function() end \
             redis.setresp = function(n) \
               if n ~= 2 and n ~= 3 then error('RESP version must be 2 or 3.') end end \
             unpack = table.unpack",
        )
        .set_name("=redis")
        .into_function()?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(
            |_, args: MultiValue| match args.iter().collect::<Vec<_>>()[..] {
                [Value::String(s)] => Ok(sha1_hex(&s.as_bytes())),
                [v @ (Value::Integer(_) | Value::Number(_))] => {
                    Ok(sha1_hex(v.to_string()?.as_bytes()))
                }
                [_] => Err(mlua::Error::RuntimeError(
                    "wrong argument given to redis.sha1hex()".into(),
                )),
                _ => Err(mlua::Error::RuntimeError(
                    "wrong number of arguments".into(),
                )),
            },
        )?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, (level, msg): (i64, MultiValue)| {
            let text: Vec<String> = msg
                .iter()
                .map(|v| v.to_string().unwrap_or_default())
                .collect();
            tracing::info!(level, script_log = %text.join(" "));
            Ok(())
        })?,
    )?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
        ("REDIS_VERSION_NUM", 0x07000f),
    ] {
        redis.raw_set(name, v)?;
    }
    redis.raw_set("REDIS_VERSION", "7.0.15")?;
    lua.globals().raw_set("redis", redis.clone())?;
    lua.globals().raw_remove("dofile")?;
    lua.globals().raw_remove("loadfile")?;
    helpers.call::<()>(redis)
}

/// Seals the VM once it is set up, so no script can change what the next
/// one sees (Redis 7.0 makes every global table read-only):
/// - globals are read-only, and reading one that does not exist fails;
/// - the libraries (`string`, `table`, `math`, `coroutine`, `redis`) are
///   read-only proxies (so are `cjson` and `bit`), and the string
///   metatable is hidden;
/// - `rawset`, `string.dump`, `print` and `coroutine` are gone, `load`
///   takes source only, and no metatable may carry a `__gc` finalizer;
/// - `pcall` / `xpcall` re-raise SCRIPT KILL's error, so a script can't
///   catch its way past it. KEYS and ARGV are set with raw writes.
fn seal(lua: &Lua, cx: &Rc<CoreCtx>, run: &Rc<RunState>) -> mlua::Result<Table> {
    let (shared, run) = (cx.shared.clone(), run.clone());
    let killed = lua.create_function(move |_, ()| {
        let clock = run.clock.borrow();
        Ok(clock.as_ref().is_some_and(|c| shared.script.killed(c.id)))
    })?;
    lua.load(
        r#"
        local killed, killed_text = ...
        local G = _G
        local setmetatable, getmetatable, error, pack, unpack = setmetatable, getmetatable, error, table.pack, table.unpack
        local rawpcall, rawxpcall, rawload, rawget, rawset, next, select = pcall, xpcall, load, rawget, rawset, next, select
        local function rethrow(r)
          if killed() then error(killed_text, 0) end
          return unpack(r, 1, r.n)
        end
        pcall = function(...) return rethrow(pack(rawpcall(...))) end
        xpcall = function(...) return rethrow(pack(rawxpcall(...))) end
        -- What a protected table's metatable looks like from a script: a
        -- table that can't be changed either.
        local locked = setmetatable({}, {
          __newindex = function() error('Attempt to modify a readonly table', 2) end,
          __metatable = false,
        })
        -- Scripts run with this as their globals: reads go to the real
        -- globals, writes of any name (new or existing: `redis = nil`,
        -- `_G = {}`) fail. Set below, once the real globals are final.
        local env = {}
        load = function(chunk, name, _, ...)
          if select('#', ...) > 0 then return rawload(chunk, name, 't', ...) end
          return rawload(chunk, name, 't', env)
        end
        loadstring = load
        -- Lua 5.4 runs finalizers, Lua 5.1 (Redis) does not: one left
        -- behind would run between scripts, outside any time limit.
        _G.setmetatable = function(t, mt)
          if rawequal(getmetatable(t), locked) or getmetatable(t) == false then
            error('Attempt to modify a readonly table', 2)
          end
          if mt ~= nil and rawget(mt, '__gc') ~= nil then
            error('__gc metamethods are not allowed', 2)
          end
          return setmetatable(t, mt)
        end
        -- The collector's state is the VM's, not the script's: a script
        -- may run it, not stop it or change its mode for the next ones.
        local rawcollect = collectgarbage
        G.collectgarbage = function(opt, ...)
          if opt == nil or opt == 'collect' or opt == 'count' or opt == 'step' or opt == 'isrunning' then
            return rawcollect(opt, ...)
          end
          error("collectgarbage('" .. tostring(opt) .. "') is not allowed", 2)
        end
        -- A script's `_G` is the read-only view below; raw reads of it see
        -- the real globals, as they would in Redis.
        local rawlen = rawlen
        local function real(t) if rawequal(t, env) then return G end return t end
        G.rawget = function(t, k) return rawget(real(t), k) end
        G.rawlen = function(t) return rawlen(real(t)) end
        G.next = function(t, k) return next(real(t), k) end
        -- A coroutine inherits the hook, whose yields would land in the
        -- script's own resume instead of the server's.
        G.rawset, G.print, G.coroutine = nil, nil, nil
        string.dump = nil
        getmetatable('').__metatable = false
        local function readonly(t)
          return setmetatable({}, {
            __index = t,
            __newindex = function() error('Attempt to modify a readonly table', 2) end,
            __pairs = function(p) return function(_, k) return next(t, k) end, p, nil end,
            __len = function() return #t end,
            __metatable = locked,
          })
        end
        for _, name in ipairs({'string', 'table', 'math', 'redis', 'cjson', 'bit'}) do
          _G[name] = readonly(_G[name])
        end
        setmetatable(_G, {
          __index = function(_, k)
            error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
          end,
          __newindex = function() error('Attempt to modify a readonly table', 2) end,
          __metatable = locked,
        })
        rawset(G, '_G', env)
        setmetatable(env, {
          __index = G,
          __newindex = function() error('Attempt to modify a readonly table', 2) end,
          __pairs = function(p) return function(_, k) return next(G, k) end, p, nil end,
          __metatable = locked,
        })
        return env
        "#,
    )
    .set_name("=seal")
    .call::<Table>((killed, KILLED))
}

/// `redis.pcall`: runs one command and answers its reply as a Lua value
/// (an error reply as `{err=...}`).
async fn call_command(
    lua: &Lua,
    cx: &Rc<CoreCtx>,
    conn: &Rc<RefCell<ConnState>>,
    run: &RunState,
    args: MultiValue,
) -> mlua::Result<Value> {
    let err = |text: &str| convert::reply_to_lua(lua, Reply::error(text.to_string()));
    let argv = match command_args(args) {
        Ok(a) => a,
        Err(text) => return err(text),
    };
    let Some(spec) = cmd::lookup(&argv[0]) else {
        return err("ERR Unknown Redis command called from script");
    };
    if !cmd::arity_ok(spec.arity, argv.len()) {
        return err("ERR Wrong number of args calling Redis command from script");
    }
    if spec.flags.contains(&"noscript") {
        return err("ERR This Redis command is not allowed from script");
    }
    if spec.is_write() && run.read_only.get() {
        return err("ERR Write commands are not allowed from read-only scripts.");
    }
    // Redis refuses a script's writes while it was over maxmemory when the
    // script started, up to its first write (so a script is not cut in
    // half by its own writes), unless its shebang says allow-oom.
    if spec.denies_oom()
        && !run.allow_oom.get()
        && run.started_oom.get()
        && !cx.shared.script.wrote()
    {
        return err(cmd::OOM);
    }
    if spec.is_write() {
        cx.shared.script.mark_wrote();
    }
    let plan = cmd::plan(
        &mut Ctx {
            cx,
            conn: &mut conn.borrow_mut(),
        },
        &argv,
    );
    let reply = cmd::run_plan(&cx.core, plan).await;
    convert::reply_to_lua(lua, reply)
}

/// A command's arguments from Lua: strings, and numbers as Redis's Lua
/// prints them (integral ones without a fraction).
fn command_args(args: MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    args.iter()
        .map(|v| match v {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(i) => Ok(Bytes::from(i.to_string())),
            Value::Number(n) => Ok(Bytes::from(match convert::integral(*n) {
                Some(i) => i.to_string(),
                None => format!("{n}"),
            })),
            _ => Err("ERR Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags() {
        assert_eq!(
            shebang(b"return 1").unwrap(),
            (&b"return 1"[..], Flags::default())
        );
        let (code, flags) = shebang(b"#!lua flags=no-writes\nreturn 1").unwrap();
        assert_eq!(code, &b"\nreturn 1"[..]);
        assert!(flags.no_writes && !flags.allow_oom);
        let (_, flags) = shebang(b"#!lua flags=allow-oom,no-cluster\nreturn 1").unwrap();
        assert!(flags.allow_oom && !flags.no_writes);
        assert!(shebang(b"#!python\nreturn 1").is_err());
        assert!(shebang(b"#!lua flags=bogus\nreturn 1").is_err());
    }

    #[test]
    fn numbers_print_like_redis_lua() {
        let lua = Lua::new();
        let args: MultiValue = lua.load("return 'set', 3, 2.0, 1.5").eval().unwrap();
        let a = command_args(args).unwrap();
        assert_eq!(a, vec!["set", "3", "2", "1.5"]);
        let args: MultiValue = lua.load("return 'get', {}").eval().unwrap();
        assert!(command_args(args).is_err());
    }
}
