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
