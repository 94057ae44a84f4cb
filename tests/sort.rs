//! SORT and SORT_RO against the real binary, with BY/GET pattern keys on
//! other shards than the sorted key.

mod common;

use common::Resp;
use common::Resp::*;
use common::Server;

fn arr(items: &[&str]) -> Resp {
    Array(Some(items.iter().map(|s| Resp::bulk(s)).collect()))
}

fn check(r: &mut common::Raw, cases: &[(&[&str], Resp)]) {
    for (cmd, want) in cases {
        assert_eq!(&r.cmd(cmd), want, "command {cmd:?}");
    }
}

#[test]
fn sort_orders_limits_and_patterns() {
    let s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            (&["RPUSH", "l", "3", "1", "10", "2"], Int(4)),
            (&["SADD", "st", "b", "a", "c"], Int(3)),
            (&["ZADD", "z", "3", "x", "1", "y", "2", "w"], Int(3)),
            // Weights and objects spread over both shards.
            (
                &["MSET", "w_1", "40", "w_2", "30", "w_3", "20", "w_10", "10"],
                Simple("OK".into()),
            ),
            (&["HSET", "o_1", "name", "one"], Int(1)),
            (&["HSET", "o_2", "name", "two"], Int(1)),
            (&["SET", "n_3", "three"], Simple("OK".into())),
        ],
    );
    check(
        &mut r,
        &[
            (&["SORT", "l"], arr(&["1", "2", "3", "10"])),
            (&["SORT", "l", "DESC"], arr(&["10", "3", "2", "1"])),
            (&["SORT", "l", "ALPHA"], arr(&["1", "10", "2", "3"])),
            (&["SORT", "l", "LIMIT", "1", "2"], arr(&["2", "3"])),
            (&["SORT", "l", "LIMIT", "10", "2"], arr(&[])),
            (
                &["SORT", "l", "LIMIT", "-5", "-1"],
                arr(&["1", "2", "3", "10"]),
            ),
            (&["SORT", "l", "BY", "w_*"], arr(&["10", "3", "2", "1"])),
            (&["SORT", "l", "BY", "nosort"], arr(&["3", "1", "10", "2"])),
            (
                &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "0", "2"],
                arr(&["2", "10"]),
            ),
            (&["SORT", "z", "BY", "nosort"], arr(&["y", "w", "x"])),
            (&["SORT", "st", "ALPHA", "DESC"], arr(&["c", "b", "a"])),
            (
                &["SORT", "l", "GET", "#", "GET", "o_*->name", "GET", "n_*"],
                Array(Some(vec![
                    Resp::bulk("1"),
                    Resp::bulk("one"),
                    Bulk(None),
                    Resp::bulk("2"),
                    Resp::bulk("two"),
                    Bulk(None),
                    Resp::bulk("3"),
                    Bulk(None),
                    Resp::bulk("three"),
                    Resp::bulk("10"),
                    Bulk(None),
                    Bulk(None),
                ])),
            ),
            (&["SORT", "missing"], arr(&[])),
            (&["SORT_RO", "l", "LIMIT", "0", "1"], arr(&["1"])),
            // STORE writes a list (on its own shard) and answers its length.
            (&["SORT", "l", "BY", "w_*", "STORE", "dst"], Int(4)),
            (&["LRANGE", "dst", "0", "-1"], arr(&["10", "3", "2", "1"])),
            (&["SORT", "st", "BY", "nosort", "STORE", "dst2"], Int(3)),
            (&["LRANGE", "dst2", "0", "-1"], arr(&["a", "b", "c"])),
            (&["SORT", "missing", "STORE", "dst"], Int(0)),
            (&["EXISTS", "dst"], Int(0)),
        ],
    );
    check(
        &mut r,
        &[
            (&["SADD", "words", "x", "1"], Int(2)),
            (
                &["SORT", "words"],
                Resp::err("ERR One or more scores can't be converted into double"),
            ),
            (
                &["SORT", "w_1"],
                Resp::err("WRONGTYPE Operation against a key holding the wrong kind of value"),
            ),
            (&["SORT", "l", "LIMIT", "1"], Resp::err("ERR syntax error")),
            (
                &["SORT", "l", "LIMIT", "a", "1"],
                Resp::err("ERR value is not an integer or out of range"),
            ),
            (
                &["SORT_RO", "l", "STORE", "x"],
                Resp::err("ERR syntax error"),
            ),
            (&["SORT", "l", "BOGUS"], Resp::err("ERR syntax error")),
        ],
    );
}
