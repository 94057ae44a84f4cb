//! Key commands: existence, expiry (lazy and active), iteration, RENAME
//! within and across shards, flushing.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Resp;
use common::Resp::*;
use common::Server;
use common::wait_until;

fn ok() -> Resp {
    Simple("OK".into())
}

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

fn run(raw: &mut common::Raw, cases: &[(&[&str], Resp)]) {
    for (cmd, want) in cases {
        assert_eq!(&raw.cmd(cmd), want, "command {cmd:?}");
    }
}

#[test]
fn del_exists_touch_type() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["MSET", "a", "1", "b", "2", "c", "3"], ok()),
            (&["EXISTS", "a", "b", "zz", "a"], Int(3)),
            (&["TOUCH", "a", "zz"], Int(1)),
            (&["TYPE", "a"], Simple("string".into())),
            (&["TYPE", "zz"], Simple("none".into())),
            (&["DEL", "a", "zz"], Int(1)),
            (&["UNLINK", "b", "c"], Int(2)),
            (&["DBSIZE"], Int(0)),
            (
                &["DEL"],
                Resp::err("ERR wrong number of arguments for 'del' command"),
            ),
        ],
    );
}

#[test]
fn expire_family_and_conditions() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    run(
        &mut r,
        &[
            (&["SET", "k", "v"], ok()),
            (&["EXPIRE", "k", "100"], Int(1)),
            (&["TTL", "k"], Int(100)),
            (&["EXPIRE", "k", "50", "GT"], Int(0)),
            (&["EXPIRE", "k", "200", "GT"], Int(1)),
            (&["EXPIRE", "k", "300", "LT"], Int(0)),
            (&["EXPIRE", "k", "30", "LT"], Int(1)),
            (&["TTL", "k"], Int(30)),
            (&["EXPIRE", "k", "10", "NX"], Int(0)),
            (&["EXPIRE", "k", "10", "XX"], Int(1)),
            (&["PERSIST", "k"], Int(1)),
            (&["PERSIST", "k"], Int(0)),
            (&["TTL", "k"], Int(-1)),
            (&["EXPIRE", "k", "10", "XX"], Int(0)),
            (&["EXPIRE", "k", "10", "GT"], Int(0)),
            (&["EXPIRE", "k", "10", "XX", "LT"], Int(0)),
            (&["EXPIRE", "k", "10", "LT"], Int(1)),
            (
                &["EXPIRE", "k", "10", "NX", "XX"],
                Resp::err("ERR NX and XX, GT or LT options at the same time are not compatible"),
            ),
            (
                &["EXPIRE", "k", "10", "GT", "LT"],
                Resp::err("ERR GT and LT options at the same time are not compatible"),
            ),
            (
                &["EXPIRE", "k", "10", "FOO"],
                Resp::err("ERR Unsupported option FOO"),
            ),
            (
                &["EXPIRE", "k", "abc"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (
                &["EXPIRE", "k", "9223372036854775807"],
                Resp::err("ERR invalid expire time in 'expire' command"),
            ),
            (&["PEXPIRE", "k", "100000"], Int(1)),
            (&["EXPIREAT", "k", "99999999999"], Int(1)),
            (&["EXPIRETIME", "k"], Int(99999999999)),
            (&["PEXPIREAT", "k", "99999999999000"], Int(1)),
            (&["PEXPIRETIME", "k"], Int(99999999999000)),
            (&["TTL", "missing"], Int(-2)),
            (&["PTTL", "missing"], Int(-2)),
            (&["EXPIRETIME", "missing"], Int(-2)),
            (&["EXPIRE", "missing", "10"], Int(0)),
            (&["EXPIRE", "k", "-1"], Int(1)),
            (&["EXISTS", "k"], Int(0)),
        ],
    );
}

#[test]
fn pttl_counts_down_in_milliseconds() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "k", "v", "PX", "100000"]), ok());
    let Int(ms) = r.cmd(&["PTTL", "k"]) else {
        panic!()
    };
    assert!((99_000..=100_000).contains(&ms), "{ms}");
}

#[test]
fn lazy_and_active_expiry() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "short", "v", "PX", "100"]), ok());
    for i in 0..200 {
        assert_eq!(
            r.cmd(&["SET", &format!("bulk:{i}"), "v", "PX", "100"]),
            ok()
        );
    }
    assert_eq!(r.cmd(&["SET", "keep", "v"]), ok());
    // Lazy: a read after the deadline sees nothing, whatever is on disk.
    wait_until("short to expire", Duration::from_secs(5), || {
        r.cmd(&["GET", "short"]) == Bulk(None)
    });
    // Active: the records are removed without being touched, so DBSIZE drops.
    wait_until("active expiry", Duration::from_secs(10), || {
        r.cmd(&["DBSIZE"]) == Int(1)
    });
    assert_eq!(r.cmd(&["KEYS", "*"]), Array(Some(vec![b("keep")])));
    let info = s.cli(&["info", "stats"]);
    assert!(info.contains("expired_keys:201"), "{info}");
}

#[test]
fn keys_scan_randomkey() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut want = BTreeSet::new();
    for i in 0..300 {
        let k = format!("user:{i}");
        assert_eq!(r.cmd(&["SET", &k, "x"]), ok());
        want.insert(k);
    }
    assert_eq!(r.cmd(&["SET", "other", "x"]), ok());
    let Array(Some(ks)) = r.cmd(&["KEYS", "user:*"]) else {
        panic!()
    };
    let got: BTreeSet<String> = ks
        .into_iter()
        .map(|k| match k {
            Bulk(Some(v)) => String::from_utf8(v).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, want);
    let Array(Some(ks)) = r.cmd(&["KEYS", "user:1?"]) else {
        panic!()
    };
    assert_eq!(ks.len(), 10);

    // SCAN visits every key exactly as a full iteration must.
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let Array(Some(reply)) = r.cmd(&["SCAN", &cursor, "MATCH", "user:*", "COUNT", "25"]) else {
            panic!()
        };
        let (Bulk(Some(next)), Array(Some(batch))) = (&reply[0], &reply[1]) else {
            panic!("{reply:?}")
        };
        for k in batch {
            if let Bulk(Some(v)) = k {
                seen.insert(String::from_utf8(v.clone()).unwrap());
            }
        }
        cursor = String::from_utf8(next.clone()).unwrap();
        rounds += 1;
        assert!(rounds < 1000, "SCAN does not terminate");
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen, want);
    let Array(Some(reply)) = r.cmd(&["SCAN", "0", "TYPE", "string", "COUNT", "1000"]) else {
        panic!()
    };
    assert!(matches!(&reply[1], Array(Some(v)) if !v.is_empty()));
    assert_eq!(r.cmd(&["SCAN", "abc"]), Resp::err("ERR invalid cursor"));
    assert_eq!(
        r.cmd(&["SCAN", "0", "COUNT", "0"]),
        Resp::err("ERR syntax error")
    );
    assert_eq!(
        r.cmd(&["SCAN", "0", "MATCH"]),
        Resp::err("ERR syntax error")
    );
    let Bulk(Some(k)) = r.cmd(&["RANDOMKEY"]) else {
        panic!()
    };
    let k = String::from_utf8(k).unwrap();
    assert!(want.contains(&k) || k == "other");
    assert_eq!(r.cmd(&["FLUSHALL"]), ok());
    assert_eq!(r.cmd(&["RANDOMKEY"]), Bulk(None));
    assert_eq!(r.cmd(&["DBSIZE"]), Int(0));
    assert_eq!(r.cmd(&["FLUSHDB", "ASYNC"]), ok());
    assert_eq!(r.cmd(&["FLUSHDB", "BOGUS"]), Resp::err("ERR syntax error"));
}

/// Finds two keys that live on different shards and two on the same one,
/// using CLUSTER-style hash tags to force co-location.
#[test]
fn rename_within_and_across_shards() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    // Slot of "a" is 15495 (shard 1 of 2), of "b" 3300 (shard 0).
    run(
        &mut r,
        &[
            (&["SET", "a", "va", "EX", "100"], ok()),
            (&["RENAME", "a", "b"], ok()),
            (&["GET", "b"], b("va")),
            (&["TTL", "b"], Int(100)),
            (&["EXISTS", "a"], Int(0)),
            (&["RENAME", "a", "b"], Resp::err("ERR no such key")),
            (&["SET", "{t}x", "1"], ok()),
            (&["SET", "{t}y", "2"], ok()),
            (&["RENAME", "{t}x", "{t}y"], ok()),
            (&["GET", "{t}y"], b("1")),
            (&["RENAMENX", "{t}y", "{t}y"], Int(0)),
            (&["RENAME", "{t}y", "{t}y"], ok()),
            (&["SET", "a", "1"], ok()),
            (&["RENAMENX", "a", "b"], Int(0)),
            (&["GET", "a"], b("1")),
            (&["RENAMENX", "a", "c"], Int(1)),
            (&["GET", "c"], b("1")),
            (&["RENAMENX", "nope", "c"], Resp::err("ERR no such key")),
            (&["DBSIZE"], Int(3)),
        ],
    );
}
