//! Arguments of the zset commands, read the way Redis 7.0 reads them:
//! floats with `strtod`'s rules, score and lex range bounds, and the
//! options of the ZRANGE family.

use bytes::Bytes;
use shardis_shards::op::zset::LexBound;
use shardis_shards::op::zset::LexRange;
use shardis_shards::op::zset::RangeQuery;
use shardis_shards::op::zset::RangeSpec;
use shardis_shards::op::zset::ScoreBound;
use shardis_shards::op::zset::ScoreRange;

use super::super::args::int;
use super::super::args::is;
use crate::reply::CmdError;

/// A fixed Redis error text (`ERR ` is prepended on the wire).
pub(super) fn err(text: &'static str) -> CmdError {
    CmdError::Text(text)
}

pub(super) const MIN_MAX_NOT_FLOAT: &str = "min or max is not a float";
pub(super) const MIN_MAX_NOT_LEX: &str = "min or max not valid string range item";

/// C `isspace`, which `strtod` skips and Redis's float checks refuse.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// A whole argument read like C `strtod`: decimal, `inf`/`infinity`, or
/// hexadecimal (`0x1.8p3`), with an optional sign. Also answers whether
/// the digits were not all zero, to tell an underflow from a real zero.
fn c_float(text: &str) -> Option<(f64, bool)> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (v, nonzero) = match body.get(..2) {
        Some("0x" | "0X") => hex_float(&body[2..])?,
        _ => {
            // Rust's parser wants what strtod wants, sign aside.
            let v: f64 = body
                .parse()
                .ok()
                .filter(|_| !body.starts_with(['+', '-']))?;
            let digits = body.split(['e', 'E']).next().unwrap_or("");
            (v, digits.bytes().any(|c| matches!(c, b'1'..=b'9')))
        }
    };
    Some((if neg { -v } else { v }, nonzero))
}

/// The part of a C hex float after `0x`: hex digits, an optional `.`
/// and fraction, an optional binary exponent `p[+-]n`.
fn hex_float(t: &str) -> Option<(f64, bool)> {
    let (mantissa, exp) = match t.find(['p', 'P']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int_part, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac.is_empty() {
        return None;
    }
    let (mut v, mut nonzero) = (0.0f64, false);
    for c in int_part.chars() {
        let d = c.to_digit(16)?;
        nonzero |= d != 0;
        v = v * 16.0 + f64::from(d);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        let d = c.to_digit(16)?;
        nonzero |= d != 0;
        v += f64::from(d) * scale;
        scale /= 16.0;
    }
    if let Some(e) = exp {
        let e: i32 = e.parse().ok()?;
        v *= 2f64.powi(e);
    }
    Some((v, nonzero))
}

/// A float like Redis's `getDoubleFromObject` (ZADD, ZINCRBY, WEIGHTS):
/// the whole argument, no leading space, no NaN, and no overflow to
/// infinity or underflow to zero (strtod's ERANGE); `inf` is fine.
pub(super) fn strict_float(arg: &[u8]) -> Option<f64> {
    if arg.first().is_none_or(|&c| is_c_space(c)) {
        return None;
    }
    let text = std::str::from_utf8(arg).ok()?;
    let (v, nonzero) = c_float(text)?;
    let overflow = v.is_infinite() && !text.to_ascii_lowercase().contains("inf");
    let underflow = v == 0.0 && nonzero;
    if v.is_nan() || overflow || underflow {
        return None;
    }
    Some(v)
}

pub(super) fn score_arg(arg: &[u8]) -> Result<f64, CmdError> {
    strict_float(arg).ok_or(CmdError::NotFloat)
}

/// A range bound's number as `zslParseRange` reads it: bare `strtod`, so
/// leading spaces are skipped, an empty string is 0 and overflow is inf.
fn range_float(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() {
        return Some(0.0);
    }
    let text = std::str::from_utf8(arg).ok()?;
    let (v, _) = c_float(text.trim_start_matches(|c| is_c_space(c as u8)))?;
    (!v.is_nan()).then_some(v)
}

fn score_bound(arg: &[u8]) -> Option<ScoreBound> {
    match arg.split_first() {
        Some((b'(', rest)) => Some(ScoreBound {
            value: range_float(rest)?,
            exclusive: true,
        }),
        _ => Some(ScoreBound {
            value: range_float(arg)?,
            exclusive: false,
        }),
    }
}

pub(super) fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (score_bound(min), score_bound(max)) {
        (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
        _ => Err(err(MIN_MAX_NOT_FLOAT)),
    }
}

fn lex_bound(arg: &Bytes) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::Max),
        b'-' if arg.len() == 1 => Some(LexBound::Min),
        b'(' => Some(LexBound::Exclusive(arg.slice(1..))),
        b'[' => Some(LexBound::Inclusive(arg.slice(1..))),
        _ => None,
    }
}

pub(super) fn lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange, CmdError> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(err(MIN_MAX_NOT_LEX)),
    }
}

/// What a range command selects by, when the command fixes it.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum By {
    Rank,
    Score,
    Lex,
}

/// Parses `<src> <min> <max> [options]` starting at `a[src]` like Redis's
/// `zrangeGenericCommand`: options first (LIMIT's numbers as they come),
/// then the conflicts, then the range itself. `by` and `rev` are fixed by
/// the older commands; ZRANGE and ZRANGESTORE take them as options.
pub(super) fn parse_range(
    a: &[Bytes],
    src: usize,
    store: bool,
    mut by: Option<By>,
    mut rev: Option<bool>,
) -> Result<RangeQuery, CmdError> {
    let (mut withscores, mut limit) = (false, None);
    let mut j = src + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        let opt = &a[j];
        if !store && is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && left >= 2 {
            limit = Some((int(&a[j + 1])?, int(&a[j + 2])?));
            j += 2;
        } else if rev.is_none() && is(opt, "rev") {
            rev = Some(true);
        } else if by.is_none() && is(opt, "bylex") {
            by = Some(By::Lex);
        } else if by.is_none() && is(opt, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let rev = rev.unwrap_or(false);
    if limit.is_some() && by == By::Rank {
        return Err(err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges are given as max, min.
    let (lo, hi) = if rev && by != By::Rank {
        (&a[src + 2], &a[src + 1])
    } else {
        (&a[src + 1], &a[src + 2])
    };
    let spec = match by {
        By::Rank => RangeSpec::Rank {
            start: int(lo)?,
            stop: int(hi)?,
        },
        By::Score => RangeSpec::Score(score_range(lo, hi)?),
        By::Lex => RangeSpec::Lex(lex_range(lo, hi)?),
    };
    Ok(RangeQuery {
        spec,
        rev,
        limit,
        withscores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &str) -> Vec<Bytes> {
        words
            .split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn floats_parse_like_strtod() {
        assert_eq!(strict_float(b"1.5"), Some(1.5));
        assert_eq!(strict_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strict_float(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(strict_float(b"1e3"), Some(1000.0));
        assert_eq!(strict_float(b"0e5"), Some(0.0));
        for bad in [
            &b"nan"[..],
            b"",
            b" 1",
            b"1 ",
            b"abc",
            b"1e400",
            b"1e-400",
            b"1.5x",
        ] {
            assert_eq!(
                strict_float(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(strict_float(b"0x10"), Some(16.0));
        assert_eq!(strict_float(b"0x1.8p1"), Some(3.0));
        assert_eq!(strict_float(b"-0X.8"), Some(-0.5));
        assert_eq!(strict_float(b"0x0"), Some(0.0));
        for bad in [
            &b"0x"[..],
            b"0xg",
            b"--1",
            b"+-1",
            b"0x1p-2000",
            b"0x1p5000",
            b"1e",
            b"inf1",
        ] {
            assert_eq!(
                strict_float(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(range_float(b""), Some(0.0));
        assert_eq!(range_float(b" 2"), Some(2.0));
        assert_eq!(range_float(b"1e400"), Some(f64::INFINITY));
        assert_eq!(range_float(b"  "), None);
        assert_eq!(range_float(b"nan"), None);
        let b = score_bound(b"(1.5").unwrap();
        assert!(b.exclusive && b.value == 1.5);
        assert!(score_bound(b"(").unwrap().value == 0.0);
        assert!(lex_bound(&Bytes::from_static(b"+x")).is_none());
        assert_eq!(lex_bound(&Bytes::from_static(b"-")), Some(LexBound::Min));
        assert_eq!(
            lex_bound(&Bytes::from_static(b"(ab")),
            Some(LexBound::Exclusive(Bytes::from_static(b"ab")))
        );
        assert!(lex_bound(&Bytes::from_static(b"")).is_none());
        assert!(lex_bound(&Bytes::from_static(b"a")).is_none());
    }

    #[test]
    fn range_options_follow_zrangegeneric() {
        let q = parse_range(
            &v("zrange z (1 5 byscore rev limit 1 2 withscores"),
            1,
            false,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            q.spec,
            RangeSpec::Score(ScoreRange {
                min: ScoreBound {
                    value: 5.0,
                    exclusive: false
                },
                max: ScoreBound {
                    value: 1.0,
                    exclusive: true
                },
            })
        );
        assert!(q.rev && q.withscores);
        assert_eq!(q.limit, Some((1, 2)));
        let e = |s: &str, by, rev| parse_range(&v(s), 1, false, by, rev).err();
        assert_eq!(
            e("zrange z 0 1 limit 0 1", None, None),
            Some(err(
                "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
            ))
        );
        assert_eq!(
            e("zrange z [a [b bylex withscores", None, None),
            Some(err(
                "syntax error, WITHSCORES not supported in combination with BYLEX"
            ))
        );
        assert_eq!(
            e("zrange z 0 1 limit 0", None, None),
            Some(CmdError::Syntax)
        );
        assert_eq!(
            e("zrange z 0 1 limit x 1 byscore", None, None),
            Some(CmdError::NotInteger)
        );
        assert_eq!(
            e("zrange z a 1 byscore", None, None),
            Some(err(MIN_MAX_NOT_FLOAT))
        );
        assert_eq!(
            e("zrange z a 1 bylex", None, None),
            Some(err(MIN_MAX_NOT_LEX))
        );
        assert_eq!(e("zrange z a 1", None, None), Some(CmdError::NotInteger));
        assert_eq!(
            e("zrangebyscore z 0 1 rev", Some(By::Score), Some(false)),
            Some(CmdError::Syntax)
        );
        assert_eq!(
            e("zrevrange z 0 1 bylex", Some(By::Rank), Some(true)),
            Some(CmdError::Syntax)
        );
        assert!(parse_range(&v("zrangestore d z 0 1 withscores"), 2, true, None, None).is_err());
    }
}
