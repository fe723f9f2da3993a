//! The whole result, checked before a file is written: the config is loaded again with the
//! edited files read from memory ([`super::super::load_overlaid`]), and every key of every scope
//! is compared with what it was: a key pulled or added now says exactly what is live, a key
//! removed is gone, and every other key (value, metadata, expiration, sensitivity) is as it
//! was, with the same scopes and the same files read. With environments, every other
//! environment is loaded before and after too, and must not change at all (an entry edited
//! in the base config would reach them). Any difference is an error naming the key, and nothing
//! is written.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::super::desired::{DesiredEntry, DesiredScope, ValueSource};
use super::super::{Desired, LoadOptions, Overlay};
use super::{Change, Context, Edits, What};
use crate::content::Expiration;

/// Why the edited config is not written.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The edited config would not load.
    #[error("the edited config would not load{}: {source}; nothing was written", in_environment(.environment))]
    NotLoading {
        environment: Option<String>,
        #[source]
        source: super::super::Error,
    },
    /// A key would not say what it should.
    #[error("after the edits, `{key}` of scope `{scope}`{} would {what}; nothing was written", in_environment(.environment))]
    Key { environment: Option<String>, scope: String, key: String, what: String },
    /// The scopes or the files read would change.
    #[error("after the edits, {what}; nothing was written")]
    Shape { what: String },
}

impl CheckError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        "the edit kvsync computed is wrong, so nothing was written: edit the config by hand, and \
         report the case (`kvsync pull --dry-run` shows the edit)"
            .to_owned()
    }
}

fn in_environment(environment: &Option<String>) -> String {
    environment.as_ref().map(|name| format!(" in environment `{name}`")).unwrap_or_default()
}

/// What the check needs of a desired state: each scope's head, each key's hash and flags
/// (about 80 bytes a key, where a desired entry with its name, value and metadata takes about
/// 200), and the whole entries of the keys changed. So the desired state the edits were
/// computed from need not be held while the config is loaded again.
pub struct Before {
    scopes: Vec<ScopeBefore>,
}

struct ScopeBefore {
    name: String,
    namespace_id: String,
    prefix: String,
    /// Sorted by name, as the scope's entries are.
    keys: Vec<(Box<str>, Summary)>,
    /// The keys `changes` name, whole: a pulled key's new state is built from its old one.
    changed: HashMap<String, DesiredEntry>,
}

/// What an unchanged key must keep.
#[derive(Clone, Copy, PartialEq)]
struct Summary {
    hash: crate::content::ContentHash,
    sensitive: bool,
    json: bool,
}

impl Summary {
    fn of(entry: &DesiredEntry) -> Self {
        Self { hash: entry.hash, sensitive: entry.sensitive, json: entry.json }
    }
}

impl Before {
    /// `desired`, as the check of `changes` needs it.
    pub fn of(desired: &Desired, changes: &[Change]) -> Self {
        let scopes = desired
            .scopes
            .iter()
            .map(|scope| ScopeBefore {
                name: scope.name.clone(),
                namespace_id: scope.namespace_id.clone(),
                prefix: scope.prefix.clone(),
                keys: scope
                    .entries
                    .iter()
                    .map(|(key, entry)| (key.as_str().into(), Summary::of(entry)))
                    .collect(),
                changed: changes
                    .iter()
                    .filter(|change| change.scope == scope.name)
                    .filter_map(|change| {
                        let entry = scope.entries.get(&change.key)?;
                        Some((change.key.clone(), entry.clone()))
                    })
                    .collect(),
            })
            .collect();
        Self { scopes }
    }
}

/// Checks the edits; `before` is the desired state they were computed from
/// ([`Before::of`]). `environments` names every environment of the config (empty without
/// `environments:`).
pub fn check(
    context: &Context<'_>,
    environment: Option<&str>,
    before: &Before,
    changes: &[Change],
    edits: &Edits,
    environments: &[String],
) -> Result<(), CheckError> {
    if edits.files.is_empty() {
        return Ok(());
    }
    let canonical = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let yaml_files: Vec<PathBuf> = context.files.iter().map(|p| canonical(p)).collect();
    let mut overlay = Overlay::new();
    let mut value_files: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    for file in &edits.files {
        let path = canonical(&file.path);
        if yaml_files.contains(&path) {
            overlay.insert(path, file.after.clone());
        } else {
            value_files.insert(path, file.after.clone());
        }
    }
    let made: HashMap<(&str, &str), &What> = changes
        .iter()
        .filter(|c| edits.made.iter().any(|(s, k, _)| *s == c.scope && *k == c.key))
        .map(|c| ((c.scope.as_str(), c.key.as_str()), &c.what))
        .collect();
    // Title scopes get the ids the config was loaded with.
    let titles = |_: &super::super::Heads| context.titles.cloned();
    let titles = context.titles.map(|_| &titles as &super::super::AskTitles<'_>);
    let load = |environment: Option<&str>, overlay: Option<&Overlay>| {
        let options = LoadOptions {
            environment,
            preview: context.preview,
            target: context.target,
            vars: context.vars,
            titles,
        };
        match overlay {
            Some(overlay) => super::super::load_overlaid(context.root, &options, overlay.clone()),
            None => super::super::load(context.root, &options),
        }
    };
    let not_loading = |environment: Option<&str>, source| CheckError::NotLoading {
        environment: environment.map(str::to_owned),
        source,
    };
    let environment = environment.filter(|_| !environments.is_empty());
    let after = load(environment, Some(&overlay)).map_err(|e| not_loading(environment, e))?;
    let read: Vec<PathBuf> = after.files.iter().map(|p| canonical(p)).collect();
    if read != yaml_files {
        return Err(CheckError::Shape { what: "the config would read other files".to_owned() });
    }
    let values = Values { files: &value_files, canonical: &canonical };
    compare(environment, before, &after.desired, &made, &values)?;
    // The other environments read the base config too: they must not change at all, but for
    // keys added with `--into` (a file of the base config, on purpose).
    let added_into: HashMap<(&str, &str), &What> = made
        .iter()
        .filter(|(_, what)| context.into.is_some() && matches!(what, What::Add { .. }))
        .map(|(key, what)| (*key, *what))
        .collect();
    for other in environments.iter().filter(|name| Some(name.as_str()) != environment) {
        let Ok(then) = load(Some(other), None) else {
            // It did not load before the edits either: nothing of it to keep.
            continue;
        };
        let then = Before::of(&then.desired, &[]);
        let now = load(Some(other), Some(&overlay)).map_err(|e| not_loading(Some(other), e))?;
        compare(Some(other), &then, &now.desired, &added_into, &values)?;
    }
    Ok(())
}

/// How a `file:` value reads after the edits.
struct Values<'a> {
    /// Value files written, by canonical path.
    files: &'a BTreeMap<PathBuf, Vec<u8>>,
    canonical: &'a dyn Fn(&Path) -> PathBuf,
}

impl Values<'_> {
    /// The file's new bytes when the edits write it.
    fn written(&self, entry: &DesiredEntry) -> Option<&Vec<u8>> {
        match &entry.value {
            ValueSource::File(path) => self.files.get(&(self.canonical)(path)),
            ValueSource::Inline(_) => None,
        }
    }

    /// The value's bytes after the edits.
    fn bytes(&self, entry: &DesiredEntry) -> Option<Vec<u8>> {
        match self.written(entry) {
            Some(bytes) => Some(bytes.clone()),
            None => entry.read().ok(),
        }
    }
}

fn compare(
    environment: Option<&str>,
    before: &Before,
    after: &Desired,
    made: &HashMap<(&str, &str), &What>,
    values: &Values<'_>,
) -> Result<(), CheckError> {
    let heads_before = before.scopes.iter().map(|s| (&s.name, &s.namespace_id, &s.prefix));
    let heads_after = after.scopes.iter().map(|s| (&s.name, &s.namespace_id, &s.prefix));
    if !heads_before.eq(heads_after) {
        return Err(CheckError::Shape {
            what: format!(
                "the config's scopes would change{}",
                in_environment(&environment.map(str::to_owned))
            ),
        });
    }
    for (then, now) in before.scopes.iter().zip(&after.scopes) {
        compare_scope(environment, then, now, made, values)?;
    }
    Ok(())
}

fn compare_scope(
    environment: Option<&str>,
    then: &ScopeBefore,
    now: &DesiredScope,
    made: &HashMap<(&str, &str), &What>,
    values: &Values<'_>,
) -> Result<(), CheckError> {
    let wrong = |key: &str, what: String| CheckError::Key {
        environment: environment.map(str::to_owned),
        scope: then.name.clone(),
        key: key.to_owned(),
        what,
    };
    // A key pulled or added that is desired neither before nor after is not met by the join.
    for ((scope, key), what) in made {
        if *scope == then.name
            && matches!(what, What::Set { .. } | What::Add { .. })
            && !now.entries.contains_key(key)
        {
            return Err(wrong(key, "not be desired".to_owned()));
        }
    }
    let mut old = then.keys.iter().map(|(key, summary)| (&**key, summary)).peekable();
    let mut new = now.entries.iter().map(|(key, entry)| (key.as_str(), entry)).peekable();
    // Every key of either side, in order: a merge join over both sorted runs of keys.
    loop {
        let (key, was, is) = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some((a, _)), Some((b, _))) if a == b => {
                let ((key, was), (_, is)) =
                    (old.next().expect("peeked"), new.next().expect("peeked"));
                (key, Some(was), Some(is))
            }
            (Some((a, _)), Some((b, _))) if a < b => {
                let (key, was) = old.next().expect("peeked");
                (key, Some(was), None)
            }
            (Some(_), None) => {
                let (key, was) = old.next().expect("peeked");
                (key, Some(was), None)
            }
            _ => {
                let (key, is) = new.next().expect("peeked");
                (key, None, Some(is))
            }
        };
        let what = made.get(&(then.name.as_str(), key)).copied();
        let was = was.map(|summary| (*summary, then.changed.get(key)));
        compare_key(what, was, is, values).map_err(|what| wrong(key, what))?;
    }
    Ok(())
}

/// One key after the edits, against what it was and what the edits should have made of it:
/// what is wrong, in words that follow "would".
fn compare_key(
    what: Option<&What>,
    was: Option<(Summary, Option<&DesiredEntry>)>,
    is: Option<&DesiredEntry>,
    values: &Values<'_>,
) -> Result<(), String> {
    match (what, was, is) {
        (Some(What::Remove), _, Some(_)) => Err("still be desired after its removal".to_owned()),
        (Some(What::Remove), _, None) => Ok(()),
        (Some(What::Set { .. } | What::Add { .. }), _, None) | (None, Some(_), None) => {
            Err("no longer be desired".to_owned())
        }
        (Some(What::Set { .. }), None, Some(_)) | (Some(What::Add { .. }), Some(_), Some(_)) => {
            Err("be desired twice".to_owned())
        }
        (Some(What::Set { value, metadata, expiration }), Some((_, was)), Some(is)) => {
            // `Before::of` keeps every changed key whole.
            let was = was.ok_or_else(|| "not be readable".to_owned())?;
            let old_value = was.read().map_err(|_| "not be readable".to_owned())?;
            let wanted = Wanted {
                value: value.clone().unwrap_or(old_value),
                metadata: match metadata {
                    Some(m) => m.clone(),
                    None => was.metadata.as_ref().map(|m| m.to_map()),
                },
                expiration: match expiration {
                    Some(Some(at)) => Expiration::At(*at),
                    Some(None) => Expiration::Never,
                    None => was.expiration,
                },
                sensitive: was.sensitive,
            };
            wanted.matches(is, values)
        }
        (Some(What::Add { value, metadata, expiration }), None, Some(is)) => {
            let wanted = Wanted {
                value: value.clone(),
                metadata: metadata.clone(),
                expiration: expiration.map_or(Expiration::Never, Expiration::At),
                sensitive: false,
            };
            wanted.matches(is, values)
        }
        (None, None, Some(_)) => Err("be desired where it was not".to_owned()),
        (None, Some((was, _)), Some(is)) => {
            let same = was == Summary::of(is) && values.written(is).is_none();
            if same { Ok(()) } else { Err("change though it was not pulled".to_owned()) }
        }
        // Never from the join: a key is in one scope at least.
        (_, None, None) => Ok(()),
    }
}

/// What a pulled or added key must read as.
struct Wanted {
    value: Vec<u8>,
    metadata: Option<Map<String, Value>>,
    expiration: Expiration,
    sensitive: bool,
}

impl Wanted {
    fn matches(&self, is: &DesiredEntry, values: &Values<'_>) -> Result<(), String> {
        if values.bytes(is).as_deref() != Some(self.value.as_slice()) {
            return Err("not have its live value".to_owned());
        }
        let metadata = is.metadata.as_ref().map(|m| m.to_map()).filter(|m| !m.is_empty());
        if metadata != self.metadata.clone().filter(|m| !m.is_empty()) {
            return Err("not have its live metadata".to_owned());
        }
        if is.expiration != self.expiration {
            return Err("not have its live expiration".to_owned());
        }
        if is.sensitive != self.sensitive {
            return Err(if is.sensitive {
                "become sensitive".to_owned()
            } else {
                "no longer be sensitive".to_owned()
            });
        }
        Ok(())
    }
}
