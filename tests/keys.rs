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

/// DUMP then RESTORE (same shard, another shard, after a restart) gives
/// back the same value of every type; the payload's checksum catches
/// damage, and the options follow Redis.
#[test]
fn dump_and_restore_every_type() {
    let mut s = Server::start(&["--shards", "2"]);
    let mut c = s.conn();
    let q = |c: &mut redis::Connection, args: &[&[u8]]| -> redis::RedisResult<redis::Value> {
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(c)
    };
    let setup: &[&[&[u8]]] = &[
        &[b"SET", b"s", b"bin\x00\xffary"],
        &[b"HSET", b"h", b"f1", b"v1", b"f2", b"v2"],
        &[b"RPUSH", b"l", b"a", b"b", b"c"],
        &[b"SADD", b"st", b"x", b"y"],
        &[b"ZADD", b"z", b"1.5", b"m1", b"-inf", b"m2"],
    ];
    for cmd in setup {
        q(&mut c, cmd).unwrap();
    }
    let reads: &[(&str, &[&str])] = &[
        ("s", &["GET"]),
        ("h", &["HGETALL"]),
        ("l", &["LRANGE", "0", "-1"]),
        ("st", &["SMEMBERS"]),
        ("z", &["ZRANGE", "0", "-1", "WITHSCORES"]),
    ];
    let read = |c: &mut redis::Connection, key: &str, how: &[&str]| -> redis::Value {
        let mut cmd = redis::cmd(how[0]);
        cmd.arg(key).arg(&how[1..]);
        let v: redis::Value = cmd.query(c).unwrap();
        // Set members come in any order.
        match v {
            redis::Value::Array(mut items) | redis::Value::Set(mut items) => {
                if how[0] == "SMEMBERS" {
                    items.sort_by_key(|i| format!("{i:?}"));
                }
                redis::Value::Array(items)
            }
            v => v,
        }
    };
    let mut payloads = Vec::new();
    for (key, how) in reads {
        let payload: Vec<u8> = redis::cmd("DUMP").arg(*key).query(&mut c).unwrap();
        let want = read(&mut c, key, how);
        // Copies under keys on both shards ("{a}..." and "{b}...").
        for prefix in ["{a}", "{b}"] {
            let copy = format!("{prefix}{key}");
            let r: String = redis::cmd("RESTORE")
                .arg(&copy)
                .arg(0)
                .arg(&payload)
                .query(&mut c)
                .unwrap();
            assert_eq!(r, "OK");
            assert_eq!(read(&mut c, &copy, how), want, "restored {copy}");
            let ttl: i64 = redis::cmd("TTL").arg(&copy).query(&mut c).unwrap();
            assert_eq!(ttl, -1);
        }
        payloads.push((key.to_string(), payload, want));
    }
    let none: Option<Vec<u8>> = redis::cmd("DUMP").arg("missing").query(&mut c).unwrap();
    assert_eq!(none, None);
    let (_, payload, _) = &payloads[1];
    let e = redis::cmd("RESTORE")
        .arg("{a}h")
        .arg(0)
        .arg(payload)
        .query::<String>(&mut c)
        .unwrap_err();
    assert_eq!(e.code(), Some("BUSYKEY"));
    let r: String = redis::cmd("RESTORE")
        .arg("{a}h")
        .arg(5000)
        .arg(payload)
        .arg("REPLACE")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, "OK");
    let pttl: i64 = redis::cmd("PTTL").arg("{a}h").query(&mut c).unwrap();
    assert!(pttl > 0 && pttl <= 5000, "{pttl}");
    // ABSTTL in the past: nothing is created, an existing key is replaced by nothing.
    let r: String = redis::cmd("RESTORE")
        .arg("{a}h")
        .arg(1)
        .arg(payload)
        .arg("REPLACE")
        .arg("ABSTTL")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, "OK");
    let n: i64 = redis::cmd("EXISTS").arg("{a}h").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let mut bad = payload.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    for (args, text) in [
        (
            vec![b"x".to_vec(), b"0".to_vec(), bad],
            "DUMP payload version or checksum are wrong",
        ),
        (
            vec![b"x".to_vec(), b"-1".to_vec(), payload.clone()],
            "Invalid TTL value, must be >= 0",
        ),
        (
            vec![
                b"x".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"IDLETIME".to_vec(),
                b"-5".to_vec(),
            ],
            "Invalid IDLETIME value, must be >= 0",
        ),
        (
            vec![
                b"x".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"FREQ".to_vec(),
                b"256".to_vec(),
            ],
            "Invalid FREQ value, must be >= 0 and <= 255",
        ),
        (
            vec![
                b"x".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"NOPE".to_vec(),
            ],
            "syntax error",
        ),
    ] {
        let e = redis::cmd("RESTORE")
            .arg(args)
            .query::<String>(&mut c)
            .unwrap_err();
        assert!(e.to_string().contains(text), "{e} should say {text}");
    }
    drop(c);
    // Payloads stay valid across a restart (they carry no version numbers
    // of the running process).
    s.restart();
    let mut c = s.conn();
    for ((key, payload, want), (_, how)) in payloads.iter().zip(reads) {
        let copy = format!("after-restart-{key}");
        let r: String = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(payload)
            .query(&mut c)
            .unwrap();
        assert_eq!(r, "OK");
        assert_eq!(&read(&mut c, &copy, how), want);
    }
}

/// CONFIG SET maxmemory below what the process uses refuses commands that
/// may grow memory with Redis's -OOM, in and out of MULTI; reads and
/// deletes still run; 0 lifts the limit.
#[test]
fn maxmemory_refuses_denyoom_commands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let oom = Resp::err("OOM command not allowed when used memory > 'maxmemory'.");
    run(
        &mut r,
        &[
            (&["SET", "k", "v"], ok()),
            (&["CONFIG", "SET", "maxmemory", "1"], ok()),
        ],
    );
    run(
        &mut r,
        &[
            (
                &["CONFIG", "GET", "maxmemory"],
                Array(Some(vec![b("maxmemory"), b("1")])),
            ),
            (&["SET", "x", "1"], oom.clone()),
            (&["RPUSH", "l", "a"], oom.clone()),
            (&["GET", "k"], b("v")),
            (&["DEL", "k"], Int(1)),
            // Queued while over the limit: the transaction is aborted.
            (&["MULTI"], ok()),
            (&["SET", "x", "1"], oom.clone()),
            (&["GET", "x"], Simple("QUEUED".into())),
            (
                &["EXEC"],
                Resp::err("EXECABORT Transaction discarded because of previous errors."),
            ),
            (&["CONFIG", "SET", "maxmemory", "0"], ok()),
            (&["SET", "x", "1"], ok()),
        ],
    );
    // Queued under the limit, executed over it (another client lowered it).
    let mut other = s.raw();
    run(
        &mut r,
        &[
            (&["MULTI"], ok()),
            (&["SET", "y", "1"], Simple("QUEUED".into())),
        ],
    );
    run(&mut other, &[(&["CONFIG", "SET", "maxmemory", "1"], ok())]);
    run(
        &mut r,
        &[
            (
                &["EXEC"],
                Resp::err(
                    "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.",
                ),
            ),
            (&["EXISTS", "y"], Int(0)),
            // Read-only transactions still run.
            (&["MULTI"], ok()),
            (&["GET", "x"], Simple("QUEUED".into())),
            (&["EXEC"], Array(Some(vec![b("1")]))),
            (&["CONFIG", "SET", "maxmemory", "1gb"], ok()),
            (
                &["CONFIG", "GET", "maxmemory"],
                Array(Some(vec![b("maxmemory"), b("1073741824")])),
            ),
            (&["SET", "y", "2"], ok()),
            (
                &["CONFIG", "SET", "maxmemory", "lots"],
                Resp::err(
                    "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
                ),
            ),
        ],
    );
}
