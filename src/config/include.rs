//! `include:`: finding the files a glob names and reading their keys, recursively.
//!
//! Globs are relative to the YAML file that names them and use the key globs' syntax (`*`
//! within one path segment, `**` across segments). The walk starts at the glob's literal leading
//! folders and descends only as deep as the glob can match, so `flags/*.yaml` reads one folder,
//! not the repository. Matched files are read in sorted order, must stay inside the root
//! config's folder (symlinks resolved), and may include more files; a file that includes itself,
//! directly or not, is a cycle. This module finds and parses files; it hands each file's keys
//! to the caller as soon as the file is read (so a file's YAML is dropped before the next one
//! is parsed) and does not judge them.

use std::path::{Path, PathBuf};

use super::model::{IncludeFile, KeyEntry, NamedMap, Sp};
use super::problems::{FileId, Problems};
use super::sources::shown_dir;
use super::yaml;

/// Receives each included file's keys, in the order the files are read.
pub(crate) type OnKeys<'a> = dyn FnMut(&mut Problems, FileId, NamedMap<KeyEntry>) + 'a;

/// What walking includes needs to know about the root.
pub(crate) struct Root<'a> {
    /// The root config's folder as given (`""` for the current directory).
    pub dir: &'a Path,
    /// The same folder, canonical.
    pub canonical: &'a Path,
}

/// One file on the way down: its canonical path (to find cycles) and how it is shown.
pub(crate) struct StackEntry {
    pub canonical: PathBuf,
    pub shown: PathBuf,
}

/// Reads the files `patterns` (written in `from`) match, handing their keys to `on_keys` in the
/// order read. `stack` holds the files being included on the way here, root first.
pub(crate) fn collect(
    root: &Root<'_>,
    from: FileId,
    patterns: &[Sp<String>],
    stack: &mut Vec<StackEntry>,
    on_keys: &mut OnKeys<'_>,
    problems: &mut Problems,
) {
    let from_path = problems.path(from).to_path_buf();
    let from_dir = from_path.parent().unwrap_or(Path::new("")).to_path_buf();
    for pattern in patterns {
        let matches = match find(&from_dir, &pattern.value) {
            Ok(matches) => matches,
            Err((message, hint)) => {
                problems.error(from, pattern.pos, message, hint);
                continue;
            }
        };
        if matches.is_empty() {
            problems.error(
                from,
                pattern.pos,
                format!("`include` glob `{}` matches no file", pattern.value),
                Some(format!(
                    "include globs are relative to the file that names them (here `{}`)",
                    shown_dir(&from_dir).display()
                )),
            );
        }
        for relative in matches {
            let shown = from_dir.join(&relative);
            include_one(root, from, pattern, shown, stack, on_keys, problems);
        }
    }
}

fn include_one(
    root: &Root<'_>,
    from: FileId,
    pattern: &Sp<String>,
    shown: PathBuf,
    stack: &mut Vec<StackEntry>,
    on_keys: &mut OnKeys<'_>,
    problems: &mut Problems,
) {
    let name = shown.strip_prefix(root.dir).unwrap_or(&shown).to_path_buf();
    let canonical = match std::fs::canonicalize(&shown) {
        Ok(canonical) => canonical,
        Err(error) => {
            problems.error(
                from,
                pattern.pos,
                format!("cannot read included file `{}`: {error}", name.display()),
                None,
            );
            return;
        }
    };
    if !canonical.starts_with(root.canonical) {
        problems.error(
            from,
            pattern.pos,
            format!("included file `{}` is outside the config folder", name.display()),
            Some(
                "included files must stay inside the folder of the root config, so that a pull \
                 request cannot read other files of the machine it runs on"
                    .to_owned(),
            ),
        );
        return;
    }
    if let Some(start) = stack.iter().position(|s| s.canonical == canonical) {
        let chain: Vec<String> = stack[start..]
            .iter()
            .map(|s| format!("`{}`", s.shown.display()))
            .chain(std::iter::once(format!("`{}`", name.display())))
            .collect();
        problems.error(
            from,
            pattern.pos,
            format!("include cycle: {}", chain.join(" → ")),
            Some("a file must not include itself, directly or through others".to_owned()),
        );
        return;
    }
    let text = match std::fs::read(&shown).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => {
            problems.error(
                from,
                pattern.pos,
                format!("included file `{}` is not valid UTF-8", name.display()),
                None,
            );
            return;
        }
        Err(error) => {
            problems.error(
                from,
                pattern.pos,
                format!("cannot read included file `{}`: {error}", name.display()),
                None,
            );
            return;
        }
    };
    let file = problems.file(&shown);
    let parsed: IncludeFile = match yaml::parse(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            problems.error(file, error.pos, error.message, error.hint);
            return;
        }
    };
    let IncludeFile { keys: included, include } = parsed;
    on_keys(problems, file, included);
    stack.push(StackEntry { canonical, shown: name });
    collect(root, file, &include, stack, on_keys, problems);
    stack.pop();
}

/// The files under `dir` that `pattern` matches, as sorted paths relative to `dir`.
fn find(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, (String, Option<String>)> {
    if pattern.is_empty() {
        return Err(("an `include` glob is empty".to_owned(), None));
    }
    if Path::new(pattern).has_root() || Path::new(pattern).is_absolute() {
        return Err((
            format!("`include` glob `{pattern}` is absolute"),
            Some("write it relative to the file that names it".to_owned()),
        ));
    }
    let glob = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|error| {
            (format!("`include` glob `{pattern}` is not valid: {}", error.kind()), None)
        })?
        .compile_matcher();
    // The walk starts below the literal folders the glob begins with.
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let literal = segments
        .iter()
        .take_while(|s| !s.contains(['*', '?', '[', '{', '\\']))
        .count()
        .min(segments.len().saturating_sub(1));
    let base: PathBuf = segments[..literal].iter().collect();
    let rest = &segments[literal..];
    let depth = if rest.iter().any(|s| s.contains("**")) { usize::MAX } else { rest.len() };
    let mut found = Vec::new();
    let start = dir.join(&base);
    walk(shown_dir(&start), &base, depth, &mut |relative| {
        if glob.is_match(slash_path(relative)) {
            found.push(relative.to_path_buf());
        }
    });
    found.sort();
    Ok(found)
}

/// Calls `visit` with every file (relative path) under `folder`, down to `depth` levels.
/// Symlinked folders are not entered, so a link loop cannot trap the walk.
fn walk(folder: &Path, relative: &Path, depth: usize, visit: &mut dyn FnMut(&Path)) {
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        let child = relative.join(entry.file_name());
        if kind.is_dir() {
            walk(&path, &child, depth - 1, visit);
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            visit(&child);
        }
    }
}

/// A relative path with `/` separators, as globs are written.
fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_walks_only_as_deep_as_the_glob() {
        let dir = tempfile::tempdir().expect("tempdir");
        for path in ["a.yaml", "flags/b.yaml", "flags/c.yml", "flags/deep/d.yaml"] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "keys: {}\n").expect("write");
        }
        let names = |pattern| -> Vec<String> {
            find(dir.path(), pattern).expect("valid").iter().map(|p| slash_path(p)).collect()
        };
        assert_eq!(names("flags/*.yaml"), vec!["flags/b.yaml"]);
        assert_eq!(names("flags/**/*.yaml"), vec!["flags/b.yaml", "flags/deep/d.yaml"]);
        assert_eq!(names("*.yaml"), vec!["a.yaml"]);
        assert_eq!(names("flags/c.yml"), vec!["flags/c.yml"]);
        assert!(names("nothing/*.yaml").is_empty());
        assert!(find(dir.path(), "/etc/*").is_err());
    }
}
