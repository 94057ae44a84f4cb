//! Storage and Raft failures, injected with `SHARDIS_FAILPOINTS` (see
//! shards/src/failpoint.rs), answered Redis-style: `-IOERR` and refusal of
//! later writes when the log cannot be synced, `-TRYAGAIN` without a
//! leader, and no acknowledged write lost across the failure.

mod common;

use std::time::Duration;

use common::Resp;
use common::Server;

fn is_err(r: &Resp, prefix: &str) -> bool {
    matches!(r, Resp::Error(e) if e.starts_with(prefix))
}

#[test]
fn failed_log_sync_refuses_writes_and_keeps_acknowledged_ones() {
    let mut s = Server::start_env(
        &["--appendfsync", "always", "--shards", "1"],
        &[("SHARDIS_FAILPOINTS", "log-sync=20")],
    );
    let mut r = s.raw();
    let mut acked = Vec::new();
    let mut failed_at = None;
    for i in 0..200 {
        let key = format!("k{i}");
        match r.cmd(&["SET", &key, "v"]) {
            Resp::Simple(ok) if ok == "OK" => acked.push(key),
            other => {
                assert!(is_err(&other, "IOERR"), "unexpected reply {other:?}");
                failed_at = Some(i);
                break;
            }
        }
    }
    assert!(
        failed_at.is_some(),
        "the injected sync failure never surfaced"
    );
    assert!(!acked.is_empty());
    // Every later write is refused, not acknowledged unsynced.
    for _ in 0..3 {
        let reply = r.cmd(&["SET", "after", "v"]);
        assert!(is_err(&reply, "IOERR"), "write after failure: {reply:?}");
    }
    // After a restart without the fault, acknowledged writes are there.
    s.env.clear();
    s.kill9();
    s.restart();
    let mut r = s.raw();
    for k in &acked {
        assert_eq!(r.cmd(&["GET", k]), Resp::bulk("v"), "lost acknowledged {k}");
    }
    assert_eq!(r.cmd(&["SET", "healthy", "1"]), Resp::Simple("OK".into()));
}

#[test]
fn failed_everysec_fsync_refuses_writes() {
    let s = Server::start_env(
        &["--appendfsync", "everysec", "--shards", "1"],
        &[("SHARDIS_FAILPOINTS", "wal-sync=0")],
    );
    let mut r = s.raw();
    // The first once-a-second sync fails; from then on writes are refused.
    common::wait_until("writes refused", Duration::from_secs(10), || {
        is_err(&r.cmd(&["SET", "k", "v"]), "IOERR")
    });
    assert!(is_err(&r.cmd(&["INCR", "n"]), "IOERR"));
}

#[test]
fn no_leader_answers_tryagain() {
    let s = Server::start_env(&["--shards", "1"], &[("SHARDIS_FAILPOINTS", "no-leader=0")]);
    let mut r = s.raw();
    let reply = r.cmd(&["SET", "k", "v"]);
    assert!(is_err(&reply, "TRYAGAIN"), "got {reply:?}");
    assert_eq!(r.cmd(&["GET", "k"]), Resp::Bulk(None));
}

/// A failed write of applied data to RocksDB (injected) under
/// write-behind: the writes stay held, so acknowledged writes still read
/// back, later writes are refused, and a restart without the fault replays
/// everything acknowledged from the Raft log.
#[test]
fn failed_data_commit_keeps_held_writes_readable_and_replays_them() {
    // The first commit (the start-up entries, by the hold timer) passes,
    // the second (the SETs below, by the timer too: they arrive in one
    // pipeline, well within the hold time) fails.
    let mut s = Server::start_env(
        &["--shards", "1", "--write-behind-ms", "300"],
        &[("SHARDIS_FAILPOINTS", "data-commit=1")],
    );
    let mut r = s.raw();
    common::wait_until(
        "start-up entries committed",
        Duration::from_secs(10),
        || r.info_number("persistence", "write_behind_held") == 0,
    );
    let n = 200;
    let mut pipeline = Vec::new();
    for i in 0..n {
        pipeline.extend(common::Raw::encode(&[
            "SET",
            &format!("k{i}"),
            &i.to_string(),
        ]));
    }
    r.send(&pipeline);
    for i in 0..n {
        assert_eq!(r.read(), Some(Resp::Simple("OK".into())), "SET k{i}");
    }
    common::wait_until("the commit failure", Duration::from_secs(10), || {
        r.info_number("persistence", "storage_failed") == 1
    });
    let reply = r.cmd(&["SET", "after", "v"]);
    assert!(is_err(&reply, "IOERR"), "write after failure: {reply:?}");
    // The held writes still answer reads.
    assert!(r.info_number("persistence", "write_behind_held") >= n);
    for i in 0..n {
        assert_eq!(
            r.cmd(&["GET", &format!("k{i}")]),
            Resp::bulk(&i.to_string()),
            "k{i} after the failure"
        );
    }
    s.env.clear();
    s.kill9();
    s.restart();
    let mut r = s.raw();
    for i in 0..n {
        assert_eq!(
            r.cmd(&["GET", &format!("k{i}")]),
            Resp::bulk(&i.to_string()),
            "lost acknowledged k{i}"
        );
    }
    assert_eq!(r.cmd(&["SET", "healthy", "1"]), Resp::Simple("OK".into()));
}
