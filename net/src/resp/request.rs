//! Framing of client requests: RESP multibulk and inline commands, with
//! Redis's limits and its exact protocol error texts.
//!
//! redis-protocol decodes RESP values, but a server needs more than a
//! decoder: limits checked before a length is trusted, inline commands with
//! quote rules, and Redis's wording for each violation. This is that
//! server-side framing; replies are encoded with redis-protocol.

use bytes::Buf;
use bytes::Bytes;
use bytes::BytesMut;

/// Client-controlled lengths and their bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest bulk argument (`proto-max-bulk-len`).
    pub max_bulk: usize,
    /// Most arguments in one multibulk request.
    pub max_multibulk: usize,
    /// Longest inline request or multibulk/bulk header line.
    pub max_inline: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            max_multibulk: 1024 * 1024,
            max_inline: 64 * 1024,
        }
    }
}

/// A protocol violation; the reply is `-ERR Protocol error: <text>` and the
/// connection is closed after it, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    pub fn new(text: &str) -> Self {
        ProtocolError(text.to_string())
    }
}

/// Where a multibulk request that is still arriving was left off, so the
/// next read resumes there instead of re-scanning every header (a request
/// with a million arguments arriving in 16 KiB reads must stay linear).
/// Offsets stay valid: the buffer only grows at its end until the request
/// is split off.
#[derive(Debug, Default)]
struct Partial {
    /// Arguments still to read.
    remaining: usize,
    /// Offset of the next argument's `$` header.
    pos: usize,
    /// (start, end) of each argument found so far.
    spans: Vec<(usize, usize)>,
}

/// Requests up to this size are copied out of the read buffer instead of
/// being split off it. A split shares the buffer's allocation, so the next
/// read had to allocate a fresh one, and every argument kept in a Raft entry
/// or the read cache pinned a whole read buffer: profiles of SET showed a
/// third of the CPU in page faults zeroing that churn. A copy keeps the read
/// buffer unique, so it is reused in place.
const COPY_FRAME_BELOW: usize = 8 * 1024;

/// Incremental request parser over a connection's read buffer.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Bytes the buffer must hold before a retry can succeed (set when a
    /// large bulk is still arriving, so it is not re-scanned per read).
    need: usize,
    partial: Option<Partial>,
}

fn find_crlf_line(buf: &[u8], from: usize) -> Option<usize> {
    memchr(b'\r', &buf[from..]).map(|i| from + i)
}

fn memchr(b: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == b)
}

/// Redis `string2ll` on a header number.
fn parse_len(s: &[u8]) -> Option<i64> {
    shardis_shards::types::number::parse_i64(s)
}

impl RequestParser {
    /// How many more bytes to read when the buffer holds `have`: what an
    /// incomplete large bulk still needs, else 0 (the caller's default).
    pub fn bytes_wanted(&self, have: usize) -> usize {
        self.need.saturating_sub(have)
    }

    /// Takes one complete request off the front of `buf`.
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some(args))`: a request; an
    /// empty `args` is a blank line or `*0`, which Redis ignores.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if buf.is_empty() || buf.len() < self.need {
            return Ok(None);
        }
        self.need = 0;
        if self.partial.is_some() || buf[0] == b'*' {
            self.multibulk(buf, limits)
        } else {
            self.inline(buf, limits)
        }
    }

    fn multibulk(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut state = match self.partial.take() {
            Some(p) => p,
            None => {
                let Some(cr) = find_crlf_line(buf, 1) else {
                    if buf.len() > limits.max_inline {
                        return Err(ProtocolError::new("too big mbulk count string"));
                    }
                    return Ok(None);
                };
                if cr > limits.max_inline {
                    return Err(ProtocolError::new("too big mbulk count string"));
                }
                let count = match parse_len(&buf[1..cr]) {
                    Some(n) if n <= limits.max_multibulk as i64 => n,
                    _ => return Err(ProtocolError::new("invalid multibulk length")),
                };
                if cr + 1 >= buf.len() {
                    return Ok(None);
                }
                if count <= 0 {
                    let _ = buf.split_to(cr + 2);
                    return Ok(Some(Vec::new()));
                }
                let count = count as usize;
                Partial {
                    remaining: count,
                    pos: cr + 2,
                    spans: Vec::with_capacity(count.min(1024)),
                }
            }
        };
        // Validate each argument's header and find where it lies, without
        // copying, until the whole request is in the buffer.
        while state.remaining > 0 {
            let pos = state.pos;
            if pos >= buf.len() {
                self.partial = Some(state);
                return Ok(None);
            }
            if buf[pos] != b'$' {
                return Err(ProtocolError(format!(
                    "expected '$', got '{}'",
                    buf[pos] as char
                )));
            }
            let Some(cr) = find_crlf_line(buf, pos + 1) else {
                if buf.len() - pos > limits.max_inline {
                    return Err(ProtocolError::new("too big bulk count string"));
                }
                self.partial = Some(state);
                return Ok(None);
            };
            if cr - pos > limits.max_inline {
                return Err(ProtocolError::new("too big bulk count string"));
            }
            let len = match parse_len(&buf[pos + 1..cr]) {
                Some(n) if n >= 0 && n as usize <= limits.max_bulk => n as usize,
                _ => return Err(ProtocolError::new("invalid bulk length")),
            };
            let start = cr + 2;
            let end = start + len + 2;
            if end > buf.len() {
                self.need = end;
                self.partial = Some(state);
                return Ok(None);
            }
            state.spans.push((start, start + len));
            state.pos = end;
            state.remaining -= 1;
        }
        let frame = if state.pos <= COPY_FRAME_BELOW {
            let frame = Bytes::copy_from_slice(&buf[..state.pos]);
            buf.advance(state.pos);
            frame
        } else {
            buf.split_to(state.pos).freeze()
        };
        Ok(Some(
            state
                .spans
                .into_iter()
                .map(|(a, b)| frame.slice(a..b))
                .collect(),
        ))
    }

    fn inline(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > limits.max_inline {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        if nl > limits.max_inline {
            return Err(ProtocolError::new("too big inline request"));
        }
        let line = buf.split_to(nl + 1);
        let mut text = &line[..nl];
        if text.last() == Some(&b'\r') {
            text = &text[..text.len() - 1];
        }
        split_args(text)
            .map(Some)
            .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Redis `sdssplitargs`: splits an inline command into arguments with
/// double quotes (C escapes, `\xHH`) and single quotes (`\'` only).
/// `None` on unbalanced quotes or a closing quote not followed by a space.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                if i >= line.len() {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < line.len()
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    cur.push(hex_val(line[i + 2])? * 16 + hex_val(line[i + 3])?);
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= line.len() {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= line.len() {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(cur));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        let mut p = RequestParser::default();
        let mut out = vec![];
        while let Some(req) = p.next(&mut buf, &Limits::default())? {
            out.push(req);
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let r = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\r\n").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(r[1], vec![Bytes::from("PING")]);
        assert_eq!(
            r[2],
            vec![Bytes::from("set"), Bytes::from("a"), Bytes::from("b c")]
        );
    }

    #[test]
    fn partial_input_waits() {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$5\r\nhel"[..]);
        assert_eq!(p.next(&mut buf, &Limits::default()), Ok(None));
        buf.extend_from_slice(b"lo\r\n");
        assert_eq!(
            p.next(&mut buf, &Limits::default()),
            Ok(Some(vec![Bytes::from("hello")]))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn a_request_arriving_in_pieces_resumes_where_it_stopped() {
        let mut wire = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n".to_vec();
        wire.extend_from_slice(b"PING\r\n");
        let mut p = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut got = vec![];
        for b in wire {
            buf.extend_from_slice(&[b]);
            while let Some(req) = p.next(&mut buf, &Limits::default()).unwrap() {
                got.push(req);
            }
        }
        assert_eq!(
            got,
            vec![
                vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("value")],
                vec![Bytes::from("PING")]
            ]
        );
        assert!(p.partial.is_none());
    }

    #[test]
    fn protocol_errors_match_redis() {
        assert_eq!(
            parse_all(b"*a\r\n"),
            Err(ProtocolError::new("invalid multibulk length"))
        );
        assert_eq!(
            parse_all(b"*2000000\r\n"),
            Err(ProtocolError::new("invalid multibulk length"))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n"),
            Err(ProtocolError::new("invalid bulk length"))
        );
        assert_eq!(
            parse_all(b"*1\r\n$600000000\r\n"),
            Err(ProtocolError::new("invalid bulk length"))
        );
        assert_eq!(
            parse_all(b"*1\r\nx\r\n"),
            Err(ProtocolError::new("expected '$', got 'x'"))
        );
        assert_eq!(
            parse_all(b"set \"a\r\n"),
            Err(ProtocolError::new("unbalanced quotes in request"))
        );
        assert_eq!(
            parse_all(&vec![b'a'; 70000]),
            Err(ProtocolError::new("too big inline request"))
        );
        let mut big = b"*1\r\n$".to_vec();
        big.extend(vec![b'1'; 70000]);
        assert_eq!(
            parse_all(&big),
            Err(ProtocolError::new("too big bulk count string"))
        );
        assert_eq!(
            parse_all(b"*0\r\n\r\n").unwrap(),
            vec![Vec::<Bytes>::new(), vec![]]
        );
        assert_eq!(
            parse_all(b"*1\r\n$-0\r\n"),
            Err(ProtocolError::new("invalid bulk length"))
        );
    }

    #[test]
    fn split_args_like_sdssplitargs() {
        let a = split_args(br#"set "\x41\n" 'it\'s'"#).unwrap();
        assert_eq!(
            a,
            vec![Bytes::from("set"), Bytes::from("A\n"), Bytes::from("it's")]
        );
        assert_eq!(split_args(b"\"a\"b"), None);
        assert_eq!(split_args(b"   ").unwrap().len(), 0);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_all(&input);
        }

        #[test]
        fn encoded_requests_round_trip(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..6)) {
            let mut wire = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                wire.extend(format!("${}\r\n", a.len()).bytes());
                wire.extend(a);
                wire.extend(b"\r\n");
            }
            let got = parse_all(&wire).unwrap();
            prop_assert_eq!(got.len(), 1);
            let want: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            prop_assert_eq!(&got[0], &want);
        }
    }
}
