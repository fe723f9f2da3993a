//! Byte positions in a file's text (lines, columns, the end of an entry) and the replacements
//! made in it, in the file's own line break.

use super::super::yaml::SpanNode;
use super::set::Replacement;

/// The text with the replacements made (ranges never overlap: one per entry part), their line
/// breaks the text's own (CRLF stays CRLF).
pub(super) fn apply(text: &str, mut replacements: Vec<Replacement>) -> String {
    replacements.sort_by_key(|(start, end, _)| (*start, *end));
    let crlf = line_break(text) == "\r\n";
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, with) in replacements {
        if start < at && start != end {
            continue;
        }
        // An insertion inside a range replaced before it goes right after that range.
        let start = start.max(at);
        let end = end.max(start);
        out.push_str(&text[at..start]);
        if crlf && with.contains('\n') {
            out.push_str(&with.replace("\r\n", "\n").replace('\n', "\r\n"));
        } else {
            out.push_str(&with);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where an entry's text ends once `replacements` are made: the end of the line its value (or
/// a replacement) ends on, or the start of a line a replacement reaches.
pub(super) fn entry_end(text: &str, value_end: usize, replacements: &[Replacement]) -> usize {
    let end = replacements.iter().map(|(_, end, _)| *end).fold(value_end, usize::max);
    if end > value_end && text[..end].ends_with('\n') { end } else { line_end(text, end) }
}

/// The line break a file uses: CRLF when its first line ends so, else LF.
pub(super) fn line_break(text: &str) -> &'static str {
    match text.find('\n') {
        Some(at) if text[..at].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// The start of the first line after `at`'s that is not blank: a block scalar ending at `at`
/// owns the blank lines between (content under keep chomping), so a block scalar written in its
/// place with keep chomping replaces them.
pub(super) fn blank_tail(text: &str, at: usize) -> usize {
    let mut pos = match text[at..].find('\n') {
        Some(offset) => at + offset + 1,
        None => return text.len(),
    };
    while let Some(offset) = text[pos..].find('\n') {
        if !text[pos..pos + offset].trim_matches([' ', '\t', '\r']).is_empty() {
            break;
        }
        pos += offset + 1;
    }
    pos
}

/// Where to insert `lines` (each starting with a line break) after the line `at` is on, and
/// the text to insert: at the start of the next line, each line ending with its line break,
/// so that removing the last entry before it (which takes its line break) leaves the new lines
/// in place; at the end of the text when it has no line break there.
pub(super) fn after_line(text: &str, node: &SpanNode, lines: &str) -> (usize, String) {
    if node.tail > node.end && text[..node.tail].ends_with('\n') {
        // After trailing lines that are content (`|+`): the next line starts there.
        let body = lines.strip_prefix('\n').unwrap_or(lines);
        return (node.tail, format!("{body}\n"));
    }
    let end = line_end(text, node.end);
    match text[end..].find('\n') {
        Some(offset) => {
            let body = lines.strip_prefix('\n').unwrap_or(lines);
            (end + offset + 1, format!("{body}\n"))
        }
        None => (end, lines.to_owned()),
    }
}

/// The end of the line `at` is on (before its line break): past a trailing comment, where a new
/// line may be added.
pub(super) fn line_end(text: &str, at: usize) -> usize {
    let end = text[at..].find('\n').map_or(text.len(), |offset| at + offset);
    if end > at && text[..end].ends_with('\r') { end - 1 } else { end }
}

pub(super) fn column_of(text: &str, at: usize) -> usize {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..at].chars().count()
}

/// The start of the line `at` is on.
pub(super) fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |offset| offset + 1)
}
