//! Bad input, pipelining and client limits on the real server: every
//! protocol violation gets Redis's error and a closed connection, and the
//! server keeps serving others.

mod common;

use std::io::Write;
use std::time::Duration;

use common::Raw;
use common::Resp;
use common::Resp::*;
use common::Server;
use common::wait_until;

/// Sends `bytes`, expects `error` as the reply, then a closed connection.
fn violation(s: &Server, bytes: &[u8], error: &str) {
    let mut r = s.raw();
    r.send(bytes);
    assert_eq!(
        r.read(),
        Some(Resp::err(error)),
        "input {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
    );
    assert!(r.is_closed(), "connection stays open after {error}");
}

#[test]
fn protocol_errors_reply_and_close() {
    let s = Server::start(&[]);
    violation(
        &s,
        b"*a\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    violation(
        &s,
        b"*2000000\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    violation(
        &s,
        b"*1\r\n$-5\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    violation(
        &s,
        b"*1\r\n$600000000\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    violation(
        &s,
        b"*1\r\n$abc\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    violation(
        &s,
        b"*1\r\nfoo\r\n",
        "ERR Protocol error: expected '$', got 'f'",
    );
    violation(
        &s,
        b"set \"unbalanced\r\n",
        "ERR Protocol error: unbalanced quotes in request",
    );
    violation(
        &s,
        &vec![b'a'; 70_000],
        "ERR Protocol error: too big inline request",
    );
    let mut big_count = b"*".to_vec();
    big_count.extend(vec![b'1'; 70_000]);
    violation(
        &s,
        &big_count,
        "ERR Protocol error: too big mbulk count string",
    );
    let mut big_bulk = b"*1\r\n$".to_vec();
    big_bulk.extend(vec![b'1'; 70_000]);
    violation(
        &s,
        &big_bulk,
        "ERR Protocol error: too big bulk count string",
    );
    // Commands before the violation in the same packet are answered first.
    let mut r = s.raw();
    r.send(b"PING\r\n*1\r\nx\r\n");
    assert_eq!(r.read(), Some(Simple("PONG".into())));
    assert_eq!(
        r.read(),
        Some(Resp::err("ERR Protocol error: expected '$', got 'x'"))
    );
    assert!(r.is_closed());
    assert_eq!(s.raw().cmd(&["PING"]), Simple("PONG".into()));
}

#[test]
fn command_errors_keep_the_connection() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["NOSUCH", "a", "b"]),
        Resp::err("ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        r.cmd(&["GET"]),
        Resp::err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        r.cmd(&["GET", "a", "b"]),
        Resp::err("ERR wrong number of arguments for 'get' command")
    );
    // Inline commands, blank lines and *0 are accepted like Redis does.
    r.send(b"\r\n*0\r\nset inline \"a b\"\r\nget inline\r\n");
    assert_eq!(r.read(), Some(Simple("OK".into())));
    assert_eq!(r.read(), Some(Resp::bulk("a b")));
    let long = "x".repeat(1000);
    let Error(e) = r.cmd(&[&long]) else { panic!() };
    assert!(
        e.len() < 200,
        "unknown-command text is bounded: {}",
        e.len()
    );
}

#[test]
fn garbage_never_crashes_the_server() {
    let s = Server::start(&[]);
    let mut seed = 0x2545F4914F6CDD1Du64;
    for _ in 0..50 {
        let mut bytes = Vec::new();
        for _ in 0..512 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(match seed % 8 {
                0 => b'*',
                1 => b'$',
                2 => b'\r',
                3 => b'\n',
                4 => b'-',
                5 => b'1',
                _ => (seed >> 8) as u8,
            });
        }
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", s.port)) {
            let _ = stream.write_all(&bytes);
        }
    }
    assert_eq!(s.raw().cmd(&["PING"]), Simple("PONG".into()));
}

#[test]
fn pipeline_of_1000_commands_answers_in_order() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut batch = Vec::new();
    for i in 0..1000 {
        let key = format!("p:{i}");
        let val = i.to_string();
        batch.extend(Raw::encode(&["SET", &key, &val]));
        batch.extend(Raw::encode(&["INCR", &key]));
        batch.extend(Raw::encode(&["GET", &key]));
    }
    r.send(&batch);
    for i in 0..1000i64 {
        assert_eq!(r.read(), Some(Simple("OK".into())));
        assert_eq!(r.read(), Some(Int(i + 1)));
        assert_eq!(r.read(), Some(Resp::bulk(&(i + 1).to_string())));
    }
    assert_eq!(r.cmd(&["DBSIZE"]), Int(1000));
    // The redis crate's pipeline API agrees.
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("GET").arg(format!("p:{i}"));
    }
    let values: Vec<i64> = p.query(&mut c).expect("pipeline");
    assert_eq!(values, (1..=1000).collect::<Vec<i64>>());
}

#[test]
fn maxclients_refuses_extra_connections() {
    let s = Server::start(&["--maxclients", "2"]);
    // The harness's readiness probe may still hold a slot for a moment.
    let mut a = None;
    wait_until("a first client", Duration::from_secs(5), || {
        let mut c = s.raw();
        let ok = c.cmd(&["PING"]) == Simple("PONG".into());
        a = ok.then_some(c);
        ok
    });
    let mut b = s.raw();
    assert_eq!(b.cmd(&["PING"]), Simple("PONG".into()));
    let mut c = s.raw();
    assert_eq!(
        c.read(),
        Some(Resp::err("ERR max number of clients reached"))
    );
    assert!(c.is_closed());
    drop(a);
    wait_until("a slot to free up", Duration::from_secs(5), || {
        let mut d = s.raw();
        d.cmd(&["PING"]) == Simple("PONG".into())
    });
}

#[test]
fn a_client_that_never_reads_is_disconnected() {
    let s = Server::start(&["--client-output-write-timeout", "300"]);
    let mut r = s.raw();
    let value = "v".repeat(1 << 20);
    assert_eq!(r.cmd(&["SET", "big", &value]), Simple("OK".into()));
    // 400 MiB of replies requested, none read: the server must neither
    // buffer them all nor keep the connection forever.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let gets: Vec<u8> = (0..400)
        .flat_map(|_| Raw::encode(&["GET", "big"]))
        .collect();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(&gets);
    wait_until(
        "the stalled client to be dropped",
        Duration::from_secs(20),
        || {
            let Bulk(Some(info)) = r.cmd(&["INFO", "clients"]) else {
                return false;
            };
            String::from_utf8_lossy(&info).contains("connected_clients:1\r\n")
        },
    );
    let Bulk(Some(mem)) = r.cmd(&["INFO", "memory"]) else {
        panic!()
    };
    let mem = String::from_utf8_lossy(&mem).to_string();
    let rss: u64 = mem
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_rss:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(rss < 300 << 20, "server buffered the replies: rss {rss}");
    drop(stream);
}
