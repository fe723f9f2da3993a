//! Phrasing and escaping every renderer shares, written once: [`printable`] (what any text from
//! users or KV goes through before it reaches a terminal, a log or a comment) and [`counted`]
//! (a number with its noun in agreement), as ripgrep's printer utilities and just's `Count` do.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Text safe to print: control characters other than tab (and the bidirectional overrides that
/// can reorder what a reader sees) are written as escapes such as `\r` or `\u{1b}`.
pub fn printable(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
    }
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) => {
                let _ = write!(out, "{}", c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A key as a change line shows it: [`printable`], and in double quotes when it begins or ends
/// with white space, which would otherwise be invisible (`+ "flags/i "`).
pub fn key_text(key: &str) -> Cow<'_, str> {
    let shown = printable(key);
    if shown.starts_with(char::is_whitespace) || shown.ends_with(char::is_whitespace) {
        Cow::Owned(format!("\"{shown}\""))
    } else {
        shown
    }
}

/// `1 key`, `2 keys`: the count and the noun that agrees with it.
pub fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_what_could_move_the_cursor_or_reorder_text() {
        assert_eq!(printable("plain\ttab"), "plain\ttab");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(printable("a\nb\rc\u{1b}[2J"), "a\\nb\\rc\\u{1b}[2J");
        assert_eq!(printable("\u{202e}txt"), "\\u{202e}txt");
        assert_eq!(printable("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
    }

    #[test]
    fn keys_with_white_space_at_an_end_are_quoted() {
        assert_eq!(key_text("flags/i "), "\"flags/i \"");
        assert_eq!(key_text(" flags/i"), "\" flags/i\"");
        assert_eq!(key_text("flags/a b"), "flags/a b");
        assert_eq!(key_text("x\n"), "x\\n");
    }

    #[test]
    fn counted_agrees() {
        assert_eq!(counted(1, "key", "keys"), "1 key");
        assert_eq!(counted(0, "key", "keys"), "0 keys");
        assert_eq!(counted(2, "change is", "changes are"), "2 changes are");
    }
}
