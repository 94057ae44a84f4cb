//! List commands on the real server with two shards: every command and
//! its error strings, WRONGTYPE, LMOVE within and across shards, and
//! blocking pops woken by a push from another connection or timing out.
//!
//! Keys "a" (hash slot 15495) lives on shard 1; "b" (3300) and "c" (7365)
//! on shard 0.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use std::time::Instant;

use common::Resp;
use common::Resp::*;
use common::Server;
use common::wait_until;

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

fn arr(items: &[&str]) -> Resp {
    Array(Some(items.iter().map(|s| b(s)).collect()))
}

fn ints(items: &[i64]) -> Resp {
    Array(Some(items.iter().map(|&i| Int(i)).collect()))
}

fn ok() -> Resp {
    Simple("OK".into())
}

fn err(s: &str) -> Resp {
    Resp::err(s)
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";

fn check(r: &mut common::Raw, cases: &[(&[&str], Resp)]) {
    for (cmd, want) in cases {
        assert_eq!(&r.cmd(cmd), want, "command {cmd:?}");
    }
}

#[test]
fn push_pop_range_and_index() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (&["LPUSHX", "l", "x"], Int(0)),
            (&["RPUSHX", "l", "x"], Int(0)),
            (&["EXISTS", "l"], Int(0)),
            (&["RPUSH", "l", "a", "b", "c"], Int(3)),
            (&["LPUSH", "l", "z", "y"], Int(5)),
            (&["LPUSHX", "l", "x"], Int(6)),
            (&["RPUSHX", "l", "d", "e"], Int(8)),
            (&["TYPE", "l"], Simple("list".into())),
            (&["LLEN", "l"], Int(8)),
            (&["LLEN", "none"], Int(0)),
            (
                &["LRANGE", "l", "0", "-1"],
                arr(&["x", "y", "z", "a", "b", "c", "d", "e"]),
            ),
            (&["LRANGE", "l", "-3", "-2"], arr(&["c", "d"])),
            (&["LRANGE", "l", "6", "100"], arr(&["d", "e"])),
            (&["LRANGE", "l", "5", "2"], arr(&[])),
            (&["LRANGE", "none", "0", "-1"], arr(&[])),
            (&["LRANGE", "l", "x", "1"], err(NOT_INT)),
            (&["LINDEX", "l", "0"], b("x")),
            (&["LINDEX", "l", "-1"], b("e")),
            (&["LINDEX", "l", "8"], Bulk(None)),
            (&["LINDEX", "none", "0"], Bulk(None)),
            (&["LINDEX", "l", "x"], err(NOT_INT)),
            // Redis looks the key up before parsing the index.
            (&["LINDEX", "none", "x"], Bulk(None)),
            (&["LPOP", "l"], b("x")),
            (&["RPOP", "l"], b("e")),
            (&["LPOP", "l", "2"], arr(&["y", "z"])),
            (&["RPOP", "l", "2"], arr(&["d", "c"])),
            (&["LPOP", "l", "0"], arr(&[])),
            (&["LPOP", "l", "10"], arr(&["a", "b"])),
            (&["EXISTS", "l"], Int(0)),
            (&["LPOP", "l"], Bulk(None)),
            (&["RPOP", "l"], Bulk(None)),
            (&["LPOP", "l", "0"], Array(None)),
            (&["RPOP", "l", "3"], Array(None)),
            (
                &["LPOP", "l", "-1"],
                err("ERR value is out of range, must be positive"),
            ),
            (
                &["RPOP", "l", "x"],
                err("ERR value is out of range, must be positive"),
            ),
            (
                &["LPOP", "l", "1", "2"],
                err("ERR wrong number of arguments for 'lpop' command"),
            ),
            (
                &["LPUSH", "l"],
                err("ERR wrong number of arguments for 'lpush' command"),
            ),
        ],
    );
}

#[test]
fn set_insert_rem_trim_and_pos() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (&["RPUSH", "l", "a", "b", "c", "b", "a"], Int(5)),
            (&["LSET", "l", "1", "B"], ok()),
            (&["LSET", "l", "-1", "A"], ok()),
            (&["LSET", "l", "5", "x"], err("ERR index out of range")),
            (&["LSET", "l", "x", "x"], err(NOT_INT)),
            (&["LSET", "none", "0", "x"], err("ERR no such key")),
            (&["LSET", "none", "x", "x"], err("ERR no such key")),
            (&["LRANGE", "l", "0", "-1"], arr(&["a", "B", "c", "b", "A"])),
            (&["LINSERT", "l", "BEFORE", "c", "1"], Int(6)),
            (&["LINSERT", "l", "after", "A", "2"], Int(7)),
            (&["LINSERT", "l", "before", "a", "0"], Int(8)),
            (&["LINSERT", "l", "after", "zz", "x"], Int(-1)),
            (&["LINSERT", "none", "after", "a", "x"], Int(0)),
            (
                &["LINSERT", "l", "middle", "a", "x"],
                err("ERR syntax error"),
            ),
            (
                &["LRANGE", "l", "0", "-1"],
                arr(&["0", "a", "B", "1", "c", "b", "A", "2"]),
            ),
            (&["RPUSH", "r", "x", "a", "x", "b", "x", "c", "x"], Int(7)),
            (&["LREM", "r", "1", "x"], Int(1)),
            (&["LREM", "r", "-2", "x"], Int(2)),
            (&["LRANGE", "r", "0", "-1"], arr(&["a", "x", "b", "c"])),
            (&["LREM", "r", "0", "x"], Int(1)),
            (&["LREM", "r", "0", "zz"], Int(0)),
            (&["LREM", "none", "0", "x"], Int(0)),
            (&["LREM", "r", "y", "x"], err(NOT_INT)),
            (&["LTRIM", "l", "1", "-2"], ok()),
            (
                &["LRANGE", "l", "0", "-1"],
                arr(&["a", "B", "1", "c", "b", "A"]),
            ),
            (&["LTRIM", "l", "-100", "100"], ok()),
            (&["LLEN", "l"], Int(6)),
            (&["LTRIM", "l", "5", "1"], ok()),
            (&["EXISTS", "l"], Int(0)),
            (&["LTRIM", "none", "0", "1"], ok()),
            (&["LTRIM", "r", "0", "x"], err(NOT_INT)),
            (&["DEL", "r"], Int(1)),
            (
                &["RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"],
                Int(8),
            ),
            (&["LPOS", "p", "c"], Int(2)),
            (&["LPOS", "p", "c", "RANK", "2"], Int(6)),
            (&["LPOS", "p", "c", "RANK", "-1"], Int(7)),
            (&["LPOS", "p", "c", "RANK", "4"], Bulk(None)),
            (&["LPOS", "p", "c", "COUNT", "0"], ints(&[2, 6, 7])),
            (
                &["LPOS", "p", "c", "COUNT", "2", "RANK", "2"],
                ints(&[6, 7]),
            ),
            (
                &["LPOS", "p", "c", "RANK", "-1", "COUNT", "2"],
                ints(&[7, 6]),
            ),
            (
                &["LPOS", "p", "c", "COUNT", "0", "MAXLEN", "7"],
                ints(&[2, 6]),
            ),
            (&["LPOS", "p", "zz"], Bulk(None)),
            (&["LPOS", "p", "zz", "COUNT", "1"], ints(&[])),
            (&["LPOS", "none", "c"], Bulk(None)),
            (&["LPOS", "none", "c", "COUNT", "1"], ints(&[])),
            (
                &["LPOS", "p", "c", "RANK", "0"],
                err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ),
            ),
            (&["LPOS", "p", "c", "RANK", "x"], err(NOT_INT)),
            (
                &["LPOS", "p", "c", "COUNT", "-1"],
                err("ERR COUNT can't be negative"),
            ),
            (
                &["LPOS", "p", "c", "MAXLEN", "-1"],
                err("ERR MAXLEN can't be negative"),
            ),
            (&["LPOS", "p", "c", "COUNT"], err("ERR syntax error")),
            (&["LPOS", "p", "c", "FOO", "1"], err("ERR syntax error")),
        ],
    );
}

#[test]
fn wrongtype_on_every_command() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "s", "v"]), ok());
    assert_eq!(r.cmd(&["RPUSH", "l", "x"]), Int(1));
    let cmds: &[&[&str]] = &[
        &["LPUSH", "s", "x"],
        &["RPUSH", "s", "x"],
        &["LPUSHX", "s", "x"],
        &["RPUSHX", "s", "x"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "0", "x"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "x"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "x"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
        &["RPOPLPUSH", "l", "s"],
        &["LMPOP", "2", "none", "s", "LEFT"],
        &["BLPOP", "s", "0"],
        &["BRPOP", "none", "s", "0"],
        &["BLMOVE", "s", "l", "LEFT", "LEFT", "0"],
        &["BLMOVE", "l", "s", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "l", "s", "0"],
        &["HSET", "l", "f", "v"],
        &["GET", "l"],
    ];
    for cmd in cmds {
        assert_eq!(r.cmd(cmd), err(WRONGTYPE), "command {cmd:?}");
    }
    assert_eq!(r.cmd(&["LRANGE", "l", "0", "-1"]), arr(&["x"]));
    assert_eq!(r.cmd(&["GET", "s"]), b("v"));
    // A missing source answers nil before the destination's type is looked at.
    assert_eq!(r.cmd(&["LMOVE", "none", "s", "LEFT", "LEFT"]), Bulk(None));
    assert_eq!(r.cmd(&["RPOPLPUSH", "none", "s"]), Bulk(None));
}

#[test]
fn lmove_within_and_across_shards() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (&["RPUSH", "a", "1", "2", "3"], Int(3)),
            // Across shards: "a" is on shard 1, "b" on shard 0.
            (&["LMOVE", "a", "b", "LEFT", "RIGHT"], b("1")),
            (&["LMOVE", "a", "b", "right", "left"], b("3")),
            (&["RPOPLPUSH", "a", "b"], b("2")),
            (&["EXISTS", "a"], Int(0)),
            (&["LRANGE", "b", "0", "-1"], arr(&["2", "3", "1"])),
            (&["LMOVE", "a", "b", "LEFT", "LEFT"], Bulk(None)),
            // Within shard 0: "b" and "c".
            (&["LMOVE", "b", "c", "LEFT", "LEFT"], b("2")),
            (&["RPOPLPUSH", "b", "c"], b("1")),
            (&["LRANGE", "c", "0", "-1"], arr(&["1", "2"])),
            // Rotation of one list.
            (&["RPOPLPUSH", "c", "c"], b("2")),
            (&["LRANGE", "c", "0", "-1"], arr(&["2", "1"])),
            (&["LMOVE", "c", "c", "LEFT", "RIGHT"], b("2")),
            (&["LRANGE", "c", "0", "-1"], arr(&["1", "2"])),
            (&["LMOVE", "c", "a", "UP", "LEFT"], err("ERR syntax error")),
            (
                &["LMOVE", "c", "a", "LEFT", "DOWN"],
                err("ERR syntax error"),
            ),
            // A destination of another type across shards: nothing moves.
            (&["SET", "a", "str"], ok()),
            (&["LMOVE", "c", "a", "LEFT", "LEFT"], err(WRONGTYPE)),
            (&["LRANGE", "c", "0", "-1"], arr(&["1", "2"])),
            (&["DEL", "a"], Int(1)),
            (&["LMOVE", "c", "a", "LEFT", "LEFT"], b("1")),
            (&["LMOVE", "c", "a", "LEFT", "RIGHT"], b("2")),
            (&["LRANGE", "a", "0", "-1"], arr(&["1", "2"])),
            (&["DBSIZE"], Int(2)),
        ],
    );
}

#[test]
fn lmpop_over_keys_on_both_shards() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let popped = |key: &str, items: &[&str]| Array(Some(vec![b(key), arr(items)]));
    check(
        &mut r,
        &[
            (&["LMPOP", "2", "a", "b", "LEFT"], Array(None)),
            (&["RPUSH", "b", "1", "2", "3"], Int(3)),
            (&["LMPOP", "2", "a", "b", "LEFT"], popped("b", &["1"])),
            (
                &["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5"],
                popped("b", &["3", "2"]),
            ),
            (&["RPUSH", "a", "x"], Int(1)),
            (&["RPUSH", "c", "y"], Int(1)),
            (&["LMPOP", "3", "b", "a", "c", "LEFT"], popped("a", &["x"])),
            (
                &["LMPOP", "1", "c", "LEFT", "COUNT", "2"],
                popped("c", &["y"]),
            ),
        ],
    );
    // BLMPOP with data returns at once.
    assert_eq!(r.cmd(&["RPUSH", "c", "y", "z"]), Int(2));
    assert_eq!(
        r.cmd(&["BLMPOP", "0", "2", "a", "c", "RIGHT", "COUNT", "1"]),
        popped("c", &["z"])
    );
    check(
        &mut r,
        &[
            (
                &["LMPOP", "0", "a", "LEFT"],
                err("ERR numkeys should be greater than 0"),
            ),
            (&["LMPOP", "2", "a", "LEFT"], err("ERR syntax error")),
            (&["LMPOP", "1", "a", "MIDDLE"], err("ERR syntax error")),
            (
                &["LMPOP", "1", "a", "LEFT", "COUNT", "0"],
                err("ERR count should be greater than 0"),
            ),
            (
                &["BLMPOP", "-1", "1", "a", "LEFT"],
                err("ERR timeout is negative"),
            ),
            (
                &["LMPOP", "1", "a"],
                err("ERR wrong number of arguments for 'lmpop' command"),
            ),
        ],
    );
}

/// Runs `cmd` on a fresh connection in a thread; its reply arrives on the
/// channel.
fn blocked(s: &Server, cmd: &'static [&'static str]) -> mpsc::Receiver<(Resp, Duration)> {
    let mut r = s.raw();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let reply = r.cmd(cmd);
        let _ = tx.send((reply, start.elapsed()));
    });
    rx
}

/// Waits until `cmd`'s text reply contains `needle`.
fn wait_reply_contains(r: &mut common::Raw, cmd: &[&str], needle: &str, what: &str) {
    wait_until(what, Duration::from_secs(10), || match r.cmd(cmd) {
        Bulk(Some(text)) => String::from_utf8_lossy(&text).contains(needle),
        _ => false,
    });
}

/// Waits until some client is running `name` (CLIENT LIST's `cmd=`).
fn wait_blocked(r: &mut common::Raw, name: &str) {
    wait_reply_contains(
        r,
        &["CLIENT", "LIST"],
        &format!("cmd={name} "),
        &format!("a client blocked in {name}"),
    );
}

fn reply(rx: &mpsc::Receiver<(Resp, Duration)>) -> (Resp, Duration) {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the blocked client got its reply")
}

#[test]
fn blpop_is_woken_by_a_push_from_another_connection() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    // Keys on both shards; the push lands on the second key's shard.
    let rx = blocked(&s, &["BLPOP", "a", "b", "0"]);
    wait_blocked(&mut r, "blpop");
    assert!(rx.try_recv().is_err(), "BLPOP returned before any push");
    assert_eq!(r.cmd(&["RPUSH", "b", "x", "y"]), Int(2));
    assert_eq!(reply(&rx).0, arr(&["b", "x"]));
    assert_eq!(r.cmd(&["LRANGE", "b", "0", "-1"]), arr(&["y"]));

    let rx = blocked(&s, &["BRPOP", "c", "a", "5"]);
    wait_blocked(&mut r, "brpop");
    assert_eq!(r.cmd(&["LPUSH", "a", "1", "2"]), Int(2));
    assert_eq!(reply(&rx).0, arr(&["a", "1"]));
    assert_eq!(r.cmd(&["LRANGE", "a", "0", "-1"]), arr(&["2"]));

    // With data present it answers at once, from the first non-empty key.
    assert_eq!(r.cmd(&["BLPOP", "c", "b", "a", "0"]), arr(&["b", "y"]));
    assert_eq!(r.cmd(&["BRPOP", "a", "0.5"]), arr(&["a", "2"]));
    assert_eq!(r.cmd(&["DBSIZE"]), Int(0));
}

#[test]
fn blmove_and_blmpop_are_woken_across_shards() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let rx = blocked(&s, &["BLMOVE", "a", "b", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut r, "blmove");
    assert_eq!(r.cmd(&["RPUSH", "a", "1", "2"]), Int(2));
    assert_eq!(reply(&rx).0, b("2"));
    assert_eq!(r.cmd(&["LRANGE", "a", "0", "-1"]), arr(&["1"]));
    assert_eq!(r.cmd(&["LRANGE", "b", "0", "-1"]), arr(&["2"]));

    let rx = blocked(&s, &["BRPOPLPUSH", "c", "b", "0"]);
    wait_blocked(&mut r, "brpoplpush");
    assert_eq!(r.cmd(&["RPUSH", "c", "3"]), Int(1));
    assert_eq!(reply(&rx).0, b("3"));
    assert_eq!(r.cmd(&["LRANGE", "b", "0", "-1"]), arr(&["3", "2"]));

    assert_eq!(r.cmd(&["DEL", "a"]), Int(1));
    let rx = blocked(&s, &["BLMPOP", "0", "2", "c", "a", "LEFT", "COUNT", "5"]);
    wait_blocked(&mut r, "blmpop");
    assert_eq!(r.cmd(&["LPUSH", "a", "8", "9"]), Int(2));
    assert_eq!(reply(&rx).0, Array(Some(vec![b("a"), arr(&["9", "8"])])));
    assert_eq!(r.cmd(&["EXISTS", "a"]), Int(0));
}

#[test]
fn blocking_timeouts_and_errors() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let start = Instant::now();
    assert_eq!(r.cmd(&["BLPOP", "a", "b", "0.2"]), Array(None));
    assert!(start.elapsed() >= Duration::from_millis(200));
    let start = Instant::now();
    assert_eq!(
        r.cmd(&["BLMOVE", "a", "b", "LEFT", "LEFT", "0.1"]),
        Array(None)
    );
    assert_eq!(r.cmd(&["BRPOPLPUSH", "a", "b", "0.1"]), Array(None));
    assert_eq!(r.cmd(&["BLMPOP", "0.1", "1", "a", "LEFT"]), Array(None));
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.cmd(&["BRPOP", "a", "0.001"]), Array(None));
    check(
        &mut r,
        &[
            (&["BLPOP", "a", "-1"], err("ERR timeout is negative")),
            (
                &["BLPOP", "a", "abc"],
                err("ERR timeout is not a float or out of range"),
            ),
            (
                &["BRPOPLPUSH", "a", "b", "-0.5"],
                err("ERR timeout is negative"),
            ),
            (&["BLPOP", "a", "1e300"], err("ERR timeout is negative")),
            (
                &["BLMOVE", "a", "b", "LEFT", "UP", "1"],
                err("ERR syntax error"),
            ),
            (
                &["BLPOP", "a"],
                err("ERR wrong number of arguments for 'blpop' command"),
            ),
        ],
    );
    // A blocked BLMOVE whose destination turns out to hold a string fails
    // when the source gets an element, which stays where it was pushed.
    assert_eq!(r.cmd(&["SET", "b", "str"]), ok());
    let rx = blocked(&s, &["BLMOVE", "a", "b", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut r, "blmove");
    assert_eq!(r.cmd(&["RPUSH", "a", "x"]), Int(1));
    assert_eq!(reply(&rx).0, err(WRONGTYPE));
    assert_eq!(r.cmd(&["LRANGE", "a", "0", "-1"]), arr(&["x"]));
    // A timed-out BLPOP left nothing behind and the server still serves.
    let rx = blocked(&s, &["BLPOP", "c", "0.3"]);
    let (got, took) = reply(&rx);
    assert_eq!(got, Array(None));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert_eq!(r.cmd(&["EXISTS", "c"]), Int(0));
}

/// Waits until INFO counts `n` blocked clients.
fn wait_blocked_count(r: &mut common::Raw, n: usize) {
    wait_reply_contains(
        r,
        &["INFO", "clients"],
        &format!("blocked_clients:{n}\r\n"),
        &format!("{n} blocked clients"),
    );
}

/// Redis's "BRPOPLPUSH with multiple blocked clients" on `src`: two
/// clients block moving from it, the first to `dst1`, which holds a
/// string, the second to `dst2`. A push serves them in the order they
/// blocked: the first gets WRONGTYPE and the element goes on to the second.
fn blocked_moves_in_order(s: &Server, r: &mut common::Raw, src: &str, dst1: &str, dst2: &str) {
    let cmd = |dst: &str| -> &'static [&'static str] {
        let args = ["BRPOPLPUSH", src, dst, "0"].map(|a| &*Box::leak(a.into()));
        Box::leak(Box::new(args))
    };
    assert_eq!(r.cmd(&["SET", dst1, "nolist"]), ok());
    let first = blocked(s, cmd(dst1));
    wait_blocked_count(r, 1);
    let second = blocked(s, cmd(dst2));
    wait_blocked_count(r, 2);
    assert_eq!(r.cmd(&["LPUSH", src, "foo"]), Int(1));
    assert_eq!(reply(&first).0, err(WRONGTYPE));
    assert_eq!(reply(&second).0, b("foo"));
    assert_eq!(r.cmd(&["LRANGE", dst2, "0", "-1"]), arr(&["foo"]));
    assert_eq!(r.cmd(&["EXISTS", src]), Int(0));
}

/// Blocked clients are served in the order they blocked, a move across
/// shards included.
#[test]
fn blocked_moves_are_served_in_order_across_shards() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    // "a" and "d" are on shard 1, "b" on shard 0.
    blocked_moves_in_order(&s, &mut r, "a", "b", "d");

    // And a move across shards that blocked first gets the element.
    let first = blocked(&s, &["BLMOVE", "a", "c", "LEFT", "RIGHT", "0"]);
    wait_blocked_count(&mut r, 1);
    let second = blocked(&s, &["BLPOP", "a", "0"]);
    wait_blocked_count(&mut r, 2);
    assert_eq!(r.cmd(&["RPUSH", "a", "x", "y"]), Int(2));
    assert_eq!(reply(&first).0, b("x"));
    assert_eq!(reply(&second).0, arr(&["a", "y"]));
    assert_eq!(r.cmd(&["LRANGE", "c", "0", "-1"]), arr(&["x"]));
}

/// The shard makes a blocked command's first try once the client is in
/// line, so clients get in line in the order their commands reach the
/// shard (Redis's "BRPOPLPUSH with multiple blocked clients", keys on one
/// shard). A first try still answers as Redis's command does: WRONGTYPE
/// for a key of another type, even one others wait on, and an element from
/// a later key when an earlier one is empty.
#[test]
fn first_tries_are_made_in_line() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    blocked_moves_in_order(&s, &mut r, "blist{t}", "target1{t}", "target2{t}");
    wait_blocked_count(&mut r, 0);

    // "k{t}" turns into a string while a client waits on it: that client
    // keeps waiting (Redis 7.0), a new one is answered WRONGTYPE at once.
    let waiting = blocked(&s, &["BLPOP", "k{t}", "0"]);
    wait_blocked_count(&mut r, 1);
    assert_eq!(r.cmd(&["SET", "k{t}", "str"]), ok());
    assert_eq!(r.cmd(&["BLPOP", "k{t}", "0"]), err(WRONGTYPE));
    assert_eq!(r.cmd(&["BZPOPMIN", "k{t}", "0"]), err(WRONGTYPE));
    // An empty key others wait on, then one with an element: served from
    // the second at once.
    assert_eq!(r.cmd(&["DEL", "k{t}"]), Int(1));
    assert_eq!(r.cmd(&["RPUSH", "l{t}", "x"]), Int(1));
    assert_eq!(r.cmd(&["BLPOP", "k{t}", "l{t}", "0"]), arr(&["l{t}", "x"]));
    assert_eq!(r.cmd(&["ZADD", "z{t}", "1", "m"]), Int(1));
    assert_eq!(
        r.cmd(&["BZPOPMIN", "k{t}", "z{t}", "0"]),
        Array(Some(vec![b("z{t}"), b("m"), b("1")]))
    );
    assert!(waiting.try_recv().is_err(), "the first client still waits");
    assert_eq!(r.cmd(&["RPUSH", "k{t}", "y"]), Int(1));
    assert_eq!(reply(&waiting).0, arr(&["k{t}", "y"]));
    // A waiting move within one shard whose source turns into a string
    // keeps waiting (Redis serves blocked clients from lists only).
    let mover = blocked(&s, &["BLMOVE", "src{t}", "dst{t}", "LEFT", "LEFT", "0"]);
    wait_blocked_count(&mut r, 1);
    assert_eq!(r.cmd(&["SET", "src{t}", "str"]), ok());
    assert_eq!(r.cmd(&["DEL", "src{t}"]), Int(1));
    assert_eq!(r.cmd(&["RPUSH", "src{t}", "e"]), Int(1));
    assert_eq!(reply(&mover).0, b("e"));
    assert_eq!(r.cmd(&["LRANGE", "dst{t}", "0", "-1"]), arr(&["e"]));
    // With a timeout already short, the first try is still made.
    assert_eq!(r.cmd(&["RPUSH", "l{t}", "z"]), Int(1));
    assert_eq!(r.cmd(&["BLPOP", "l{t}", "0.001"]), arr(&["l{t}", "z"]));
    wait_blocked_count(&mut r, 0);
}

/// A blocked client's wait in line travels to its shard in a message of
/// its own. It used to share a message (and so one reply) with whatever
/// other connections on its core sent that shard at the same moment, and
/// they then waited until the blocked client was served: here a worker
/// would stop making progress while the clients stay blocked.
#[test]
fn blocked_clients_do_not_hold_back_other_connections() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let stop = Arc::new(AtomicBool::new(false));
    // Workers on both cores, each counting its own key on shard 1.
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let mut c = s.raw();
            let stop = stop.clone();
            thread::spawn(move || {
                let key = format!("{{a}}n{i}");
                while !stop.load(Ordering::Relaxed) {
                    assert!(matches!(c.cmd(&["INCR", &key]), Int(_)));
                }
            })
        })
        .collect();
    let blockers: Vec<_> = (0..32)
        .map(|i| {
            let key: &'static str = Box::leak(format!("{{a}}empty{i}").into_boxed_str());
            let cmd: &'static [&'static str] =
                Box::leak(vec!["BLPOP", key, "0"].into_boxed_slice());
            (key, blocked(&s, cmd))
        })
        .collect();
    wait_blocked_count(&mut r, 32);
    let count = |r: &mut common::Raw, i: usize| match r.cmd(&["GET", &format!("{{a}}n{i}")]) {
        Bulk(Some(v)) => String::from_utf8_lossy(&v).parse::<i64>().unwrap(),
        _ => 0,
    };
    let before: Vec<i64> = (0..4).map(|i| count(&mut r, i)).collect();
    wait_until(
        "every worker answered while clients wait",
        Duration::from_secs(10),
        || (0..4).all(|i| count(&mut r, i) >= before[i] + 100),
    );
    for (key, rx) in &blockers {
        assert_eq!(r.cmd(&["RPUSH", key, "x"]), Int(1));
        assert_eq!(reply(rx).0, arr(&[key, "x"]));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
}

#[test]
fn lists_survive_a_restart_and_expire() {
    let mut s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["RPUSH", "a", "1", "2", "3"]), Int(3));
    assert_eq!(r.cmd(&["LPUSH", "a", "0"]), Int(4));
    assert_eq!(r.cmd(&["LINSERT", "a", "AFTER", "2", "2.5"]), Int(5));
    assert_eq!(r.cmd(&["RPUSH", "b", "x"]), Int(1));
    assert_eq!(r.cmd(&["PEXPIRE", "b", "100"]), Int(1));
    drop(r);
    s.restart();
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["LRANGE", "a", "0", "-1"]),
        arr(&["0", "1", "2", "2.5", "3"])
    );
    assert_eq!(r.cmd(&["LINDEX", "a", "-2"]), b("2.5"));
    wait_until("b to expire", Duration::from_secs(10), || {
        r.cmd(&["LLEN", "b"]) == Int(0)
    });
    assert_eq!(r.cmd(&["LPOP", "b"]), Bulk(None));
    assert_eq!(r.cmd(&["RPUSH", "b", "y"]), Int(1));
    assert_eq!(r.cmd(&["LRANGE", "b", "0", "-1"]), arr(&["y"]));
    assert_eq!(r.cmd(&["TTL", "b"]), Int(-1));
}

/// Waits until some client is running `name` and answers its id.
fn blocked_id(r: &mut common::Raw, name: &str) -> String {
    wait_blocked(r, name);
    let Bulk(Some(text)) = r.cmd(&["CLIENT", "LIST"]) else {
        panic!("CLIENT LIST")
    };
    let needle = format!("cmd={name} ");
    let line = String::from_utf8_lossy(&text)
        .lines()
        .find(|l| l.contains(&needle))
        .expect("blocked client in CLIENT LIST")
        .to_string();
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("id="))
        .expect("id= field")
        .to_string()
}

#[test]
fn client_unblock_ends_a_blocking_command() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    // Default and TIMEOUT: answered as a timeout; ERROR: -UNBLOCKED. One key
    // waits in line on its shard, two keys on two shards poll.
    for (cmd, how, want) in [
        (&["BLPOP", "l", "0"][..], None, Array(None)),
        (&["BLPOP", "l", "0"][..], Some("TIMEOUT"), Array(None)),
        (
            &["BRPOP", "a", "b", "0"][..],
            Some("ERROR"),
            err("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
        ),
        (
            &["BZPOPMIN", "z", "0"][..],
            Some("error"),
            err("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
        ),
    ] {
        let cmd: &'static [&'static str] = Box::leak(cmd.to_vec().into_boxed_slice());
        let rx = blocked(&s, cmd);
        let id = blocked_id(&mut r, &cmd[0].to_lowercase());
        let mut args = vec!["CLIENT", "UNBLOCK", id.as_str()];
        args.extend(how);
        assert_eq!(r.cmd(&args), Int(1), "{cmd:?}");
        assert_eq!(reply(&rx).0, want, "{cmd:?}");
        // Not blocked any more: nothing to unblock.
        assert_eq!(r.cmd(&["CLIENT", "UNBLOCK", id.as_str()]), Int(0));
    }
    assert_eq!(r.cmd(&["RPUSH", "l", "x"]), Int(1));
    assert_eq!(r.cmd(&["LRANGE", "l", "0", "-1"]), arr(&["x"]));
    check(
        &mut r,
        &[
            (
                &["CLIENT", "UNBLOCK", "asd"],
                err("ERR value is not an integer or out of range"),
            ),
            (&["CLIENT", "UNBLOCK", "999999"], Int(0)),
            (
                &["CLIENT", "UNBLOCK", "1", "later"],
                err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
            ),
        ],
    );
}
