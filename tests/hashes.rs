//! Hash commands on the real server, WRONGTYPE across types, and hashes
//! moved by RENAME within and across shards.

mod common;

use common::Resp;
use common::Resp::*;
use common::Server;

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

fn arr(items: &[&str]) -> Resp {
    Array(Some(items.iter().map(|s| b(s)).collect()))
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn hash_commands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let cases: &[(&[&str], Resp)] = &[
        (&["HSET", "h", "a", "1", "b", "2"], Int(2)),
        (&["HSET", "h", "a", "10", "c", "3"], Int(1)),
        (&["HGET", "h", "a"], b("10")),
        (&["HGET", "h", "zz"], Bulk(None)),
        (&["HGET", "nokey", "a"], Bulk(None)),
        (
            &["HMGET", "h", "a", "zz", "c"],
            Array(Some(vec![b("10"), Bulk(None), b("3")])),
        ),
        (&["HLEN", "h"], Int(3)),
        (&["HEXISTS", "h", "b"], Int(1)),
        (&["HEXISTS", "h", "zz"], Int(0)),
        (&["HSETNX", "h", "a", "x"], Int(0)),
        (&["HSETNX", "h", "d", "4"], Int(1)),
        (&["HMSET", "h", "e", "5"], Simple("OK".into())),
        (
            &["HGETALL", "h"],
            arr(&["a", "10", "b", "2", "c", "3", "d", "4", "e", "5"]),
        ),
        (&["HKEYS", "h"], arr(&["a", "b", "c", "d", "e"])),
        (&["HVALS", "h"], arr(&["10", "2", "3", "4", "5"])),
        (&["HSTRLEN", "h", "a"], Int(2)),
        (&["HINCRBY", "h", "a", "5"], Int(15)),
        (&["HINCRBY", "h", "new", "-3"], Int(-3)),
        (&["HINCRBYFLOAT", "h", "f", "1.5"], b("1.5")),
        (&["HINCRBYFLOAT", "h", "f", "0.25"], b("1.75")),
        (&["HSET", "h", "s", "abc"], Int(1)),
        (
            &["HINCRBY", "h", "s", "1"],
            Resp::err("ERR hash value is not an integer"),
        ),
        (
            &["HINCRBYFLOAT", "h", "s", "1"],
            Resp::err("ERR hash value is not a float"),
        ),
        (
            &["HINCRBY", "h", "a", "x"],
            Resp::err("ERR value is not an integer or out of range"),
        ),
        (&["HDEL", "h", "a", "b", "zz"], Int(2)),
        (&["HLEN", "h"], Int(6)),
        (
            &["HSET", "h", "odd"],
            Resp::err("ERR wrong number of arguments for 'hset' command"),
        ),
        (
            &["HSET", "h", "odd", "v", "x"],
            Resp::err("ERR wrong number of arguments for 'hset' command"),
        ),
        (&["TYPE", "h"], Simple("hash".into())),
        (&["GET", "h"], Resp::err(WRONGTYPE)),
        (&["INCR", "h"], Resp::err(WRONGTYPE)),
        (&["SET", "str", "v"], Simple("OK".into())),
        (&["HSET", "str", "a", "1"], Resp::err(WRONGTYPE)),
        (&["HGET", "str", "a"], Resp::err(WRONGTYPE)),
        (&["MGET", "h", "str"], Array(Some(vec![Bulk(None), b("v")]))),
        (&["HDEL", "h", "c", "d", "e", "new", "f", "s", "zz"], Int(6)),
        (&["EXISTS", "h"], Int(0)),
        (&["HSET", "h", "x", "1"], Int(1)),
        (&["HGETALL", "h"], arr(&["x", "1"])),
        (&["EXPIRE", "h", "100"], Int(1)),
        (&["TTL", "h"], Int(100)),
        (&["SET", "h", "plain"], Simple("OK".into())),
        (&["GET", "h"], b("plain")),
    ];
    for (cmd, want) in cases {
        assert_eq!(&r.cmd(cmd), want, "command {cmd:?}");
    }
}

#[test]
fn rename_moves_hashes_across_shards_and_survives_restart() {
    let mut s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    // "a" lives on shard 1, "b" and "c" on shard 0 (hash slots 15495, 3300, 7365).
    let mut args = vec!["HSET", "a"];
    let fields: Vec<String> = (0..100).map(|i| format!("f{i:03}")).collect();
    for f in &fields {
        args.push(f);
        args.push(f);
    }
    assert_eq!(r.cmd(&args), Int(100));
    assert_eq!(r.cmd(&["RENAME", "a", "b"]), Simple("OK".into()));
    assert_eq!(r.cmd(&["EXISTS", "a"]), Int(0));
    assert_eq!(r.cmd(&["HLEN", "b"]), Int(100));
    assert_eq!(r.cmd(&["HGET", "b", "f042"]), b("f042"));
    assert_eq!(r.cmd(&["RENAME", "b", "c"]), Simple("OK".into()));
    assert_eq!(r.cmd(&["HLEN", "c"]), Int(100));
    drop(r);
    s.restart();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["HLEN", "c"]), Int(100));
    assert_eq!(r.cmd(&["HGET", "c", "f099"]), b("f099"));
    assert_eq!(r.cmd(&["DBSIZE"]), Int(1));
    assert_eq!(r.cmd(&["FLUSHALL"]), Simple("OK".into()));
    assert_eq!(r.cmd(&["HLEN", "c"]), Int(0));
}

#[test]
fn hscan_and_hrandfield() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["HSET", "h", "a1", "1", "a2", "2", "b1", "3"]),
        Int(3)
    );
    assert_eq!(
        r.cmd(&["HSCAN", "h", "0"]),
        Array(Some(vec![b("0"), arr(&["a1", "1", "a2", "2", "b1", "3"])]))
    );
    assert_eq!(
        r.cmd(&["HSCAN", "h", "0", "MATCH", "a*", "COUNT", "10"]),
        Array(Some(vec![b("0"), arr(&["a1", "1", "a2", "2"])]))
    );
    assert_eq!(
        r.cmd(&["HSCAN", "nokey", "0"]),
        Array(Some(vec![b("0"), arr(&[])]))
    );
    assert_eq!(r.cmd(&["HSCAN", "h", "x"]), Resp::err("ERR invalid cursor"));
    assert_eq!(
        r.cmd(&["HSCAN", "h", "0", "COUNT", "0"]),
        Resp::err("ERR syntax error")
    );

    let Bulk(Some(f)) = r.cmd(&["HRANDFIELD", "h"]) else {
        panic!()
    };
    assert!(["a1", "a2", "b1"].contains(&String::from_utf8(f).unwrap().as_str()));
    assert_eq!(r.cmd(&["HRANDFIELD", "nokey"]), Bulk(None));
    let Array(Some(distinct)) = r.cmd(&["HRANDFIELD", "h", "10"]) else {
        panic!()
    };
    assert_eq!(distinct.len(), 3);
    let Array(Some(repeated)) = r.cmd(&["HRANDFIELD", "h", "-7"]) else {
        panic!()
    };
    assert_eq!(repeated.len(), 7);
    let Array(Some(with)) = r.cmd(&["HRANDFIELD", "h", "2", "WITHVALUES"]) else {
        panic!()
    };
    assert_eq!(with.len(), 4);
    assert_eq!(r.cmd(&["HRANDFIELD", "h", "0"]), arr(&[]));
    assert_eq!(
        r.cmd(&["HRANDFIELD", "h", "1", "BOGUS"]),
        Resp::err("ERR syntax error")
    );
    assert_eq!(
        r.cmd(&["HRANDFIELD", "h", "-99999999999"]),
        Resp::err("ERR value is out of range")
    );
    assert_eq!(r.cmd(&["SET", "str", "v"]), Simple("OK".into()));
    assert_eq!(r.cmd(&["HRANDFIELD", "str"]), Resp::err(WRONGTYPE));
}

/// HRANDFIELD on a hash too big to read whole per call samples it (the
/// shard descends the field bytes): the picks are real fields with their
/// own values, distinct for a positive count, |count| for a negative one.
#[test]
fn hrandfield_on_a_big_hash() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let n = 6000;
    let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
    for i in 0..n {
        args.push(format!("f{i:05}"));
        args.push(format!("v{i:05}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(r.cmd(&refs), Int(n));
    let value_of = |f: &[u8]| format!("v{}", &String::from_utf8_lossy(f)[1..]).into_bytes();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let Array(Some(flat)) = r.cmd(&["HRANDFIELD", "big", "5", "WITHVALUES"]) else {
            panic!()
        };
        assert_eq!(flat.len(), 10);
        let mut fields = std::collections::BTreeSet::new();
        for pair in flat.chunks(2) {
            let (Bulk(Some(f)), Bulk(Some(v))) = (&pair[0], &pair[1]) else {
                panic!("{pair:?}")
            };
            assert_eq!(v, &value_of(f), "a field came with another's value");
            fields.insert(f.clone());
        }
        assert_eq!(fields.len(), 5, "a positive count repeated a field");
        seen.extend(fields);
    }
    assert!(seen.len() > 25, "picks cluster on {} fields", seen.len());
    let Array(Some(drawn)) = r.cmd(&["HRANDFIELD", "big", "-40"]) else {
        panic!()
    };
    assert_eq!(drawn.len(), 40);
    assert!(
        drawn
            .iter()
            .all(|f| matches!(f, Bulk(Some(f)) if f.starts_with(b"f")))
    );
}
