//! Every shard is a one-member Raft group: INFO shows it, writes advance
//! its log, snapshots purge the log, and a restart replays to the same data.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Resp;
use common::Resp::*;
use common::Server;
use common::wait_until;

/// `field=value` pairs of each `shard_N:` line of `INFO raft`.
fn raft_info(r: &mut common::Raw) -> Vec<BTreeMap<String, String>> {
    let Bulk(Some(text)) = r.cmd(&["INFO", "raft"]) else {
        panic!("INFO raft")
    };
    String::from_utf8(text)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("shard_"))
        .map(|l| {
            l.split_once(':')
                .unwrap()
                .1
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn num(m: &BTreeMap<String, String>, k: &str) -> u64 {
    m[k].parse().unwrap()
}

/// Every key with its value (all keys are strings here), via KEYS + MGET.
fn keyspace(r: &mut common::Raw) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let Array(Some(keys)) = r.cmd(&["KEYS", "*"]) else {
        panic!()
    };
    let mut out = BTreeMap::new();
    for k in keys {
        let Bulk(Some(k)) = k else { panic!() };
        let ks = String::from_utf8(k.clone()).unwrap();
        let Bulk(Some(v)) = r.cmd(&["GET", &ks]) else {
            panic!()
        };
        out.insert(k, v);
    }
    out
}

#[test]
fn every_shard_leads_its_group_and_writes_advance_the_log() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let before = raft_info(&mut r);
    assert_eq!(before.len(), 2);
    for (i, g) in before.iter().enumerate() {
        assert_eq!(g["group"], i.to_string());
        assert_eq!(g["role"], "leader");
        assert_eq!(g["leader"], "1");
        assert!(num(g, "term") >= 1);
    }
    for i in 0..100 {
        assert_eq!(r.cmd(&["SET", &format!("k{i}"), "v"]), Simple("OK".into()));
    }
    let after = raft_info(&mut r);
    let grown: u64 = after.iter().map(|g| num(g, "applied")).sum::<u64>()
        - before.iter().map(|g| num(g, "applied")).sum::<u64>();
    assert!(grown >= 100, "100 writes applied {grown} entries");
    for g in &after {
        assert_eq!(num(g, "applied"), num(g, "committed"));
        assert_eq!(num(g, "last_log_index"), num(g, "applied"));
    }
}

/// With applied writes held in memory (write-behind), snapshots commit
/// them first, so the log purged behind a snapshot never held a write that
/// RocksDB lacks; a crash then loses only held writes, which the rest of
/// the log replays. Held range deletes (FLUSHDB, DEL of a hash) and
/// non-idempotent writes (INCR, RPUSH) come back exactly once.
#[test]
fn held_writes_survive_snapshots_purges_and_kill9() {
    let mut s = Server::start(&[
        "--shards",
        "1",
        "--snapshot-every",
        "40",
        "--write-behind-ms",
        "60000",
    ]);
    let mut r = s.raw();
    for i in 0..50 {
        assert_eq!(r.cmd(&["HSET", "gone", &format!("f{i}"), "v"]), Int(1));
    }
    assert_eq!(r.cmd(&["FLUSHDB"]), Simple("OK".into()));
    for i in 0..300 {
        assert_eq!(
            r.cmd(&["SET", &format!("key:{i}"), &format!("value-{i}")]),
            Simple("OK".into())
        );
        assert_eq!(r.cmd(&["INCR", "n"]), Int(i + 1));
        assert_eq!(r.cmd(&["RPUSH", "l", &i.to_string()]), Int(i + 1));
        if i % 50 == 0 {
            for f in 0..20 {
                r.cmd(&["HSET", "big", &format!("f{f}"), "v"]);
            }
            assert_eq!(r.cmd(&["DEL", "big"]), Int(1));
        }
    }
    wait_until(
        "a snapshot and a purged log",
        Duration::from_secs(20),
        || {
            let g = raft_info(&mut r);
            num(&g[0], "snapshot") > 0 && num(&g[0], "purged") > 0
        },
    );
    let check = |r: &mut common::Raw| {
        assert_eq!(r.cmd(&["EXISTS", "gone", "big"]), Int(0));
        assert_eq!(r.cmd(&["GET", "n"]), Resp::bulk("300"));
        assert_eq!(r.cmd(&["LLEN", "l"]), Int(300));
        assert_eq!(r.cmd(&["LINDEX", "l", "-1"]), Resp::bulk("299"));
        for i in 0..300 {
            assert_eq!(
                r.cmd(&["GET", &format!("key:{i}")]),
                Resp::bulk(&format!("value-{i}"))
            );
        }
        assert_eq!(r.cmd(&["DBSIZE"]), Int(302));
    };
    check(&mut r);
    drop(r);
    for _ in 0..2 {
        s.kill9();
        s.restart();
        let mut r = s.raw();
        check(&mut r);
    }
}

#[test]
fn snapshot_purge_and_restart_keep_the_keyspace() {
    let mut s = Server::start(&[
        "--shards",
        "2",
        "--snapshot-every",
        "50",
        "--appendfsync",
        "always",
    ]);
    let mut r = s.raw();
    for i in 0..400 {
        assert_eq!(
            r.cmd(&["SET", &format!("key:{i}"), &format!("value-{i}")]),
            Simple("OK".into())
        );
        if i % 3 == 0 {
            assert_eq!(
                r.cmd(&["INCR", &format!("n:{}", i % 7)]),
                Int((i / 21 + 1) as i64)
            );
        }
    }
    assert_eq!(r.cmd(&["DEL", "key:7", "key:8"]), Int(2));
    wait_until(
        "a snapshot and a purged log on every shard",
        Duration::from_secs(20),
        || {
            let groups = raft_info(&mut r);
            groups.len() == 2
                && groups
                    .iter()
                    .all(|g| num(g, "snapshot") > 0 && num(g, "purged") > 0)
        },
    );
    let before = keyspace(&mut r);
    assert_eq!(before.len(), 400 - 2 + 7);
    drop(r);
    s.kill9();
    s.restart();
    let mut r = s.raw();
    assert_eq!(keyspace(&mut r), before);
    let groups = raft_info(&mut r);
    assert_eq!(groups.len(), 2);
    for g in groups {
        assert_eq!(g["role"], "leader");
    }
    assert_eq!(r.cmd(&["INCR", "n:0"]), Int(21));
}

#[test]
fn every_read_consistency_serves_reads_and_bad_values_are_refused() {
    for mode in ["linearizable", "lease", "local"] {
        let s = Server::start(&["--read-consistency", mode]);
        let mut r = s.raw();
        assert_eq!(r.cmd(&["SET", "k", mode]), Simple("OK".into()));
        assert_eq!(
            r.cmd(&["GET", "k"]),
            common::Resp::bulk(mode),
            "mode {mode}"
        );
    }
    let out = std::process::Command::new(common::BIN)
        .args(["--read-consistency", "sometimes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
