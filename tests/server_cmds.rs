//! Connection and server commands, through raw RESP, redis-cli and the
//! redis crate.

mod common;

use common::Resp;
use common::Resp::*;
use common::Server;

fn b(s: &str) -> Resp {
    Resp::bulk(s)
}

#[test]
fn ping_echo_select_time_quit() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["PING"]), Simple("PONG".into()));
    assert_eq!(r.cmd(&["ping", "hi"]), b("hi"));
    assert_eq!(
        r.cmd(&["PING", "a", "b"]),
        Resp::err("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(r.cmd(&["ECHO", "x y"]), b("x y"));
    assert_eq!(r.cmd(&["SELECT", "0"]), Simple("OK".into()));
    assert_eq!(
        r.cmd(&["SELECT", "1"]),
        Resp::err("ERR DB index is out of range")
    );
    assert_eq!(
        r.cmd(&["SELECT", "x"]),
        Resp::err("ERR value is not an integer or out of range")
    );
    let Array(Some(t)) = r.cmd(&["TIME"]) else {
        panic!()
    };
    let Bulk(Some(secs)) = &t[0] else { panic!() };
    let secs: u64 = String::from_utf8(secs.clone()).unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2);
    assert_eq!(r.cmd(&["QUIT"]), Simple("OK".into()));
    assert!(r.is_closed());
}

#[test]
fn hello_switches_protocol() {
    use std::io::Read;
    use std::io::Write;
    let s = Server::start(&[]);
    let mut r = s.raw();
    let Array(Some(m)) = r.cmd(&["HELLO"]) else {
        panic!()
    };
    assert!(m.contains(&b("proto")) && m.contains(&Int(2)));
    assert_eq!(
        r.cmd(&["HELLO", "4"]),
        Resp::err("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        r.cmd(&["HELLO", "x"]),
        Resp::err("ERR Protocol version is not an integer or out of range")
    );
    // After HELLO 3 replies are RESP3: a map header, then `_` for a null.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stream
        .write_all(&common::Raw::encode(&["HELLO", "3", "SETNAME", "me"]))
        .unwrap();
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"%7\r\n");
    let mut rest = vec![0u8; 4096];
    let _ = stream.read(&mut rest).unwrap();
    stream
        .write_all(&common::Raw::encode(&["GET", "nothing"]))
        .unwrap();
    let mut null = [0u8; 3];
    stream.read_exact(&mut null).unwrap();
    assert_eq!(&null, b"_\r\n");
}

#[test]
fn client_subcommands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    assert_eq!(
        other.cmd(&["CLIENT", "SETNAME", "second"]),
        Simple("OK".into())
    );
    let Int(id) = r.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    assert!(id > 0);
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), Bulk(None));
    assert_eq!(r.cmd(&["CLIENT", "SETNAME", "first"]), Simple("OK".into()));
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), b("first"));
    assert_eq!(
        r.cmd(&["CLIENT", "SETNAME", "has space"]),
        Resp::err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    let Bulk(Some(info)) = r.cmd(&["CLIENT", "INFO"]) else {
        panic!()
    };
    let info = String::from_utf8(info).unwrap();
    assert!(
        info.contains(&format!("id={id} ")) && info.contains("name=first"),
        "{info}"
    );
    // LIST sees clients of every core.
    let Bulk(Some(list)) = r.cmd(&["CLIENT", "LIST"]) else {
        panic!()
    };
    let list = String::from_utf8(list).unwrap();
    assert!(
        list.contains("name=first") && list.contains("name=second"),
        "{list}"
    );
    let Bulk(Some(one)) = r.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]) else {
        panic!()
    };
    assert_eq!(String::from_utf8(one).unwrap().lines().count(), 1);
    assert_eq!(
        r.cmd(&["CLIENT", "BOGUS"]),
        Resp::err("ERR unknown subcommand 'BOGUS'. Try CLIENT HELP.")
    );
    assert_eq!(
        r.cmd(&["CLIENT", "ID", "x"]),
        Resp::err("ERR wrong number of arguments for 'client|id' command")
    );
}

#[test]
fn info_config_command() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "x", "1"]), Simple("OK".into()));
    let Bulk(Some(info)) = r.cmd(&["INFO"]) else {
        panic!()
    };
    let info = String::from_utf8(info).unwrap();
    for needle in [
        "# Server",
        "redis_version:7.0.15",
        "# Clients",
        "connected_clients:",
        "# Memory",
        "# Stats",
        "# Keyspace",
        "db0:keys=1,expires=0",
        "# Shards",
        "shard_0:",
        "shard_1:",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle}:\n{info}");
    }
    let Bulk(Some(ks)) = r.cmd(&["INFO", "keyspace"]) else {
        panic!()
    };
    assert!(!String::from_utf8(ks).unwrap().contains("# Server"));

    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxclients"]),
        Array(Some(vec![b("maxclients"), b("10000")]))
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxclients", "500"]),
        Simple("OK".into())
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxclients"]),
        Array(Some(vec![b("maxclients"), b("500")]))
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "no-such-param"]),
        Array(Some(vec![]))
    );
    let Array(Some(all)) = r.cmd(&["CONFIG", "GET", "*max*"]) else {
        panic!()
    };
    assert!(all.len() >= 4 && all.len() % 2 == 0);
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "no-such-param", "1"]),
        Resp::err("ERR Unknown option or number of arguments for CONFIG SET - 'no-such-param'")
    );
    assert_eq!(r.cmd(&["CONFIG", "SET", "save", ""]), Simple("OK".into()));
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "appendfsync"]),
        Array(Some(vec![b("appendfsync"), b("everysec")]))
    );

    let Int(n) = r.cmd(&["COMMAND", "COUNT"]) else {
        panic!()
    };
    assert!(n >= 50, "{n}");
    let Array(Some(get)) = r.cmd(&["COMMAND", "INFO", "get", "nosuch"]) else {
        panic!()
    };
    assert_eq!(get[1], Bulk(None));
    let Array(Some(row)) = &get[0] else { panic!() };
    assert_eq!(row[0], b("get"));
    assert_eq!(row[1], Int(2));
    let Array(Some(docs)) = r.cmd(&["COMMAND", "DOCS", "set"]) else {
        panic!()
    };
    assert_eq!(docs[0], b("set"));
    let Array(Some(_)) = r.cmd(&["COMMAND"]) else {
        panic!()
    };
}

#[test]
fn redis_cli_drives_the_server() {
    let s = Server::start(&[]);
    assert_eq!(s.cli(&["set", "cli", "hello world"]), "OK");
    assert_eq!(s.cli(&["get", "cli"]), "hello world");
    assert_eq!(s.cli(&["incr", "n"]), "1");
    assert_eq!(s.cli(&["dbsize"]), "2");
    assert_eq!(
        s.cli(&["nosuchcmd", "x"]),
        "ERR unknown command 'nosuchcmd', with args beginning with: 'x'"
    );
    // redis-cli without a command reads commands from stdin.
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &s.port.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"set piped 1\nget piped\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK\n1");
}

/// `snapshot=` of every shard in INFO raft.
fn snapshot_indexes(r: &mut common::Raw) -> Vec<u64> {
    let Bulk(Some(text)) = r.cmd(&["INFO", "raft"]) else {
        panic!("INFO raft")
    };
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| l.starts_with("shard_"))
        .map(|l| {
            l.split(',')
                .find_map(|f| f.strip_prefix("snapshot="))
                .expect("snapshot= field")
                .parse()
                .expect("snapshot index")
        })
        .collect()
}

/// SAVE snapshots every shard's Raft group (INFO raft shows it), the data
/// survives a restart from the snapshot, LASTSAVE moves, BGSAVE answers
/// at once, SAVE/SHUTDOWN are refused inside MULTI, and SHUTDOWN stops
/// the server cleanly.
#[test]
fn save_bgsave_lastsave_shutdown() {
    let mut s = Server::start(&["--shards", "2"]);
    let mut r = s.raw();
    let before = match r.cmd(&["LASTSAVE"]) {
        Int(t) => t,
        other => panic!("LASTSAVE: {other:?}"),
    };
    for i in 0..50 {
        let k = format!("k{i}");
        assert_eq!(r.cmd(&["SET", &k, "v"]), Simple("OK".into()));
    }
    assert_eq!(snapshot_indexes(&mut r), vec![0, 0]);
    assert_eq!(r.cmd(&["SAVE"]), Simple("OK".into()));
    let after = snapshot_indexes(&mut r);
    assert_eq!(after.len(), 2);
    assert!(
        after.iter().all(|&i| i > 0),
        "every shard snapshotted: {after:?}"
    );
    let Int(t) = r.cmd(&["LASTSAVE"]) else {
        panic!()
    };
    assert!(t >= before);
    assert_eq!(
        r.cmd(&["BGSAVE"]),
        Simple("Background saving started".into())
    );
    assert_eq!(r.cmd(&["BGSAVE", "NOW"]), Resp::err("ERR syntax error"));
    for cmd in ["SAVE", "SHUTDOWN"] {
        assert_eq!(r.cmd(&["MULTI"]), Simple("OK".into()));
        assert_eq!(r.cmd(&["SET", "foo", "bar"]), Simple("QUEUED".into()));
        assert_eq!(
            r.cmd(&[cmd]),
            Resp::err("ERR Command not allowed inside a transaction")
        );
        assert_eq!(
            r.cmd(&["EXEC"]),
            Resp::err("EXECABORT Transaction discarded because of previous errors.")
        );
    }
    assert_eq!(r.cmd(&["EXISTS", "foo"]), Int(0));
    assert_eq!(
        r.cmd(&["SHUTDOWN", "ABORT"]),
        Resp::err("ERR No shutdown in progress.")
    );
    drop(r);
    // The data comes back from the snapshots (and the log after them).
    s.restart();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["DBSIZE"]), Int(50));
    assert_eq!(r.cmd(&["GET", "k7"]), Resp::bulk("v"));
    r.send(&common::Raw::encode(&["SHUTDOWN"]));
    assert_eq!(s.wait_exit(std::time::Duration::from_secs(20)), Some(0));
    assert!(r.is_closed(), "the connection closes without a reply");
}

/// `--rocksdb-options` reaches every column family (RocksDB writes the
/// options it opened with to its OPTIONS file), the server then serves
/// normally, and an option RocksDB does not know stops start-up with an
/// error instead of being ignored.
#[test]
fn rocksdb_options_flag_applies_and_rejects_unknown_options() {
    let mut s = Server::start(&[
        "--shards",
        "1",
        "--block-cache-mb",
        "32",
        "--rocksdb-options",
        "write_buffer_size=8388608;compression=kNoCompression",
    ]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "k", "v"]), Simple("OK".into()));
    assert_eq!(r.cmd(&["GET", "k"]), b("v"));
    let shard_dir = s.dir.path().join("shard-0");
    let options = std::fs::read_dir(&shard_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("OPTIONS-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .max_by_key(|text| text.len())
        .expect("an OPTIONS file");
    let data_cf = options
        .split("[CFOptions \"data-0\"]")
        .nth(1)
        .expect("data-0 section");
    assert!(data_cf.contains("write_buffer_size=8388608"), "{data_cf}");
    assert!(data_cf.contains("compression=kNoCompression"), "{data_cf}");
    s.stop();

    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(common::BIN)
        .args(["--port", "0", "--shards", "1", "--log-level", "error"])
        .arg("--dir")
        .arg(dir.path())
        .args(["--rocksdb-options", "no_such_option=1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run shardis");
    // A server that started anyway must not hang the test: kill it, fail.
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if std::time::Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("shardis started with an unknown RocksDB option");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("no_such_option"), "{err}");
}
