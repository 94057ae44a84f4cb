//! Set commands on the real server: every command and its error strings,
//! WRONGTYPE, multi-key commands with keys on one shard (one atomic op)
//! and across shards (dependent steps), and SPOP surviving a restart.

mod common;

use common::Raw;
use common::Resp;
use common::Resp::*;
use common::Server;
use shardis_shards::slot::key_slot;

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

fn arr(items: &[&str]) -> Resp {
    Array(Some(items.iter().map(|s| b(s)).collect()))
}

fn ok() -> Resp {
    Simple("OK".into())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn run(r: &mut Raw, cases: &[(&[&str], Resp)]) {
    for (cmd, want) in cases {
        assert_eq!(&r.cmd(cmd), want, "command {cmd:?}");
    }
}

/// The bulk strings of an array reply, sorted (set order is not part of
/// the contract).
fn sorted(reply: Resp) -> Vec<String> {
    let Array(Some(items)) = reply else {
        panic!("not an array: {reply:?}")
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|i| match i {
            Bulk(Some(v)) => String::from_utf8(v).expect("utf8 member"),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

fn members(r: &mut Raw, key: &str) -> Vec<String> {
    sorted(r.cmd(&["SMEMBERS", key]))
}

#[test]
fn single_key_commands_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SADD", "s", "b", "a", "c", "a"], Int(3)),
            (&["SADD", "s", "a", "d"], Int(1)),
            (&["SMEMBERS", "s"], arr(&["a", "b", "c", "d"])),
            (&["SMEMBERS", "nokey"], arr(&[])),
            (&["SCARD", "s"], Int(4)),
            (&["SCARD", "nokey"], Int(0)),
            (&["SISMEMBER", "s", "c"], Int(1)),
            (&["SISMEMBER", "s", "zz"], Int(0)),
            (&["SISMEMBER", "nokey", "a"], Int(0)),
            (
                &["SMISMEMBER", "s", "a", "zz", "d"],
                Array(Some(vec![Int(1), Int(0), Int(1)])),
            ),
            (
                &["SMISMEMBER", "nokey", "a", "b"],
                Array(Some(vec![Int(0), Int(0)])),
            ),
            (&["TYPE", "s"], Simple("set".into())),
            (&["SREM", "s", "a", "zz", "a"], Int(1)),
            (&["SREM", "nokey", "a"], Int(0)),
            (&["SSCAN", "s", "0"], arr_scan(&["b", "c", "d"])),
            (
                &["SSCAN", "s", "0", "MATCH", "[bd]", "COUNT", "1"],
                arr_scan(&["b", "d"]),
            ),
            (&["SSCAN", "s", "7"], arr_scan(&[])),
            (&["SSCAN", "nokey", "0"], arr_scan(&[])),
            // An absent key answers before its options are looked at.
            (&["SSCAN", "nokey", "0", "BOGUS"], arr_scan(&[])),
            (&["SSCAN", "s", "x"], Resp::err("ERR invalid cursor")),
            (&["SSCAN", "s", "-1"], Resp::err("ERR invalid cursor")),
            (
                &["SSCAN", "s", "0", "COUNT", "0"],
                Resp::err("ERR syntax error"),
            ),
            (
                &["SSCAN", "s", "0", "COUNT", "x"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (&["SSCAN", "s", "0", "MATCH"], Resp::err("ERR syntax error")),
            (
                &["SSCAN", "s", "0", "TYPE", "set"],
                Resp::err("ERR syntax error"),
            ),
            (&["SREM", "s", "b", "c", "d"], Int(3)),
            (&["EXISTS", "s"], Int(0)),
            (
                &["SADD", "s"],
                Resp::err("ERR wrong number of arguments for 'sadd' command"),
            ),
            (
                &["SMISMEMBER", "s"],
                Resp::err("ERR wrong number of arguments for 'smismember' command"),
            ),
            (
                &["SMOVE", "a", "b"],
                Resp::err("ERR wrong number of arguments for 'smove' command"),
            ),
            (
                &["SINTERSTORE", "d"],
                Resp::err("ERR wrong number of arguments for 'sinterstore' command"),
            ),
            // WRONGTYPE both ways.
            (&["SET", "str", "v"], ok()),
            (&["SADD", "str", "a"], Resp::err(WRONGTYPE)),
            (&["SREM", "str", "a"], Resp::err(WRONGTYPE)),
            (&["SMEMBERS", "str"], Resp::err(WRONGTYPE)),
            (&["SCARD", "str"], Resp::err(WRONGTYPE)),
            (&["SISMEMBER", "str", "a"], Resp::err(WRONGTYPE)),
            (&["SMISMEMBER", "str", "a"], Resp::err(WRONGTYPE)),
            (&["SPOP", "str"], Resp::err(WRONGTYPE)),
            (&["SPOP", "str", "2"], Resp::err(WRONGTYPE)),
            (&["SRANDMEMBER", "str"], Resp::err(WRONGTYPE)),
            (&["SRANDMEMBER", "str", "-2"], Resp::err(WRONGTYPE)),
            (&["SSCAN", "str", "0"], Resp::err(WRONGTYPE)),
            (&["SSCAN", "str", "0", "BOGUS"], Resp::err(WRONGTYPE)),
            (&["SADD", "s", "x"], Int(1)),
            (&["GET", "s"], Resp::err(WRONGTYPE)),
            (&["HSET", "s", "f", "v"], Resp::err(WRONGTYPE)),
            (&["EXPIRE", "s", "100"], Int(1)),
            (&["TTL", "s"], Int(100)),
            (&["SADD", "s", "y"], Int(1)),
            (&["TTL", "s"], Int(100)),
        ],
    );
}

fn arr_scan(items: &[&str]) -> Resp {
    Array(Some(vec![b("0"), arr(items)]))
}

#[test]
fn spop_and_srandmember() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let all: Vec<String> = (0..20).map(|i| format!("m{i:02}")).collect();
    let mut args = vec!["SADD", "s"];
    args.extend(all.iter().map(String::as_str));
    assert_eq!(r.cmd(&args), Int(20));
    run(
        &mut r,
        &[
            (&["SPOP", "nokey"], Bulk(None)),
            (&["SPOP", "nokey", "3"], arr(&[])),
            (&["SPOP", "s", "0"], arr(&[])),
            (&["SRANDMEMBER", "nokey"], Bulk(None)),
            (&["SRANDMEMBER", "nokey", "-3"], arr(&[])),
            (&["SRANDMEMBER", "s", "0"], arr(&[])),
            (
                &["SPOP", "s", "-1"],
                Resp::err("ERR value is out of range, must be positive"),
            ),
            (
                &["SPOP", "s", "x"],
                Resp::err("ERR value is out of range, must be positive"),
            ),
            (&["SPOP", "s", "1", "2"], Resp::err("ERR syntax error")),
            (
                &["SRANDMEMBER", "s", "x"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (
                &["SRANDMEMBER", "s", "1", "2"],
                Resp::err("ERR syntax error"),
            ),
            (
                &["SRANDMEMBER", "s", "-1000000000000000000"],
                Resp::err("ERR value is out of range"),
            ),
            (
                &["SRANDMEMBER", "s", "-9223372036854775808"],
                Resp::err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ),
            ),
            (&["SCARD", "s"], Int(20)),
        ],
    );

    let Bulk(Some(one)) = r.cmd(&["SRANDMEMBER", "s"]) else {
        panic!("SRANDMEMBER without count answers a bulk")
    };
    assert!(all.contains(&String::from_utf8(one).unwrap()));
    let five = sorted(r.cmd(&["SRANDMEMBER", "s", "5"]));
    assert_eq!(five.len(), 5);
    assert!(five.windows(2).all(|w| w[0] != w[1]), "distinct: {five:?}");
    assert_eq!(sorted(r.cmd(&["SRANDMEMBER", "s", "1000"])), all);
    let many = sorted(r.cmd(&["SRANDMEMBER", "s", "-50"]));
    assert_eq!(many.len(), 50, "a negative count gives exactly |count|");
    assert!(many.iter().all(|m| all.contains(m)));
    assert_eq!(r.cmd(&["SCARD", "s"]), Int(20), "SRANDMEMBER is read-only");

    let Bulk(Some(popped)) = r.cmd(&["SPOP", "s"]) else {
        panic!("SPOP without count answers a bulk")
    };
    let popped = String::from_utf8(popped).unwrap();
    assert!(all.contains(&popped));
    assert_eq!(r.cmd(&["SISMEMBER", "s", &popped]), Int(0));
    let three = sorted(r.cmd(&["SPOP", "s", "3"]));
    assert_eq!(three.len(), 3);
    let left = members(&mut r, "s");
    assert_eq!(left.len(), 16);
    assert!(three.iter().all(|m| all.contains(m) && !left.contains(m)));
    assert_eq!(sorted(r.cmd(&["SPOP", "s", "1000"])), left);
    assert_eq!(r.cmd(&["EXISTS", "s"]), Int(0));
}

/// `{a}` and `{b}` keys live on different shards of a 2-shard node.
fn check_tags_span_shards() {
    let shard = |k: &str| key_slot(k.as_bytes()).0 >= 8192;
    assert_ne!(shard("{a}x"), shard("{b}x"), "the test needs two shards");
}

#[test]
fn multi_key_commands_across_shards() {
    check_tags_span_shards();
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SADD", "{a}1", "a", "b", "c", "d"], Int(4)),
            (&["SADD", "{b}1", "c", "d", "e"], Int(3)),
            (&["SADD", "{a}2", "d", "e", "f"], Int(3)),
            (&["SET", "{b}str", "v"], ok()),
            (&["SET", "{a}str", "v"], ok()),
        ],
    );
    let sets: &[(&[&str], &[&str])] = &[
        (&["SINTER", "{a}1", "{b}1", "{a}2"], &["d"]),
        (&["SINTER", "{a}1", "{b}1"], &["c", "d"]),
        (&["SINTER", "{a}1", "{b}nokey"], &[]),
        (&["SUNION", "{a}1", "{b}1"], &["a", "b", "c", "d", "e"]),
        (
            &["SUNION", "{a}1", "{b}nokey", "{a}2"],
            &["a", "b", "c", "d", "e", "f"],
        ),
        (&["SDIFF", "{a}1", "{b}1", "{a}2"], &["a", "b"]),
        (&["SDIFF", "{a}1", "{a}2", "{b}1"], &["a", "b"]),
        (&["SDIFF", "{b}1", "{a}1"], &["e"]),
        (&["SDIFF", "{b}nokey", "{a}1"], &[]),
        (&["SDIFF", "{a}1", "{b}nokey"], &["a", "b", "c", "d"]),
        // All keys on one shard: one atomic op.
        (&["SINTER", "{a}1", "{a}2"], &["d"]),
        (&["SDIFF", "{a}1", "{a}1"], &[]),
    ];
    for (cmd, want) in sets {
        assert_eq!(sorted(r.cmd(cmd)), *want, "command {cmd:?}");
    }
    run(
        &mut r,
        &[
            // A wrong-type source errors, even after an absent key.
            (&["SINTER", "{a}1", "{b}str"], Resp::err(WRONGTYPE)),
            (
                &["SINTER", "{b}nokey", "{a}1", "{b}str"],
                Resp::err(WRONGTYPE),
            ),
            (&["SUNION", "{a}1", "{b}str"], Resp::err(WRONGTYPE)),
            (&["SDIFF", "{b}str", "{a}1"], Resp::err(WRONGTYPE)),
            (&["SDIFF", "{a}1", "{b}str"], Resp::err(WRONGTYPE)),
            // STORE: the destination is overwritten whatever it held.
            (&["SET", "{b}dst", "v", "EX", "100"], ok()),
            (&["SUNIONSTORE", "{b}dst", "{a}1", "{b}1"], Int(5)),
            (&["TYPE", "{b}dst"], Simple("set".into())),
            (&["TTL", "{b}dst"], Int(-1)),
            (&["SINTERSTORE", "{b}dst", "{a}1", "{a}2"], Int(1)),
            (&["SMEMBERS", "{b}dst"], arr(&["d"])),
            (&["SDIFFSTORE", "{a}3", "{a}1", "{b}1"], Int(2)),
            (&["SMEMBERS", "{a}3"], arr(&["a", "b"])),
            (
                &["SINTERSTORE", "{a}3", "{a}1", "{b}str"],
                Resp::err(WRONGTYPE),
            ),
            (&["SMEMBERS", "{a}3"], arr(&["a", "b"])),
            // The destination may be a source.
            (&["SUNIONSTORE", "{a}3", "{a}3", "{b}1"], Int(5)),
            (&["SCARD", "{a}3"], Int(5)),
            // An empty result deletes the destination.
            (&["SINTERSTORE", "{a}3", "{a}1", "{b}nokey"], Int(0)),
            (&["EXISTS", "{a}3"], Int(0)),
            (&["SDIFFSTORE", "{b}dst", "{a}1", "{a}1"], Int(0)),
            (&["EXISTS", "{b}dst"], Int(0)),
            // Same shard variant.
            (&["SINTERSTORE", "{a}3", "{a}1", "{a}2"], Int(1)),
            (&["SMEMBERS", "{a}3"], arr(&["d"])),
            // SINTERCARD.
            (&["SINTERCARD", "2", "{a}1", "{b}1"], Int(2)),
            (&["SINTERCARD", "2", "{a}1", "{b}1", "LIMIT", "1"], Int(1)),
            (&["SINTERCARD", "2", "{a}1", "{b}1", "limit", "0"], Int(2)),
            (&["SINTERCARD", "1", "{a}1", "LIMIT", "3"], Int(3)),
            (&["SINTERCARD", "3", "{a}1", "{b}1", "{a}2"], Int(1)),
            (&["SINTERCARD", "2", "{a}1", "{b}nokey"], Int(0)),
            (&["SINTERCARD", "2", "{a}1", "{b}str"], Resp::err(WRONGTYPE)),
            (
                &["SINTERCARD", "0", "{a}1"],
                Resp::err("ERR numkeys should be greater than 0"),
            ),
            (
                &["SINTERCARD", "x", "{a}1"],
                Resp::err("ERR numkeys should be greater than 0"),
            ),
            (
                &["SINTERCARD", "3", "{a}1", "{b}1"],
                Resp::err("ERR Number of keys can't be greater than number of args"),
            ),
            (
                &["SINTERCARD", "1", "{a}1", "LIMIT", "-1"],
                Resp::err("ERR LIMIT can't be negative"),
            ),
            (
                &["SINTERCARD", "1", "{a}1", "LIMIT", "x"],
                Resp::err("ERR LIMIT can't be negative"),
            ),
            (
                &["SINTERCARD", "1", "{a}1", "LIMIT"],
                Resp::err("ERR syntax error"),
            ),
            (
                &["SINTERCARD", "1", "{a}1", "FOO", "1"],
                Resp::err("ERR syntax error"),
            ),
            // SMOVE across shards, in Redis's order of checks.
            (&["SMOVE", "{a}1", "{b}1", "a"], Int(1)),
            (&["SISMEMBER", "{a}1", "a"], Int(0)),
            (&["SISMEMBER", "{b}1", "a"], Int(1)),
            (&["SMOVE", "{a}1", "{b}1", "c"], Int(1)),
            (&["SCARD", "{b}1"], Int(4)),
            (&["SMOVE", "{a}1", "{b}1", "zz"], Int(0)),
            (&["SMOVE", "{a}nokey", "{b}str", "x"], Int(0)),
            (&["SMOVE", "{a}1", "{b}str", "b"], Resp::err(WRONGTYPE)),
            (&["SISMEMBER", "{a}1", "b"], Int(1)),
            (&["SMOVE", "{a}str", "{b}1", "x"], Resp::err(WRONGTYPE)),
            (&["SMOVE", "{a}str", "{b}str", "x"], Resp::err(WRONGTYPE)),
            (&["SMOVE", "{a}1", "{b}new", "b"], Int(1)),
            (&["SMEMBERS", "{b}new"], arr(&["b"])),
            (&["SMOVE", "{a}1", "{b}new", "d"], Int(1)),
            (&["EXISTS", "{a}1"], Int(0)),
            // SMOVE on one shard.
            (&["SMOVE", "{a}2", "{a}4", "f"], Int(1)),
            (&["SMOVE", "{a}2", "{a}2", "d"], Int(1)),
            (&["SMOVE", "{a}2", "{a}2", "f"], Int(0)),
            (&["SMOVE", "{a}2", "{a}str", "d"], Resp::err(WRONGTYPE)),
            (&["SMOVE", "{a}nokey", "{a}str", "d"], Int(0)),
            (&["SMEMBERS", "{a}4"], arr(&["f"])),
        ],
    );
}

#[test]
fn spop_results_survive_a_restart() {
    let mut s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let all: Vec<String> = (0..200).map(|i| format!("m{i:03}")).collect();
    let mut args = vec!["SADD", "{a}s"];
    args.extend(all.iter().map(String::as_str));
    assert_eq!(r.cmd(&args), Int(200));
    for _ in 0..10 {
        assert_eq!(sorted(r.cmd(&["SPOP", "{a}s", "7"])).len(), 7);
        assert!(matches!(r.cmd(&["SPOP", "{a}s"]), Bulk(Some(_))));
    }
    assert_eq!(r.cmd(&["SUNIONSTORE", "{b}copy", "{a}s"]), Int(120));
    let before = members(&mut r, "{a}s");
    assert_eq!(before.len(), 120);
    drop(r);
    s.restart();
    let mut r = s.raw();
    assert_eq!(members(&mut r, "{a}s"), before);
    assert_eq!(members(&mut r, "{b}copy"), before);
}

/// SADD / HSET / ZADD count only new members, whether the collection was
/// created by this process (the shard then knows its fields without asking
/// RocksDB), deleted and created again, or is read back after a restart
/// (when it does not).
#[test]
fn adds_count_new_members_across_recreate_and_restart() {
    let mut s = Server::start(&[]);
    let mut r = s.raw();
    let adds: &[(&[&str], &[&str])] = &[
        (&["SADD", "s"], &["a", "b"]),
        (&["HSET", "h"], &["a", "1", "b", "2"]),
        (&["ZADD", "z"], &["1", "a", "2", "b"]),
    ];
    let add = |r: &mut Raw, head: &[&str], tail: &[&str]| r.cmd(&[head, tail].concat());
    for (head, tail) in adds {
        assert_eq!(add(&mut r, head, tail), Int(2), "{head:?} on a new key");
        assert_eq!(add(&mut r, head, tail), Int(0), "{head:?} again");
    }
    assert_eq!(r.cmd(&["DEL", "s", "h", "z"]), Int(3));
    for (head, tail) in adds {
        assert_eq!(add(&mut r, head, tail), Int(2), "{head:?} after DEL");
    }
    assert_eq!(r.cmd(&["SREM", "s", "a"]), Int(1));
    assert_eq!(r.cmd(&["SADD", "s", "a", "c"]), Int(2));
    drop(r);
    s.restart();
    let mut r = s.raw();
    for (head, tail) in adds {
        assert_eq!(add(&mut r, head, tail), Int(0), "{head:?} after restart");
    }
    assert_eq!(r.cmd(&["SADD", "s", "c", "d"]), Int(1));
    assert_eq!(r.cmd(&["SCARD", "s"]), Int(4));
    assert_eq!(r.cmd(&["HLEN", "h"]), Int(2));
    assert_eq!(r.cmd(&["ZCARD", "z"]), Int(2));
}
