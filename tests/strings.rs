//! String commands against the real server, reply by reply.

mod common;

use common::Resp;
use common::Resp::*;
use common::Server;

fn ok() -> Resp {
    Simple("OK".into())
}

fn nil() -> Resp {
    Bulk(None)
}

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

fn run(server: &Server, cases: &[(&[&str], Resp)]) {
    let mut raw = server.raw();
    for (cmd, want) in cases {
        assert_eq!(&raw.cmd(cmd), want, "command {cmd:?}");
    }
}

#[test]
fn get_set_and_options() {
    let s = Server::start(&[]);
    run(
        &s,
        &[
            (&["SET", "k", "v"], ok()),
            (&["GET", "k"], b("v")),
            (&["GET", "missing"], nil()),
            (&["SET", "k", "v2", "NX"], nil()),
            (&["SET", "k", "v2", "XX"], ok()),
            (&["SET", "new", "x", "XX"], nil()),
            (&["SET", "k", "v3", "GET"], b("v2")),
            (&["SET", "k2", "a", "NX", "GET"], nil()),
            (&["GET", "k2"], b("a")),
            (&["SET", "k", "v", "EX", "100"], ok()),
            (&["TTL", "k"], Int(100)),
            (&["SET", "k", "v", "KEEPTTL"], ok()),
            (&["TTL", "k"], Int(100)),
            (&["SET", "k", "v"], ok()),
            (&["TTL", "k"], Int(-1)),
            (&["SET", "k", "v", "PX", "100000"], ok()),
            (&["TTL", "k"], Int(100)),
            (&["SET", "k", "v", "EXAT", "99999999999"], ok()),
            (&["EXPIRETIME", "k"], Int(99999999999)),
            (&["SET", "k", "v", "PXAT", "99999999999999"], ok()),
            (&["PEXPIRETIME", "k"], Int(99999999999999)),
            (
                &["SET", "k", "v", "NX", "XX"],
                Resp::err("ERR syntax error"),
            ),
            (
                &["SET", "k", "v", "EX", "10", "PX", "10"],
                Resp::err("ERR syntax error"),
            ),
            (&["SET", "k", "v", "EX"], Resp::err("ERR syntax error")),
            (&["SET", "k", "v", "FOO"], Resp::err("ERR syntax error")),
            (&["SET", "k", "v", "EX", "10", "EX", "20"], ok()),
            (&["TTL", "k"], Int(20)),
            (
                &["SET", "k", "v", "EX", "0", "NX", "XX"],
                Resp::err("ERR syntax error"),
            ),
            (
                &["SET", "k", "v", "EX", "0"],
                Resp::err("ERR invalid expire time in 'set' command"),
            ),
            (
                &["SET", "k", "v", "EX", "-1"],
                Resp::err("ERR invalid expire time in 'set' command"),
            ),
            (
                &["SET", "k", "v", "EX", "abc"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (
                &["SET", "k", "v", "EX", "9223372036854775807"],
                Resp::err("ERR invalid expire time in 'set' command"),
            ),
            (
                &["SET", "k"],
                Resp::err("ERR wrong number of arguments for 'set' command"),
            ),
        ],
    );
}

#[test]
fn setnx_setex_getset_getdel_getex() {
    let s = Server::start(&[]);
    run(
        &s,
        &[
            (&["SETNX", "a", "1"], Int(1)),
            (&["SETNX", "a", "2"], Int(0)),
            (&["GET", "a"], b("1")),
            (&["SETEX", "e", "50", "v"], ok()),
            (&["TTL", "e"], Int(50)),
            (
                &["SETEX", "e", "0", "v"],
                Resp::err("ERR invalid expire time in 'setex' command"),
            ),
            (&["PSETEX", "p", "50000", "v"], ok()),
            (&["TTL", "p"], Int(50)),
            (
                &["PSETEX", "p", "-5", "v"],
                Resp::err("ERR invalid expire time in 'psetex' command"),
            ),
            (&["GETSET", "a", "3"], b("1")),
            (&["GETSET", "nokey", "3"], nil()),
            (&["GETDEL", "a"], b("3")),
            (&["GETDEL", "a"], nil()),
            (&["SET", "g", "v"], ok()),
            (&["GETEX", "g", "EX", "30"], b("v")),
            (&["TTL", "g"], Int(30)),
            (&["GETEX", "g", "PERSIST"], b("v")),
            (&["TTL", "g"], Int(-1)),
            (&["GETEX", "g", "PX", "20000"], b("v")),
            (&["TTL", "g"], Int(20)),
            (
                &["GETEX", "g", "EX", "10", "PERSIST"],
                Resp::err("ERR syntax error"),
            ),
            (
                &["GETEX", "g", "EX", "0"],
                Resp::err("ERR invalid expire time in 'getex' command"),
            ),
            (&["GETEX", "missing"], nil()),
            (&["GETEX", "g", "PXAT", "1"], b("v")),
            (&["EXISTS", "g"], Int(0)),
        ],
    );
}

#[test]
fn append_strlen_ranges() {
    let s = Server::start(&[]);
    run(
        &s,
        &[
            (&["APPEND", "s", "Hello"], Int(5)),
            (&["APPEND", "s", " World"], Int(11)),
            (&["STRLEN", "s"], Int(11)),
            (&["STRLEN", "nope"], Int(0)),
            (&["GETRANGE", "s", "0", "4"], b("Hello")),
            (&["GETRANGE", "s", "-5", "-1"], b("World")),
            (&["GETRANGE", "s", "5", "3"], b("")),
            (&["GETRANGE", "s", "0", "100"], b("Hello World")),
            (&["GETRANGE", "s", "-1", "-5"], b("")),
            (&["GETRANGE", "nope", "0", "-1"], b("")),
            (
                &["GETRANGE", "s", "x", "1"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (&["SETRANGE", "s", "6", "Redis"], Int(11)),
            (&["GET", "s"], b("Hello Redis")),
            (&["SETRANGE", "pad", "3", "x"], Int(4)),
            (&["GET", "pad"], Bulk(Some(b"\0\0\0x".to_vec()))),
            (&["SETRANGE", "empty", "5", ""], Int(0)),
            (&["EXISTS", "empty"], Int(0)),
            (
                &["SETRANGE", "s", "-1", "x"],
                Resp::err("ERR offset is out of range"),
            ),
            (
                &["SETRANGE", "s", "536870911", "xx"],
                Resp::err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
            ),
        ],
    );
}

#[test]
fn counters() {
    let s = Server::start(&[]);
    run(
        &s,
        &[
            (&["INCR", "n"], Int(1)),
            (&["INCRBY", "n", "10"], Int(11)),
            (&["DECR", "n"], Int(10)),
            (&["DECRBY", "n", "3"], Int(7)),
            (&["INCRBY", "n", "-7"], Int(0)),
            (&["SET", "big", "9223372036854775807"], ok()),
            (
                &["INCR", "big"],
                Resp::err("ERR increment or decrement would overflow"),
            ),
            (
                &["DECRBY", "n", "-9223372036854775808"],
                Resp::err("ERR decrement would overflow"),
            ),
            (&["SET", "s", "abc"], ok()),
            (
                &["INCR", "s"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (&["SET", "sp", " 1"], ok()),
            (
                &["INCR", "sp"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (
                &["INCRBY", "n", "1.5"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (&["SET", "f", "10.5"], ok()),
            (&["INCRBYFLOAT", "f", "0.1"], b("10.6")),
            (&["INCRBYFLOAT", "f", "-5"], b("5.6")),
            (&["INCRBYFLOAT", "f2", "5.0e3"], b("5000")),
            (&["SET", "tenth", "0.1"], ok()),
            (&["INCRBYFLOAT", "tenth", "0.2"], b("0.3")),
            (
                &["INCRBYFLOAT", "s", "1"],
                Resp::err("ERR value is not a valid float"),
            ),
            (
                &["INCRBYFLOAT", "f", "abc"],
                Resp::err("ERR value is not a valid float"),
            ),
            (
                &["INCRBYFLOAT", "f", "inf"],
                Resp::err("ERR increment would produce NaN or Infinity"),
            ),
            (&["SET", "t", "5", "EX", "100"], ok()),
            (&["INCR", "t"], Int(6)),
            (&["TTL", "t"], Int(100)),
        ],
    );
}

#[test]
fn multi_key_commands_span_shards() {
    let s = Server::start(&["--shards", "2"]);
    let keys: Vec<String> = (0..50).map(|i| format!("key:{i}")).collect();
    let mut mset = vec!["MSET".to_string()];
    for k in &keys {
        mset.push(k.clone());
        mset.push(format!("v-{k}"));
    }
    let mut raw = s.raw();
    let args: Vec<&str> = mset.iter().map(String::as_str).collect();
    assert_eq!(raw.cmd(&args), ok());
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    mget.push("absent");
    let Array(Some(values)) = raw.cmd(&mget) else {
        panic!("MGET reply")
    };
    assert_eq!(values.len(), 51);
    for (k, v) in keys.iter().zip(&values) {
        assert_eq!(v, &b(&format!("v-{k}")));
    }
    assert_eq!(values[50], nil());
    // Both shards really hold keys.
    let info = s.cli(&["info", "shards"]);
    for line in info.lines().filter(|l| l.starts_with("shard_")) {
        assert!(!line.contains("keys=0,"), "an empty shard: {line}");
    }
    assert_eq!(
        raw.cmd(&["MSET", "a", "1", "b"]),
        Resp::err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(raw.cmd(&["MSETNX", "key:1", "x", "fresh", "y"]), Int(0));
    assert_eq!(raw.cmd(&["EXISTS", "fresh"]), Int(0));
    assert_eq!(
        raw.cmd(&["MSETNX", "n1", "x", "n2", "y", "n3", "z"]),
        Int(1)
    );
    assert_eq!(
        raw.cmd(&["MGET", "n1", "n2", "n3"]),
        Array(Some(vec![b("x"), b("y"), b("z")]))
    );
    let mut exists = vec!["EXISTS"];
    exists.extend(keys.iter().map(String::as_str));
    exists.push("key:1");
    assert_eq!(raw.cmd(&exists), Int(51));
    let mut del = vec!["DEL"];
    del.extend(keys.iter().map(String::as_str));
    del.push("absent");
    assert_eq!(raw.cmd(&del), Int(50));
    assert_eq!(raw.cmd(&["DBSIZE"]), Int(3));
    // A non-string is skipped by MGET rather than failing it.
    assert_eq!(
        raw.cmd(&["MGET", "n1", "nope"]),
        Array(Some(vec![b("x"), nil()]))
    );
}

#[test]
fn errors_keep_the_connection_open() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    assert_eq!(raw.cmd(&["SET", "k", "notanumber"]), ok());
    assert_eq!(
        raw.cmd(&["INCR", "k"]),
        Resp::err("ERR value is not an integer or out of range")
    );
    assert_eq!(raw.cmd(&["PING"]), Simple("PONG".into()));
}

#[test]
fn redis_crate_client_round_trip() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let _: () = redis::cmd("SET")
        .arg("crate")
        .arg(b"\x00\xffbinary")
        .query(&mut c)
        .expect("set");
    let v: Vec<u8> = redis::cmd("GET").arg("crate").query(&mut c).expect("get");
    assert_eq!(v, b"\x00\xffbinary");
    let n: i64 = redis::cmd("INCRBY")
        .arg("cnt")
        .arg(41)
        .query(&mut c)
        .expect("incrby");
    assert_eq!(n, 41);
    let err = redis::cmd("INCR")
        .arg("crate")
        .query::<i64>(&mut c)
        .expect_err("not an integer");
    assert_eq!(err.code(), Some("ERR"));
}
