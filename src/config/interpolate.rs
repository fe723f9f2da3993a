//! `${VAR}` interpolation inside one string scalar.
//!
//! Interpolation runs after parsing, on string values only, never on raw file text: a variable's
//! value can therefore never change the YAML's structure, and `yes` in a variable stays the
//! string `yes`. The syntax is the shell's subset that configs use:
//! - `${VAR}`: the variable's value; unset is an error (set but empty gives `""`);
//! - `${VAR:-default}`: the default when the variable is unset or empty (as in the shell);
//! - `$${`: a literal `${`. Any other `$` is literal.
//!
//! Names are `[A-Za-z_][A-Za-z0-9_]*`; a default runs to the first `}`. This module only
//! rewrites text; callers decide which scalars are interpolated and what "sensitive" means.

/// A scalar after interpolation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Expanded {
    pub text: String,
    /// Whether at least one `${…}` was replaced (which makes a key's value sensitive).
    pub substituted: bool,
}

/// Why a scalar could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// `${VAR}` with `VAR` unset and no default.
    Missing { name: String },
    /// `${` without a closing `}`.
    Unterminated,
    /// `${…}` whose name is not a variable name.
    BadName { name: String },
}

impl Problem {
    /// The message and hint for a diagnostic.
    pub(crate) fn describe(&self) -> (String, Option<String>) {
        match self {
            Self::Missing { name } => (
                format!("environment variable `{name}` is not set"),
                Some(format!("set `{name}`, or give a default: `${{{name}:-value}}`")),
            ),
            Self::Unterminated => (
                "`${` is not closed by `}`".to_owned(),
                Some("write `$${` for a literal `${`".to_owned()),
            ),
            Self::BadName { name } => (
                format!("`${{{name}}}` does not name an environment variable"),
                Some(
                    "variable names are letters, digits and `_`, not starting with a digit; \
                     write `$${` for a literal `${`"
                        .to_owned(),
                ),
            ),
        }
    }
}

/// Interpolates `input`. Without a `$` the string is returned as it came, without copying,
/// which is what keeps a million plain values cheap.
pub(crate) fn expand(
    input: String,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, Vec<Problem>> {
    if !input.contains('$') {
        return Ok(Expanded { text: input, substituted: false });
    }
    let mut out = String::with_capacity(input.len());
    let mut problems = Vec::new();
    let mut substituted = false;
    let mut rest = input.as_str();
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(close) = tail.find('}') else {
                problems.push(Problem::Unterminated);
                break;
            };
            let inner = &tail[..close];
            rest = &tail[close + 1..];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_name(name) {
                problems.push(Problem::BadName { name: inner.to_owned() });
                continue;
            }
            substituted = true;
            match (vars(name), default) {
                (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => problems.push(Problem::Missing { name: name.to_owned() }),
            }
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    out.push_str(rest);
    Ok(Expanded { text: out, substituted })
}

/// The variables `input` reads, in order, as [`expand`] finds them (`$${NAME}` is not one).
pub(crate) fn variables(input: &str) -> Vec<String> {
    let found = std::cell::RefCell::new(Vec::new());
    let record = |name: &str| {
        found.borrow_mut().push(name.to_owned());
        Some(String::new())
    };
    let _ = expand(input.to_owned(), &record);
    found.into_inner()
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn check(input: &str) -> Result<(String, bool), Vec<Problem>> {
        expand(input.to_owned(), &vars).map(|e| (e.text, e.substituted))
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(check("no dollars"), Ok(("no dollars".into(), false)));
        assert_eq!(check("cost: $5, $ {x}"), Ok(("cost: $5, $ {x}".into(), false)));
    }

    #[test]
    fn variables_and_defaults() {
        assert_eq!(check("a-${SET}-b"), Ok(("a-value-b".into(), true)));
        assert_eq!(check("${UNSET:-dflt}"), Ok(("dflt".into(), true)));
        assert_eq!(check("${SET:-dflt}"), Ok(("value".into(), true)));
        assert_eq!(check("${EMPTY:-dflt}"), Ok(("dflt".into(), true)));
        assert_eq!(check("${EMPTY}"), Ok((String::new(), true)));
        assert_eq!(check("${UNSET:-}"), Ok((String::new(), true)));
    }

    #[test]
    fn escapes_are_literal_and_not_substitutions() {
        assert_eq!(check("$${SET}"), Ok(("${SET}".into(), false)));
        // Left to right: a `$`, then the escape.
        assert_eq!(check("$$${SET}"), Ok(("$${SET}".into(), false)));
        assert_eq!(check("$$x"), Ok(("$$x".into(), false)));
    }

    #[test]
    fn the_variables_read_are_named_escapes_are_not() {
        assert_eq!(variables("$${LITERAL} ${REAL} ${D:-x}"), ["REAL", "D"]);
        assert!(variables("$$${A}").is_empty());
    }

    #[test]
    fn problems_are_all_reported() {
        assert_eq!(
            check("${A}/${B:-b}/${C}"),
            Err(vec![Problem::Missing { name: "A".into() }, Problem::Missing { name: "C".into() }])
        );
        assert_eq!(check("x ${OPEN"), Err(vec![Problem::Unterminated]));
        assert_eq!(check("${1X}"), Err(vec![Problem::BadName { name: "1X".into() }]));
    }
}
