//! Words every layer shares, written once, below them all (it imports nothing of the crate):
//! [`printable`] (what any text from users or KV goes through before it reaches a terminal, a
//! log or a comment), [`plural`] and [`counted`] (a noun in agreement with its number), and the
//! two bounded lists, [`first_of`] ("a, b, and 3 more") and [`first_lines`] (one item a line,
//! then "… and 3 more"), as ripgrep's printer utilities and just's `Count` do. And [`Hint`],
//! the one way an error says what the user can do about it.

use std::borrow::Cow;
use std::fmt::Write as _;

/// What the user can do about an error, one hint a line (none when there is no advice): each
/// module's error implements it, and the top-level error asks the module error it wraps, as
/// uv's `Hint` does. The CLI prints each on its own `hint:` line.
pub trait Hint {
    fn hints(&self) -> Vec<String>;
}

/// Text safe to print: control characters other than tab (and the bidirectional overrides that
/// can reorder what a reader sees) are written as escapes such as `\r` or `\u{1b}`.
pub fn printable(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\t')
            || matches!(
                c,
                '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
            )
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

/// `one` for a count of 1, else `many`: the one pluraliser.
pub fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

/// `1 key`, `2 keys`: the count and the noun that agrees with it.
pub fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", plural(count, one, many))
}

/// The first `max` of `items` joined with `separator`, then `and N more` for the rest:
/// `a, b, and 3 more` (`separator` `", "`). Nothing when there are no items.
pub fn first_of<I>(items: I, max: usize, separator: &str) -> String
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator,
    I::Item: AsRef<str>,
{
    let items = items.into_iter();
    let more = items.len().saturating_sub(max);
    let mut out = String::new();
    for (i, item) in items.take(max).enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(item.as_ref());
    }
    if more > 0 {
        let _ = write!(out, "{separator}and {more} more");
    }
    out
}

/// The first `max` of `items`, each on a line of its own as `\n  - item`, then `\n  … and N
/// more` for the rest: a list under a message, as errors and warnings print it.
pub fn first_lines<I>(items: I, max: usize) -> String
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator,
    I::Item: std::fmt::Display,
{
    let items = items.into_iter();
    let more = items.len().saturating_sub(max);
    let mut out = String::new();
    for item in items.take(max) {
        let _ = write!(out, "\n  - {item}");
    }
    if more > 0 {
        let _ = write!(out, "\n  … and {more} more");
    }
    out
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
    fn counted_agrees() {
        assert_eq!(counted(1, "key", "keys"), "1 key");
        assert_eq!(counted(0, "key", "keys"), "0 keys");
        assert_eq!(counted(2, "change is", "changes are"), "2 changes are");
        assert_eq!(plural(1, "it", "them"), "it");
    }

    #[test]
    fn bounded_lists_name_the_first_and_count_the_rest() {
        assert_eq!(first_of(["a", "b"], 2, ", "), "a, b");
        assert_eq!(first_of(["a", "b", "c", "d"], 2, ", "), "a, b, and 2 more");
        assert_eq!(first_of(["a", "b"], 1, "; "), "a; and 1 more");
        assert_eq!(first_of(Vec::<String>::new(), 3, ", "), "");
        assert_eq!(first_lines(["x", "y", "z"], 2), "\n  - x\n  - y\n  … and 1 more");
        assert_eq!(first_lines(["x"], 2), "\n  - x");
    }
}
