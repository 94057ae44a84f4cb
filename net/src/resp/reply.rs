//! `Reply`: what a command answers, independent of the protocol version the
//! connection speaks, and its encoding to RESP2 or RESP3 with redis-protocol.

use std::borrow::Cow;

use bytes::Bytes;
use bytes::BytesMut;
use redis_protocol::resp2::types::BytesFrame as Frame2;
use redis_protocol::resp3::types::BytesFrame as Frame3;
use redis_protocol::resp3::types::FrameMap;
use redis_protocol::resp3::types::VerbatimStringFormat;
use shardis_shards::op::Packed;

/// Protocol version of a connection (HELLO switches it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Resp2,
    Resp3,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok,
    Simple(Cow<'static, str>),
    /// Full error text including its code, e.g. `ERR syntax error`.
    Error(Cow<'static, str>),
    Int(i64),
    Bulk(Bytes),
    /// Null bulk string (RESP2 `$-1`).
    Nil,
    /// Null array (RESP2 `*-1`).
    NilArray,
    Array(Vec<Reply>),
    /// An array of bulk strings, the shape of most collection reads
    /// (LRANGE, HGETALL ...): one `Bytes` per element instead of one
    /// `Reply`, so the shard's answer is not rebuilt element by element.
    Bulks(Vec<Bytes>),
    /// An array of bulk strings in one buffer (LRANGE): see
    /// `shardis_shards::op::Packed`.
    Packed(Packed),
    /// A map whose keys and values alternate in one buffer (HGETALL): a
    /// flat array in RESP2, a map in RESP3.
    PackedMap(Packed),
    /// A set of bulk strings in one buffer (SMEMBERS): an array in RESP2,
    /// a set in RESP3.
    PackedSet(Packed),
    /// A map in RESP3, a flat key/value array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set in RESP3, an array in RESP2.
    Set(Vec<Reply>),
    Double(f64),
    /// Verbatim text in RESP3 (INFO), a bulk string in RESP2.
    Verbatim(String),
    /// Nothing goes on the wire (SHUTDOWN closes the connection instead).
    Silent,
}

impl Reply {
    pub fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn bulk(s: impl Into<Bytes>) -> Reply {
        Reply::Bulk(s.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// Redis replaces newlines in error texts so the reply stays one line.
fn error_text(text: &str) -> Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        Cow::Owned(text.replace(['\r', '\n'], " "))
    } else {
        Cow::Borrowed(text)
    }
}

/// The key/value pairs of a packed map (an odd last element is dropped,
/// as a map of pairs cannot hold it).
fn packed_pairs(p: &Packed) -> Vec<(Reply, Reply)> {
    let mut it = p.iter().map(|b| Reply::Bulk(Bytes::copy_from_slice(b)));
    let mut pairs = Vec::with_capacity(p.len() / 2);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        pairs.push((k, v));
    }
    pairs
}

pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{d}")
}

fn to_resp2(r: Reply) -> Frame2 {
    match r {
        Reply::Ok => Frame2::SimpleString(Bytes::from_static(b"OK")),
        Reply::Simple(s) => Frame2::SimpleString(Bytes::from(s.into_owned())),
        Reply::Error(e) => Frame2::Error(error_text(&e).into_owned().into()),
        Reply::Int(i) => Frame2::Integer(i),
        Reply::Bulk(b) => Frame2::BulkString(b),
        // Silent never nests; the top level writes nothing for it.
        Reply::Nil | Reply::NilArray | Reply::Silent => Frame2::Null,
        Reply::Array(a) | Reply::Set(a) => Frame2::Array(a.into_iter().map(to_resp2).collect()),
        Reply::Bulks(a) => Frame2::Array(a.into_iter().map(Frame2::BulkString).collect()),
        Reply::Packed(p) | Reply::PackedMap(p) | Reply::PackedSet(p) => {
            to_resp2(Reply::Bulks(p.iter().map(Bytes::copy_from_slice).collect()))
        }
        Reply::Map(m) => Frame2::Array(
            m.into_iter()
                .flat_map(|(k, v)| [to_resp2(k), to_resp2(v)])
                .collect(),
        ),
        Reply::Double(d) => Frame2::BulkString(Bytes::from(format_double(d))),
        Reply::Verbatim(s) => Frame2::BulkString(Bytes::from(s)),
    }
}

fn to_resp3(r: Reply) -> Frame3 {
    match r {
        Reply::Ok => Frame3::SimpleString {
            data: Bytes::from_static(b"OK"),
            attributes: None,
        },
        Reply::Simple(s) => Frame3::SimpleString {
            data: Bytes::from(s.into_owned()),
            attributes: None,
        },
        Reply::Error(e) => Frame3::SimpleError {
            data: error_text(&e).into_owned().into(),
            attributes: None,
        },
        Reply::Int(i) => Frame3::Number {
            data: i,
            attributes: None,
        },
        Reply::Bulk(b) => Frame3::BlobString {
            data: b,
            attributes: None,
        },
        Reply::Nil | Reply::NilArray | Reply::Silent => Frame3::Null,
        Reply::Array(a) => Frame3::Array {
            data: a.into_iter().map(to_resp3).collect(),
            attributes: None,
        },
        Reply::Set(a) => Frame3::Set {
            data: a.into_iter().map(to_resp3).collect(),
            attributes: None,
        },
        Reply::Packed(p) => to_resp3(Reply::Bulks(p.iter().map(Bytes::copy_from_slice).collect())),
        Reply::PackedMap(p) => to_resp3(Reply::Map(packed_pairs(&p))),
        Reply::PackedSet(p) => to_resp3(Reply::Set(
            p.iter()
                .map(|b| Reply::Bulk(Bytes::copy_from_slice(b)))
                .collect(),
        )),
        Reply::Bulks(a) => Frame3::Array {
            data: a
                .into_iter()
                .map(|data| Frame3::BlobString {
                    data,
                    attributes: None,
                })
                .collect(),
            attributes: None,
        },
        Reply::Map(m) => {
            let mut data = FrameMap::with_capacity(m.len());
            for (k, v) in m {
                data.insert(to_resp3(k), to_resp3(v));
            }
            Frame3::Map {
                data,
                attributes: None,
            }
        }
        Reply::Double(d) => Frame3::Double {
            data: d,
            attributes: None,
        },
        Reply::Verbatim(s) => Frame3::VerbatimString {
            data: Bytes::from(s),
            format: VerbatimStringFormat::Text,
            attributes: None,
        },
    }
}

/// Appends the encoding of `r` to `out`.
pub fn encode(out: &mut BytesMut, r: Reply, proto: Protocol) {
    match (proto, r) {
        (_, Reply::Silent) => {}
        // redis-protocol's RESP2 has a single null; a null array is `*-1`.
        (Protocol::Resp2, Reply::NilArray) => out.extend_from_slice(b"*-1\r\n"),
        (proto, r) => encode_value(out, r, proto),
    }
}

/// Writes the shapes that make up nearly every reply under load (OK,
/// integers, bulks, nils and arrays of them) directly, and hands the rest
/// to redis-protocol. redis-protocol first builds a frame tree and counts
/// the digits of every length with a floating-point log10: a profile of
/// `LRANGE key 0 99` showed the conversion and encoding at ~20% of the
/// shard's CPU. The bytes are the same (`encode_matches_redis_protocol`).
fn encode_value(out: &mut BytesMut, r: Reply, proto: Protocol) {
    match r {
        Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
        Reply::Int(i) => put_header(out, b':', i),
        Reply::Bulk(b) => put_bulk(out, &b),
        Reply::Nil => out.extend_from_slice(match proto {
            Protocol::Resp2 => b"$-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        }),
        Reply::Array(items) => put_items(out, items, proto),
        Reply::Bulks(items) => {
            put_header(out, b'*', items.len() as i64);
            for b in &items {
                put_bulk(out, b);
            }
        }
        Reply::PackedMap(p) if proto == Protocol::Resp3 => {
            put_header(out, b'%', (p.len() / 2) as i64);
            for b in p.iter().take(p.len() / 2 * 2) {
                put_bulk(out, b);
            }
        }
        Reply::PackedSet(p) if proto == Protocol::Resp3 => {
            put_header(out, b'~', p.len() as i64);
            for b in p.iter() {
                put_bulk(out, b);
            }
        }
        Reply::Packed(p) | Reply::PackedMap(p) | Reply::PackedSet(p) => {
            put_header(out, b'*', p.len() as i64);
            // Headers and CRLFs: at most 16 bytes per element, and the
            // slack `put_bulk` reserves for its fixed-size header copy.
            out.reserve(p.bytes() + 16 * p.len() + 24);
            for b in p.iter() {
                put_bulk(out, b);
            }
        }
        Reply::Set(items) if proto == Protocol::Resp2 => put_items(out, items, proto),
        Reply::Set(items) => {
            put_header(out, b'~', items.len() as i64);
            for item in items {
                encode_value(out, item, proto);
            }
        }
        // HGETALL, CONFIG GET, ZRANGE WITHSCORES in RESP3...: a flat array
        // of pairs in RESP2. Through redis-protocol this was 23% of the
        // shard thread under HGETALL of a 100-field hash.
        Reply::Map(pairs) => {
            match proto {
                Protocol::Resp2 => put_header(out, b'*', 2 * pairs.len() as i64),
                Protocol::Resp3 => put_header(out, b'%', pairs.len() as i64),
            }
            for (k, v) in pairs {
                encode_value(out, k, proto);
                encode_value(out, v, proto);
            }
        }
        Reply::Double(d) if proto == Protocol::Resp2 => put_bulk(out, format_double(d).as_bytes()),
        r => encode_generic(out, r, proto),
    }
}

fn put_items(out: &mut BytesMut, items: Vec<Reply>, proto: Protocol) {
    put_header(out, b'*', items.len() as i64);
    for item in items {
        encode_value(out, item, proto);
    }
}

fn put_bulk(out: &mut BytesMut, b: &[u8]) {
    // `$<len>\r\n<data>\r\n` written straight into spare capacity, with
    // one variable-length copy (the data): LRANGE 0 99 writes a hundred of
    // these per reply, and three appends each (two of them calls to
    // memcpy, one through itoa) showed as 10% of the shard thread.
    const HEAD: usize = 24;
    let mut head = [0u8; HEAD];
    head[0] = b'$';
    let n = 1 + put_len(&mut head[1..], b.len());
    head[n..n + 2].copy_from_slice(b"\r\n");
    let n = n + 2;
    // The whole fixed-size header is copied (a constant-size copy the
    // compiler inlines) and only its first `n` bytes are kept.
    out.reserve(HEAD + b.len() + 2);
    let spare = out.spare_capacity_mut();
    for (d, s) in spare[..HEAD].iter_mut().zip(head) {
        d.write(s);
    }
    for (d, s) in spare[n..n + b.len()].iter_mut().zip(b) {
        d.write(*s);
    }
    spare[n + b.len()].write(b'\r');
    spare[n + b.len() + 1].write(b'\n');
    let len = out.len() + n + b.len() + 2;
    // SAFETY: `reserve` made room for HEAD + b.len() + 2 >= len - out.len()
    // bytes, and every byte up to `len` was written just above.
    unsafe { out.set_len(len) };
}

/// Writes `len` in decimal at the start of `buf` (room for any usize) and
/// returns how many digits it took; short lengths skip itoa's setup.
fn put_len(buf: &mut [u8], len: usize) -> usize {
    if len < 10 {
        buf[0] = b'0' + len as u8;
        1
    } else if len < 100 {
        buf[0] = b'0' + (len / 10) as u8;
        buf[1] = b'0' + (len % 10) as u8;
        2
    } else if len < 1000 {
        buf[0] = b'0' + (len / 100) as u8;
        buf[1] = b'0' + (len / 10 % 10) as u8;
        buf[2] = b'0' + (len % 10) as u8;
        3
    } else {
        let mut digits = itoa::Buffer::new();
        let d = digits.format(len).as_bytes();
        buf[..d.len()].copy_from_slice(d);
        d.len()
    }
}

/// `<kind><n>\r\n`.
fn put_header(out: &mut BytesMut, kind: u8, n: i64) {
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(&[kind]);
    out.extend_from_slice(digits.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// redis-protocol's encoding of `r` (a nested null array is a plain null,
/// as before the fast path existed).
fn encode_generic(out: &mut BytesMut, r: Reply, proto: Protocol) {
    // Encoding into a growable buffer cannot fail.
    match proto {
        Protocol::Resp2 => {
            let _ = redis_protocol::resp2::encode::extend_encode(out, &to_resp2(r), false);
        }
        Protocol::Resp3 => {
            let _ =
                redis_protocol::resp3::encode::complete::extend_encode(out, &to_resp3(r), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: Reply, p: Protocol) -> String {
        let mut b = BytesMut::new();
        encode(&mut b, r, p);
        String::from_utf8(b.to_vec()).unwrap()
    }

    /// The direct encoder writes exactly what redis-protocol writes, for
    /// every reply shape, nested or not, in both protocols.
    #[test]
    fn encode_matches_redis_protocol() {
        let leaves = vec![
            Reply::Ok,
            Reply::Simple("PONG".into()),
            Reply::error("ERR x\ny"),
            Reply::Int(0),
            Reply::Int(i64::MIN),
            Reply::Int(1234567),
            Reply::bulk(""),
            Reply::bulk("abc"),
            Reply::Bulk(Bytes::from(vec![b'z'; 300])),
            Reply::Nil,
            Reply::NilArray,
            Reply::Double(1.5),
            Reply::Double(f64::NEG_INFINITY),
            Reply::Verbatim("text".into()),
            Reply::Silent,
        ];
        let mut shapes = leaves.clone();
        shapes.push(Reply::Array(leaves.clone()));
        shapes.push(Reply::Set(leaves.clone()));
        shapes.push(Reply::Map(vec![(
            Reply::bulk("k"),
            Reply::Array(leaves.clone()),
        )]));
        shapes.push(Reply::Array(vec![
            Reply::Array(leaves.clone()),
            Reply::Set(vec![Reply::Int(1)]),
            Reply::Array(Vec::new()),
        ]));
        shapes.push(Reply::Bulks(vec![Bytes::new(), Bytes::from_static(b"ab")]));
        shapes.push(Reply::Bulks(Vec::new()));
        // Every length class of `put_len`, packed and shared.
        let sized: Vec<Vec<u8>> = [0, 1, 9, 10, 99, 100, 999, 1000, 12345]
            .iter()
            .map(|&n| vec![b'q'; n])
            .collect();
        shapes.push(Reply::Packed(sized.iter().map(|v| v.as_slice()).collect()));
        shapes.push(Reply::Packed(Packed::default()));
        shapes.push(Reply::PackedMap(
            sized[..8].iter().map(|v| v.as_slice()).collect(),
        ));
        shapes.push(Reply::PackedMap(Packed::default()));
        shapes.push(Reply::PackedSet(
            sized.iter().map(|v| v.as_slice()).collect(),
        ));
        shapes.push(Reply::Bulks(
            sized.iter().cloned().map(Bytes::from).collect(),
        ));
        shapes.push(Reply::Array(vec![Reply::Packed(
            sized.iter().map(|v| v.as_slice()).collect(),
        )]));
        shapes.push(Reply::Array(vec![Reply::Bulks(vec![Bytes::from_static(
            b"x",
        )])]));
        for proto in [Protocol::Resp2, Protocol::Resp3] {
            for r in &shapes {
                let mut fast = BytesMut::new();
                encode(&mut fast, r.clone(), proto);
                let mut slow = BytesMut::new();
                match (proto, r.clone()) {
                    (_, Reply::Silent) => {}
                    (Protocol::Resp2, Reply::NilArray) => slow.extend_from_slice(b"*-1\r\n"),
                    // redis-protocol keeps a RESP3 set in a HashSet: it
                    // dedupes (the three nulls here) and reorders. Redis
                    // writes a set's elements as given, and so do we.
                    // The same for a RESP3 map (a HashMap there).
                    (Protocol::Resp3, Reply::PackedMap(p) | Reply::PackedSet(p)) => {
                        let head = match r {
                            Reply::PackedMap(_) => format!("%{}\r\n", p.len() / 2),
                            _ => format!("~{}\r\n", p.len()),
                        };
                        slow.extend_from_slice(head.as_bytes());
                        for b in p.iter() {
                            encode_generic(
                                &mut slow,
                                Reply::Bulk(Bytes::copy_from_slice(b)),
                                Protocol::Resp3,
                            );
                        }
                    }
                    (Protocol::Resp3, Reply::Set(items)) => {
                        slow.extend_from_slice(format!("~{}\r\n", items.len()).as_bytes());
                        for item in items {
                            encode_generic(&mut slow, item, Protocol::Resp3);
                        }
                    }
                    (p, r) => encode_generic(&mut slow, r, p),
                }
                assert_eq!(fast, slow, "{r:?} in {proto:?}");
            }
        }
    }

    #[test]
    fn resp2_and_resp3_encodings() {
        assert_eq!(enc(Reply::Ok, Protocol::Resp2), "+OK\r\n");
        assert_eq!(enc(Reply::Nil, Protocol::Resp2), "$-1\r\n");
        assert_eq!(enc(Reply::Nil, Protocol::Resp3), "_\r\n");
        assert_eq!(enc(Reply::NilArray, Protocol::Resp2), "*-1\r\n");
        assert_eq!(enc(Reply::Int(-3), Protocol::Resp2), ":-3\r\n");
        assert_eq!(enc(Reply::bulk("ab"), Protocol::Resp2), "$2\r\nab\r\n");
        assert_eq!(
            enc(Reply::error("ERR a\r\nb"), Protocol::Resp2),
            "-ERR a  b\r\n"
        );
        let m = Reply::Map(vec![(Reply::bulk("k"), Reply::Int(1))]);
        assert_eq!(enc(m.clone(), Protocol::Resp2), "*2\r\n$1\r\nk\r\n:1\r\n");
        assert_eq!(enc(m, Protocol::Resp3), "%1\r\n$1\r\nk\r\n:1\r\n");
    }
}
