//! Where nodes are in the text, for editing a file in place (`kvsync pull`): a document's tree
//! of nodes with the bytes each spans, from the parser's events.

/// A node of a YAML document and the bytes of the text it spans (`start..end`, the node's own
/// text: quotes and brackets included, no trailing comment or line break).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpanNode {
    pub start: usize,
    pub end: usize,
    pub kind: SpanKind,
    /// It defines an anchor (`&name`), so other nodes may repeat it through aliases.
    pub anchored: bool,
    /// Where the text the node owns ends: `end`, except for a block scalar with keep chomping
    /// (`|+`, `>+`), whose trailing blank lines are content and run to the start of the next
    /// line that is not blank, and a block collection that ends with one. Replacing a block
    /// scalar replaces up to here, and a line added after a collection goes here; removing an
    /// entry cuts at `end`.
    pub tail: usize,
    /// A tag or an anchor written apart from the node, a comment between them (`key: !!str #
    /// note` and the value on the next line): its bytes, which `start` leaves out so that
    /// replacing the node keeps the comment. An edit that rewrites the node removes them.
    pub apart: Option<(usize, usize)>,
}

/// What a [`SpanNode`] holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SpanKind {
    Scalar {
        text: String,
        style: ScalarForm,
    },
    Map {
        flow: bool,
        entries: Vec<(SpanNode, SpanNode)>,
    },
    Seq {
        flow: bool,
        items: Vec<SpanNode>,
    },
    /// `*name`: a repetition of an anchored node.
    Alias,
}

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarForm {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` or `>`: the node's text starts at the indicator.
    Block,
}

impl SpanNode {
    /// The value of `key` in a mapping node.
    pub(crate) fn get(&self, key: &str) -> Option<&SpanNode> {
        match &self.kind {
            SpanKind::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, SpanKind::Scalar { text, .. } if text == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entry (key node and value node) of `key` in a mapping node.
    pub(crate) fn entry(&self, key: &str) -> Option<(&SpanNode, &SpanNode)> {
        match &self.kind {
            SpanKind::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, SpanKind::Scalar { text, .. } if text == key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Whether this node or any node inside it is an alias or defines an anchor.
    pub(crate) fn shares(&self) -> bool {
        self.anchored
            || match &self.kind {
                SpanKind::Alias => true,
                SpanKind::Scalar { .. } => false,
                SpanKind::Map { entries, .. } => {
                    entries.iter().any(|(k, v)| k.shares() || v.shares())
                }
                SpanKind::Seq { items, .. } => items.iter().any(SpanNode::shares),
            }
    }
}

/// A collection the parser opened and has not closed: its start, whether flow, a mapping,
/// anchored, its properties apart, and its children so far.
struct Open {
    start: usize,
    flow: bool,
    map: bool,
    anchored: bool,
    apart: Option<(usize, usize)>,
    children: Vec<SpanNode>,
}

impl Open {
    /// The node of this collection, closed by an end event that ends at `closing` (the bracket
    /// of a flow collection; a block one ends with its last child).
    fn close(self, closing: usize) -> SpanNode {
        let end = if self.flow {
            closing
        } else {
            self.children.last().map_or(self.start, |child| child.end)
        };
        // A block collection's text runs on to its last child's tail.
        let tail =
            if self.flow { end } else { self.children.last().map_or(end, |c| c.tail.max(end)) };
        let kind = if self.map {
            let mut entries = Vec::with_capacity(self.children.len() / 2);
            let mut children = self.children.into_iter();
            while let (Some(key), Some(value)) = (children.next(), children.next()) {
                entries.push((key, value));
            }
            SpanKind::Map { flow: self.flow, entries }
        } else {
            SpanKind::Seq { flow: self.flow, items: self.children }
        };
        SpanNode { start: self.start, end, tail, kind, anchored: self.anchored, apart: self.apart }
    }
}

/// The node of a scalar the parser read between the bytes `start` and `end`, with its tag and
/// anchor (`tagged`, `anchored`) and, for a block scalar, the lines it really spans.
fn scalar_node(
    text: &str,
    value: String,
    style: granit_parser::ScalarStyle,
    (start, end): (usize, usize),
    tagged: bool,
    anchored: bool,
) -> SpanNode {
    let style = match style {
        granit_parser::ScalarStyle::Plain => ScalarForm::Plain,
        granit_parser::ScalarStyle::SingleQuoted => ScalarForm::SingleQuoted,
        granit_parser::ScalarStyle::DoubleQuoted => ScalarForm::DoubleQuoted,
        _ => ScalarForm::Block,
    };
    let (start, end, tail) = if style == ScalarForm::Block {
        block_scalar_range(text, start, end, value.is_empty())
    } else {
        (start, end, end)
    };
    let (start, apart) = with_properties(text, start, tagged, anchored);
    SpanNode { start, end, tail, kind: SpanKind::Scalar { text: value, style }, anchored, apart }
}

/// The first document of `text` as a tree of [`SpanNode`]s; `None` for an empty document.
pub(crate) fn span_tree(text: &str) -> Result<Option<SpanNode>, String> {
    use granit_parser::{Event, Parser};
    let byte = |marker: &granit_parser::Marker| -> usize {
        marker.byte_offset().unwrap_or_else(|| {
            text.char_indices().nth(marker.index()).map_or(text.len(), |(at, _)| at)
        })
    };
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<SpanNode> = None;
    let finish = |stack: &mut Vec<Open>, root: &mut Option<SpanNode>, node: SpanNode| match stack
        .last_mut()
    {
        Some(open) => open.children.push(node),
        None => {
            if root.is_none() {
                *root = Some(node);
            }
        }
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| error.to_string())?;
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let range = (byte(&span.start), byte(&span.end));
                let node =
                    scalar_node(text, value.into_owned(), style, range, tag.is_some(), anchor != 0);
                finish(&mut stack, &mut root, node);
            }
            Event::Alias(_) => {
                let (start, end) = (byte(&span.start), byte(&span.end));
                let node = SpanNode {
                    start,
                    end,
                    tail: end,
                    kind: SpanKind::Alias,
                    anchored: false,
                    apart: None,
                };
                finish(&mut stack, &mut root, node);
            }
            Event::MappingStart(style, anchor, ref tag)
            | Event::SequenceStart(style, anchor, ref tag) => {
                let map = matches!(event, Event::MappingStart(..));
                let (start, apart) =
                    with_properties(text, byte(&span.start), tag.is_some(), anchor != 0);
                stack.push(Open {
                    start,
                    apart,
                    flow: matches!(style, granit_parser::StructureStyle::Flow),
                    map,
                    anchored: anchor != 0,
                    children: Vec::new(),
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(open) = stack.pop() else { continue };
                let node = open.close(byte(&span.end));
                finish(&mut stack, &mut root, node);
            }
            Event::DocumentEnd => break,
            _ => {}
        }
    }
    Ok(root)
}

/// Where a node starts with its properties: a tag (`!!str`) and an anchor (`&name`) written
/// before it, so that replacing the node replaces them too. The parser's range starts after
/// them; they are the nearest words before it, perhaps on the line above. Properties a comment
/// separates from the node (`key: !!str # note`, the node on the next line) are left out of
/// the node, so that replacing it keeps the comment; their bytes are returned apart.
fn with_properties(
    text: &str,
    start: usize,
    tagged: bool,
    anchored: bool,
) -> (usize, Option<(usize, usize)>) {
    let mut start = start.min(text.len());
    let mut apart: Option<(usize, usize)> = None;
    let mut left = usize::from(tagged) + usize::from(anchored);
    let property = |before: &str| {
        let word = before.rfind([' ', '\t', '\n', '{', '[', ',']).map_or(0, |i| i + 1);
        before[word..].starts_with(['!', '&']).then_some(word)
    };
    let blank = [' ', '\t', '\r', '\n'];
    while left > 0 {
        let at = apart.map_or(start, |(from, _)| from);
        let before = text[..at].trim_end_matches(blank);
        if apart.is_none()
            && let Some(word) = property(before)
        {
            start = word;
        } else {
            // Past the comments between (a trailing one, whole comment lines): only when the
            // nearest word is not a property, so a `#` in a quoted key is never taken for one.
            let mut code = before;
            while let Some(comment) = comment_start(code) {
                code = code[..comment].trim_end_matches(blank);
            }
            let Some(word) =
                property(code).filter(|_| code.len() < before.len() || apart.is_some())
            else {
                break;
            };
            let end = apart.map_or(code.len(), |(_, end)| end);
            apart = Some((word, end));
        }
        left -= 1;
    }
    (start, apart)
}

/// Where the comment that ends `text`'s last line starts: its `#` at the line's start or after
/// white space. `None` when the line has none.
fn comment_start(text: &str) -> Option<usize> {
    let line = text.rfind('\n').map_or(0, |i| i + 1);
    text[line..]
        .char_indices()
        .find(|(i, c)| *c == '#' && (*i == 0 || text[line..line + i].ends_with([' ', '\t'])))
        .map(|(i, _)| line + i)
}

/// The bytes a block scalar spans, from the parser's range for it (which starts at its first
/// content line and runs to the next line that is not blank, indentation included): from its
/// indicator (`|`, `>`, with its chomping and indentation indicators) to the end of its last
/// line that is not blank (before the line break), and the end of its trailing blank lines.
/// An empty scalar ends with its header (the parser's range may reach into the next entry).
fn block_scalar_range(text: &str, start: usize, end: usize, empty: bool) -> (usize, usize, usize) {
    let end = end.min(text.len());
    let start = start.min(end);
    // The header: the first line above the content that is not blank (or the content's own
    // line, when the scalar is empty and the parser points into the header).
    let line_of = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let mut line_start = line_of(start);
    let blank = |line: &str| line.trim_matches([' ', '\t', '\r']).is_empty();
    if blank(&text[line_start..start]) {
        while line_start > 0 {
            let above = line_of(line_start - 1);
            let line = &text[above..line_start - 1];
            line_start = above;
            if !blank(line) {
                break;
            }
        }
    }
    let header_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
    let header = &text[line_start..header_end];
    let (code, token) = header_code(header);
    let indicator = if code[token..].starts_with(['|', '>']) {
        line_start + token
    } else {
        match code.rfind(['|', '>']) {
            Some(at) => line_start + at,
            None => start,
        }
    };
    let indicator_end = line_start + code.len();
    // The last line with content, up to its line break.
    let body = &text[start.max(indicator_end).min(end)..end];
    let content_end =
        start.max(indicator_end).min(end) + body.trim_end_matches([' ', '\t', '\r', '\n']).len();
    if empty {
        return (indicator.min(indicator_end), indicator_end, indicator_end);
    }
    let mut last = if content_end > indicator_end {
        let line_end = text[content_end..].find('\n').map_or(text.len(), |i| content_end + i);
        if text[..line_end].ends_with('\r') { line_end - 1 } else { line_end }
    } else {
        indicator_end
    };
    // A line of spaces only, more than the content's indentation, is content too (` ` and
    // more).
    let indentation = start - text[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut at = last;
    while let Some(offset) = text[at..end].find('\n') {
        let line_start = at + offset + 1;
        let line_end = text[line_start..end].find('\n').map_or(end, |i| line_start + i);
        let line = text[line_start..line_end].trim_end_matches('\r');
        if line.len() > indentation && line.bytes().all(|b| b == b' ') {
            last = line_start + line.len();
        }
        at = line_end;
        if at >= end {
            break;
        }
    }
    // Trailing blank lines, content under keep chomping: up to the start of the line the
    // parser's range ends on.
    let keep = code[token..].contains('+');
    let tail = if keep && end > last {
        text[..end].rfind('\n').map_or(end, |i| i + 1).max(last)
    } else {
        last
    };
    (indicator.min(last), last, tail)
}

/// A block scalar's header without its comment, and where its last token starts: the
/// indicator (`|`, `>`, with chomping and indentation), a tag or an anchor coming first.
pub(crate) fn header_code(header: &str) -> (&str, usize) {
    let code = header
        .char_indices()
        .find(|(i, c)| *c == '#' && (*i == 0 || header[..*i].ends_with([' ', '\t'])))
        .map_or(header, |(i, _)| &header[..i])
        .trim_end();
    (code, code.rfind([' ', '\t']).map_or(0, |i| i + 1))
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn nodes_know_the_bytes_they_span() {
        let text = "# c\na: 1\nb:\n  c: \"x\"  # note\n  d: {e: [1, 2]}\nf: &x é\ng: *x\n";
        let root = span_tree(text).expect("parses").expect("a document");
        let slice = |node: &SpanNode| &text[node.start..node.end];
        assert_eq!(slice(root.get("a").expect("a")), "1");
        let b = root.get("b").expect("b");
        assert_eq!(slice(b.get("c").expect("c")), "\"x\"");
        assert_eq!(slice(b.get("d").expect("d")), "{e: [1, 2]}");
        assert_eq!(slice(b), "c: \"x\"  # note\n  d: {e: [1, 2]}");
        // A node's properties (anchor, tag) are part of its text.
        assert_eq!(slice(root.get("f").expect("f")), "&x é");
        assert!(root.get("f").expect("f").shares());
        assert_eq!(root.get("g").expect("g").kind, SpanKind::Alias);
        let (key, _) = root.entry("b").expect("entry");
        assert_eq!(slice(key), "b");
    }

    /// A block scalar spans its indicator to the end of its last content line, whatever its
    /// chomping and indentation indicators, its comments and its line endings.
    #[test]
    fn a_block_scalar_ends_with_its_last_content_line() {
        let cases = [
            ("a: |\n  x\n  y\n\nb: 1\n", "|\n  x\n  y", "|\n  x\n  y"),
            ("a: |+\n  x\n\n\nb: 1\n", "|+\n  x", "|+\n  x\n\n\n"),
            ("a: >-  # folded\n  x\n  # c\nb: 1\n", ">-  # folded\n  x\n  # c", ""),
            ("a: |2-\n   x\n\n", "|2-\n   x", ""),
            ("a: &n |\n  x  \nb: 1\n", "&n |\n  x  ", ""),
            ("a: !!str |\n  x\n   \nb: 1\n", "!!str |\n  x\n   ", ""),
            ("a: |\r\n  x\r\n  y\r\nb: 1\r\n", "|\r\n  x\r\n  y", ""),
            ("a: |\nb: 1\n", "|", ""),
        ];
        for (text, spanned, tail) in cases {
            let root = span_tree(text).expect("parses").expect("a document");
            let a = root.get("a").expect("a");
            assert_eq!(&text[a.start..a.end], spanned, "{text:?}");
            if !tail.is_empty() {
                assert_eq!(&text[a.start..a.tail], tail, "{text:?}");
            }
        }
        // A mapping that ends with a block scalar ends where the scalar does.
        let text = "k:\n  value: |\n    x\n  # c\ninclude: [x]\n";
        let root = span_tree(text).expect("parses").expect("a document");
        let k = root.get("k").expect("k");
        assert_eq!(&text[k.start..k.end], "value: |\n    x");
    }

    /// Properties a comment separates from their node are left out of it and kept apart; on
    /// the node's line, or with nothing but line breaks between, they are part of it.
    #[test]
    fn properties_apart_from_their_node_are_kept_apart() {
        let cases: [(&str, &str, Option<&str>); 6] = [
            ("a: !!str # c\n  v\n", "v", Some("!!str")),
            ("a: &x !!str # c\n  # more\n  v\n", "v", Some("&x !!str")),
            ("a: !!seq # c\n  - v\n", "- v", Some("!!seq")),
            ("a: !!str v  # c\n", "!!str v", None),
            ("a: !!str\n  v\n", "!!str\n  v", None),
            ("'a #b': !!str\n  v\n", "!!str\n  v", None),
        ];
        for (text, spanned, apart) in cases {
            let root = span_tree(text).expect("parses").expect("a document");
            let (_, a) = match &root.kind {
                SpanKind::Map { entries, .. } => entries[0].clone(),
                _ => panic!("a mapping"),
            };
            assert_eq!(&text[a.start..a.end], spanned, "{text:?}");
            assert_eq!(a.apart.map(|(from, to)| &text[from..to]), apart, "{text:?}");
        }
    }
}
