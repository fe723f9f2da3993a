//! Config text into TypeScript, one function per context: no text of the config ever becomes
//! code.
//!
//! Every string the config holds (scope, environment, key, glob, prefix, binding, schema path,
//! enum value, property name) reaches the module through exactly one of these: [`comment`],
//! [`string`], [`template`], [`regex`] or an identifier ([`type_name`], [`value_name`]). Each
//! is total: any text has a safe form, so the module always compiles whatever the names hold.
//! Characters a reader cannot see or that end a line (line breaks including U+2028, U+2029 and
//! U+0085, other controls, bidirectional and zero-width formatting) are written as escapes
//! everywhere, so the generated file reads as what it does.

use std::fmt::Write as _;

/// A character written as an escape in every context: controls (C0, DEL and C1, so U+0085),
/// the line and paragraph separators, and the invisible formatting characters that reorder or
/// hide text.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `\u{…}`: valid in string literals, template literals and (with the `u` flag) regular
/// expressions; plain text in a comment.
fn push_code_point(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:X}}}", u32::from(c));
}

/// Text inside a `/** … */` or `// …` comment: `*/` cannot close it and nothing ends the line.
pub(crate) fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if hidden(c) {
            push_code_point(&mut out, c);
        } else if c == '*' && chars.peek() == Some(&'/') {
            out.push_str("*\\");
        } else {
            out.push(c);
        }
    }
    out
}

/// A double-quoted string literal (quotes included).
pub(crate) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if hidden(c) => push_code_point(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside a template literal (type): `` ` ``, `\` and `$` escaped, so nothing closes it
/// and no `${` opens a placeholder; a raw line break would be normalised, so it is escaped too.
pub(crate) fn template(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '`' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c if hidden(c) => push_code_point(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// A glob's regular expression literal for a Worker (`/…/`), from the expression kvsync's own
/// matcher runs (`crate::config::Globs::regex_of`): that one runs over a key's UTF-8 bytes, so
/// the literal is tested against the key's bytes as a string of code units `\x00`–`\xFF` (the
/// module's `kvsyncBytes`), and the two match exactly the same keys.
///
/// The source is a small subset of the `regex` crate's syntax (escaped literals, `\xNN` bytes,
/// `.`, classes, `(?:…|…)`, `*`, `?`, anchors), translated piece by piece: `.` (any byte: the
/// matcher lets it match a line feed) becomes `[\s\S]`, `/` and every byte that is not
/// printable ASCII an escape.
pub(crate) fn regex(source: &str) -> String {
    let source = source.strip_prefix("(?-u)").unwrap_or(source);
    let mut out = String::with_capacity(source.len() + 2);
    out.push('/');
    let mut chars = source.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                // Escapes the translation keeps: a byte `\xNN`, an escaped ASCII character, and
                // the `\s\S` of a class that matches nothing.
                Some('x') => out.push_str("\\x"),
                Some(escaped) if escaped.is_ascii_graphic() => {
                    out.push('\\');
                    out.push(escaped);
                }
                Some(escaped) => push_byte_escapes(&mut out, escaped),
                None => out.push_str("\\\\"),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '.' if !in_class => out.push_str("[\\s\\S]"),
            '/' => out.push_str("\\/"),
            c if c.is_ascii_graphic() => out.push(c),
            c => push_byte_escapes(&mut out, c),
        }
    }
    out.push('/');
    out
}

/// `c` as the `\xNN` escapes of its UTF-8 bytes.
fn push_byte_escapes(out: &mut String, c: char) {
    let mut buffer = [0; 4];
    for byte in c.encode_utf8(&mut buffer).bytes() {
        let _ = write!(out, "\\x{byte:02X}");
    }
}

/// Words that cannot name a binding or a type: JavaScript's reserved words (strict mode too)
/// and TypeScript's predefined type names.
const RESERVED: &[&str] = &[
    "any",
    "arguments",
    "await",
    "bigint",
    "boolean",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "intrinsic",
    "let",
    "never",
    "new",
    "null",
    "number",
    "object",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "string",
    "super",
    "switch",
    "symbol",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "unknown",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// Global names a generated name must not shadow: what the module itself uses, and the
/// globals of JavaScript, TypeScript and Workers a reader expects to mean themselves.
pub(crate) const GLOBALS: &[&str] = &[
    "Array",
    "ArrayBuffer",
    "Awaited",
    "BigInt",
    "Blob",
    "Boolean",
    "Cache",
    "Date",
    "Env",
    "Error",
    "Exclude",
    "ExecutionContext",
    "Extract",
    "File",
    "FormData",
    "Function",
    "Headers",
    "Infinity",
    "Intl",
    "Iterable",
    "JSON",
    "JsonValue",
    "KVNamespace",
    "KVNamespaceGetOptions",
    "KVNamespaceGetWithMetadataResult",
    "Map",
    "Math",
    "NaN",
    "NonNullable",
    "Number",
    "Object",
    "Omit",
    "Parameters",
    "Partial",
    "Pick",
    "Promise",
    "PromiseLike",
    "Proxy",
    "ReadOptions",
    "Readonly",
    "ReadonlyArray",
    "ReadonlyMap",
    "ReadonlySet",
    "Record",
    "Reflect",
    "RegExp",
    "Request",
    "Required",
    "Response",
    "ReturnType",
    "Set",
    "String",
    "Symbol",
    "TextDecoder",
    "TextEncoder",
    "TypeError",
    "URL",
    "Uint8Array",
    "WeakMap",
    "WeakSet",
    "WithMetadata",
    "console",
    "crypto",
    "fetch",
    "globalThis",
];

/// `feature-flags` → `FeatureFlags`: ASCII letters and digits only, `_` before a digit.
pub(crate) fn pascal(text: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A type's name for `text`: PascalCase, never a reserved word or a global.
pub(crate) fn type_name(text: &str) -> String {
    safe(pascal(text))
}

/// A value's name (an accessor) for `text`: camelCase, never a reserved word or a global.
pub(crate) fn value_name(text: &str) -> String {
    let pascal = pascal(text);
    let mut chars = pascal.chars();
    let first = chars.next().map_or('_', |c| c.to_ascii_lowercase());
    safe(std::iter::once(first).chain(chars).collect())
}

/// `SCREAMING_CASE` for `text` (a module-private constant).
pub(crate) fn constant_name(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in pascal(text).chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    safe(out)
}

/// `name`, or `name_` when it is reserved, global, or one of the module's own `kvsync…` names.
fn safe(name: String) -> String {
    let lower_kvsync = name.to_ascii_lowercase().starts_with("kvsync");
    if RESERVED.contains(&name.as_str()) || GLOBALS.contains(&name.as_str()) || lower_kvsync {
        format!("{name}_")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Characters that attack each context.
    fn hostile() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "*/",
            "/*",
            "//",
            "\n",
            "\r",
            "\r\n",
            "\u{2028}",
            "\u{2029}",
            "\u{85}",
            "`",
            "${",
            "$",
            "{",
            "}",
            "\"",
            "'",
            "\\",
            "\\u",
            "/",
            "[",
            "]",
            "(",
            ")",
            "^",
            "$",
            ".",
            "a",
            "é",
            "\u{202E}",
            "\u{FEFF}",
            "😀",
            "\0",
            "globalThis.__kvsyncInjected = 1",
        ]);
        prop::collection::vec(pieces, 0..12).prop_map(|parts| parts.concat())
    }

    fn no_line_end(text: &str) -> bool {
        !text.contains(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}'])
    }

    /// What a JavaScript string literal's escapes mean (the ones the escapers write).
    fn unescape(body: &str) -> String {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('u') => {
                    assert_eq!(chars.next(), Some('{'));
                    let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    let code = u32::from_str_radix(&hex, 16).expect("hex");
                    out.push(char::from_u32(code).expect("a scalar value"));
                }
                Some(other) => out.push(other),
                None => panic!("a trailing backslash"),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn a_comment_cannot_be_closed_or_ended(text in hostile()) {
            let escaped = comment(&text);
            prop_assert!(!escaped.contains("*/"), "{escaped:?}");
            prop_assert!(no_line_end(&escaped), "{escaped:?}");
        }

        #[test]
        fn a_string_literal_holds_exactly_its_text(text in hostile()) {
            let escaped = string(&text);
            prop_assert!(no_line_end(&escaped));
            let body = &escaped[1..escaped.len() - 1];
            // Every quote is escaped: the literal ends only at its last character.
            let mut backslashes = 0;
            for c in body.chars() {
                prop_assert!(c != '"' || backslashes % 2 == 1, "{escaped:?}");
                backslashes = if c == '\\' { backslashes + 1 } else { 0 };
            }
            prop_assert_eq!(backslashes % 2, 0);
            prop_assert_eq!(unescape(body), text);
        }

        #[test]
        fn a_template_holds_exactly_its_text(text in hostile()) {
            let escaped = template(&text);
            prop_assert!(no_line_end(&escaped));
            let mut previous_backslashes = 0;
            let mut prior = ' ';
            for c in escaped.chars() {
                if c == '`' || (c == '{' && prior == '$') {
                    prop_assert!(
                        c == '{' || previous_backslashes % 2 == 1,
                        "{escaped:?}"
                    );
                }
                if c == '$' {
                    prop_assert_eq!(previous_backslashes % 2, 1, "{:?}", escaped);
                }
                previous_backslashes = if c == '\\' { previous_backslashes + 1 } else { 0 };
                prior = c;
            }
            prop_assert_eq!(unescape(&escaped), text);
        }

        #[test]
        fn names_are_plain_identifiers(text in hostile()) {
            for name in [type_name(&text), value_name(&text), constant_name(&text)] {
                prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                prop_assert!(!name.starts_with(|c: char| c.is_ascii_digit()));
                prop_assert!(!RESERVED.contains(&name.as_str()));
                prop_assert!(!GLOBALS.contains(&name.as_str()));
            }
        }

        #[test]
        fn a_glob_s_regular_expression_is_one_literal(glob in hostile()) {
            let Ok(source) = crate::config::Globs::regex_of(&glob) else { return Ok(()) };
            let literal = regex(&source);
            prop_assert!(literal.starts_with('/') && literal.ends_with('/'));
            prop_assert!(literal.chars().all(|c| c.is_ascii_graphic()), "{literal:?}");
            // No unescaped `/` inside: the literal ends where it should.
            let body = &literal[1..literal.len() - 1];
            let mut backslashes = 0;
            for c in body.chars() {
                prop_assert!(c != '/' || backslashes % 2 == 1, "{literal:?}");
                backslashes = if c == '\\' { backslashes + 1 } else { 0 };
            }
        }
    }

    #[test]
    fn contexts_escape_what_closes_them() {
        assert_eq!(comment("a */ b\u{2028}c"), "a *\\/ b\\u{2028}c");
        assert_eq!(string("a\"b\\c\nd\u{85}"), "\"a\\\"b\\\\c\\u{A}d\\u{85}\"");
        assert_eq!(template("a`${b}\\"), "a\\`\\${b}\\\\");
        assert_eq!(regex("(?-u)^flags/[^/]*$"), "/^flags\\/[^\\/]*$/");
        assert_eq!(regex("(?-u)^a(?:/?|.*/)b$"), "/^a(?:\\/?|[\\s\\S]*\\/)b$/");
        assert_eq!(regex("(?-u)^\\xe2\\x80\\xa8\n$"), "/^\\xe2\\x80\\xa8\\x0A$/");
        assert_eq!(type_name("promise"), "Promise_");
        assert_eq!(type_name("2fa"), "_2fa");
        assert_eq!(value_name("if"), "if_");
        assert_eq!(value_name("feature flags"), "featureFlags");
        assert_eq!(value_name("kvsync read"), "kvsyncRead_");
        assert_eq!(constant_name("appConfig"), "APP_CONFIG");
    }
}
