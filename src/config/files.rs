//! `files:` sources: a folder tree of value files → one key per file.
//!
//! This module owns the naming rules: which part of a matched file's path is `{path}` (the
//! path below the glob's literal leading folders, `/`-separated), `strip_extension`, and the
//! `key` template (`{path}` is its only placeholder; `{{` and `}}` are literal braces). Finding
//! the files is `include::find`'s walk, and each file's value is resolved exactly as a `file:`
//! entry's (`sources`); the loader checks the names like any other key and settles duplicates.

use std::path::{Component, Path};

use super::include::{self, Found, Root, Walk};
use super::model::Sp;
use super::problems::{FileId, Pos, Problems};
use super::sources::shown_dir;
use super::validate::Finding;

/// Per `files:` source, this many keys' name problems (and as many warnings) are shown one by
/// one; the rest are counted in one more message. A wrong template would otherwise report every
/// file of a large folder.
const NAME_PROBLEMS_SHOWN: usize = 5;

/// The template used when a source sets no `key`.
pub(crate) const DEFAULT_TEMPLATE: &str = "{path}";

/// A parsed `key` template: literal text around `{path}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Path,
}

impl Template {
    /// Parses a template; a placeholder other than `{path}`, an unclosed `{`, a lone `}` or a
    /// template without `{path}` (every file would get the same key) is a finding.
    pub(crate) fn parse(text: &str) -> Result<Self, Finding> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        let escape_hint = || Some("write `{{` or `}}` for a literal brace".to_owned());
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err((
                            format!("`key` template `{text}` has an unclosed `{{`"),
                            escape_hint(),
                        ));
                    }
                    if name != "path" {
                        let interpolation = literal.ends_with('$');
                        return Err((
                            format!("unknown placeholder `{{{name}}}` in `key` template `{text}`"),
                            Some(if interpolation {
                                "`{path}` is the only placeholder; key names are not \
                                 interpolated, so `${…}` is not expanded here"
                                    .to_owned()
                            } else {
                                "`{path}` is the only placeholder: the file's path below the \
                                 glob's literal folders; write `{{` or `}}` for a literal brace"
                                    .to_owned()
                            }),
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Path);
                }
                '}' => {
                    return Err((
                        format!("`key` template `{text}` has a lone `}}`"),
                        escape_hint(),
                    ));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if !parts.contains(&Part::Path) {
            return Err((
                format!("`key` template `{text}` does not use `{{path}}`"),
                Some(
                    "every file would get the same key; write `{path}` where the file's path \
                     goes, or name one file with a `file:` entry under `keys:`"
                        .to_owned(),
                ),
            ));
        }
        Ok(Self { parts })
    }

    /// The key of a file whose `{path}` is `path`.
    pub(crate) fn render(&self, path: &str) -> String {
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => key.push_str(text),
                Part::Path => key.push_str(path),
            }
        }
        key
    }

    /// The text every key starts with (before the first `{path}`).
    pub(crate) fn head(&self) -> &str {
        match self.parts.first() {
            Some(Part::Literal(text)) => text,
            _ => "",
        }
    }
}

/// The `{path}` of a matched file: its path below `base` (both relative to the same folder),
/// `/`-separated, without its last extension when `strip_extension`.
pub(crate) fn key_path(
    relative: &Path,
    base: &Path,
    strip_extension: bool,
) -> Result<String, Finding> {
    let below = relative.strip_prefix(base).unwrap_or(relative);
    let mut segments = Vec::new();
    // The walk joins plain names only; nothing else can name a part of a key.
    for component in below.components() {
        let Component::Normal(name) = component else {
            continue;
        };
        let Some(name) = name.to_str() else {
            return Err((
                format!(
                    "file name `{}` is not valid UTF-8, so it cannot be part of a key",
                    name.to_string_lossy()
                ),
                Some("rename the file, or narrow the glob so it does not match".to_owned()),
            ));
        };
        segments.push(name);
    }
    let mut path = segments.join("/");
    if strip_extension {
        strip_last_extension(&mut path);
    }
    Ok(path)
}

/// Drops the last extension of the last segment, as `Path::file_stem` sees it: `a/b.json` →
/// `a/b`, `b.tar.gz` → `b.tar`, and `.env` or `README` stay as they are.
fn strip_last_extension(path: &mut String) {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    if let Some(dot) = path[name_start..].rfind('.')
        && dot > 0
    {
        path.truncate(name_start + dot);
    }
}

/// The files a `files:` glob matches; matching nothing is a problem, as for `include:`.
pub(crate) fn find(root: &Root<'_>, dir: &Path, pattern: &Sp<String>) -> Result<Found, Finding> {
    if pattern.value.contains("${") {
        return Err((
            format!("`files` glob `{}` uses `${{…}}`", pattern.value),
            Some("`files:` paths are not interpolated; write the folder out".to_owned()),
        ));
    }
    let found = include::find(root, dir, &pattern.value, Walk::Files)?;
    if found.files.is_empty() {
        let folder = dir.join(&pattern.value);
        let hint = if shown_dir(&folder).is_dir() {
            format!(
                "`{}` is a folder; a glob names files, e.g. `{}/**` for every file below it",
                pattern.value,
                pattern.value.trim_end_matches('/')
            )
        } else {
            format!(
                "`files` globs are relative to the file that names them (here `{}`); names \
                 starting with `.` are skipped unless the glob writes the `.`",
                shown_dir(dir).display()
            )
        };
        return Err((format!("`files` glob `{}` matches no file", pattern.value), Some(hint)));
    }
    Ok(found)
}

/// Counts the name problems of one `files:` source, showing the first few.
#[derive(Default)]
pub(crate) struct Shown {
    errors: usize,
    warnings: usize,
}

impl Shown {
    pub(crate) fn error(
        &mut self,
        problems: &mut Problems,
        file: FileId,
        pos: Pos,
        (message, hint): Finding,
    ) {
        self.errors += 1;
        if self.errors <= NAME_PROBLEMS_SHOWN {
            problems.error(file, pos, message, hint);
        }
    }

    pub(crate) fn warning(
        &mut self,
        problems: &mut Problems,
        file: FileId,
        pos: Pos,
        (message, hint): Finding,
    ) {
        self.warnings += 1;
        if self.warnings <= NAME_PROBLEMS_SHOWN {
            problems.warning(file, pos, message, hint);
        }
    }

    pub(crate) fn finish(self, problems: &mut Problems, file: FileId, pos: Pos) {
        if let Some(more) = self.errors.checked_sub(NAME_PROBLEMS_SHOWN).filter(|n| *n > 0) {
            problems.error(
                file,
                pos,
                format!(
                    "{more} more keys of this `files:` source have problems like the {NAME_PROBLEMS_SHOWN} above"
                ),
                None,
            );
        }
        if let Some(more) = self.warnings.checked_sub(NAME_PROBLEMS_SHOWN).filter(|n| *n > 0) {
            problems.warning(
                file,
                pos,
                format!("{more} more keys of this `files:` source match the `ignore` globs"),
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_have_one_placeholder_and_escaped_braces() {
        let template = Template::parse("content/{path}").expect("valid");
        assert_eq!(template.render("a/b"), "content/a/b");
        assert_eq!(template.head(), "content/");
        let braces = Template::parse("{{x}}/{path}/{path}").expect("valid");
        assert_eq!(braces.render("p"), "{x}/p/p");
        assert_eq!(Template::parse(DEFAULT_TEMPLATE).expect("valid").head(), "");
        let error = |text| Template::parse(text).expect_err(text).0;
        assert_eq!(error("c/{name}"), "unknown placeholder `{name}` in `key` template `c/{name}`");
        assert_eq!(error("c/{path"), "`key` template `c/{path` has an unclosed `{`");
        assert_eq!(error("c/}{path}"), "`key` template `c/}{path}` has a lone `}`");
        assert_eq!(error("fixed"), "`key` template `fixed` does not use `{path}`");
        let hint = Template::parse("c/${HOME}/{path}").expect_err("interpolation").1;
        assert!(hint.is_some_and(|h| h.contains("not interpolated")));
    }

    #[test]
    fn key_paths_are_below_the_base_with_slashes() {
        let path = |relative: &str, base: &str, strip| {
            key_path(Path::new(relative), Path::new(base), strip).expect("utf-8")
        };
        assert_eq!(path("content/a/b.json", "content", false), "a/b.json");
        assert_eq!(path("content/a/b.json", "content", true), "a/b");
        assert_eq!(path("b.tar.gz", "", true), "b.tar");
        assert_eq!(path("c/.env", "c", true), ".env");
        assert_eq!(path("c/README", "c", true), "README");
        assert_eq!(path("c/v1.2/README", "c", true), "v1.2/README");
    }
}
