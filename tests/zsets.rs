//! Sorted set commands on the real server with two shards: every command,
//! Redis 7.0's error texts and score formatting, WRONGTYPE, and multi-key
//! commands within one shard and across shards.
//!
//! Key placement with `--shards 2` (hash slot < 8192 is shard 0): "b",
//! "c", "z", "z1", "str" on shard 0; "a", "z2", "dst", "out", "src" on
//! shard 1. Keys with the tag "{t}" share a shard.

mod common;

use std::io::Read;
use std::io::Write;

use common::Resp;
use common::Resp::*;
use common::Server;

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

fn arr(items: &[&str]) -> Resp {
    Array(Some(items.iter().map(|s| b(s)).collect()))
}

fn ok() -> Resp {
    Simple("OK".into())
}

fn err(s: &str) -> Resp {
    Resp::err(s)
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";

fn check(r: &mut common::Raw, cases: &[(&[&str], Resp)]) {
    for (cmd, want) in cases {
        assert_eq!(&r.cmd(cmd), want, "command {cmd:?}");
    }
}

#[test]
fn add_score_and_single_key_commands() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (&["ZADD", "z", "1.5", "a", "2", "b", "3", "c"], Int(3)),
            (&["ZADD", "z", "10", "a", "4", "d"], Int(1)),
            (&["ZSCORE", "z", "a"], b("10")),
            (&["ZADD", "z", "1.5", "a"], Int(0)),
            (&["ZSCORE", "z", "a"], b("1.5")),
            (&["ZSCORE", "z", "nope"], Bulk(None)),
            (&["ZSCORE", "nokey", "a"], Bulk(None)),
            (
                &["ZMSCORE", "z", "a", "nope", "d"],
                Array(Some(vec![b("1.5"), Bulk(None), b("4")])),
            ),
            (&["ZMSCORE", "nokey", "a"], Array(Some(vec![Bulk(None)]))),
            (&["ZCARD", "z"], Int(4)),
            (&["ZCARD", "nokey"], Int(0)),
            // Options.
            (&["ZADD", "z", "NX", "100", "a", "5", "e"], Int(1)),
            (&["ZADD", "z", "XX", "CH", "7", "e", "1", "new"], Int(1)),
            (&["ZADD", "z", "GT", "CH", "1", "e", "8", "e"], Int(1)),
            (&["ZADD", "z", "LT", "CH", "9", "e"], Int(0)),
            (&["ZSCORE", "z", "e"], b("8")),
            (&["ZADD", "z", "INCR", "2", "e"], b("10")),
            (&["ZADD", "z", "NX", "INCR", "2", "e"], Bulk(None)),
            (&["ZADD", "z", "XX", "INCR", "2", "missing"], Bulk(None)),
            (&["ZADD", "z", "GT", "INCR", "-1", "e"], Bulk(None)),
            (&["ZADD", "nokey", "XX", "1", "a"], Int(0)),
            (&["EXISTS", "nokey"], Int(0)),
            (&["ZINCRBY", "z", "0.5", "a"], b("2")),
            (&["ZINCRBY", "z", "-2.5", "brand"], b("-2.5")),
            (&["ZINCRBY", "z", "inf", "a"], b("inf")),
            (
                &["ZINCRBY", "z", "-inf", "a"],
                err("ERR resulting score is not a number (NaN)"),
            ),
            (&["ZSCORE", "z", "a"], b("inf")),
            // Errors.
            (
                &["ZADD", "z", "NX", "XX", "1", "a"],
                err("ERR XX and NX options at the same time are not compatible"),
            ),
            (
                &["ZADD", "z", "GT", "LT", "1", "a"],
                err("ERR GT, LT, and/or NX options at the same time are not compatible"),
            ),
            (
                &["ZADD", "z", "NX", "GT", "1", "a"],
                err("ERR GT, LT, and/or NX options at the same time are not compatible"),
            ),
            (
                &["ZADD", "z", "INCR", "1", "a", "2", "b"],
                err("ERR INCR option supports a single increment-element pair"),
            ),
            (&["ZADD", "z", "1", "a", "2"], err(SYNTAX)),
            (
                &["ZADD", "z", "NX"],
                err("ERR wrong number of arguments for 'zadd' command"),
            ),
            (&["ZADD", "z", "NX", "CH", "1"], err(SYNTAX)),
            (&["ZADD", "z", "x", "a"], err(NOT_FLOAT)),
            (&["ZADD", "z", "nan", "a"], err(NOT_FLOAT)),
            (&["ZADD", "z", "1", "a", "y", "b"], err(NOT_FLOAT)),
            (&["ZINCRBY", "z", "abc", "a"], err(NOT_FLOAT)),
            (&["ZCARD", "z"], Int(6)),
            // ZREM deletes the key with its last member.
            (&["ZREM", "z", "a", "b", "zz"], Int(2)),
            (&["ZREM", "nokey", "a"], Int(0)),
            (&["ZREM", "z", "c", "d", "e", "new", "brand"], Int(4)),
            (&["EXISTS", "z"], Int(0)),
            // Types.
            (&["ZADD", "z", "1", "m"], Int(1)),
            (&["TYPE", "z"], Simple("zset".into())),
            (&["GET", "z"], err(WRONGTYPE)),
            (&["HSET", "z", "f", "v"], err(WRONGTYPE)),
            (&["SET", "str", "v"], ok()),
            (&["ZADD", "str", "1", "a"], err(WRONGTYPE)),
            (&["ZSCORE", "str", "a"], err(WRONGTYPE)),
            (&["ZCARD", "str"], err(WRONGTYPE)),
            (&["ZRANGE", "str", "0", "-1"], err(WRONGTYPE)),
            (&["ZINCRBY", "str", "1", "a"], err(WRONGTYPE)),
            (&["ZREM", "str", "a"], err(WRONGTYPE)),
            (&["ZMSCORE", "str", "a"], err(WRONGTYPE)),
            (&["ZPOPMIN", "str"], err(WRONGTYPE)),
            (&["ZRANK", "str", "a"], err(WRONGTYPE)),
            (&["ZRANDMEMBER", "str"], err(WRONGTYPE)),
            (&["ZSCAN", "str", "0"], err(WRONGTYPE)),
            (&["ZCOUNT", "str", "0", "1"], err(WRONGTYPE)),
            (&["ZREMRANGEBYRANK", "str", "0", "1"], err(WRONGTYPE)),
            (&["EXPIRE", "z", "100"], Int(1)),
            (&["TTL", "z"], Int(100)),
            (&["SET", "z", "plain"], ok()),
            (&["GET", "z"], b("plain")),
        ],
    );
}

#[test]
fn scores_format_like_redis_7_0() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (&["ZADD", "f", "1.5", "a"], Int(1)),
            (&["ZSCORE", "f", "a"], b("1.5")),
            (&["ZADD", "f", "0.1", "b"], Int(1)),
            (&["ZSCORE", "f", "b"], b("0.10000000000000001")),
            (&["ZADD", "f", "1e20", "c"], Int(1)),
            (&["ZSCORE", "f", "c"], b("1e+20")),
            (&["ZADD", "f", "+inf", "d", "-inf", "e"], Int(2)),
            (&["ZSCORE", "f", "d"], b("inf")),
            (&["ZSCORE", "f", "e"], b("-inf")),
            (&["ZADD", "f", "-0", "g", "5.0e3", "h", "-.5", "i"], Int(3)),
            (&["ZSCORE", "f", "g"], b("0")),
            (&["ZSCORE", "f", "h"], b("5000")),
            (&["ZSCORE", "f", "i"], b("-0.5")),
            (&["ZADD", "f", "1e400", "x"], err(NOT_FLOAT)),
            (&["ZADD", "f", " 1", "x"], err(NOT_FLOAT)),
            (
                &["ZRANGE", "f", "0", "-1", "WITHSCORES"],
                arr(&[
                    "e",
                    "-inf",
                    "i",
                    "-0.5",
                    "g",
                    "0",
                    "b",
                    "0.10000000000000001",
                    "a",
                    "1.5",
                    "h",
                    "5000",
                    "c",
                    "1e+20",
                    "d",
                    "inf",
                ]),
            ),
        ],
    );
}

#[test]
fn ranges_ranks_counts_and_pops() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (
                &[
                    "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
                ],
                Int(5),
            ),
            (&["ZRANGE", "z", "0", "-1"], arr(&["a", "b", "c", "d", "e"])),
            (
                &["ZRANGE", "z", "1", "2", "WITHSCORES"],
                arr(&["b", "2", "c", "3"]),
            ),
            (&["ZRANGE", "z", "-2", "100"], arr(&["d", "e"])),
            (&["ZRANGE", "z", "3", "1"], arr(&[])),
            (&["ZRANGE", "z", "0", "1", "REV"], arr(&["e", "d"])),
            (
                &["ZREVRANGE", "z", "0", "1", "WITHSCORES"],
                arr(&["e", "5", "d", "4"]),
            ),
            (&["ZRANGE", "z", "(1", "3", "BYSCORE"], arr(&["b", "c"])),
            (
                &["ZRANGE", "z", "4", "(2", "BYSCORE", "REV"],
                arr(&["d", "c"]),
            ),
            (
                &[
                    "ZRANGE",
                    "z",
                    "-inf",
                    "+inf",
                    "BYSCORE",
                    "LIMIT",
                    "1",
                    "2",
                    "WITHSCORES",
                ],
                arr(&["b", "2", "c", "3"]),
            ),
            (
                &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "2", "-1"],
                arr(&["c", "d", "e"]),
            ),
            (&["ZRANGE", "z", "[b", "(d", "BYLEX"], arr(&["b", "c"])),
            (
                &["ZRANGE", "z", "+", "[c", "BYLEX", "REV", "LIMIT", "0", "2"],
                arr(&["e", "d"]),
            ),
            (
                &["ZRANGEBYSCORE", "z", "2", "4", "LIMIT", "1", "5"],
                arr(&["c", "d"]),
            ),
            (
                &["ZRANGEBYSCORE", "z", "(4", "inf", "WITHSCORES"],
                arr(&["e", "5"]),
            ),
            (&["ZREVRANGEBYSCORE", "z", "+inf", "(3"], arr(&["e", "d"])),
            (&["ZRANGEBYLEX", "z", "-", "[b"], arr(&["a", "b"])),
            (
                &["ZREVRANGEBYLEX", "z", "[c", "-", "LIMIT", "1", "1"],
                arr(&["b"]),
            ),
            (&["ZRANGE", "nokey", "0", "-1"], arr(&[])),
            (&["ZCOUNT", "z", "(1", "3"], Int(2)),
            (&["ZCOUNT", "z", "-inf", "+inf"], Int(5)),
            (&["ZCOUNT", "z", "3", "2"], Int(0)),
            (&["ZLEXCOUNT", "z", "-", "+"], Int(5)),
            (&["ZLEXCOUNT", "z", "(a", "[c"], Int(2)),
            (&["ZRANK", "z", "c"], Int(2)),
            (&["ZREVRANK", "z", "c"], Int(2)),
            (&["ZREVRANK", "z", "a"], Int(4)),
            (&["ZRANK", "z", "nope"], Bulk(None)),
            (&["ZRANK", "nokey", "a"], Bulk(None)),
            // Range errors, as zrangeGenericCommand reports them.
            (
                &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
                err(
                    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
                ),
            ),
            (
                &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
                err("ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            ),
            (
                &["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
                err("ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            ),
            (
                &["ZRANGE", "z", "x", "1", "BYSCORE"],
                err("ERR min or max is not a float"),
            ),
            (
                &["ZRANGEBYSCORE", "z", "1", "(x"],
                err("ERR min or max is not a float"),
            ),
            (
                &["ZCOUNT", "z", "nan", "1"],
                err("ERR min or max is not a float"),
            ),
            (
                &["ZRANGE", "z", "a", "[b", "BYLEX"],
                err("ERR min or max not valid string range item"),
            ),
            (
                &["ZLEXCOUNT", "z", "-", "+x"],
                err("ERR min or max not valid string range item"),
            ),
            (&["ZRANGE", "z", "a", "1"], err(NOT_INT)),
            (
                &["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"],
                err(NOT_INT),
            ),
            (&["ZRANGE", "z", "0", "1", "LIMIT", "0"], err(SYNTAX)),
            (&["ZRANGE", "z", "0", "1", "FOO"], err(SYNTAX)),
            (&["ZRANGEBYSCORE", "z", "0", "1", "REV"], err(SYNTAX)),
            (&["ZREVRANGE", "z", "0", "1", "BYSCORE"], err(SYNTAX)),
            // Removing ranges.
            (&["ZREMRANGEBYRANK", "z", "0", "0"], Int(1)),
            (&["ZREMRANGEBYSCORE", "z", "(2", "3"], Int(1)),
            (&["ZREMRANGEBYLEX", "z", "[d", "[d"], Int(1)),
            (&["ZREMRANGEBYRANK", "z", "x", "1"], err(NOT_INT)),
            (
                &["ZREMRANGEBYSCORE", "z", "x", "1"],
                err("ERR min or max is not a float"),
            ),
            (
                &["ZREMRANGEBYLEX", "z", "x", "1"],
                err("ERR min or max not valid string range item"),
            ),
            (
                &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
                arr(&["b", "2", "e", "5"]),
            ),
            // Pops.
            (
                &["ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d"],
                Int(4),
            ),
            (&["ZPOPMIN", "p"], arr(&["a", "1"])),
            (&["ZPOPMAX", "p", "2"], arr(&["d", "4", "c", "3"])),
            (&["ZPOPMIN", "p", "0"], arr(&[])),
            (
                &["ZPOPMIN", "p", "-1"],
                err("ERR value is out of range, must be positive"),
            ),
            (
                &["ZPOPMIN", "p", "x"],
                err("ERR value is out of range, must be positive"),
            ),
            (&["ZPOPMIN", "p", "1", "2"], err(SYNTAX)),
            (&["ZPOPMIN", "p", "10"], arr(&["b", "2"])),
            (&["EXISTS", "p"], Int(0)),
            (&["ZPOPMAX", "p"], arr(&[])),
        ],
    );
}

#[test]
fn scan_and_randmember() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (&["ZADD", "z", "1", "one", "2", "two", "3", "three"], Int(3)),
            (
                &["ZSCAN", "z", "0"],
                Array(Some(vec![
                    b("0"),
                    arr(&["one", "1", "two", "2", "three", "3"]),
                ])),
            ),
            (
                &["ZSCAN", "z", "0", "MATCH", "t*", "COUNT", "100"],
                Array(Some(vec![b("0"), arr(&["two", "2", "three", "3"])])),
            ),
            (
                &["ZSCAN", "nokey", "0"],
                Array(Some(vec![b("0"), arr(&[])])),
            ),
            (&["ZSCAN", "z", "x"], err("ERR invalid cursor")),
            (&["ZSCAN", "z", "0", "COUNT", "0"], err(SYNTAX)),
            (&["ZSCAN", "z", "0", "MATCH"], err(SYNTAX)),
            (
                &["ZRANDMEMBER", "z", "5", "WITHSCORES"],
                arr(&["three", "3", "two", "2", "one", "1"]),
            ),
            (&["ZRANDMEMBER", "z", "0"], arr(&[])),
            (&["ZRANDMEMBER", "nokey"], Bulk(None)),
            (&["ZRANDMEMBER", "nokey", "3"], arr(&[])),
            (&["ZRANDMEMBER", "z", "1", "FOO"], err(SYNTAX)),
            (&["ZRANDMEMBER", "z", "x"], err(NOT_INT)),
            (
                &["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"],
                err("ERR value is out of range"),
            ),
        ],
    );
    let Bulk(Some(one)) = r.cmd(&["ZRANDMEMBER", "z"]) else {
        panic!("ZRANDMEMBER without count answers a member");
    };
    assert!([&b"one"[..], b"two", b"three"].contains(&one.as_slice()));
    let Array(Some(two)) = r.cmd(&["ZRANDMEMBER", "z", "2"]) else {
        panic!()
    };
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    let Array(Some(many)) = r.cmd(&["ZRANDMEMBER", "z", "-10", "WITHSCORES"]) else {
        panic!()
    };
    assert_eq!(many.len(), 20);
    for pair in many.chunks(2) {
        let want = match &pair[0] {
            Bulk(Some(m)) if m == b"one" => "1",
            Bulk(Some(m)) if m == b"two" => "2",
            Bulk(Some(m)) if m == b"three" => "3",
            other => panic!("unexpected member {other:?}"),
        };
        assert_eq!(pair[1], b(want));
    }
}

/// ZUNIONSTORE and friends with their inputs and destination on one shard
/// (hash tags) and spread over both shards give the same answers.
#[test]
fn union_inter_diff_within_and_across_shards() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    for (k1, k2, k3, dst) in [
        ("{t}1", "{t}2", "{t}3", "{t}d"),
        // z1 and b on shard 0, z2 and dst on shard 1.
        ("z1", "z2", "b", "dst"),
    ] {
        check(
            &mut r,
            &[
                (&["ZADD", k1, "1", "a", "2", "b", "3", "c"], Int(3)),
                (&["ZADD", k2, "10", "b", "20", "c", "30", "d"], Int(3)),
                (&["ZUNIONSTORE", dst, "2", k1, k2], Int(4)),
                (
                    &["ZRANGE", dst, "0", "-1", "WITHSCORES"],
                    arr(&["a", "1", "b", "12", "c", "23", "d", "30"]),
                ),
                (
                    &[
                        "ZUNIONSTORE",
                        dst,
                        "2",
                        k1,
                        k2,
                        "WEIGHTS",
                        "2",
                        "0.5",
                        "AGGREGATE",
                        "MAX",
                    ],
                    Int(4),
                ),
                (
                    &["ZRANGE", dst, "0", "-1", "WITHSCORES"],
                    arr(&["a", "2", "b", "5", "c", "10", "d", "15"]),
                ),
                (
                    &["ZINTERSTORE", dst, "2", k1, k2, "AGGREGATE", "MIN"],
                    Int(2),
                ),
                (
                    &["ZRANGE", dst, "0", "-1", "WITHSCORES"],
                    arr(&["b", "2", "c", "3"]),
                ),
                (&["ZDIFFSTORE", dst, "2", k1, k2], Int(1)),
                (&["ZRANGE", dst, "0", "-1", "WITHSCORES"], arr(&["a", "1"])),
                (&["ZINTERSTORE", dst, "2", k1, "{x}missing"], Int(0)),
                (&["EXISTS", dst], Int(0)),
                (&["ZUNION", "2", k1, k2], arr(&["a", "b", "c", "d"])),
                (
                    &["ZUNION", "3", k1, k2, k3, "WITHSCORES"],
                    arr(&["a", "1", "b", "12", "c", "23", "d", "30"]),
                ),
                (
                    &["ZINTER", "2", k1, k2, "WEIGHTS", "1", "-1", "WITHSCORES"],
                    arr(&["c", "-17", "b", "-8"]),
                ),
                (&["ZDIFF", "2", k2, k1, "WITHSCORES"], arr(&["d", "30"])),
                (&["ZINTERCARD", "2", k1, k2], Int(2)),
                (&["ZINTERCARD", "2", k1, k2, "LIMIT", "1"], Int(1)),
                // ZRANGESTORE within or across shards.
                (&["ZRANGESTORE", dst, k2, "(10", "+inf", "BYSCORE"], Int(2)),
                (
                    &["ZRANGE", dst, "0", "-1", "WITHSCORES"],
                    arr(&["c", "20", "d", "30"]),
                ),
                (&["ZRANGESTORE", dst, k1, "0", "0", "REV"], Int(1)),
                (&["ZRANGE", dst, "0", "-1", "WITHSCORES"], arr(&["c", "3"])),
                (&["ZRANGESTORE", dst, "{x}missing", "0", "-1"], Int(0)),
                (&["EXISTS", dst], Int(0)),
                // The destination is replaced whatever it held, TTL dropped.
                (&["SET", dst, "string"], ok()),
                (&["EXPIRE", dst, "100"], Int(1)),
                (&["ZUNIONSTORE", dst, "1", k1], Int(3)),
                (&["TTL", dst], Int(-1)),
                (&["TYPE", dst], Simple("zset".into())),
                // The destination may be one of the inputs.
                (&["ZUNIONSTORE", k1, "2", k1, k2], Int(4)),
                (&["ZSCORE", k1, "c"], b("23")),
                // Type errors win over option errors, as in Redis.
                (&["SET", k3, "string"], ok()),
                (&["ZUNIONSTORE", dst, "2", k1, k3], err(WRONGTYPE)),
                (
                    &["ZUNION", "2", k1, k3, "WEIGHTS", "x", "1"],
                    err(WRONGTYPE),
                ),
                (&["ZDIFF", "2", k3, k1], err(WRONGTYPE)),
                (&["DEL", k1, k2, k3, dst], Int(4)),
            ],
        );
    }
    check(
        &mut r,
        &[
            (&["ZADD", "z1", "1", "a"], Int(1)),
            (
                &["ZUNIONSTORE", "dst", "0", "z1"],
                err("ERR at least 1 input key is needed for 'zunionstore' command"),
            ),
            (
                &["ZINTER", "0", "z1"],
                err("ERR at least 1 input key is needed for 'zinter' command"),
            ),
            (
                &["ZDIFFSTORE", "dst", "-1", "z1"],
                err("ERR at least 1 input key is needed for 'zdiffstore' command"),
            ),
            (&["ZUNIONSTORE", "dst", "x", "z1"], err(NOT_INT)),
            (&["ZUNIONSTORE", "dst", "3", "z1", "z2"], err(SYNTAX)),
            (
                &["ZUNION", "2", "z1", "z2", "WEIGHTS", "1", "x"],
                err("ERR weight value is not a float"),
            ),
            (&["ZUNION", "2", "z1", "z2", "WEIGHTS", "1"], err(SYNTAX)),
            (
                &["ZUNION", "2", "z1", "z2", "AGGREGATE", "AVG"],
                err(SYNTAX),
            ),
            (
                &["ZUNIONSTORE", "dst", "2", "z1", "z2", "WITHSCORES"],
                err(SYNTAX),
            ),
            (
                &["ZDIFF", "2", "z1", "z2", "WEIGHTS", "1", "1"],
                err(SYNTAX),
            ),
            (
                &["ZINTERCARD", "2", "z1", "z2", "LIMIT", "-1"],
                err("ERR LIMIT can't be negative"),
            ),
            (&["ZINTERCARD", "1", "z1", "WITHSCORES"], err(SYNTAX)),
            (
                &["ZRANGESTORE", "dst", "z1", "0", "-1", "WITHSCORES"],
                err(SYNTAX),
            ),
            (&["ZUNION", "1", "z1", "WITHSCORES"], arr(&["a", "1"])),
        ],
    );
}

/// Sets are inputs of ZUNION and friends with score 1 (Redis accepts them).
/// Runs once the set family's SADD is in the command table.
#[test]
fn sets_are_inputs_with_score_one() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    if r.cmd(&["SADD", "b", "x", "y"]) != Int(2) {
        return;
    }
    check(
        &mut r,
        &[
            (&["ZADD", "a", "5", "x"], Int(1)),
            (
                &["ZUNION", "2", "a", "b", "WITHSCORES"],
                arr(&["y", "1", "x", "6"]),
            ),
            (&["ZINTERSTORE", "{b}d", "2", "b", "b"], Int(2)),
            (
                &["ZRANGE", "{b}d", "0", "-1", "WITHSCORES"],
                arr(&["x", "2", "y", "2"]),
            ),
            (&["ZRANGE", "b", "0", "-1"], err(WRONGTYPE)),
        ],
    );
}

/// RESP3 connections get doubles for scores and [member, score] pairs.
#[test]
fn resp3_scores_are_doubles() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["ZADD", "z", "1.5", "a", "inf", "b"]), Int(2));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    // Switch to RESP3 and skip HELLO's map: read up to PING's reply.
    let hello = [
        common::Raw::encode(&["HELLO", "3"]),
        common::Raw::encode(&["PING"]),
    ];
    stream.write_all(&hello.concat()).unwrap();
    let (mut seen, mut byte) = (Vec::new(), [0u8; 1]);
    while !seen.ends_with(b"+PONG\r\n") {
        stream.read_exact(&mut byte).unwrap();
        seen.push(byte[0]);
    }
    let mut send = |args: &[&str], want: &[u8]| {
        stream.write_all(&common::Raw::encode(args)).unwrap();
        let mut got = vec![0u8; want.len()];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "{args:?}"
        );
    };
    send(&["ZSCORE", "z", "a"], b",1.5\r\n");
    send(&["ZSCORE", "z", "b"], b",inf\r\n");
    send(&["ZSCORE", "z", "nope"], b"_\r\n");
    send(
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        b"*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,inf\r\n",
    );
    send(&["ZRANGE", "z", "0", "-1"], b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    send(&["ZINCRBY", "z", "1", "a"], b",2.5\r\n");
    send(&["ZPOPMIN", "z"], b"*2\r\n$1\r\na\r\n,2.5\r\n");
    send(&["ZPOPMIN", "z", "1"], b"*1\r\n*2\r\n$1\r\nb\r\n,inf\r\n");
}

/// A zset keeps its members and order through a cross-shard RENAME (both
/// kinds of sub-key move) and a restart.
#[test]
fn rename_across_shards_and_restart() {
    let mut s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let mut args = vec!["ZADD", "a"];
    let members: Vec<(String, String)> = (0..50)
        .map(|i| (format!("{}", 50 - i), format!("m{i:02}")))
        .collect();
    for (score, m) in &members {
        args.push(score);
        args.push(m);
    }
    assert_eq!(r.cmd(&args), Int(50));
    // "a" is on shard 1, "b" on shard 0.
    assert_eq!(r.cmd(&["RENAME", "a", "b"]), ok());
    assert_eq!(r.cmd(&["EXISTS", "a"]), Int(0));
    assert_eq!(r.cmd(&["ZCARD", "b"]), Int(50));
    assert_eq!(r.cmd(&["ZRANGE", "b", "0", "1"]), arr(&["m49", "m48"]));
    assert_eq!(r.cmd(&["ZSCORE", "b", "m00"]), b("50"));
    assert_eq!(r.cmd(&["ZRANK", "b", "m00"]), Int(49));
    drop(r);
    s.restart();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["ZCARD", "b"]), Int(50));
    assert_eq!(
        r.cmd(&["ZRANGEBYSCORE", "b", "(48", "+inf"]),
        arr(&["m01", "m00"])
    );
    assert_eq!(r.cmd(&["ZPOPMAX", "b"]), arr(&["m00", "50"]));
    assert_eq!(r.cmd(&["DEL", "b"]), Int(1));
    assert_eq!(r.cmd(&["ZADD", "b", "1", "fresh"]), Int(1));
    assert_eq!(r.cmd(&["ZRANGE", "b", "0", "-1"]), arr(&["fresh"]));
}

/// ZMPOP pops from the first key with members, on one shard or across both.
#[test]
fn zmpop_within_and_across_shards() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let nested = |key: &str, pairs: &[(&str, &str)]| {
        Array(Some(vec![
            b(key),
            Array(Some(pairs.iter().map(|(m, sc)| arr(&[m, sc])).collect())),
        ]))
    };
    check(
        &mut r,
        &[
            // z1 on shard 0; z2 and str... str on shard 0, z2 on shard 1.
            (&["ZADD", "z1", "1", "a", "2", "b", "3", "c"], Int(3)),
            (&["ZADD", "z2", "10", "x"], Int(1)),
            (&["SET", "str", "v"], ok()),
            (&["ZMPOP", "1", "nokey", "MIN"], Array(None)),
            (
                &["ZMPOP", "2", "nokey", "z2", "MIN"],
                nested("z2", &[("x", "10")]),
            ),
            (&["EXISTS", "z2"], Int(0)),
            (
                &["ZMPOP", "3", "z2", "nokey", "z1", "MAX", "COUNT", "2"],
                nested("z1", &[("c", "3"), ("b", "2")]),
            ),
            (&["ZMPOP", "2", "str", "z1", "MIN"], err(WRONGTYPE)),
            (
                &["ZMPOP", "2", "z1", "str", "MIN", "COUNT", "9"],
                nested("z1", &[("a", "1")]),
            ),
            (&["ZADD", "{t}b", "2", "b"], Int(1)),
            (
                &["ZMPOP", "2", "{t}a", "{t}b", "MIN"],
                nested("{t}b", &[("b", "2")]),
            ),
            (
                &["ZMPOP", "0", "z1", "MIN"],
                err("ERR numkeys should be greater than 0"),
            ),
            (&["ZMPOP", "2", "z1", "MIN"], err(SYNTAX)),
            (&["ZMPOP", "1", "z1", "FOO"], err(SYNTAX)),
            (
                &["ZMPOP", "1", "z1", "MIN", "COUNT", "0"],
                err("ERR count should be greater than 0"),
            ),
            (
                &["ZMPOP", "1", "z1", "MIN", "COUNT", "1", "COUNT", "1"],
                err(SYNTAX),
            ),
        ],
    );
}

/// BZPOPMIN/BZPOPMAX/BZMPOP: served at once when a key has members, woken
/// by a ZADD on another connection (across shards too), null on timeout.
#[test]
fn blocking_pops() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (&["ZADD", "z1", "1", "a", "2", "b"], Int(2)),
            (&["BZPOPMIN", "nokey", "z1", "0"], arr(&["z1", "a", "1"])),
            (&["BZPOPMAX", "z1", "0"], arr(&["z1", "b", "2"])),
            (&["BZPOPMIN", "nokey", "0.05"], Array(None)),
            (&["BZMPOP", "0.05", "2", "nokey", "z2", "MIN"], Array(None)),
            (&["SET", "str", "v"], ok()),
            (&["BZPOPMIN", "str", "0"], err(WRONGTYPE)),
            (
                &["BZPOPMIN", "nokey", "x"],
                err("ERR timeout is not a float or out of range"),
            ),
            (&["BZPOPMIN", "nokey", "-1"], err("ERR timeout is negative")),
            // Redis 7.0's cast of 2^63+ ms overflows to a negative timeout.
            (
                &["BZPOPMAX", "nokey", "inf"],
                err("ERR timeout is negative"),
            ),
            (
                &["BZMPOP", "0", "0", "z1", "MIN"],
                err("ERR numkeys should be greater than 0"),
            ),
            (&["BZMPOP", "0", "1", "z1", "FOO"], err(SYNTAX)),
        ],
    );
    // Blocked on z1 (shard 0) and z2 (shard 1); a ZADD to z2 wakes it.
    let mut blocked = s.raw();
    blocked.send(&common::Raw::encode(&[
        "BZMPOP", "5", "2", "z1", "z2", "MAX", "COUNT", "5",
    ]));
    common::wait_until(
        "a client blocked in BZMPOP",
        std::time::Duration::from_secs(10),
        || {
            let Bulk(Some(list)) = r.cmd(&["CLIENT", "LIST"]) else {
                return false;
            };
            String::from_utf8_lossy(&list).contains("cmd=bzmpop")
        },
    );
    assert_eq!(r.cmd(&["ZADD", "z2", "1", "x", "2", "y"]), Int(2));
    let nested = Array(Some(vec![
        b("z2"),
        Array(Some(vec![arr(&["y", "2"]), arr(&["x", "1"])])),
    ]));
    assert_eq!(blocked.read(), Some(nested));
    assert_eq!(r.cmd(&["EXISTS", "z2"]), Int(0));
}

/// ZRANDMEMBER on a zset too big to walk per call samples its members:
/// each pick is a real member with its own score.
#[test]
fn zrandmember_on_a_big_zset() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let n = 6000;
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..n {
        args.push(i.to_string());
        args.push(format!("m{i:05}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(r.cmd(&refs), Int(n));
    for count in ["4", "-9"] {
        let Array(Some(flat)) = r.cmd(&["ZRANDMEMBER", "big", count, "WITHSCORES"]) else {
            panic!()
        };
        let wanted: usize = count.trim_start_matches('-').parse().unwrap();
        assert_eq!(flat.len(), wanted * 2);
        let mut members = std::collections::BTreeSet::new();
        for pair in flat.chunks(2) {
            let (Bulk(Some(m)), Bulk(Some(score))) = (&pair[0], &pair[1]) else {
                panic!("{pair:?}")
            };
            let m = String::from_utf8(m.clone()).unwrap();
            let want: i64 = m[1..].parse().unwrap();
            assert_eq!(
                String::from_utf8_lossy(score),
                want.to_string(),
                "{m}'s score"
            );
            members.insert(m);
        }
        if count == "4" {
            assert_eq!(members.len(), 4, "a positive count repeated a member");
        }
    }
}
