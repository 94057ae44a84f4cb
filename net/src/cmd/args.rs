//! Argument parsing shared by the families, with Redis's error for each
//! malformed value.

use bytes::Bytes;
use shardis_shards::types::number;

use crate::reply::CmdError;

/// Case-insensitive comparison with an option keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    number::parse_i64(arg).ok_or(CmdError::NotInteger)
}

pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    number::parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// A SCAN-family cursor: an unsigned 64-bit number, else "invalid cursor".
pub fn cursor(arg: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(CmdError::InvalidCursor)
}

pub fn lossy(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// Unit of an expiry argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Millis,
}

/// Absolute expiry in ms for SET/GETEX/SETEX-style arguments, which must
/// be positive (Redis `getExpireMillisecondsOrReply`).
pub fn positive_expiry(
    arg: &[u8],
    unit: TimeUnit,
    relative: bool,
    now_ms: i64,
    cmd: &'static str,
) -> Result<i64, CmdError> {
    let v = int(arg)?;
    let invalid = CmdError::InvalidExpire(cmd);
    if v <= 0 {
        return Err(invalid);
    }
    let mut ms = match unit {
        TimeUnit::Seconds => v.checked_mul(1000).ok_or(invalid.clone())?,
        TimeUnit::Millis => v,
    };
    if relative {
        ms = ms.checked_add(now_ms).ok_or(invalid.clone())?;
    }
    if ms <= 0 {
        return Err(invalid);
    }
    Ok(ms)
}

/// Absolute expiry in ms for EXPIRE-style arguments, which may be negative
/// or in the past (the key is then deleted) (Redis `expireGenericCommand`).
pub fn any_expiry(
    arg: &[u8],
    unit: TimeUnit,
    base_ms: i64,
    cmd: &'static str,
) -> Result<i64, CmdError> {
    let v = int(arg)?;
    let invalid = CmdError::InvalidExpire(cmd);
    let ms = match unit {
        TimeUnit::Seconds => v.checked_mul(1000).ok_or(invalid.clone())?,
        TimeUnit::Millis => v,
    };
    ms.checked_add(base_ms).ok_or(invalid)
}

/// The keys of a command: `args[first..]` every `step`, as the table says.
pub fn keys_at(args: &[Bytes], first: usize, step: usize) -> Vec<Bytes> {
    args.iter().skip(first).step_by(step).cloned().collect()
}

/// The options of a SCAN-family command.
#[derive(Debug, Default)]
pub struct ScanOptions {
    pub pattern: Option<Bytes>,
    /// A hint; a positive integer when given.
    pub count: Option<i64>,
    pub type_name: Option<Bytes>,
}

/// `[MATCH p] [COUNT n] [TYPE t]` from `a[from..]`, TYPE only when
/// `with_type` (SCAN; HSCAN/SSCAN/ZSCAN have none).
pub fn scan_options(a: &[Bytes], from: usize, with_type: bool) -> Result<ScanOptions, CmdError> {
    let mut o = ScanOptions::default();
    let mut i = from;
    while i < a.len() {
        let Some(v) = a.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if is(&a[i], "match") {
            o.pattern = Some(v.clone());
        } else if is(&a[i], "count") {
            let n = int(v)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = Some(n);
        } else if with_type && is(&a[i], "type") {
            o.type_name = Some(v.clone());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

/// The MATCH pattern of HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n].
pub fn scan_match(a: &[Bytes]) -> Result<Option<Bytes>, CmdError> {
    Ok(scan_options(a, 3, false)?.pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_bounds_follow_redis() {
        assert_eq!(
            positive_expiry(b"10", TimeUnit::Seconds, true, 1000, "set"),
            Ok(11_000)
        );
        assert_eq!(
            positive_expiry(b"0", TimeUnit::Seconds, true, 1000, "set"),
            Err(CmdError::InvalidExpire("set"))
        );
        assert_eq!(
            positive_expiry(b"x", TimeUnit::Seconds, true, 1000, "set"),
            Err(CmdError::NotInteger)
        );
        assert_eq!(
            positive_expiry(b"9223372036854775807", TimeUnit::Seconds, true, 1, "set"),
            Err(CmdError::InvalidExpire("set"))
        );
        assert_eq!(
            any_expiry(b"-5", TimeUnit::Seconds, 1000, "expire"),
            Ok(-4000)
        );
        assert_eq!(
            any_expiry(b"9223372036854775807", TimeUnit::Millis, 10, "pexpire"),
            Err(CmdError::InvalidExpire("pexpire"))
        );
    }
}
