//! Redis-compatible glob matching for key patterns (`KEYS`, `SCAN ... MATCH`).
//!
//! This module owns the pattern language: `*`, `?`, `[...]` classes with `^`
//! negation, ranges and `\` escapes, and `\x` literal escapes, all compared
//! byte-wise and case-sensitively. Answers agree with Redis 7's
//! `stringmatchlen` (checked by a differential run against redis-server
//! 7.0.15), including its quirks around unclosed classes and the empty key,
//! but the matcher is iterative: it only ever backtracks to the most recent
//! `*`, so the worst case is `O(pattern.len() * text.len())` instead of the
//! exponential time Redis needs on patterns such as `a*a*a*a*b`.
//!
//! One deliberate difference: range bounds are compared as unsigned bytes.
//! Redis compares them as C `char`, which is signed on x86, so there
//! `[\x00-\xff]` only matches the two endpoint bytes; here it matches every
//! byte, as it does in Redis builds where `char` is unsigned.

/// True when `text` matches the Redis-style glob `pattern` (case-sensitive, byte-wise).
///
/// * `*` matches any run of bytes (including `:` and `/`); `**` is the same.
/// * `?` matches exactly one byte.
/// * `[abc]`, `[a-z]`, `[^a]` match one byte from (or, with `^`, not from) a
///   class. A reversed range `[z-a]` means `a..=z`, `\` escapes the next byte
///   inside a class, `!` is an ordinary member, and a class without a closing
///   `]` runs to the end of the pattern.
/// * `\x` matches the literal byte `x`; a trailing lone `\` matches `\`.
/// * Everything else, including `{`, `,` and `}`, matches itself.
///
/// The empty text matches only the patterns `""` and `"*"`, exactly as Redis
/// answers `KEYS`/`SCAN MATCH` for an empty key (`**` does not match it).
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    if text.is_empty() {
        // Redis's matcher never lets a `*` match an empty key; only the
        // "match everything" shortcut for a bare `*` in KEYS/SCAN does.
        return pattern.is_empty() || pattern == b"*";
    }

    let mut p = 0;
    let mut t = 0;
    // Where to resume after a failure: the pattern position just past the
    // latest `*` run, and the text position that `*` run currently stops at.
    // Every other token consumes exactly one byte, so letting only the latest
    // `*` absorb one more byte explores every distinct alignment; earlier
    // stars never need revisiting.
    let mut resume: Option<(usize, usize)> = None;

    while let Some(&byte) = text.get(t) {
        if pattern.get(p) == Some(&b'*') {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            resume = Some((p, t));
            continue;
        }
        if let Some(next) = match_token(pattern, p, byte) {
            p = next;
            t += 1;
            continue;
        }
        match resume {
            Some((after_star, star_end)) => {
                let star_end = star_end + 1;
                resume = Some((after_star, star_end));
                p = after_star;
                t = star_end;
            }
            None => return false,
        }
    }

    // Text used up: only trailing stars may remain.
    while pattern.get(p) == Some(&b'*') {
        p += 1;
    }
    p == pattern.len()
}

/// Matches the single non-`*` token starting at `pattern[p]` against `byte`.
///
/// Returns the position just past the token on success, `None` on a mismatch
/// or when the pattern is exhausted.
fn match_token(pattern: &[u8], p: usize, byte: u8) -> Option<usize> {
    let (matched, next) = match *pattern.get(p)? {
        b'?' => (true, p + 1),
        b'[' => match_class(pattern, p + 1, byte),
        // A trailing backslash has nothing to escape, so it stands for itself.
        b'\\' => match pattern.get(p + 1) {
            Some(&escaped) => (escaped == byte, p + 2),
            None => (b'\\' == byte, p + 1),
        },
        literal => (literal == byte, p + 1),
    };
    matched.then_some(next)
}

/// Evaluates the class whose body starts at `pattern[start]` (just past `[`).
///
/// Returns whether `byte` is accepted and the position just past the class
/// (past the closing `]`, or the end of the pattern if it is unclosed).
fn match_class(pattern: &[u8], start: usize, byte: u8) -> (bool, usize) {
    let mut i = start;
    let negated = pattern.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut found = false;
    // Members are scanned in Redis's precedence order: an escape, then the
    // closing bracket, then a range, then a plain byte. That order is what
    // makes `]` usable as a range end (`[a-]]`) but never as a range start.
    while let Some(&member) = pattern.get(i) {
        match (member, pattern.get(i + 1), pattern.get(i + 2)) {
            (b'\\', Some(&escaped), _) => {
                found |= escaped == byte;
                i += 2;
            }
            (b']', _, _) => {
                i += 1;
                return (found != negated, i);
            }
            (low, Some(&b'-'), Some(&high)) => {
                found |= (low.min(high)..=low.max(high)).contains(&byte);
                i += 3;
            }
            (plain, _, _) => {
                found |= plain == byte;
                i += 1;
            }
        }
    }
    (found != negated, i)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn check(pattern: &[u8], text: &[u8], expected: bool) {
        assert_eq!(
            glob_match(pattern, text),
            expected,
            "pattern {:?} text {:?}",
            String::from_utf8_lossy(pattern),
            String::from_utf8_lossy(text),
        );
    }

    #[test]
    fn brief_table() {
        check(b"h[^e]llo", b"hallo", true);
        check(b"h[^e]llo", b"hello", false);
        // `!` is not a negation marker, just another member.
        check(b"h[!e]llo", b"hello", true);
        check(b"h[!e]llo", b"h!llo", true);
        check(b"h[!e]llo", b"hallo", false);
        check(br"a\*b", b"a*b", true);
        check(br"a\*b", b"axb", false);
        check(b"a**b", b"ab", true);
        check(b"a**b", b"axxb", true);
        check(b"{a,b}", b"{a,b}", true);
        check(b"{a,b}", b"a", false);
        check(b"[abc", b"a", true);
        check(b"h[b-a]llo", b"hallo", true);
        check(b"h[b-a]llo", b"hbllo", true);
        check(b"user:*", b"user:1/2", true);
        check(b"H*", b"Hello", true);
        check(b"H*", b"hello", false);
    }

    /// Edge cases probed one by one against redis-server 7.0.15 `KEYS`;
    /// the expected value is what Redis answered.
    #[test]
    fn redis_edge_cases() {
        // Empty key: only "" and the bare "*" shortcut select it.
        check(b"", b"", true);
        check(b"*", b"", true);
        check(b"**", b"", false);
        check(b"?", b"", false);
        check(b"", b"a", false);
        check(b"a*", b"a", true);
        check(b"a**", b"a", true);
        // `[a-` at the end: too short for a range, so `a` and `-` are members.
        check(b"[a-", b"a", true);
        check(b"[a-", b"-", true);
        check(b"[a-", b"b", false);
        // `[a-]`: `]` is taken as the range end (a reversed range `]..=a`),
        // which leaves the class unclosed.
        check(b"[a-]", b"^", true);
        check(b"[a-]", b"`", true);
        check(b"[a-]", b"-", false);
        check(b"[a-]b", b"b", true);
        check(b"[a-]b", b"ab", false);
        // `-` at the start of a class is a plain member.
        check(b"[-a]", b"-", true);
        check(b"[-a]", b"a", true);
        check(b"[-a]", b"b", false);
        // Empty class matches nothing; negated empty class matches any byte.
        check(b"[]", b"a", false);
        check(b"[]", b"]", false);
        check(b"[]]", b"]", false);
        check(b"[^]", b"a", true);
        check(b"[^]", b"]", true);
        check(b"[^]", b"", false);
        check(b"[^", b"x", true);
        // A lone `[` matches nothing.
        check(b"[", b"[", false);
        check(b"a[", b"a", false);
        // Escapes inside a class, including a class-final or pattern-final `\`.
        check(br"[\]]", b"]", true);
        check(br"[\-]", b"-", true);
        check(br"[\-]", b"\\", false);
        check(br"[\", b"\\", true);
        check(br"[a\", b"\\", true);
        check(br"[a\", b"a", true);
        check(br"[\a-c]", b"b", false);
        check(br"[\a-c]", b"-", true);
        check(br"[a-\]", b"b", false);
        check(br"[a-\]", b"]", true);
        // Outside a class a trailing backslash is a literal backslash.
        check(b"a\\", b"a\\", true);
        check(b"\\", b"\\", true);
        check(br"\\", b"\\", true);
        check(br"\\", br"\\", false);
        // `*` and `?` are literal inside a class.
        check(b"[*]", b"x", false);
        check(b"[?]", b"?", true);
        check(b"[^^]", b"^", false);
        check(b"[^^]", b"a", true);
    }

    /// Redis 7.0.15 on x86 compares range bounds as signed `char`; we compare
    /// unsigned bytes on purpose (see the module doc). Exact-byte members are
    /// unaffected and agree with Redis.
    #[test]
    fn high_bytes_use_unsigned_ranges() {
        check(b"[\x00-\xff]", b"\x80", true);
        check(b"[a-\xff]", b"\xf0", true);
        check(b"[a-\xff]", b"\x00", false);
        check(b"[\x80]", b"\x80", true);
        check(b"?", b"\xff", true);
        check(b"\xff*", b"\xff\x00", true);
    }

    #[test]
    fn pathological_pattern_is_not_exponential() {
        let mut pattern = b"a*".repeat(30);
        pattern.push(b'b');
        let text = vec![b'a'; 10_000];
        assert!(!glob_match(&pattern, &text));

        let mut text = text;
        text.push(b'b');
        assert!(glob_match(&pattern, &text));
    }

    /// Cases drawn from a randomized differential run against redis-server
    /// 7.0.15 (`KEYS pattern` over a keyspace of random keys): `(pattern,
    /// text, whether Redis returned the key)`.
    const REDIS_DIFFERENTIAL: &[(&[u8], &[u8], bool)] = &[
        (b"**[", b"ca*aa", false),
        (b"**[\\]?]", b"abbaa]]]]", true),
        (b"**[^!^[*", b"b]ba\\", true),
        (b"**[aa\\]\\c", b"bbb-c", true),
        (b"**\\", b"bbb\\", true),
        (b"**\\a", b"^b]bb-a", true),
        (b"*?[!*[a", b"]!", true),
        (b"*?[**ab[", b"]-a?\\bbaa", true),
        (b"*?[*^[b", b"a!ba!^", true),
        (b"*?[^b", b"]a", true),
        (b"*[!?b^]!*", b"-]]b!]]", true),
        (b"*[*\\?", b"a]]b-?", true),
        (b"*[?c^]*", b"bbca^\\b[", true),
        (b"*[[!c", b"aaabc", true),
        (b"*[[a-!", b"-a!^ba\\", true),
        (b"*[[a[aa", b"a!^[aa-[", true),
        (b"*[^", b"-?\\ca", true),
        (b"*[^[^b?", b"-!-a^!a", true),
        (b"*[^a^", b"^aa[-", true),
        (b"*[a[\\", b"b--a]a", true),
        (b"*[b", b"!-]]!b", true),
        (b"*[b*-a^", b"-ca", true),
        (b"*[b?*a", b"cc!]cab!a", true),
        (b"*[b[!\\^", b"^", true),
        (b"*[c\\]a", b"c^^a-ca", true),
        (b"*[cb!aa", b"]c]ac!]]!", true),
        (b"*\\?b\\", b"\\]a?!", false),
        (b"*\\?b]-[", b"ac]-b!a", false),
        (b"*\\\\", b"aba\\", true),
        (b"*\\a*", b"-!a^", true),
        (b"*]aa\\*]", b"^!b!a\\", false),
        (b"*^][a", b"b]-\\", false),
        (b"*a-**[b]a", b"]!!", false),
        (b"*b[a]", b"abba", true),
        (b"*b\\", b"a-b!b\\!]]", false),
        (b"-\\b][-b!]", b"-", false),
        (b"?*-b[-\\?*", b"baacb!]^", false),
        (b"?*[*ba^?[", b"!!bacaab", true),
        (b"?*[ab?cac", b"ba-!]?", true),
        (b"?[]baac", b"]", false),
        (b"?]?\\!a", b"b^b-baa", false),
        (b"?^![[b*\\-", b"[*^", false),
        (b"?a[ac", b"*", false),
        (b"?cb[", b"^\\^c", false),
        (b"[!a", b"!\\-]", false),
        (b"[!aba-a", b"]-^ccb-a", false),
        (b"[*!caa\\b", b"*[]", false),
        (b"[**[c?!]*", b"ca*a]-acb", true),
        (b"[*[-bb[?[", b"b?", false),
        (b"[*\\bb**", b"^*]-", false),
        (b"[*^?[!\\ca", b"\\\\-", false),
        (b"[*b", b"]a-cb!c", false),
        (b"[-?!a-", b"\\^\\a^]]a^[]", false),
        (b"[-[", b"c\\cb[^", false),
        (b"[-cc[**-", b"aaa", false),
        (b"[?^bab", b"!a-!^aa]", false),
        (b"[?cb\\a[", b"ca*b]c\\", false),
        (b"[]a][^[^*", b"bb]]b[?", false),
        (b"[]c\\", b"a*c", false),
        (b"[a]-b![\\a", b"??c!b?]", false),
        (b"[ab!a^^a", b"b", true),
        (b"[ac*^c]\\?", b"^aa!]", false),
        (b"[bb]ca!*-", b"b\\", false),
        (b"[ca[b?]*^", b"[?^", true),
        (b"[cba-a", b"[b", false),
        (b"\\!]cb]-", b"!]cb]-", true),
        (b"\\*!]^]!", b"*!]^]!", true),
        (b"\\**]", b"*]", true),
        (b"\\-*", b"-ba-c!", true),
        (b"\\ab", b"ab", true),
        (b"\\b^[[-a", b"bab", false),
        (b"]*[[-a", b"]a", true),
        (b"][[*", b"]*]^", false),
        (b"^][a*[a-\\", b"^]bc\\a", false),
        (b"^a*\\\\*!", b"^a[[\\^b!", true),
        (b"a*[-aa*", b"a\\[\\b", false),
        (b"a[^", b"aa", true),
        (b"a]-][]b", b"a-[a-!", false),
        (b"acb]a[]aa", b"aab]]\\", false),
        (b"b*[*a][!a", b"b^\\aaa", true),
        (b"b[!]", b"baa[b]", false),
        (b"b[\\\\aa[*", b"b*", true),
        (b"c*[!ab", b"c^a", true),
        (b"cab[b^-]-", b"cabbb^-]-", false),
        (b"cb***a*\\[", b"cbb^a[", true),
    ];

    #[test]
    fn redis_differential_sample() {
        assert!(REDIS_DIFFERENTIAL.len() >= 60);
        for &(pattern, text, expected) in REDIS_DIFFERENTIAL {
            check(pattern, text, expected);
        }
    }
}
