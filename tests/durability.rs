//! Durability on the real binary: data survives restarts, a clean SIGTERM
//! and `kill -9`; under `--appendfsync always` no acknowledged write is lost.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::Raw;
use common::Resp;
use common::Resp::*;
use common::Server;
use common::wait_until;

#[test]
fn data_survives_clean_restart() {
    let mut s = Server::start(&["--appendfsync", "no"]);
    let mut r = s.raw();
    for i in 0..500 {
        assert_eq!(
            r.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]),
            Simple("OK".into())
        );
    }
    assert_eq!(
        r.cmd(&["SET", "ttl", "x", "EX", "1000"]),
        Simple("OK".into())
    );
    drop(r);
    assert_eq!(s.stop(), Some(0), "SIGTERM exits cleanly");
    s.restart();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["DBSIZE"]), Int(501));
    for i in 0..500 {
        assert_eq!(
            r.cmd(&["GET", &format!("k{i}")]),
            Resp::bulk(&format!("v{i}"))
        );
    }
    let Int(ttl) = r.cmd(&["TTL", "ttl"]) else {
        panic!()
    };
    assert!((990..=1000).contains(&ttl), "{ttl}");
}

#[test]
fn kill9_with_appendfsync_always_loses_no_acknowledged_write() {
    let mut s = Server::start(&["--appendfsync", "always"]);
    let acked: Arc<Mutex<HashMap<String, String>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, stop, port) = (acked.clone(), stop.clone(), s.port);
        writers.push(std::thread::spawn(move || {
            let Ok(mut r) = Raw::try_connect(port) else {
                return 0u64;
            };
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Pipelined: a plain SET and a same-slot MSET of three keys
                // (one shard, so one Raft entry: all or nothing).
                let key = format!("w{w}:{i}");
                let tag = format!("{{m{w}:{i}}}");
                let mut batch = Raw::encode(&["SET", &key, &i.to_string()]);
                batch.extend(Raw::encode(&[
                    "MSET",
                    &format!("{tag}a"),
                    "A",
                    &format!("{tag}b"),
                    "B",
                    &format!("{tag}c"),
                    "C",
                ]));
                r.send(&batch);
                match (r.read(), r.read()) {
                    (Some(Simple(a)), Some(Simple(b))) if a == "OK" && b == "OK" => {
                        let mut m = acked.lock().unwrap();
                        m.insert(key.clone(), i.to_string());
                        m.insert(format!("{tag}a"), "A".into());
                    }
                    _ => return i + 1,
                }
                i += 1;
            }
            i + 1
        }));
    }
    wait_until("writes to be acknowledged", Duration::from_secs(30), || {
        acked.lock().unwrap().len() > 3000
    });
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    let attempted: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap_or(0)).collect();
    let acked = acked.lock().unwrap().clone();
    s.restart();
    let mut r = s.raw();
    for (k, v) in &acked {
        assert_eq!(
            r.cmd(&["GET", k]),
            Resp::bulk(v),
            "acknowledged write of {k} lost"
        );
    }
    // Every MSET sent, acknowledged or not, is all-or-nothing.
    for (w, n) in attempted.iter().enumerate() {
        for i in 0..*n {
            let tag = format!("{{m{w}:{i}}}");
            let (a, b, c) = (format!("{tag}a"), format!("{tag}b"), format!("{tag}c"));
            let Int(present) = r.cmd(&["EXISTS", &a, &b, &c]) else {
                panic!()
            };
            assert!(
                present == 0 || present == 3,
                "MSET {tag} half applied: {present} of 3 keys"
            );
        }
    }
    let Bulk(Some(info)) = r.cmd(&["INFO", "persistence"]) else {
        panic!()
    };
    assert!(String::from_utf8_lossy(&info).contains("appendfsync:always"));
}

#[test]
fn storage_refuses_a_different_shard_count() {
    let mut s = Server::start(&["--shards", "2"]);
    assert_eq!(s.raw().cmd(&["SET", "a", "1"]), Simple("OK".into()));
    s.kill9();
    let out = std::process::Command::new(common::BIN)
        .args(["--port", "0", "--shards", "3", "--dir"])
        .arg(s.dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resharding"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Applied writes are held in memory and written to RocksDB behind (here:
/// never, within the test); a crash that loses them must not lose them to
/// clients: the restarted server applies the Raft log after its last
/// committed applied id again, before it answers a read. Twice, so the
/// replayed writes (held again) survive a second crash too.
#[test]
fn kill9_replays_applied_writes_held_in_memory() {
    let mut s = Server::start(&["--write-behind-ms", "60000", "--shards", "2"]);
    let mut r = s.raw();
    // Committed before the held writes start: a collection overwritten and
    // a key deleted while held must come back in their new state.
    assert_eq!(r.cmd(&["SET", "old", "1"]), Simple("OK".into()));
    for i in 0..300 {
        let (f, v) = (format!("f{i}"), format!("v{i}"));
        assert_eq!(r.cmd(&["HSET", "h", &f, &v]), Int(1));
        assert_eq!(r.cmd(&["ZADD", "z", &i.to_string(), &f]), Int(1));
        assert_eq!(r.cmd(&["SADD", "s", &f]), Int(1));
        assert_eq!(r.cmd(&["RPUSH", "l", &v]), Int(i + 1));
        assert_eq!(r.cmd(&["SET", &format!("k{i}"), &v]), Simple("OK".into()));
    }
    assert_eq!(r.cmd(&["HDEL", "h", "f0"]), Int(1));
    assert_eq!(
        r.cmd(&["ZINCRBY", "z", "1000", "f1"]),
        Bulk(Some(b"1001".to_vec()))
    );
    assert_eq!(r.cmd(&["LPOP", "l"]), Resp::bulk("v0"));
    assert_eq!(r.cmd(&["DEL", "old"]), Int(1));
    assert!(
        r.info_number("persistence", "write_behind_held") > 0,
        "the writes are not held in memory"
    );
    let check = |r: &mut Raw| {
        assert_eq!(r.cmd(&["HLEN", "h"]), Int(299));
        assert_eq!(r.cmd(&["HGET", "h", "f299"]), Resp::bulk("v299"));
        assert_eq!(r.cmd(&["HEXISTS", "h", "f0"]), Int(0));
        assert_eq!(r.cmd(&["ZCARD", "z"]), Int(300));
        assert_eq!(r.cmd(&["ZSCORE", "z", "f1"]), Resp::bulk("1001"));
        assert_eq!(
            r.cmd(&["ZRANGE", "z", "-1", "-1"]),
            Array(Some(vec![Resp::bulk("f1")]))
        );
        assert_eq!(r.cmd(&["SCARD", "s"]), Int(300));
        assert_eq!(r.cmd(&["SISMEMBER", "s", "f150"]), Int(1));
        assert_eq!(r.cmd(&["LLEN", "l"]), Int(299));
        assert_eq!(r.cmd(&["LINDEX", "l", "0"]), Resp::bulk("v1"));
        assert_eq!(r.cmd(&["GET", "k123"]), Resp::bulk("v123"));
        assert_eq!(r.cmd(&["EXISTS", "old"]), Int(0));
        assert_eq!(r.cmd(&["DBSIZE"]), Int(304));
    };
    check(&mut r);
    for _ in 0..2 {
        s.kill9();
        s.restart();
        let mut r = s.raw();
        check(&mut r);
    }
}

/// Sends `cmds` in pipelined chunks and checks every reply.
fn pipelined(r: &mut Raw, cmds: &[Vec<String>], want: impl Fn(&Resp) -> bool) {
    for chunk in cmds.chunks(500) {
        let mut bytes = Vec::new();
        for c in chunk {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            bytes.extend(Raw::encode(&args));
        }
        r.send(&bytes);
        for c in chunk {
            let got = r.read();
            assert!(got.as_ref().is_some_and(&want), "{c:?} answered {got:?}");
        }
    }
}

/// Collections written across several of the small data memtables (and
/// so across several WAL files), none flushed yet, come back whole after
/// `kill -9`: RocksDB replays every WAL into the data and Raft column
/// families, and what it replays agrees with the Raft log.
#[test]
fn kill9_after_writes_spanning_several_memtables() {
    let mut s = Server::start(&["--shards", "1"]);
    let mut r = s.raw();
    let n = 30_000;
    let value = |i: usize| format!("{i:08}-{}", "v".repeat(90));
    let hset: Vec<Vec<String>> = (0..n)
        .map(|i| vec!["HSET".into(), "h".into(), format!("f{i}"), value(i)])
        .collect();
    pipelined(&mut r, &hset, |x| *x == Int(1));
    let zadd: Vec<Vec<String>> = (0..n)
        .map(|i| vec!["ZADD".into(), "z".into(), i.to_string(), format!("m{i}")])
        .collect();
    pipelined(&mut r, &zadd, |x| *x == Int(1));
    // Later memtables overwrite and delete some of it.
    let changes: Vec<Vec<String>> = (0..n)
        .step_by(7)
        .flat_map(|i| {
            [
                vec!["HDEL".into(), "h".into(), format!("f{i}")],
                vec!["ZADD".into(), "z".into(), "-1".into(), format!("m{i}")],
            ]
        })
        .collect();
    pipelined(&mut r, &changes, |x| *x == Int(1) || *x == Int(0));
    let deleted = n.div_ceil(7) as i64;
    let check = |r: &mut Raw| {
        assert_eq!(r.cmd(&["HLEN", "h"]), Int(n as i64 - deleted));
        assert_eq!(r.cmd(&["HGET", "h", "f7"]), Bulk(None));
        assert_eq!(r.cmd(&["HGET", "h", "f12345"]), Resp::bulk(&value(12345)));
        assert_eq!(r.cmd(&["ZCARD", "z"]), Int(n as i64));
        assert_eq!(r.cmd(&["ZCOUNT", "z", "-1", "-1"]), Int(deleted));
        assert_eq!(r.cmd(&["ZSCORE", "z", "m14"]), Resp::bulk("-1"));
        assert_eq!(r.cmd(&["ZSCORE", "z", "m29999"]), Resp::bulk("29999"));
        assert_eq!(
            r.cmd(&["ZRANGEBYSCORE", "z", "100", "101"]),
            Array(Some(vec![Resp::bulk("m100"), Resp::bulk("m101")]))
        );
    };
    check(&mut r);
    s.kill9();
    s.restart();
    let mut r = s.raw();
    check(&mut r);
}
