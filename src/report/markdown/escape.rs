//! Escaping for Markdown, apart from the layout because it is what keeps text from users and KV
//! (keys, values, owners anyone can write into a marker) from becoming links, mentions, HTML or
//! table cells in a pull-request comment: every piece of such text goes through [`code`],
//! [`prose`] or [`prose_with_code`].

use crate::report::text::printable;

pub(super) fn longest_run(text: &str, wanted: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in text.chars() {
        current = if c == wanted { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

/// Any text as an inline code span: control characters escaped, a delimiter longer than any
/// backtick run inside, and padding where CommonMark would otherwise eat a backtick or a space.
/// Inside a code span, `<`, `&`, `*`, `@` and `|` (outside tables) are literal.
pub fn code(text: &str) -> String {
    let text = printable(text);
    if text.is_empty() {
        return "`\"\"`".to_owned();
    }
    let delimiter = "`".repeat(longest_run(&text, '`') + 1);
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (text.starts_with(' ') && text.ends_with(' ') && !text.trim().is_empty());
    let pad = if pad { " " } else { "" };
    format!("{delimiter}{pad}{text}{pad}{delimiter}")
}

/// Text that names things in backticks, the way kvsync's messages do (``owned by `ops` ``): the
/// backticked parts become [`code`] spans, the rest [`prose`]. With an odd number of backticks
/// (a name that itself holds one), all of it is prose.
pub fn prose_with_code(text: &str) -> String {
    if text.matches('`').count() % 2 == 1 {
        return prose(text);
    }
    text.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { code(part) } else { prose(part) })
        .collect()
}

/// Text as Markdown prose: control characters escaped, and every character that could start
/// emphasis, code, a link, HTML, an entity, a table cell, a heading closer or a mention
/// backslash-escaped.
pub fn prose(text: &str) -> String {
    let text = printable(text);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '#' | '@' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
