//! Redis glob matching (`stringmatchlen` in util.c) for KEYS and SCAN MATCH:
//! `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes, byte-wise.

/// True when `s` matches the Redis glob `pattern`.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    // Redis's matcher says "*" does not match "", but KEYS and SCAN skip
    // matching for a lone "*", so the empty key is listed; do the same.
    if pattern == b"*" {
        return true;
    }
    let mut skip_longer = false;
    match_impl(pattern, s, &mut skip_longer, 0)
}

/// A port of Redis 7 `stringmatchlen_impl`, including its `skipLongerMatches`
/// cut-off (keeps `a*a*a*...b` linear-ish) and its nesting limit.
fn match_impl(pat: &[u8], st: &[u8], skip_longer: &mut bool, nesting: usize) -> bool {
    if nesting > 1000 {
        return false;
    }
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let (mut p, mut s) = (0usize, 0usize);
    while p < pat.len() && s < st.len() {
        match pat[p] {
            b'*' => {
                while p + 1 < pat.len() && pat[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pat.len() {
                    return true;
                }
                while s < st.len() {
                    if match_impl(&pat[p + 1..], &st[s..], skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = at(p) == b'^';
                if not {
                    p += 1;
                }
                let c = st[s];
                let mut matched = false;
                loop {
                    if p < pat.len() && pat[p] == b'\\' && pat.len() - p >= 2 {
                        p += 1;
                        if pat[p] == c {
                            matched = true;
                        }
                    } else if p < pat.len() && pat[p] == b']' {
                        break;
                    } else if p >= pat.len() {
                        // Unterminated class: step back so the shared
                        // increment below lands exactly on the end.
                        p -= 1;
                        break;
                    } else if pat.len() - p >= 3 && pat[p + 1] == b'-' {
                        let (mut lo, mut hi) = (pat[p], pat[p + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        p += 2;
                        if c >= lo && c <= hi {
                            matched = true;
                        }
                    } else if pat[p] == c {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            b => {
                let b = if b == b'\\' && pat.len() - p >= 2 {
                    p += 1;
                    pat[p]
                } else {
                    b
                };
                if b != st[s] {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == st.len() {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pat.len() && s == st.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn redis_glob_cases() {
        assert!(m(b"*", b""));
        assert!(m(b"*", b"anything"));
        assert!(m(b"h?llo", b"hello"));
        assert!(!m(b"h?llo", b"hllo"));
        assert!(m(b"h*llo", b"heeeello"));
        assert!(m(b"h[ae]llo", b"hallo"));
        assert!(!m(b"h[ae]llo", b"hillo"));
        assert!(m(b"h[^e]llo", b"hallo"));
        assert!(!m(b"h[^e]llo", b"hello"));
        assert!(m(b"h[a-b]llo", b"hbllo"));
        assert!(m(b"h[b-a]llo", b"hallo"));
        assert!(m(b"h\\*llo", b"h*llo"));
        assert!(!m(b"h\\*llo", b"hallo"));
        assert!(m(b"key:*", b"key:1"));
        assert!(!m(b"key:*", b"kex:1"));
        assert!(m(b"a*b*c", b"aXXbYYc"));
        assert!(!m(b"a*b*c", b"aXXbYY"));
        assert!(m(b"", b""));
        assert!(!m(b"", b"a"));
        assert!(!m(b"a", b""));
        assert!(m(b"a**", b"a"));
    }

    #[test]
    fn pathological_patterns_terminate() {
        let p = b"a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let s = vec![b'a'; 40];
        assert!(!m(p, &s));
    }
}
