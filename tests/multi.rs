//! MULTI/EXEC/DISCARD/WATCH on the real server (two shards), plus OBJECT,
//! COPY, DEBUG and FUNCTION as the Redis test suite uses them.

mod common;

use common::Resp;
use common::Resp::*;
use common::Server;
use shardis_shards::slot::key_slot;

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

fn ok() -> Resp {
    Simple("OK".into())
}

fn queued() -> Resp {
    Simple("QUEUED".into())
}

/// Two keys that live on different shards of a two-shard server (slots
/// are split in contiguous halves).
fn keys_on_two_shards() -> (String, String) {
    let low = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| key_slot(k.as_bytes()).0 < 8192);
    let high = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| key_slot(k.as_bytes()).0 >= 8192);
    (low.unwrap(), high.unwrap())
}

#[test]
fn exec_runs_queued_commands_in_order_and_atomically() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["SET", "{t}a", "1"]), queued());
    assert_eq!(r.cmd(&["INCR", "{t}a"]), queued());
    assert_eq!(r.cmd(&["HSET", "{t}h", "f", "v"]), queued());
    assert_eq!(r.cmd(&["INCR", "{t}h"]), queued());
    assert_eq!(r.cmd(&["PING"]), queued());
    assert_eq!(r.cmd(&["GET", "{t}a"]), queued());
    assert_eq!(
        r.cmd(&["EXEC"]),
        Array(Some(vec![
            ok(),
            Int(2),
            Int(1),
            Resp::err("WRONGTYPE Operation against a key holding the wrong kind of value"),
            Simple("PONG".into()),
            b("2"),
        ]))
    );
    assert_eq!(r.cmd(&["EXEC"]), Resp::err("ERR EXEC without MULTI"));
    assert_eq!(r.cmd(&["DISCARD"]), Resp::err("ERR DISCARD without MULTI"));
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(
        r.cmd(&["MULTI"]),
        Resp::err("ERR MULTI calls can not be nested")
    );
    assert_eq!(r.cmd(&["SET", "{t}a", "9"]), queued());
    assert_eq!(r.cmd(&["DISCARD"]), ok());
    assert_eq!(r.cmd(&["GET", "{t}a"]), b("2"));
}

#[test]
fn queueing_errors_abort_exec() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let (k1, k2) = keys_on_two_shards();
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["SET", &k1, "1"]), queued());
    assert_eq!(
        r.cmd(&["SET", &k2, "1"]),
        Resp::err("CROSSSLOT Keys in request don't hash to the same slot")
    );
    assert_eq!(
        r.cmd(&["EXEC"]),
        Resp::err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(r.cmd(&["EXISTS", &k1]), Int(0));
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(
        r.cmd(&["NOSUCHCMD"]),
        Resp::err("ERR unknown command 'NOSUCHCMD', with args beginning with: ")
    );
    assert_eq!(
        r.cmd(&["GET"]),
        Resp::err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        r.cmd(&["EXEC"]),
        Resp::err("EXECABORT Transaction discarded because of previous errors.")
    );
    // Node-wide commands may join a transaction.
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["SET", &k1, "1"]), queued());
    assert_eq!(r.cmd(&["DBSIZE"]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Array(Some(vec![ok(), Int(1)])));
}

#[test]
fn watch_aborts_exec_when_a_watched_key_changes() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let mut other = s.raw();
    let (k1, k2) = keys_on_two_shards();
    // Unchanged: EXEC runs.
    assert_eq!(r.cmd(&["WATCH", &k1, &k2]), ok());
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["SET", &k1, "mine"]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Array(Some(vec![ok()])));
    // Changed on the transaction's shard.
    assert_eq!(r.cmd(&["WATCH", &k1]), ok());
    assert_eq!(other.cmd(&["SET", &k1, "theirs"]), ok());
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["SET", &k1, "mine"]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Array(None));
    assert_eq!(r.cmd(&["GET", &k1]), b("theirs"));
    // Changed on another shard than the transaction's.
    assert_eq!(other.cmd(&["SET", &k2, "v"]), ok());
    assert_eq!(r.cmd(&["WATCH", &k2]), ok());
    assert_eq!(other.cmd(&["DEL", &k2]), Int(1));
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["SET", &k1, "mine"]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Array(None));
    assert_eq!(r.cmd(&["GET", &k1]), b("theirs"));
    // EXEC unwatches: a later change does not affect the next transaction.
    assert_eq!(other.cmd(&["SET", &k2, "x"]), ok());
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["GET", &k2]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Array(Some(vec![b("x")])));
    // UNWATCH too.
    assert_eq!(r.cmd(&["WATCH", &k1]), ok());
    assert_eq!(r.cmd(&["UNWATCH"]), ok());
    assert_eq!(other.cmd(&["SET", &k1, "again"]), ok());
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["GET", &k1]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Array(Some(vec![b("again")])));
    // WATCH inside MULTI is refused without failing the transaction.
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(
        r.cmd(&["WATCH", &k1]),
        Resp::err("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(r.cmd(&["EXEC"]), Array(Some(vec![])));
}

#[test]
fn a_watched_key_that_expires_aborts_exec() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "x", "1", "PX", "50"]), ok());
    assert_eq!(r.cmd(&["WATCH", "x"]), ok());
    common::wait_until("x expired", std::time::Duration::from_secs(5), || {
        s.raw().cmd(&["EXISTS", "x"]) == Int(0)
    });
    assert_eq!(r.cmd(&["MULTI"]), ok());
    assert_eq!(r.cmd(&["PING"]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Array(None));
}

#[test]
fn object_copy_debug_function() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let (k1, k2) = keys_on_two_shards();
    assert_eq!(r.cmd(&["SET", "n", "12345"]), ok());
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "n"]), b("int"));
    assert_eq!(r.cmd(&["SET", "s", "hello"]), ok());
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "s"]), b("embstr"));
    let long = "x".repeat(100);
    assert_eq!(r.cmd(&["SET", "s", &long]), ok());
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "s"]), b("raw"));
    assert_eq!(r.cmd(&["HSET", "h", "f", "v"]), Int(1));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "h"]), b("listpack"));
    assert_eq!(r.cmd(&["HSET", "h", "big", &long]), Int(1));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "h"]), b("hashtable"));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "nokey"]), Bulk(None));
    assert_eq!(r.cmd(&["OBJECT", "REFCOUNT", "n"]), Int(1));
    assert_eq!(r.cmd(&["OBJECT", "IDLETIME", "nokey"]), Bulk(None));
    assert_eq!(
        r.cmd(&["OBJECT", "NOPE", "n"]),
        Resp::err("ERR unknown subcommand 'NOPE'. Try OBJECT HELP.")
    );
    // COPY on one shard and across shards, with fields and TTL.
    assert_eq!(r.cmd(&["HSET", &k1, "a", "1", "b", "2"]), Int(2));
    assert_eq!(r.cmd(&["EXPIRE", &k1, "100"]), Int(1));
    assert_eq!(r.cmd(&["COPY", &k1, &k2]), Int(1));
    assert_eq!(r.cmd(&["COPY", &k1, &k2]), Int(0));
    assert_eq!(r.cmd(&["HGET", &k2, "b"]), b("2"));
    assert!(matches!(r.cmd(&["TTL", &k2]), Int(t) if t > 90));
    assert_eq!(r.cmd(&["SET", &k2, "str"]), ok());
    assert_eq!(r.cmd(&["COPY", &k1, &k2, "REPLACE"]), Int(1));
    assert_eq!(r.cmd(&["HLEN", &k2]), Int(2));
    assert_eq!(r.cmd(&["COPY", "{c}a", "{c}b"]), Int(0));
    assert_eq!(r.cmd(&["SET", "{c}a", "v"]), ok());
    assert_eq!(r.cmd(&["COPY", "{c}a", "{c}b"]), Int(1));
    assert_eq!(
        r.cmd(&["HSET", "{c}a", "f", "v"]),
        Resp::err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(r.cmd(&["GET", "{c}b"]), b("v"));
    assert_eq!(
        r.cmd(&["COPY", "{c}a", "{c}a"]),
        Resp::err("ERR source and destination objects are the same")
    );
    assert_eq!(
        r.cmd(&["COPY", "{c}a", "{c}z", "DB", "1"]),
        Resp::err("ERR DB index is out of range")
    );
    // Hash copies are independent of their source.
    assert_eq!(r.cmd(&["HSET", &k1, "a", "changed"]), Int(0));
    assert_eq!(r.cmd(&["HGET", &k2, "a"]), b("1"));
    assert!(
        matches!(r.cmd(&["DEBUG", "OBJECT", "n"]), Error(e) if e.starts_with("ERR DEBUG command not allowed"))
    );
    assert_eq!(r.cmd(&["FUNCTION", "FLUSH"]), ok());
}
