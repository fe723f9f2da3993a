//! Checking a scope's values against its `schemas:` while the scope loads.
//!
//! The loader hands over each `schemas:` mapping as it meets it (the scope's, then each included
//! file's, for the keys that file defines) and notes every resolved key with the place of its
//! value. Once the scope's keys are all read, [`Typing::finish`] checks the noted values, on
//! every core (a hundred thousand keys under one schema must not make `validate` slow), and
//! reports one diagnostic per failing value, a warning per glob that matched no key, and hands
//! back the scope's [`ValueSchemas`].

use std::path::Path;
use std::sync::Arc;

use super::desired::{DesiredEntry, Globs, ValueSource};
use super::model::{NamedMap, SchemaSource, Sp, YamlKind};
use super::problems::{FileId, Pos, Problems};
use super::sources::{self, Sources};
use super::validate;
use super::value_schema::{Binding, Compiler, ValueSchema, ValueSchemas, Violation};

/// How many violations of one value a diagnostic lists before it says how many more there are.
const VIOLATIONS_SHOWN: usize = 5;

/// A scope's schemas and the values waiting to be checked against them.
#[derive(Default)]
pub(crate) struct Typing {
    bindings: Vec<Pending>,
    checks: Vec<Check>,
}

/// A `glob: schema` entry while its scope loads.
struct Pending {
    glob: Sp<String>,
    matcher: Globs,
    schema: Arc<ValueSchema>,
    /// The included file that wrote it, whose keys alone it applies to (`None`: the scope's).
    file: Option<FileId>,
    /// Where it is written (its glob), for the warning when it matches no key.
    written_in: FileId,
    /// The keys it matched (only kept for an included file's entries).
    matched: Vec<String>,
    any_matched: bool,
}

/// A resolved key whose value may have a schema.
#[derive(Clone, Copy)]
struct Check {
    /// The key's place in the loader's records.
    seq: u32,
    file: FileId,
    /// The value's place (the key's, for `file:` and `files:` values).
    pos: Pos,
}

/// Where a `schemas:` mapping was written.
pub(crate) struct WrittenIn<'a> {
    pub file: FileId,
    /// The folder of that file (schema paths start there).
    pub dir: &'a Path,
    /// Whether the mapping belongs to an included file (its keys only) or to the scope.
    pub included: bool,
}

impl Typing {
    pub(crate) fn has_schemas(&self) -> bool {
        !self.bindings.is_empty()
    }

    /// Compiles one `schemas:` mapping (problems reported) and keeps its entries.
    pub(crate) fn add(
        &mut self,
        compiler: &mut Compiler,
        sources: &Sources<'_>,
        problems: &mut Problems,
        at: &WrittenIn<'_>,
        schemas: NamedMap<SchemaSource>,
    ) {
        for (glob, source) in schemas.0 {
            let matcher = match validate::globs("schemas", std::slice::from_ref(&glob)) {
                Ok(matcher) => matcher,
                Err((_, (message, hint))) => {
                    problems.error(at.file, glob.pos, message, hint);
                    continue;
                }
            };
            let compiled = match source.value.0 {
                YamlKind::Str(path) => match sources::confine(sources, at.dir, &path) {
                    Ok(canonical) => compiler.file(&canonical, &path),
                    Err(finding) => Err(finding),
                },
                inline @ (YamlKind::Map(_) | YamlKind::Bool(_)) => {
                    let place = problems.place(at.file, source.pos, sources.root_dir);
                    let yaml = std::fs::canonicalize(problems.path(at.file))
                        .unwrap_or_else(|_| problems.path(at.file).to_path_buf());
                    compiler.inline(&Sp::new(inline, source.pos), &yaml, place)
                }
                _ => Err((
                    format!("the schema for `{}` is neither a file nor a schema", glob.value),
                    Some(
                        "write a path to a JSON or YAML schema file, or the schema as a mapping"
                            .to_owned(),
                    ),
                )),
            };
            match compiled {
                Ok(schema) => self.bindings.push(Pending {
                    glob,
                    matcher,
                    schema,
                    file: at.included.then_some(at.file),
                    written_in: at.file,
                    matched: Vec::new(),
                    any_matched: false,
                }),
                Err((message, hint)) => problems.error(at.file, source.pos, message, hint),
            }
        }
    }

    /// Notes a resolved key (`seq` in the loader's records) whose value sits at `pos`.
    pub(crate) fn note(&mut self, seq: u32, file: FileId, pos: Pos) {
        if self.has_schemas() {
            self.checks.push(Check { seq, file, pos });
        }
    }

    /// Checks every noted value (`record(seq)` gives its name and entry), reports what breaks
    /// a schema and the globs that matched nothing, and returns the scope's schemas.
    pub(crate) fn finish<'r>(
        mut self,
        scope_name: &str,
        record: &(dyn Fn(u32) -> Option<(&'r str, &'r DesiredEntry)> + Sync),
        threads: usize,
        problems: &mut Problems,
    ) -> ValueSchemas {
        if self.bindings.is_empty() {
            return ValueSchemas::default();
        }
        let found = self.check_all(record, threads);
        for (index, binding) in self.bindings.iter_mut().enumerate() {
            binding.any_matched = found.matched[index];
        }
        for (binding, name) in found.included {
            self.bindings[binding].matched.push(name.to_owned());
        }
        for (check, violations, sensitive) in found.failed {
            let Some((name, _)) = record(check.seq) else { continue };
            let (message, hint) = problem(name, &violations, sensitive);
            let schema = super::SchemaBreak { key: name.to_owned(), violations };
            problems.schema_error(check.file, check.pos, message, hint, schema);
        }
        let bindings = self
            .bindings
            .into_iter()
            .map(|pending| {
                if !pending.any_matched {
                    problems.warning(
                        pending.written_in,
                        pending.glob.pos,
                        format!(
                            "schema glob `{}` matches no key of namespace `{scope_name}`",
                            pending.glob.value
                        ),
                        Some(
                            "if its keys were removed, remove the schema too; otherwise check \
                             the glob (as in `ignore`: `*` stays within one `/` segment, `**` \
                             crosses them)"
                                .to_owned(),
                        ),
                    );
                }
                let only = pending.file.map(|_| {
                    let mut keys = pending.matched;
                    keys.sort_unstable();
                    keys.dedup();
                    keys
                });
                Binding::new(pending.glob.value, pending.matcher, pending.schema, only)
            })
            .collect();
        ValueSchemas::from_bindings(bindings)
    }

    /// Checks every noted value on `threads` threads, each taking a run of them. Nothing is
    /// allocated per value that passes: a hundred thousand values are checked in a few
    /// hundredths of a second per core.
    fn check_all<'r>(
        &self,
        record: &(dyn Fn(u32) -> Option<(&'r str, &'r DesiredEntry)> + Sync),
        threads: usize,
    ) -> Found<'r> {
        let chunk = self.checks.len().div_ceil(threads.max(1)).max(1);
        // Every glob in one set: a key is matched against all of them in one pass.
        let globs: Vec<String> = self.bindings.iter().map(|b| b.glob.value.clone()).collect();
        let all = Globs::new(&globs).unwrap_or_default();
        let all = &all;
        let mut found = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .checks
                .chunks(chunk)
                .map(|checks| scope.spawn(move || self.check_run(checks, all, record)))
                .collect();
            let mut all = Found::new(self.bindings.len());
            for handle in handles {
                if let Ok(run) = handle.join() {
                    all.merge(run);
                }
            }
            all
        });
        found.failed.sort_by_key(|(check, _, _)| check.seq);
        found
    }

    fn check_run<'r>(
        &self,
        checks: &[Check],
        all: &Globs,
        record: &(dyn Fn(u32) -> Option<(&'r str, &'r DesiredEntry)> + Sync),
    ) -> Found<'r> {
        let mut found = Found::new(self.bindings.len());
        let mut matching = Vec::new();
        for check in checks {
            let Some((name, entry)) = record(check.seq) else { continue };
            let mut violations = Vec::new();
            // A `file:` value is read once, when its first schema needs it.
            let mut read: Option<Vec<u8>> = None;
            all.matches_into(name, &mut matching);
            matching.sort_unstable();
            for &index in &matching {
                let binding = &self.bindings[index];
                if binding.file.is_some_and(|file| file != check.file) {
                    continue;
                }
                found.matched[index] = true;
                if binding.file.is_some() {
                    found.included.push((index, name));
                }
                let bytes = match &entry.value {
                    ValueSource::Inline(bytes) => &bytes[..],
                    ValueSource::File(_) => {
                        if read.is_none() {
                            // The file changed since the loader hashed it: apply checks its
                            // hash again, so there is nothing to check here.
                            let Ok(bytes) = entry.read() else { break };
                            read = Some(bytes);
                        }
                        read.as_deref().unwrap_or_default()
                    }
                };
                violations.extend(binding.schema.check(bytes, entry.sensitive));
            }
            if !violations.is_empty() {
                found.failed.push((*check, violations, entry.sensitive));
            }
        }
        found
    }
}

/// What checking a run of values found.
struct Found<'r> {
    /// Per binding, whether its glob matched any value.
    matched: Vec<bool>,
    /// An included file's binding and a key of that file it matched.
    included: Vec<(usize, &'r str)>,
    /// The values that break their schemas, with why, and whether they are sensitive.
    failed: Vec<(Check, Vec<Violation>, bool)>,
}

impl<'r> Found<'r> {
    fn new(bindings: usize) -> Self {
        Self { matched: vec![false; bindings], included: Vec::new(), failed: Vec::new() }
    }

    fn merge(&mut self, other: Found<'r>) {
        for (mine, theirs) in self.matched.iter_mut().zip(other.matched) {
            *mine |= theirs;
        }
        self.included.extend(other.included);
        self.failed.extend(other.failed);
    }
}

/// The diagnostic for a value that breaks its schemas: its message and hint.
fn problem(name: &str, violations: &[Violation], sensitive: bool) -> (String, String) {
    let message = match violations {
        [only] => {
            let colon = if only.instance_path.is_empty() { ":" } else { "" };
            format!("the value of `{name}` breaks its schema{colon} {}", only.describe())
        }
        _ => {
            let shown = crate::text::first_of(
                violations.iter().map(Violation::describe),
                VIOLATIONS_SHOWN,
                "; ",
            );
            format!(
                "the value of `{name}` breaks its schema in {} places: {shown}",
                violations.len()
            )
        }
    };
    let hint = if sensitive {
        "the value is sensitive, so it is not shown; fix it where it is set".to_owned()
    } else {
        "fix the value, or the schema if the value is right".to_owned()
    };
    (message, hint)
}

#[cfg(test)]
#[path = "typing_tests.rs"]
mod tests;
