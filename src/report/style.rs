//! Colour for human output, and nothing else.
//!
//! A [`Style`] wraps text in ANSI styles when colour is on and returns it untouched when it is
//! off. Whether colour is on (a terminal, `--color`, `NO_COLOR`) is the caller's decision; this
//! module never looks at the environment. Every renderer must read correctly with colour off, so
//! colour only ever repeats what the text already says (a marker, a diff sign).

use owo_colors::{OwoColorize as _, Style as Ansi};

/// Colour helpers for one rendering. With `color: false` every method returns its input as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    /// Something that will be created or written: green.
    pub fn added(&self, text: &str) -> String {
        self.paint(text, Ansi::new().green())
    }

    /// Something that will change in place: yellow.
    pub fn changed(&self, text: &str) -> String {
        self.paint(text, Ansi::new().yellow())
    }

    /// Something that will be removed, or that blocks the run: red.
    pub fn removed(&self, text: &str) -> String {
        self.paint(text, Ansi::new().red())
    }

    /// Something reported but left alone: cyan.
    pub fn info(&self, text: &str) -> String {
        self.paint(text, Ansi::new().cyan())
    }

    /// Secondary text (notes, unchanged context): dimmed.
    pub fn muted(&self, text: &str) -> String {
        self.paint(text, Ansi::new().dimmed())
    }

    /// Headings: bold.
    pub fn bold(&self, text: &str) -> String {
        self.paint(text, Ansi::new().bold())
    }

    /// The `warning:` label: bold yellow.
    pub fn warning(&self, text: &str) -> String {
        self.paint(text, Ansi::new().yellow().bold())
    }

    /// The changed words inside an added line: green, underlined.
    pub fn added_emphasis(&self, text: &str) -> String {
        self.paint(text, Ansi::new().green().underline())
    }

    /// The changed words inside a removed line: red, underlined.
    pub fn removed_emphasis(&self, text: &str) -> String {
        self.paint(text, Ansi::new().red().underline())
    }

    fn paint(&self, text: &str, style: Ansi) -> String {
        if self.color && !text.is_empty() { text.style(style).to_string() } else { text.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_off_returns_the_text_unchanged() {
        let style = Style::new(false);
        for painted in [
            style.added("a"),
            style.changed("a"),
            style.removed("a"),
            style.info("a"),
            style.muted("a"),
            style.bold("a"),
            style.warning("a"),
            style.added_emphasis("a"),
            style.removed_emphasis("a"),
        ] {
            assert_eq!(painted, "a");
        }
    }

    #[test]
    fn colour_on_wraps_the_text_in_ansi_codes() {
        let style = Style::new(true);
        assert_eq!(style.added("+"), "\u{1b}[32m+\u{1b}[0m");
        assert_eq!(style.removed("-"), "\u{1b}[31m-\u{1b}[0m");
        assert_eq!(style.added(""), "");
    }
}
