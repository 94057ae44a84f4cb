//! Test harness: starts the real `shardis` binary on a free port with its
//! own temp data dir, and talks to it with the `redis` crate, `redis-cli`,
//! or raw bytes when the exact wire format is under test.

#![allow(dead_code)]

use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::io::Write;
use std::net::TcpListener;
use std::net::TcpStream;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

pub const BIN: &str = env!("CARGO_BIN_EXE_shardis");

/// Waits for `cond` to hold, polling, up to `deadline`; panics with `what` otherwise.
pub fn wait_until(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running server; killed and its data dir removed on drop.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    /// Environment of the server process (fault injection).
    pub env: Vec<(String, String)>,
}

impl Server {
    /// Starts a server with 2 shards plus `extra` flags.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_env(extra, &[])
    }

    /// Starts a server with `extra` flags and `env` variables set.
    pub fn start_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            child: None,
            port: 0,
            dir: tempfile::tempdir().expect("temp dir"),
            args: extra.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.spawn_on_free_port();
        s
    }

    fn spawn_on_free_port(&mut self) {
        for _ in 0..5 {
            self.port = free_port();
            if self.spawn() {
                return;
            }
        }
        panic!("server did not start");
    }

    /// Starts the process; false if it exited before accepting (port taken).
    fn spawn(&mut self) -> bool {
        let mut args = vec![
            "--port".to_string(),
            self.port.to_string(),
            "--dir".into(),
            self.dir.path().display().to_string(),
            "--log-level".into(),
            "warn".into(),
        ];
        if !self.args.iter().any(|a| a == "--shards") {
            args.extend(["--shards".into(), "2".into()]);
        }
        args.extend(self.args.iter().cloned());
        let child = Command::new(BIN)
            .args(&args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn shardis");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return false;
            }
            if let Ok(mut raw) = Raw::try_connect(self.port)
                && raw.cmd(&["PING"]) == Resp::Simple("PONG".into())
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server on port {} not ready in time", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("redis connection")
    }

    pub fn raw(&self) -> Raw {
        Raw::try_connect(self.port).expect("raw connection")
    }

    /// Runs `redis-cli -p PORT args...` and returns its stdout, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("redis-cli is installed (apt-get install redis-tools)");
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// Waits (bounded) for the server to exit on its own; its exit code.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<i32> {
        let c = self.child.as_mut()?;
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Starts the same server again on the same port and data dir.
    pub fn restart(&mut self) {
        self.kill9();
        for _ in 0..50 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("restart failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A decoded RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    pub fn bulk(s: &str) -> Resp {
        Resp::Bulk(Some(s.as_bytes().to_vec()))
    }
    pub fn err(s: &str) -> Resp {
        Resp::Error(s.to_string())
    }
}

/// A raw RESP connection for exact wire checks.
pub struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    /// The numeric `name:value` field of INFO `section`.
    pub fn info_number(&mut self, section: &str, name: &str) -> u64 {
        let Resp::Bulk(Some(info)) = self.cmd(&["INFO", section]) else {
            panic!("INFO {section}")
        };
        let info = String::from_utf8_lossy(&info).to_string();
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .trim()
            .parse()
            .unwrap()
    }

    pub fn try_connect(port: u16) -> std::io::Result<Raw> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(Raw {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    pub fn encode(args: &[&str]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend(format!("${}\r\n", a.len()).bytes());
            out.extend(a.as_bytes());
            out.extend(b"\r\n");
        }
        out
    }

    pub fn cmd(&mut self, args: &[&str]) -> Resp {
        let bytes = Raw::encode(args);
        if self.writer.write_all(&bytes).is_err() {
            return Resp::Error("write failed".into());
        }
        self.read()
            .unwrap_or(Resp::Error("connection closed".into()))
    }

    fn line(&mut self) -> Option<String> {
        let mut l = String::new();
        match self.reader.read_line(&mut l) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(l.trim_end_matches("\r\n").to_string()),
        }
    }

    /// Reads one reply; None on EOF.
    pub fn read(&mut self) -> Option<Resp> {
        let l = self.line()?;
        let (t, rest) = l.split_at(1);
        Some(match t {
            "+" => Resp::Simple(rest.into()),
            "-" => Resp::Error(rest.into()),
            ":" => Resp::Int(rest.parse().ok()?),
            "$" => {
                let n: i64 = rest.parse().ok()?;
                if n < 0 {
                    return Some(Resp::Bulk(None));
                }
                let mut buf = vec![0; n as usize + 2];
                self.reader.read_exact(&mut buf).ok()?;
                buf.truncate(n as usize);
                Resp::Bulk(Some(buf))
            }
            "*" => {
                let n: i64 = rest.parse().ok()?;
                if n < 0 {
                    return Some(Resp::Array(None));
                }
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(self.read()?);
                }
                Resp::Array(Some(v))
            }
            _ => Resp::Error(format!("unparsable reply line {l:?}")),
        })
    }

    /// True once the server has closed the connection (reads hit EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut sink = Vec::new();
        self.reader.read_to_end(&mut sink).is_ok()
    }
}
