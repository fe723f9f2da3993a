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

use super::desired::{DesiredEntry, Globs};
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
        let results = self.check_all(record, threads);
        for (check, result) in self.checks.iter().zip(results) {
            let Some((name, _)) = record(check.seq) else { continue };
            for &index in &result.matched {
                let binding = &mut self.bindings[index];
                binding.any_matched = true;
                if binding.file.is_some() {
                    binding.matched.push(name.to_owned());
                }
            }
            if let Some((message, hint)) = result.problem(name) {
                problems.error(check.file, check.pos, message, Some(hint));
            }
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
                            "a key glob as in `ignore`: `*` stays within one `/` segment, `**` \
                             crosses them"
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

    /// Every check's result, in the checks' order, computed on `threads` threads.
    fn check_all<'r>(
        &self,
        record: &(dyn Fn(u32) -> Option<(&'r str, &'r DesiredEntry)> + Sync),
        threads: usize,
    ) -> Vec<Checked> {
        let chunk = self.checks.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .checks
                .chunks(chunk)
                .map(|checks| {
                    scope.spawn(move || {
                        checks.iter().map(|check| self.check_one(check, record)).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|handle| handle.join().unwrap_or_default()).collect()
        })
    }

    fn check_one<'r>(
        &self,
        check: &Check,
        record: &(dyn Fn(u32) -> Option<(&'r str, &'r DesiredEntry)> + Sync),
    ) -> Checked {
        let mut checked = Checked::default();
        let Some((name, entry)) = record(check.seq) else { return checked };
        let mut bytes: Option<Vec<u8>> = None;
        for (index, binding) in self.bindings.iter().enumerate() {
            if binding.file.is_some_and(|file| file != check.file)
                || !binding.matcher.is_match(name)
            {
                continue;
            }
            checked.matched.push(index);
            if bytes.is_none() {
                match entry.read() {
                    Ok(read) => bytes = Some(read),
                    // The file changed under us; the loader already read it once, and apply
                    // checks its hash again. Nothing to check here.
                    Err(_) => return checked,
                }
            }
            let value = bytes.as_deref().unwrap_or_default();
            checked.violations.extend(binding.schema.check(value, entry.sensitive));
        }
        checked.sensitive = entry.sensitive;
        checked
    }
}

/// What checking one value found.
#[derive(Default)]
struct Checked {
    /// The bindings whose glob matched it.
    matched: Vec<usize>,
    violations: Vec<Violation>,
    sensitive: bool,
}

impl Checked {
    /// The diagnostic for a value that breaks its schemas.
    fn problem(&self, name: &str) -> Option<(String, String)> {
        let first = self.violations.first()?;
        let more = self.violations.len() - 1;
        let message = if more == 0 {
            let colon = if first.instance_path.is_empty() { ":" } else { "" };
            format!("the value of `{name}` breaks its schema{colon} {}", first.describe())
        } else {
            let shown: Vec<String> =
                self.violations.iter().take(VIOLATIONS_SHOWN).map(Violation::describe).collect();
            let rest = self.violations.len().saturating_sub(VIOLATIONS_SHOWN);
            let tail = if rest > 0 { format!("; and {rest} more") } else { String::new() };
            format!(
                "the value of `{name}` breaks its schema in {} places: {}{tail}",
                self.violations.len(),
                shown.join("; ")
            )
        };
        let hint = if self.sensitive {
            "the value is sensitive, so it is not shown; fix it where it is set".to_owned()
        } else {
            "fix the value, or the schema if the value is right".to_owned()
        };
        Some((message, hint))
    }
}

#[cfg(test)]
#[path = "typing_tests.rs"]
mod tests;
