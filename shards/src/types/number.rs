//! Strict number parsing and formatting with Redis's rules, for values
//! stored as strings (INCR, INCRBYFLOAT).

/// Parses like Redis `string2ll`: optional `-`, no `+`, no spaces, no
/// leading zeros, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = (d - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

/// Parses like Redis `string2ld`: no leading space, not NaN, whole input used.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5 * 1024 || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_nan() { None } else { Some(v) }
}

/// Formats a float the way INCRBYFLOAT stores it: fixed notation, never an
/// exponent, trailing zeros trimmed. Redis computes in `long double` and
/// prints 17 decimals, so `0.1 + 0.2` shows as `0.3`; with `f64` the same
/// effect needs rounding to 16 significant digits (17 would show the
/// binary error, `0.30000000000000004`).
pub fn format_f64(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (15 - magnitude).clamp(0, 17) as usize;
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"9223372036854775808"[..],
            b"+1",
            b" 1",
            b"01",
            b"-0",
            b"1 ",
            b"",
            b"-",
            b"1.0",
            b"abc",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_follow_string2ld() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"1x"), None);
        assert_eq!(format_f64(10.5 + 0.1), "10.6");
        assert_eq!(format_f64(3.0e3), "3000");
        assert_eq!(format_f64(-0.0), "0");
        assert_eq!(format_f64(1.0e20), "100000000000000000000");
        assert_eq!(format_f64(0.1 + 0.2), "0.3");
        assert_eq!(format_f64(-1.5), "-1.5");
        assert_eq!(format_f64(1.0e-20), "0");
    }

    proptest! {
        #[test]
        fn every_i64_round_trips(v: i64) {
            prop_assert_eq!(parse_i64(v.to_string().as_bytes()), Some(v));
        }

        #[test]
        fn formatting_keeps_16_significant_digits(v in -1e300f64..1e300) {
            let back = parse_f64(format_f64(v).as_bytes()).unwrap();
            let tolerance = (v.abs() * 1e-15).max(1e-17);
            prop_assert!((back - v).abs() <= tolerance, "{} -> {} -> {}", v, format_f64(v), back);
        }
    }
}
