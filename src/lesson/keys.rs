//! Typed keys in transcripts: what a student typed inside an interactive program, written
//! as `> ` lines (one per Enter; control keys as `^P^Q`, `^D`, `^C`) and read back into
//! what a scripted student types (`Shell::run_on_pty` items).
//!
//! Recording works on the bytes the docker CLI forwarded: text up to an Enter becomes
//! `> text` (Backspace, Ctrl+U and Ctrl+W edit the line as a terminal would; arrow keys and
//! other escape sequences are dropped); a run of control keys becomes one `> ^X^Y` line and
//! discards any unfinished text before it (as Ctrl+C does).

/// Bytes typed at a terminal → the text of `> ` lines (without the `> `).
pub fn lines_from_keys(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut controls = String::new();
    let mut chars = text.chars().peekable();
    let flush_controls = |controls: &mut String, out: &mut Vec<String>| {
        if !controls.is_empty() {
            out.push(std::mem::take(controls));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {
                flush_controls(&mut controls, &mut out);
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut line));
            }
            '\u{7f}' | '\u{8}' => {
                line.pop();
            }
            '\u{15}' => line.clear(),
            '\u{17}' => {
                // Ctrl+W: the last word and the spaces after it.
                while line.ends_with(' ') {
                    line.pop();
                }
                while line.chars().last().is_some_and(|c| c != ' ') {
                    line.pop();
                }
            }
            '\u{1b}' => skip_escape(&mut chars),
            '\t' => {
                flush_controls(&mut controls, &mut out);
                line.push('\t');
            }
            c if (c as u32) < 0x20 => {
                line.clear();
                controls.push('^');
                controls.push(char::from(c as u8 + 0x40));
            }
            c => {
                flush_controls(&mut controls, &mut out);
                line.push(c);
            }
        }
    }
    flush_controls(&mut controls, &mut out);
    out
}

/// Skip the rest of an escape sequence (CSI `ESC [ … final`, SS3 `ESC O x`, or `ESC x`).
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some('O') => {
            chars.next();
        }
        _ => {}
    }
}

/// The bytes of a control-key notation (`^P^Q`), or `None` if `text` is not only that.
pub fn control_keys(text: &str) -> Option<String> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    let b = text.as_bytes();
    let mut out = String::new();
    for pair in b.chunks(2) {
        let (caret, key) = (pair[0], pair[1].to_ascii_uppercase());
        if caret != b'^' {
            return None;
        }
        match key {
            b'@'..=b'_' => out.push(char::from(key - 0x40)),
            b'?' => out.push('\u{7f}'),
            _ => return None,
        }
    }
    Some(out)
}

/// The text of a `> ` line → one item for `Shell::run_on_pty`: control keys as their
/// bytes (no Enter), an empty line as a bare Enter, text as is (typed with Enter).
pub fn item_from_line(text: &str) -> String {
    if let Some(keys) = control_keys(text) {
        return keys;
    }
    if text.is_empty() {
        return "\r".to_string();
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_enter_ends_a_line_in_raw_and_cooked_mode() {
        assert_eq!(lines_from_keys(b"ls -l\rexit\r"), ["ls -l", "exit"]);
        assert_eq!(lines_from_keys(b"hallo\nwereld\n"), ["hallo", "wereld"]);
        assert_eq!(lines_from_keys(b"a\r\nb\r\n"), ["a", "b"]);
        assert_eq!(lines_from_keys(b"\r"), [""]);
    }

    #[test]
    fn control_keys_become_caret_notation_and_discard_unfinished_text() {
        assert_eq!(lines_from_keys(b"\x10\x11"), ["^P^Q"]);
        assert_eq!(
            lines_from_keys(b"sleep 9\r\x03exit\r"),
            ["sleep 9", "^C", "exit"]
        );
        assert_eq!(lines_from_keys(b"half\x04"), ["^D"]);
    }

    #[test]
    fn line_editing_is_applied_and_escape_sequences_dropped() {
        assert_eq!(lines_from_keys(b"lss\x7f -a\r"), ["ls -a"]);
        assert_eq!(lines_from_keys(b"echo fout\x15echo goed\r"), ["echo goed"]);
        assert_eq!(
            lines_from_keys(b"echo een twee\x17drie\r"),
            ["echo een drie"]
        );
        assert_eq!(lines_from_keys(b"ls\x1b[A\x1bOB\r"), ["ls"]);
    }

    #[test]
    fn lines_read_back_into_what_is_typed() {
        assert_eq!(item_from_line("^P^Q"), "\u{10}\u{11}");
        assert_eq!(item_from_line("^d"), "\u{4}");
        assert_eq!(item_from_line(""), "\r");
        assert_eq!(item_from_line("echo ^C"), "echo ^C");
        assert_eq!(item_from_line("print(1)"), "print(1)");
    }

    #[test]
    fn recording_then_reading_back_types_the_same_keys() {
        let typed = b"print(6*7)\r\x04";
        let items: Vec<String> = lines_from_keys(typed)
            .iter()
            .map(|l| item_from_line(l))
            .collect();
        assert_eq!(items, ["print(6*7)", "\u{4}"]);
    }
}
