//! `include:`: finding the files a glob names and reading their keys, recursively.
//!
//! Globs are relative to the YAML file that names them and use the key globs' syntax (`*`
//! within one path segment, `**` across segments). The walk starts at the glob's literal leading
//! folders and descends only as deep as the glob can match, so `flags/*.yaml` reads one folder,
//! not the repository. Matched files are read in sorted order, must stay inside the root
//! config's folder (symlinks resolved), and may include more files; a file that includes itself,
//! directly or not, is a cycle. This module finds and parses files; it hands each file's keys
//! (and `files:` sources) to the caller as soon as the file's turn comes (so only a few files'
//! YAML is in memory at a time) and does not judge them. `files:` finds its files with
//! [`find`] too.
//!
//! Reading and parsing run ahead on [`Workers`]: the matches of a file's globs are handed out
//! in the order they will be used, as far as a [`Window`] allows, and each is taken when its
//! turn comes. Everything else (checks, cycle detection, numbering files, reporting) happens
//! here, in that order, so the results and diagnostics are exactly those of reading one file
//! after another.

use std::collections::VecDeque;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::Overlay;
use super::model::{self, FilesSource, IncludeFile, KeyEntry, NamedMap, SchemaSource, Sp};
use super::parallel::{Ticket, Window, Workers};
use super::problems::{FileId, Problems};
use super::shape;
use super::sources::shown_dir;
use super::validate::Finding;

/// Parsed files handed out and not yet used, per worker (and at least this many without any).
const READ_AHEAD_PER_WORKER: usize = 2;

/// YAML text handed out and not yet used, at most (a file larger than this is still read, alone).
const READ_AHEAD_BYTES: u64 = 16 * 1024 * 1024;

/// What an included file adds to its scope.
pub(crate) struct Included {
    pub keys: NamedMap<KeyEntry>,
    pub files: Vec<FilesSource>,
    /// `schemas:` for the keys this file defines.
    pub schemas: NamedMap<SchemaSource>,
}

/// Receives each included file's contents, in the order the files are read.
pub(crate) type OnFile<'a> = dyn FnMut(&mut Problems, FileId, Included) + 'a;

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

/// Reads include files ahead of their turn on the workers, within a window.
pub(crate) struct ReadAhead<'w> {
    workers: &'w Workers,
    window: Window,
    /// Files read from memory instead of the disk, by canonical path.
    overlay: Arc<Overlay>,
}

impl<'w> ReadAhead<'w> {
    pub(crate) fn new(workers: &'w Workers, overlay: Arc<Overlay>) -> Self {
        let jobs = READ_AHEAD_PER_WORKER * workers.count().max(1);
        Self { workers, window: Window::new(jobs, READ_AHEAD_BYTES), overlay }
    }
}

/// A file read and parsed (on a worker), or why not.
enum Read {
    /// Parsed, perhaps with problems of shape (and then perhaps not parsed at all).
    Parsed(shape::Reading<IncludeFile>),
    NotUtf8,
    Failed(std::io::Error),
}

fn read(path: &Path, overlay: &Overlay) -> Read {
    let bytes = match overlay.get(path) {
        Some(bytes) => Ok(bytes.clone()),
        None => std::fs::read(path),
    };
    match bytes.map(String::from_utf8) {
        Ok(Ok(text)) => Read::Parsed(shape::read(text, model::include_schema(), &|_| Vec::new())),
        Ok(Err(_)) => Read::NotUtf8,
        Err(error) => Read::Failed(error),
    }
}

/// One match of an `include:` glob, checked, and perhaps handed out to be read.
struct Match {
    /// Which pattern matched it (where its problems are reported).
    pattern: usize,
    /// The path joined onto the including file's folder.
    shown: PathBuf,
    /// The path relative to the root config's folder, for messages.
    name: PathBuf,
    /// The canonical path, when it exists and stays inside the root config's folder.
    canonical: Result<PathBuf, Finding>,
    /// The read in progress and the bytes it holds in the window.
    read: Option<(Ticket<Read>, u64)>,
}

/// Reads the files `patterns` (written in `from`) match, handing their contents to `on_file` in
/// the order read. `stack` holds the files being included on the way here, root first.
pub(crate) fn collect(
    root: &Root<'_>,
    from: FileId,
    patterns: &[Sp<String>],
    stack: &mut Vec<StackEntry>,
    on_file: &mut OnFile<'_>,
    problems: &mut Problems,
    ahead: &mut ReadAhead<'_>,
) {
    let from_path = problems.path(from).to_path_buf();
    let from_dir = from_path.parent().unwrap_or(Path::new("")).to_path_buf();
    // Every glob first, so that reading ahead can cross from one glob's matches to the next.
    // The problems found here sit at each glob's own place, so reporting them before the files
    // are read changes nothing in the (file, line) order they are shown in.
    let mut matches = VecDeque::new();
    for (index, pattern) in patterns.iter().enumerate() {
        let found = match find(root, &from_dir, &pattern.value, Walk::Include) {
            Ok(found) => found,
            Err((message, hint)) => {
                problems.error(from, pattern.pos, message, hint);
                continue;
            }
        };
        if found.files.is_empty() {
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
        for relative in found.files {
            let shown = from_dir.join(&relative);
            let name = shown.strip_prefix(root.dir).unwrap_or(&shown).to_path_buf();
            let canonical = confine(root, &shown, &name);
            matches.push_back(Match { pattern: index, shown, name, canonical, read: None });
        }
    }
    while !matches.is_empty() {
        read_ahead(&mut matches, ahead);
        let Some(next) = matches.pop_front() else {
            break;
        };
        include_one(root, from, patterns, next, stack, on_file, problems, ahead);
    }
}

/// Hands out the reads of the next matches (in the order they will be used) while the window
/// has room. Matches that are not confined are never read.
fn read_ahead(matches: &mut VecDeque<Match>, ahead: &mut ReadAhead<'_>) {
    for next in matches.iter_mut() {
        let Ok(canonical) = &next.canonical else {
            continue;
        };
        if next.read.is_some() {
            continue;
        }
        let bytes = std::fs::metadata(canonical).map_or(0, |m| m.len());
        if !ahead.window.reserve(bytes) {
            return;
        }
        // The canonical path, checked to be inside the root folder, is what is read.
        let path = canonical.clone();
        let overlay = Arc::clone(&ahead.overlay);
        next.read = Some((ahead.workers.submit(move || read(&path, &overlay)), bytes));
    }
}

/// The canonical path of an included file, which must stay inside the root config's folder.
fn confine(root: &Root<'_>, shown: &Path, name: &Path) -> Result<PathBuf, Finding> {
    let canonical = std::fs::canonicalize(shown).map_err(|error| {
        (format!("cannot read included file `{}`: {error}", name.display()), None)
    })?;
    if !canonical.starts_with(root.canonical) {
        return Err((
            format!("included file `{}` is outside the config folder", name.display()),
            Some(
                "included files must stay inside the folder of the root config, so that a pull \
                 request cannot read other files of the machine it runs on"
                    .to_owned(),
            ),
        ));
    }
    Ok(canonical)
}

#[allow(clippy::too_many_arguments)]
fn include_one(
    root: &Root<'_>,
    from: FileId,
    patterns: &[Sp<String>],
    next: Match,
    stack: &mut Vec<StackEntry>,
    on_file: &mut OnFile<'_>,
    problems: &mut Problems,
    ahead: &mut ReadAhead<'_>,
) {
    let Match { pattern, shown, name, canonical, read: handed } = next;
    let pos = patterns[pattern].pos;
    // The result is taken (or dropped) first, so the window never holds a file not wanted.
    let read = handed.map(|(ticket, bytes)| {
        ahead.window.release(bytes);
        ticket
    });
    let canonical = match canonical {
        Ok(canonical) => canonical,
        Err((message, hint)) => {
            problems.error(from, pos, message, hint);
            return;
        }
    };
    if let Some(start) = stack.iter().position(|s| s.canonical == canonical) {
        let chain: Vec<String> = stack[start..]
            .iter()
            .map(|s| format!("`{}`", s.shown.display()))
            .chain(std::iter::once(format!("`{}`", name.display())))
            .collect();
        problems.error(
            from,
            pos,
            format!("include cycle: {}", chain.join(" → ")),
            Some("a file must not include itself, directly or through others".to_owned()),
        );
        return;
    }
    let read = match read {
        Some(ticket) => ticket.take(),
        None => self::read(&canonical, &ahead.overlay),
    };
    let parsed = match read {
        Read::Parsed(parsed) => parsed,
        Read::NotUtf8 => {
            problems.error(
                from,
                pos,
                format!("included file `{}` is not valid UTF-8", name.display()),
                None,
            );
            return;
        }
        Read::Failed(error) => {
            problems.error(
                from,
                pos,
                format!("cannot read included file `{}`: {error}", name.display()),
                None,
            );
            return;
        }
    };
    let file = problems.file(&shown);
    for (pos, message, hint) in parsed.problems {
        problems.error(file, pos, message, hint);
    }
    problems.ignore_lines(file, parsed.echoes);
    let Some(IncludeFile { keys, include, files, schemas }) = parsed.parsed else {
        return;
    };
    on_file(problems, file, Included { keys, files, schemas });
    stack.push(StackEntry { canonical, shown: name });
    collect(root, file, &include, stack, on_file, problems, ahead);
    stack.pop();
}

/// What a walk takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// `include:`: every file, hidden or not.
    Include,
    /// `files:`: below the literal folders, names starting with `.` only when the glob writes
    /// such a segment itself.
    Files,
}

impl Walk {
    fn field(self) -> &'static str {
        match self {
            Self::Include => "include",
            Self::Files => "files",
        }
    }
}

/// The files a glob matched.
pub(crate) struct Found {
    /// The glob's literal leading folders, relative to the folder the glob is written in.
    pub base: PathBuf,
    /// The matched files, relative to the folder the glob is written in, sorted.
    pub files: Vec<PathBuf>,
}

/// The files under `dir` that `pattern` matches, as sorted paths relative to `dir`. A glob whose
/// walk would start outside the root config's folder (`../**`, or a folder that is a link to
/// elsewhere) is refused before anything is read: the errors about what it matched would list
/// the names of files a pull request has no business seeing.
pub(crate) fn find(
    root: &Root<'_>,
    dir: &Path,
    pattern: &str,
    what: Walk,
) -> Result<Found, Finding> {
    let field = what.field();
    if pattern.is_empty() {
        return Err((format!("an `{field}` glob is empty"), None));
    }
    if Path::new(pattern).has_root() || Path::new(pattern).is_absolute() {
        return Err((
            format!("`{field}` glob `{pattern}` is absolute"),
            Some("write it relative to the file that names it".to_owned()),
        ));
    }
    let glob = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|error| {
            (format!("`{field}` glob `{pattern}` is not valid: {}", error.kind()), None)
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
    if leaves_root(root, dir, &base) {
        return Err((
            format!("`{field}` glob `{pattern}` leaves the config folder"),
            Some(
                "globs must stay inside the folder of the root config, so that a pull request \
                 cannot list or read other files of the machine it runs on"
                    .to_owned(),
            ),
        ));
    }
    let rest = &segments[literal..];
    let depth = if rest.iter().any(|s| s.contains("**")) { usize::MAX } else { rest.len() };
    let hidden = what == Walk::Include || rest.iter().any(|s| s.starts_with('.'));
    let mut files = Vec::new();
    let start = dir.join(&base);
    walk(shown_dir(&start), &base, depth, hidden, &mut |relative| {
        if glob.is_match(slash_path(relative)) {
            files.push(relative.to_path_buf());
        }
    });
    files.sort();
    Ok(Found { base, files })
}

/// Whether the folder a walk starts in, `base` below `dir`, lies outside the root config's
/// folder: by its `..` segments, or, once resolved, through a link.
fn leaves_root(root: &Root<'_>, dir: &Path, base: &Path) -> bool {
    let from_root = dir.strip_prefix(root.dir).unwrap_or(dir);
    let mut depth: usize = 0;
    for component in from_root.join(base).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            Component::RootDir | Component::Prefix(_) => return true,
        }
    }
    // A folder that does not exist has nothing to walk (the glob matches no file).
    std::fs::canonicalize(shown_dir(&dir.join(base)))
        .is_ok_and(|canonical| !canonical.starts_with(root.canonical))
}

/// Calls `visit` with every file (relative path) under `folder`, down to `depth` levels, and
/// with names starting with `.` only when `hidden`. Symlinked folders are not entered, so a
/// link loop cannot trap the walk and a link cannot lead it out of the config folder.
fn walk(folder: &Path, relative: &Path, depth: usize, hidden: bool, visit: &mut dyn FnMut(&Path)) {
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
        let name = entry.file_name();
        if !hidden && name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        let child = relative.join(name);
        if kind.is_dir() {
            walk(&path, &child, depth - 1, hidden, visit);
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            visit(&child);
        }
    }
}

/// A relative path with `/` separators, as globs are written.
pub(crate) fn slash_path(path: &Path) -> String {
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
        let canonical = std::fs::canonicalize(dir.path()).expect("canonical");
        let root = Root { dir: dir.path(), canonical: &canonical };
        let names = |pattern| -> Vec<String> {
            let found = find(&root, dir.path(), pattern, Walk::Include).expect("valid");
            found.files.iter().map(|p| slash_path(p)).collect()
        };
        assert_eq!(names("flags/*.yaml"), vec!["flags/b.yaml"]);
        assert_eq!(names("flags/**/*.yaml"), vec!["flags/b.yaml", "flags/deep/d.yaml"]);
        assert_eq!(names("*.yaml"), vec!["a.yaml"]);
        assert_eq!(names("flags/c.yml"), vec!["flags/c.yml"]);
        assert!(names("nothing/*.yaml").is_empty());
        assert!(find(&root, dir.path(), "/etc/*", Walk::Include).is_err());
    }

    /// Issue 15 item 10: a glob that leaves the root config's folder is refused before the walk,
    /// whether by `..` or through a link; `..` that stays inside is fine.
    #[test]
    fn find_refuses_globs_that_leave_the_root_folder() {
        let outer = tempfile::tempdir().expect("tempdir");
        let root_dir = outer.path().join("repo");
        for path in ["repo/flags/a.yaml", "repo/sub/b.yaml", "secret-name.txt"] {
            let path = outer.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "keys: {}\n").expect("write");
        }
        let canonical = std::fs::canonicalize(&root_dir).expect("canonical");
        let root = Root { dir: &root_dir, canonical: &canonical };
        let sub = root_dir.join("sub");
        for (dir, pattern) in [
            (&root_dir, "../**"),
            (&root_dir, "../*.txt"),
            (&root_dir, "flags/../../*"),
            (&sub, "../../**/*.txt"),
            (&sub, "./../.././*"),
        ] {
            for walk in [Walk::Include, Walk::Files] {
                let error = find(&root, dir, pattern, walk).err().expect("refused");
                assert!(error.0.ends_with("leaves the config folder"), "{pattern}: {}", error.0);
                assert!(!format!("{error:?}").contains("secret-name"));
            }
        }
        let found = find(&root, &sub, "../flags/*.yaml", Walk::Include).expect("inside");
        assert_eq!(
            found.files.iter().map(|p| slash_path(p)).collect::<Vec<_>>(),
            ["../flags/a.yaml"]
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path(), root_dir.join("out")).expect("link");
            let error = find(&root, &root_dir, "out/*.txt", Walk::Files).err().expect("refused");
            assert!(error.0.ends_with("leaves the config folder"), "{}", error.0);
        }
    }
}
