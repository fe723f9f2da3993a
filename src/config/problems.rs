//! Where problems are collected while a config loads.
//!
//! The loader never stops at the first problem: every step reports into one [`Problems`] and
//! goes on with what it can still check. Files are numbered in the order they are read, and that
//! number (not the path's spelling) orders the diagnostics, so the root config comes first and
//! each include follows where it was read. This module knows nothing about YAML or values.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Diagnostic;

/// A place in a YAML file: 1-based line and column (in characters); 0 when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub(crate) const START: Self = Self { line: 1, column: 1 };

    pub(crate) fn new(line: u64, column: u64) -> Self {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Self { line: clamp(line), column: clamp(column) }
    }

    /// The place of byte `offset` of `text` (a char boundary).
    pub(crate) fn at(text: &str, offset: usize) -> Self {
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self::new(line as u64, column as u64)
    }
}

/// A file read while loading, by the order it was first read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FileId(u32);

impl FileId {
    /// Its place in [`Problems::paths`].
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// One collected problem.
#[derive(Debug)]
struct Problem {
    file: FileId,
    pos: Pos,
    message: String,
    hint: Option<String>,
    schema: Option<super::SchemaBreak>,
}

/// The files read so far and the errors and warnings found in them.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    files: Vec<PathBuf>,
    ids: HashMap<PathBuf, FileId>,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    /// Lines whose later errors only echo one already reported (see [`Problems::ignore_lines`]).
    ignored: Vec<(FileId, u32)>,
}

impl Problems {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Registers a file (once per path) and returns its number.
    pub(crate) fn file(&mut self, path: &Path) -> FileId {
        if let Some(id) = self.ids.get(path) {
            return *id;
        }
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(path.to_path_buf());
        self.ids.insert(path.to_path_buf(), id);
        id
    }

    /// Every file registered, in the order first read.
    pub(crate) fn paths(&self) -> &[PathBuf] {
        &self.files
    }

    pub(crate) fn path(&self, file: FileId) -> &Path {
        &self.files[file.0 as usize]
    }

    pub(crate) fn error(
        &mut self,
        file: FileId,
        pos: Pos,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        if self.ignored.contains(&(file, pos.line)) {
            return;
        }
        self.errors.push(Problem { file, pos, message: message.into(), hint, schema: None });
    }

    /// An error for a value that breaks its schema, with the break as data.
    pub(crate) fn schema_error(
        &mut self,
        file: FileId,
        pos: Pos,
        message: String,
        hint: String,
        schema: super::SchemaBreak,
    ) {
        if self.ignored.contains(&(file, pos.line)) {
            return;
        }
        self.errors.push(Problem { file, pos, message, hint: Some(hint), schema: Some(schema) });
    }

    /// Drops the errors reported from now on at these lines of `file`: the root config's
    /// mappings whose misshapen entries were cut out, where what the loader finds (a scope
    /// without its misspelt `namespace_id`) repeats a problem already reported.
    pub(crate) fn ignore_lines(&mut self, file: FileId, lines: impl IntoIterator<Item = u32>) {
        self.ignored.extend(lines.into_iter().map(|line| (file, line)));
    }

    pub(crate) fn warning(
        &mut self,
        file: FileId,
        pos: Pos,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.warnings.push(Problem { file, pos, message: message.into(), hint, schema: None });
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// `file:line:column` of a place, for messages that point at a second place.
    pub(crate) fn place(&self, file: FileId, pos: Pos, root_dir: &Path) -> String {
        let path = self.path(file);
        let shown = path.strip_prefix(root_dir).unwrap_or(path);
        format!("{}:{}:{}", shown.display(), pos.line, pos.column)
    }

    /// The errors, then the warnings, each sorted by file, line and column, with exact repeats
    /// removed (a file included twice reports its parse error once).
    pub(crate) fn finish(self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        let Self { files, errors, warnings, .. } = self;
        let convert = |mut problems: Vec<Problem>| {
            // Stable: problems at one place keep the order they were found in.
            problems.sort_by_key(|p| (p.file, p.pos));
            let mut out: Vec<Diagnostic> = Vec::with_capacity(problems.len());
            let mut group_start = 0;
            let mut group_place = None;
            for problem in problems {
                let place = (problem.file, problem.pos);
                if group_place != Some(place) {
                    group_place = Some(place);
                    group_start = out.len();
                }
                let diagnostic = Diagnostic {
                    path: files[problem.file.0 as usize].clone(),
                    line: problem.pos.line as usize,
                    column: problem.pos.column as usize,
                    message: problem.message,
                    hint: problem.hint,
                    schema: problem.schema,
                };
                // Repeats can only share a place, so only that group is searched.
                if !out[group_start..].contains(&diagnostic) {
                    out.push(diagnostic);
                }
            }
            out
        };
        (convert(errors), convert(warnings))
    }
}

/// The candidate closest to a misspelt `word`, when one is close enough to be what was meant.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}
