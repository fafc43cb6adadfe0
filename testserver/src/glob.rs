//! Redis's glob matching (`stringmatchlen`), used by KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET.

/// Whether `string` matches the glob `pattern`: `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    matches(pattern, string, nocase, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn matches(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    // Redis caps recursion the same way, so pathological patterns stay cheap.
    if depth > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..s.len() {
                    if matches(&p[1..], &s[i..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                s = &s[1..];
                p = &p[1..];
                continue;
            }
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut hit = false;
                loop {
                    match p.first() {
                        None => break,
                        Some(b'\\') if p.len() >= 2 => {
                            p = &p[1..];
                            if eq(p[0], s[0], nocase) {
                                hit = true;
                            }
                        }
                        Some(b']') => break,
                        Some(&lo) if p.len() >= 3 && p[1] == b'-' => {
                            let hi = p[2];
                            let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
                            let c = s[0];
                            let (lo, hi, c) = if nocase {
                                (
                                    lo.to_ascii_lowercase(),
                                    hi.to_ascii_lowercase(),
                                    c.to_ascii_lowercase(),
                                )
                            } else {
                                (lo, hi, c)
                            };
                            if c >= lo && c <= hi {
                                hit = true;
                            }
                            p = &p[2..];
                        }
                        Some(&c) => {
                            if eq(c, s[0], nocase) {
                                hit = true;
                            }
                        }
                    }
                    p = &p[1..];
                }
                if not {
                    hit = !hit;
                }
                if !hit {
                    return false;
                }
                s = &s[1..];
                // `p` is at the closing bracket (or the end of a malformed pattern).
                if !p.is_empty() {
                    p = &p[1..];
                }
                continue;
            }
            b'\\' if p.len() >= 2 => {
                if !eq(p[1], s[0], nocase) {
                    return false;
                }
                p = &p[2..];
                s = &s[1..];
                continue;
            }
            c => {
                if !eq(c, s[0], nocase) {
                    return false;
                }
                p = &p[1..];
                s = &s[1..];
            }
        }
    }
    if s.is_empty() {
        p.iter().all(|&c| c == b'*')
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), false);
        assert!(m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("a*b", "acbd"));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(m("*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaab"));
    }
}
