//! EVAL and friends on the real server (two shards): replies and errors as
//! Redis 7.0 gives them, the script cache across cores, a real client
//! library's `Script`, atomicity against concurrent clients, and a busy
//! script answered with -BUSY and stopped by SCRIPT KILL.

mod common;

use std::time::Duration;

use common::Resp;
use common::Resp::*;
use common::Server;
use common::wait_until;

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

#[test]
fn scripts_read_write_and_convert_replies_like_redis() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["EVAL", "return 1", "0"]), Int(1));
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "return redis.call('SET', KEYS[1], ARGV[1])",
            "1",
            "k",
            "v"
        ]),
        Simple("OK".into())
    );
    assert_eq!(r.cmd(&["GET", "k"]), b("v"));
    // Numbers truncate, arrays stop at the first nil, false is a null,
    // {ok=}/{err=} are status and error replies.
    assert_eq!(
        r.cmd(&["EVAL", "return {1, 2.9, 'x', {true}, false, nil, 7}", "0"]),
        Array(Some(vec![
            Int(1),
            Int(2),
            b("x"),
            Array(Some(vec![Int(1)])),
            Bulk(None)
        ]))
    );
    assert_eq!(
        r.cmd(&["EVAL", "return redis.status_reply('FINE')", "0"]),
        Simple("FINE".into())
    );
    assert_eq!(
        r.cmd(&["EVAL", "return redis.error_reply('MY err')", "0"]),
        Resp::err("MY err")
    );
    // A null bulk reaches Lua as false.
    assert_eq!(
        r.cmd(&["EVAL", "return redis.call('GET', 'missing') == false", "0"]),
        Int(1)
    );
    // redis.call raises a command's error; redis.pcall returns it.
    assert_eq!(
        r.cmd(&["EVAL", "return redis.call('LPUSH', 'k', 'x')", "0"]),
        Resp::err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "local e = redis.pcall('LPUSH', 'k', 'x') return e.err",
            "0"
        ]),
        b("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    // Keys on both shards in one script (single-node mode gathers them).
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "for i = 1, 20 do redis.call('SET', 'key' .. i, i) end return redis.call('MGET', 'key1', 'key20')",
            "0"
        ]),
        Array(Some(vec![b("1"), b("20")]))
    );
    assert_eq!(r.cmd(&["DBSIZE"]), Int(21));
    // The bundled libraries scripts use most: cjson and bit.
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "local t = cjson.decode(ARGV[1]) redis.call('SET', KEYS[1], cjson.encode({t.a, t.b})) return redis.call('GET', KEYS[1])",
            "1",
            "json",
            r#"{"a": 1, "b": "two"}"#
        ]),
        b(r#"[1,"two"]"#)
    );
    assert_eq!(
        r.cmd(&["EVAL", "return bit.band(0xff0f, 0x0ff0)", "0"]),
        Int(0x0f00)
    );
}

#[test]
fn script_errors_match_redis() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let err_of = |r: Resp| match r {
        Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    };
    assert_eq!(
        r.cmd(&["EVAL", "return 1", "-1"]),
        Resp::err("ERR Number of keys can't be negative")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return 1", "2", "a"]),
        Resp::err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return 1", "x"]),
        Resp::err("ERR value is not an integer or out of range")
    );
    assert!(
        err_of(r.cmd(&["EVAL", "return (", "0"]))
            .starts_with("ERR Error compiling script (new function): user_script:1:")
    );
    assert!(err_of(r.cmd(&["EVAL", "x = 1", "0"])).contains("Attempt to modify a readonly table"));
    assert!(
        err_of(r.cmd(&["EVAL", "return y", "0"]))
            .contains("Script attempted to access nonexistent global variable 'y'")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return redis.call('nosuch')", "0"]),
        Resp::err("ERR Unknown Redis command called from script")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return redis.call('get')", "0"]),
        Resp::err("ERR Wrong number of args calling Redis command from script")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return redis.call('multi')", "0"]),
        Resp::err("ERR This Redis command is not allowed from script")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return redis.call('blpop', 'l', 0)", "0"]),
        Resp::err("ERR This Redis command is not allowed from script")
    );
    assert_eq!(
        r.cmd(&["EVAL_RO", "return redis.call('set', 'a', 'b')", "0"]),
        Resp::err("ERR Write commands are not allowed from read-only scripts.")
    );
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')",
            "0"
        ]),
        Resp::err("ERR Write commands are not allowed from read-only scripts.")
    );
    assert_eq!(
        r.cmd(&["EVAL_RO", "return redis.call('get', 'a')", "0"]),
        Bulk(None)
    );
    assert_eq!(
        r.cmd(&["SCRIPT", "KILL"]),
        Resp::err("NOTBUSY No scripts in execution right now.")
    );
    assert_eq!(
        r.cmd(&["SCRIPT", "NOPE"]),
        Resp::err("ERR unknown subcommand 'NOPE'. Try SCRIPT HELP.")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return redis.error_reply('oops')", "0"]),
        Resp::err("ERR oops")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return redis.error_reply('-WRONG kind')", "0"]),
        Resp::err("WRONG kind")
    );
    assert_eq!(r.cmd(&["EVAL", "error(123)", "0"]), Resp::err("ERR 123"));
    assert_eq!(
        r.cmd(&["EVAL", "local t = {} t[1] = t return t", "0"]),
        Resp::err("ERR reached lua stack limit")
    );
    // The sandbox: no precompiled chunks, no way to change what the next
    // script sees.
    assert!(
        err_of(r.cmd(&["EVAL", "\x1bLua\x54\x00", "0"]))
            .starts_with("ERR Error compiling script (new function):")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return load(string.char(27) .. 'Lua')", "0"]),
        Bulk(None)
    );
    assert_eq!(r.cmd(&["EVAL", "return string.dump", "0"]), Bulk(None));
    for tamper in [
        "string.len = nil",
        "redis.call = nil",
        "table.insert = print",
        "getmetatable('').__index = {}",
        "local _, r = pairs(redis) r.call = nil",
        "for k, f in pairs(string) do end local _, s = pairs(string) s.len = nil",
        "setmetatable({}, {__gc = function() while true do end end})",
        "return coroutine.create(print)",
        "collectgarbage('stop')",
        // Globals that exist are as read-only as new ones (Redis's own
        // "Try trick global protection" tests).
        "redis = function() return 1 end",
        "_G = {}",
        "setmetatable(_G, {})",
        "local g = getmetatable(_G) g.__index = {}",
        "load('redis = nil')()",
        "tostring = nil",
    ] {
        assert!(
            matches!(r.cmd(&["EVAL", tamper, "0"]), Error(_)),
            "{tamper} was allowed"
        );
    }
    assert!(
        err_of(r.cmd(&["EVAL", "rawset(_G, 'pcall', 1)", "0"]))
            .contains("nonexistent global variable 'rawset'")
    );
    assert_eq!(
        r.cmd(&["EVAL", "return loadstring('return 1 + 1')()", "0"]),
        Int(2)
    );
    // Raw reads of _G see the real globals, as in Redis.
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "return {type(rawget(_G, 'redis')), rawget(_G, 'nope') == nil, next(_G) ~= nil}",
            "0"
        ]),
        Array(Some(vec![b("table"), Int(1), Int(1)]))
    );
    // The VM is still whole for the next script.
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "local ok, r = pcall(redis.call, 'PING') return {string.len('abc'), r.ok}",
            "0"
        ]),
        Array(Some(vec![Int(3), b("PONG")]))
    );
}

/// Over maxmemory, Redis 7.0 refuses a script with a shebang (unless
/// allow-oom or no-writes) before it runs, and a script without one only
/// at its first write.
#[test]
fn scripts_under_maxmemory_follow_their_shebang() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    assert_eq!(r.cmd(&["SET", "x", "1"]), Simple("OK".into()));
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory", "1"]),
        Simple("OK".into())
    );
    assert_eq!(
        r.cmd(&["EVAL", "#!lua flags=\nreturn 1", "0"]),
        Resp::err(oom)
    );
    assert_eq!(r.cmd(&["EVAL", "return 1", "0"]), Int(1));
    assert_eq!(
        r.cmd(&["EVAL", "return redis.call('SET', 'x', '2')", "0"]),
        Resp::err(oom)
    );
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('GET', 'x')",
            "0"
        ]),
        b("1")
    );
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('SET', 'x', '2')",
            "0"
        ]),
        Resp::err("ERR Write commands are not allowed from read-only scripts.")
    );
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "#!lua flags=allow-oom\nreturn redis.call('SET', 'x', '3')",
            "0"
        ]),
        Simple("OK".into())
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory", "0"]),
        Simple("OK".into())
    );
    assert_eq!(r.cmd(&["GET", "x"]), b("3"));
    // Once a script has written, its later writes are not refused (Redis
    // checks only up to the first write, so a script is not cut in half).
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory", "1"]),
        Simple("OK".into())
    );
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "redis.call('DEL', 'nothing') return redis.call('SET', 'y', '5')",
            "0"
        ]),
        Simple("OK".into())
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory", "0"]),
        Simple("OK".into())
    );
    assert_eq!(r.cmd(&["GET", "y"]), b("5"));
}

#[test]
fn script_cache_is_shared_by_every_connection() {
    let s = Server::start(&["--shards", "2"]);
    let mut loader = s.raw();
    let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
    assert_eq!(loader.cmd(&["SCRIPT", "LOAD", "return 1"]), b(sha));
    // Connections are spread over both cores; every one sees the script.
    let mut others: Vec<_> = (0..6).map(|_| s.raw()).collect();
    for c in &mut others {
        assert_eq!(c.cmd(&["EVALSHA", sha, "0"]), Int(1));
        assert_eq!(c.cmd(&["EVALSHA", &sha.to_uppercase(), "0"]), Int(1));
        assert_eq!(
            c.cmd(&["SCRIPT", "EXISTS", sha, "ffff"]),
            Array(Some(vec![Int(1), Int(0)]))
        );
    }
    // EVAL caches its body too.
    assert_eq!(loader.cmd(&["EVAL", "return 'hi'", "0"]), b("hi"));
    let hi = "2f31ba2bb6d6a0f42cc159d2e2dad55440778de3";
    assert_eq!(others[1].cmd(&["EVALSHA", hi, "0"]), b("hi"));
    assert!(
        s.cli(&["INFO", "memory"])
            .contains("number_of_cached_scripts:2")
    );
    assert_eq!(loader.cmd(&["SCRIPT", "FLUSH"]), Simple("OK".into()));
    assert!(
        s.cli(&["INFO", "memory"])
            .contains("number_of_cached_scripts:0")
    );
    for c in &mut others {
        assert_eq!(
            c.cmd(&["EVALSHA", sha, "0"]),
            Resp::err("NOSCRIPT No matching script. Please use EVAL.")
        );
    }
    assert!(matches!(
        loader.cmd(&["SCRIPT", "LOAD", "return ("]),
        Error(e) if e.starts_with("ERR Error compiling script")
    ));
}

#[test]
fn redis_crate_script_runs_through_evalsha() {
    let s = Server::start(&["--shards", "2"]);
    let mut c = s.conn();
    let script = redis::Script::new(
        "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return redis.call('HGETALL', KEYS[1])",
    );
    // invoke sends EVALSHA, gets NOSCRIPT, loads the script and retries.
    let got: Vec<String> = script.key("h").arg("f").arg("v").invoke(&mut c).unwrap();
    assert_eq!(got, vec!["f", "v"]);
    let got: Vec<String> = script.key("h").arg("g").arg("w").invoke(&mut c).unwrap();
    assert_eq!(got, vec!["f", "v", "g", "w"]);
}

/// Read-modify-write scripts and plain INCRs race on one counter from
/// several connections (both cores). Without the script gate a script's
/// GET and SET could straddle an INCR, and an increment would be lost.
#[test]
fn scripts_are_atomic_against_other_clients() {
    let s = Server::start(&["--shards", "2"]);
    let port = s.port;
    let rounds = 300;
    let script = "local v = tonumber(redis.call('GET', KEYS[1]) or '0') \
                  for i = 1, 200 do end \
                  redis.call('SET', KEYS[1], v + 1) return v + 1";
    let mut workers = Vec::new();
    for w in 0..4 {
        workers.push(std::thread::spawn(move || {
            let mut r = common::Raw::try_connect(port).unwrap();
            for _ in 0..rounds {
                let reply = if w % 2 == 0 {
                    r.cmd(&["EVAL", script, "1", "counter"])
                } else {
                    r.cmd(&["INCR", "counter"])
                };
                assert!(matches!(reply, Int(_)), "{reply:?}");
            }
        }));
    }
    for w in workers {
        w.join().unwrap();
    }
    let mut r = s.raw();
    assert_eq!(r.cmd(&["GET", "counter"]), b(&(4 * rounds).to_string()));
}

#[test]
fn a_script_does_not_wait_for_blocked_clients() {
    let s = Server::start(&["--shards", "2"]);
    let mut blocked = s.raw();
    blocked.send(&common::Raw::encode(&["BLPOP", "q", "0"]));
    let mut r = s.raw();
    wait_until("the BLPOP to block", Duration::from_secs(10), || {
        s.cli(&["INFO", "clients"]).contains("blocked_clients:1")
    });
    // The blocked client is served after the script, not between its
    // calls: the script still sees what it pushed.
    for round in 0..20 {
        if round > 0 {
            blocked.send(&common::Raw::encode(&["BLPOP", "q", "0"]));
            wait_until("the BLPOP to block", Duration::from_secs(10), || {
                s.cli(&["INFO", "clients"]).contains("blocked_clients:1")
            });
        }
        assert_eq!(
            r.cmd(&[
                "EVAL",
                "redis.call('RPUSH', 'q', 'x') for i = 1, 1000 do end return redis.call('LLEN', 'q')",
                "0"
            ]),
            Int(1),
            "round {round}"
        );
        assert_eq!(blocked.read(), Some(Array(Some(vec![b("q"), b("x")]))));
    }
    // Inside MULTI, EVAL is queued and runs at EXEC.
    assert_eq!(r.cmd(&["MULTI"]), Simple("OK".into()));
    assert_eq!(r.cmd(&["EVAL", "return 5", "0"]), Simple("QUEUED".into()));
    assert_eq!(r.cmd(&["EXEC"]), Array(Some(vec![Int(5)])));
}

#[test]
fn busy_script_gets_busy_replies_and_script_kill() {
    let s = Server::start(&["--shards", "2"]);
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "lua-time-limit", "10"]),
        Simple("OK".into())
    );
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "busy-reply-threshold"]),
        Array(Some(vec![b("busy-reply-threshold"), b("10")]))
    );
    assert_eq!(admin.cmd(&["SET", "x", "1"]), Simple("OK".into()));
    let mut looping = s.raw();
    looping.send(&common::Raw::encode(&["EVAL", "while true do end", "0"]));
    // Clients on either core are told the node is busy...
    let mut others: Vec<_> = (0..4).map(|_| s.raw()).collect();
    let busy =
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    wait_until("a BUSY reply", Duration::from_secs(10), || {
        others[0].cmd(&["GET", "x"]) == Resp::err(busy)
    });
    for c in &mut others {
        assert_eq!(c.cmd(&["INCR", "x"]), Resp::err(busy));
    }
    // ... a transaction that meets it is aborted ...
    let tx = &mut others[1];
    assert_eq!(tx.cmd(&["MULTI"]), Simple("OK".into()));
    assert_eq!(
        tx.cmd(&["EXEC"]),
        Resp::err(&format!(
            "EXECABORT Transaction discarded because of: {busy}"
        ))
    );
    // ... and SCRIPT KILL stops it.
    assert_eq!(admin.cmd(&["SCRIPT", "KILL"]), Simple("OK".into()));
    assert_eq!(
        looping.read(),
        Some(Resp::err("ERR Script killed by user with SCRIPT KILL..."))
    );
    for c in &mut others {
        assert_eq!(c.cmd(&["GET", "x"]), b("1"));
    }
    // Catching errors in a loop does not shield a script from SCRIPT KILL.
    looping.send(&common::Raw::encode(&[
        "EVAL",
        "while true do pcall(function() while true do end end) end",
        "0",
    ]));
    wait_until("the pcall loop to be busy", Duration::from_secs(10), || {
        others[0].cmd(&["GET", "x"]) == Resp::err(busy)
    });
    assert_eq!(admin.cmd(&["SCRIPT", "KILL"]), Simple("OK".into()));
    assert_eq!(
        looping.read(),
        Some(Resp::err("ERR Script killed by user with SCRIPT KILL..."))
    );
    // A script that wrote can't be killed.
    looping.send(&common::Raw::encode(&[
        "EVAL",
        "redis.call('SET', 'x', '2') \
         local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end \
         local t0 = now() while now() - t0 < 300000 do end return 1",
        "0",
    ]));
    wait_until(
        "the writing script to be busy",
        Duration::from_secs(10),
        || others[2].cmd(&["GET", "x"]) == Resp::err(busy),
    );
    assert!(matches!(admin.cmd(&["SCRIPT", "KILL"]), Error(e) if e.starts_with("UNKILLABLE")));
    assert_eq!(looping.read(), Some(Int(1)));
    assert_eq!(others[3].cmd(&["GET", "x"]), b("2"));
}

/// The hook hands the core back every millisecond by yielding the Lua
/// thread; resuming must not lose the operands of the instruction it
/// stopped at (calls with `f(g())` / `unpack` arguments, table
/// constructors ending in a call, `return f()`: see shards/vendor/README.md).
#[test]
fn long_scripts_keep_call_arguments_across_hook_yields() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let script = "local n = 0 \
        local function pass(...) return ... end \
        for i = 1, 200000 do \
          if select('#', unpack({1, 2, 3})) ~= 3 then return {err = 'ERR lost varargs at ' .. i} end \
          local t = {pass(1, 2, 3)} \
          if #t ~= 3 then return {err = 'ERR lost results at ' .. i} end \
          if i % 1000 == 0 then \
            local e = redis.call('ECHO', \
              unpack(ARGV)) \
            if e ~= 'x' then return {err = 'ERR lost call arguments at ' .. i} end \
            n = n + 1 \
          end \
        end \
        return n";
    for _ in 0..3 {
        assert_eq!(r.cmd(&["EVAL", script, "0", "x"]), Int(200));
    }
}

/// What a script wrote, once its EVAL is answered, survives kill -9 like
/// any acknowledged write (each write is a Raft entry), and the script
/// cache is empty after a restart, as in Redis.
#[test]
fn acknowledged_script_writes_survive_kill9() {
    let mut s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&[
            "EVAL",
            "redis.call('SET', 'a', '1') redis.call('RPUSH', 'l', 'x', 'y') return redis.call('INCR', 'a')",
            "0"
        ]),
        Int(2)
    );
    assert_eq!(
        r.cmd(&["SCRIPT", "LOAD", "return 1"]),
        b("e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    );
    drop(r);
    s.kill9();
    s.restart();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["GET", "a"]), b("2"));
    assert_eq!(
        r.cmd(&["LRANGE", "l", "0", "-1"]),
        Array(Some(vec![b("x"), b("y")]))
    );
    assert_eq!(
        r.cmd(&[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        ]),
        Array(Some(vec![Int(0)]))
    );
}
