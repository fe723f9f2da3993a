//! The shared words, from [`crate::text`] (kept here for the renderers that import them from
//! `report`).

pub use crate::text::{counted, printable};

use std::borrow::Cow;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_white_space_at_an_end_are_quoted() {
        assert_eq!(key_text("flags/i "), "\"flags/i \"");
        assert_eq!(key_text(" flags/i"), "\" flags/i\"");
        assert_eq!(key_text("flags/a b"), "flags/a b");
        assert_eq!(key_text("x\n"), "x\\n");
    }
}
