//! Go's `path.Match`, which Docker's `reference` filters use: `*` and `?` within a path
//! segment, `[...]` classes with ranges and `^`, `\` escapes, and the same verdict on a
//! malformed pattern (`ErrBadPattern`, which the daemon reports as "syntax error in pattern")
//! even where the name already failed to match.

/// A malformed pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

/// Whether `name` matches the shell pattern `pattern` as a whole.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let mut pat: &[char] = &pattern;
    let mut name: &[char] = &name;
    'pattern: while !pat.is_empty() {
        let (star, chunk, rest) = scan_chunk(pat);
        pat = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest of the name unless it has a `/`.
            return Ok(!name.contains(&'/'));
        }
        let (left, ok) = match_chunk(chunk, name)?;
        // The last chunk must use up the name, or a star may still match further on.
        if ok && (left.is_empty() || !pat.is_empty()) {
            name = left;
            continue;
        }
        if star {
            // Try the chunk after skipping 1, 2, … characters, never a `/`.
            let mut i = 0;
            while i < name.len() && name[i] != '/' {
                let (left, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok && (left.is_empty() || !pat.is_empty()) {
                    name = left;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // No match; the rest of the pattern must still be well-formed.
        while !pat.is_empty() {
            let (_, chunk, rest) = scan_chunk(pat);
            pat = rest;
            match_chunk(chunk, &[])?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Leading stars, then the chunk up to the next star outside a class, then the rest.
fn scan_chunk(pattern: &[char]) -> (bool, &[char], &[char]) {
    let stars = pattern.iter().take_while(|c| **c == '*').count();
    let pattern = &pattern[stars..];
    let mut in_class = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            '\\' if i + 1 < pattern.len() => i += 1,
            '[' => in_class = true,
            ']' => in_class = false,
            '*' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    (stars > 0, &pattern[..i], &pattern[i..])
}

/// Match `chunk` (no stars) at the start of `s`: what is left of `s`, and whether it
/// matched. The whole chunk is checked for well-formedness even after a mismatch.
fn match_chunk<'s>(
    mut chunk: &[char],
    mut s: &'s [char],
) -> Result<(&'s [char], bool), BadPattern> {
    let mut failed = false;
    while let Some((&c, after)) = chunk.split_first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            '[' => {
                let r = if failed {
                    '\0'
                } else {
                    let r = s[0];
                    s = &s[1..];
                    r
                };
                chunk = after;
                let negated = chunk.first() == Some(&'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut hit = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&'-') {
                        let (h, rest) = class_char(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    hit |= lo <= r && r <= hi;
                    ranges += 1;
                }
                if hit == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    failed = s[0] == '/';
                    s = &s[1..];
                }
                chunk = after;
            }
            '\\' => {
                let Some((&escaped, after)) = after.split_first() else {
                    return Err(BadPattern);
                };
                if !failed {
                    failed = s[0] != escaped;
                    s = &s[1..];
                }
                chunk = after;
            }
            _ => {
                if !failed {
                    failed = s[0] != c;
                    s = &s[1..];
                }
                chunk = after;
            }
        }
    }
    Ok(if failed { (&[], false) } else { (s, true) })
}

/// One (possibly escaped) character of a class; a class must not end after it.
fn class_char(chunk: &[char]) -> Result<(char, &[char]), BadPattern> {
    let chunk = match chunk.first() {
        None | Some('-') | Some(']') => return Err(BadPattern),
        Some('\\') => &chunk[1..],
        Some(_) => chunk,
    };
    match chunk.split_first() {
        Some((&c, rest)) if !rest.is_empty() => Ok((c, rest)),
        _ => Err(BadPattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> Result<bool, BadPattern> {
        path_match(pattern, name)
    }

    #[test]
    fn stars_and_question_marks_stay_within_a_path_segment() {
        assert_eq!(m("busy*", "busybox"), Ok(true));
        assert_eq!(m("*", "library/busybox"), Ok(false));
        assert_eq!(m("*/*", "library/busybox"), Ok(true));
        assert_eq!(m("*box:*", "busybox:latest"), Ok(true));
        assert_eq!(m("b?sybox", "busybox"), Ok(true));
        assert_eq!(m("a?b", "a/b"), Ok(false));
        assert_eq!(m("a*b*c", "axxbyyc"), Ok(true));
        assert_eq!(m("a*b", "axxbyyb"), Ok(true));
        assert_eq!(m("", ""), Ok(true));
        assert_eq!(m("", "x"), Ok(false));
    }

    #[test]
    fn classes_ranges_negation_and_escapes_as_go() {
        assert_eq!(m("[a-c]x", "bx"), Ok(true));
        assert_eq!(m("[^a-c]x", "bx"), Ok(false));
        assert_eq!(m("[]a]", "]"), Err(BadPattern));
        assert_eq!(m("[\\]a]", "]"), Ok(true));
        assert_eq!(m("\\*", "*"), Ok(true));
        assert_eq!(m("\\*", "x"), Ok(false));
    }

    #[test]
    fn malformed_patterns_are_errors_even_after_a_mismatch() {
        for bad in [
            "[bad",
            "[",
            "x[",
            "\\",
            "[-a]",
            "[a-]",
            "[]",
            "nomatch*[",
            "a[b",
        ] {
            assert_eq!(m(bad, "busybox"), Err(BadPattern), "{bad}");
        }
        assert_eq!(
            m("[bad", "busybox").map_err(|e| e.to_string()),
            Err("syntax error in pattern".into())
        );
    }
}
