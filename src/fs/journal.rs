//! Several files written all or none, across a crash (`kvsync pull`'s edits of the config and
//! its included files).
//!
//! [`write_all`] stages every file (a temporary file beside each, flushed to disk, see
//! [`super::stage`]), then writes a journal in the folder it is given: for each file its path,
//! its temporary file and the sha256 of its bytes before and after. Only then are the
//! temporary files renamed into place, and the journal is removed after the last rename. A
//! crash (kill -9, power loss) in between leaves the journal behind, and [`recover`] ends the
//! job the next time: it finishes it when every file is either renamed already or has its
//! temporary file present with exactly the bytes recorded, and rolls it back otherwise
//! (removes the temporary files; the files not yet renamed still hold their "before" bytes).
//! While a journal is there the files may be half written, so the config loader refuses to
//! load ([`pending`]).
//!
//! A crash before the journal is written (while the temporary files are being filled) leaves
//! every file as it was, and at most some temporary files (`.NAME.<hex>.tmp`) that nothing
//! reads.
//!
//! A journal is data a repository could carry, so it is trusted with nothing: the files it
//! names must lie inside its own folder, and its temporary files beside them.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Error;

/// The journal's name, in the folder of the config.
pub const FILE_NAME: &str = ".kvsync-journal.json";

const KIND: &str = "kvsync-write-journal";
const VERSION: u32 = 1;

/// One file to write: where, what it holds now and what it will hold (a file that does not
/// exist yet holds nothing: `before` is empty).
#[derive(Debug, Clone, Copy)]
pub struct Planned<'a> {
    pub path: &'a Path,
    pub before: &'a [u8],
    pub after: &'a [u8],
}

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// There was no journal.
    Nothing,
    /// The interrupted write was finished: these files (relative to the journal's folder) hold
    /// what was being written.
    Finished(Vec<PathBuf>),
    /// The interrupted write was rolled back: these files were left as they were before it.
    RolledBack(Vec<PathBuf>),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Journal {
    kind: String,
    version: u32,
    files: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// Relative to the journal's folder, `/`-separated.
    path: String,
    /// A file name in the folder of `path`.
    temporary: String,
    /// `None`: the file did not exist.
    before_sha256: Option<String>,
    after_sha256: String,
}

/// The journal in `folder`, when one is there (an interrupted write).
pub fn pending(folder: &Path) -> Option<PathBuf> {
    let path = journal_path(folder);
    std::fs::symlink_metadata(&path).is_ok().then_some(path)
}

/// Writes `files` all or none, with a journal in `folder` while the files are renamed into
/// place. Every file must lie inside `folder` (a link among them is written at its target,
/// which must too). Nothing is written when a file no longer holds its `before` bytes.
pub fn write_all(folder: &Path, files: &[Planned<'_>]) -> Result<(), Error> {
    let journal_path = journal_path(folder);
    if std::fs::symlink_metadata(&journal_path).is_ok() {
        return Err(journal_error(
            format!(
                "`{}` is already there: an earlier write was interrupted",
                shown(&journal_path)
            ),
            "run `kvsync pull` again to finish or roll it back",
        ));
    }
    let root = std::fs::canonicalize(folder)
        .map_err(|source| Error::Write { path: folder.to_path_buf(), source })?;
    let mut staged = Vec::with_capacity(files.len());
    let mut entries = Vec::with_capacity(files.len());
    for file in files {
        let one = super::stage(file.path, folder, |out| out.write_all(file.after))?;
        let Some(path) = relative_inside(&root, one.destination()) else {
            return Err(journal_error(
                format!(
                    "`{}` cannot be written all or none: it is outside `{}`, or its name is not \
                     UTF-8",
                    shown(file.path),
                    shown(folder)
                ),
                "",
            ));
        };
        // A file someone changed since it was read is not overwritten.
        let now = match std::fs::read(one.destination()) {
            Ok(bytes) => Some(sha256(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.before.is_empty() => None,
            Err(_) => Some(String::new()),
        };
        if now.as_ref().is_some_and(|now| *now != sha256(file.before)) {
            return Err(journal_error(
                format!(
                    "`{}` changed while kvsync was writing it; nothing was written",
                    shown(file.path)
                ),
                "run the command again",
            ));
        }
        let temporary = one
            .temporary()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        entries.push(Entry {
            path,
            temporary,
            before_sha256: now,
            after_sha256: sha256(file.after),
        });
        staged.push(one);
    }
    let journal = Journal { kind: KIND.to_owned(), version: VERSION, files: entries };
    let text = serde_json::to_vec_pretty(&journal).map_err(|e| Error::Write {
        path: journal_path.clone(),
        source: std::io::Error::other(e),
    })?;
    super::write(&journal_path, &text, folder)?;

    let kept: Vec<(PathBuf, PathBuf)> = staged.into_iter().map(super::Staged::keep).collect();
    for (index, (temporary, destination)) in kept.iter().enumerate() {
        if let Err(error) = super::rename(temporary, destination) {
            // Put back the files already renamed; the journal stays if that fails too.
            let renamed = files.iter().zip(&journal.files).zip(&kept).take(index);
            for ((file, entry), (_, destination)) in renamed {
                if entry.before_sha256.is_some() {
                    super::write(destination, file.before, folder)?;
                } else {
                    super::remove(destination)?;
                }
            }
            for (temporary, _) in &kept[index..] {
                super::remove(temporary)?;
            }
            super::remove(&journal_path)?;
            return Err(error);
        }
    }
    super::remove(&journal_path)
}

/// Ends the write a journal in `folder` describes (see the module header). A journal that
/// cannot be read, or a state that can be neither finished nor rolled back (a file renamed
/// while another's temporary file is gone, or a file changed by hand since), is an error that
/// leaves everything as it is.
pub fn recover(folder: &Path) -> Result<Recovery, Error> {
    let Some(journal_path) = pending(folder) else {
        return Ok(Recovery::Nothing);
    };
    let by_hand = format!(
        "check the config's files (`git diff`), fix them by hand where needed, then delete `{}`",
        shown(&journal_path)
    );
    let damaged = |why: String| {
        journal_error(format!("the journal `{}` {why}", shown(&journal_path)), &by_hand)
    };
    if std::fs::symlink_metadata(&journal_path).is_ok_and(|m| !m.is_file()) {
        return Err(damaged("is not a regular file".to_owned()));
    }
    let text = std::fs::read(&journal_path).map_err(|e| damaged(format!("cannot be read: {e}")))?;
    let journal: Journal = serde_json::from_slice(&text)
        .map_err(|e| damaged(format!("is not a journal kvsync can read: {e}")))?;
    if journal.kind != KIND || journal.version != VERSION {
        return Err(damaged(format!(
            "is of kind `{}` version {}, not one this kvsync reads",
            journal.kind, journal.version
        )));
    }
    let mut files = Vec::with_capacity(journal.files.len());
    for entry in &journal.files {
        let Some((path, temporary)) = entry_paths(folder, entry) else {
            return Err(damaged(format!(
                "names `{}`, which is not a file inside its folder",
                entry.path
            )));
        };
        let state = state_of(&path, &temporary, entry);
        files.push((path, temporary, state, PathBuf::from(&entry.path)));
    }

    let finishable = files.iter().all(|(_, _, s, _)| matches!(s, State::Ready | State::Done));
    let untouched = files.iter().all(|(_, _, s, _)| matches!(s, State::Ready | State::Untouched));
    let named = |files: Vec<(PathBuf, PathBuf, State, PathBuf)>| {
        files.into_iter().map(|(_, _, _, name)| name).collect()
    };
    if finishable {
        for (path, temporary, state, _) in &files {
            match state {
                State::Ready => super::rename(temporary, path)?,
                _ => remove_if_file(temporary)?,
            }
        }
        super::remove(&journal_path)?;
        return Ok(Recovery::Finished(named(files)));
    }
    if untouched {
        for (_, temporary, _, _) in &files {
            remove_if_file(temporary)?;
        }
        super::remove(&journal_path)?;
        return Ok(Recovery::RolledBack(named(files)));
    }
    let states: Vec<String> = files
        .iter()
        .map(|(_, _, state, name)| {
            let what = match state {
                State::Done => "holds the new text",
                State::Ready => "holds the old text; its new text is ready",
                State::Untouched => "holds the old text; its new text is missing or changed",
                State::Foreign => "was changed since (neither the old nor the new text)",
            };
            format!("\n  - `{}` {what}", shown(name))
        })
        .collect();
    Err(journal_error(
        format!(
            "the write that `{}` describes can be neither finished nor rolled back:{}",
            shown(&journal_path),
            states.concat()
        ),
        &by_hand,
    ))
}

/// Where a journal's file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Renamed into place already.
    Done,
    /// Not renamed; its temporary file holds exactly the new bytes.
    Ready,
    /// Not renamed; its temporary file is missing or holds other bytes.
    Untouched,
    /// Neither the old nor the new bytes: changed by something else since.
    Foreign,
}

fn state_of(path: &Path, temporary: &Path, entry: &Entry) -> State {
    let hash = |path: &Path| {
        let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
        regular.then(|| std::fs::read(path).ok().map(|bytes| sha256(&bytes))).flatten()
    };
    let now = hash(path);
    let ready = hash(temporary).as_deref() == Some(entry.after_sha256.as_str());
    let absent = std::fs::symlink_metadata(path).is_err();
    let before = match &entry.before_sha256 {
        Some(before) => now.as_deref() == Some(before.as_str()),
        None => absent,
    };
    if before {
        if ready { State::Ready } else { State::Untouched }
    } else if now.as_deref() == Some(entry.after_sha256.as_str()) {
        State::Done
    } else {
        State::Foreign
    }
}

/// Where the journal of `folder` is (a bare name for the current folder).
fn journal_path(folder: &Path) -> PathBuf {
    if folder == Path::new(".") { PathBuf::from(FILE_NAME) } else { folder.join(FILE_NAME) }
}

/// The file and temporary file of an entry, when both are plain names inside `folder`.
fn entry_paths(folder: &Path, entry: &Entry) -> Option<(PathBuf, PathBuf)> {
    let relative = Path::new(&entry.path);
    let plain = relative.components().all(|c| matches!(c, Component::Normal(_)));
    let temporary = Path::new(&entry.temporary);
    let plain_temporary = temporary.components().count() == 1
        && matches!(temporary.components().next(), Some(Component::Normal(_)));
    if !plain || !plain_temporary || entry.path.is_empty() {
        return None;
    }
    let path = folder.join(relative);
    let temporary = super::folder_of(&path).join(temporary);
    Some((path, temporary))
}

/// `path` relative to `root` (canonical), `/`-separated, when it lies inside it and its name
/// can be written into the journal as it is (UTF-8).
fn relative_inside(root: &Path, path: &Path) -> Option<String> {
    let folder = std::fs::canonicalize(super::folder_of(path)).ok()?;
    let inside = folder.strip_prefix(root).ok()?;
    let mut parts: Vec<&str> =
        inside.components().map(|c| c.as_os_str().to_str()).collect::<Option<_>>()?;
    parts.push(path.file_name()?.to_str()?);
    Some(parts.join("/"))
}

fn remove_if_file(path: &Path) -> Result<(), Error> {
    if std::fs::symlink_metadata(path).is_ok() { super::remove(path) } else { Ok(()) }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn journal_error(message: String, hint: &str) -> Error {
    Error::Journal { message, hint: (!hint.is_empty()).then(|| hint.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("a folder")
            .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn seeded() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a folder");
        std::fs::write(dir.path().join("kvsync.yaml"), "a: old\n").expect("seeded");
        std::fs::create_dir(dir.path().join("inc")).expect("a folder");
        std::fs::write(dir.path().join("inc/more.yaml"), "b: old\n").expect("seeded");
        dir
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).expect("read")
    }

    /// The journal of a write of both files, with their temporary files staged and nothing
    /// renamed: the state just before the first rename.
    fn interrupted(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
        let plan =
            [("kvsync.yaml", "a: old\n", "a: new\n"), ("inc/more.yaml", "b: old\n", "b: new\n")];
        let mut kept = Vec::new();
        let mut entries = Vec::new();
        for (name, before, after) in plan {
            let staged =
                super::super::stage(&dir.join(name), dir, |out| out.write_all(after.as_bytes()))
                    .expect("staged");
            entries.push(Entry {
                path: name.to_owned(),
                temporary: staged
                    .temporary()
                    .file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned(),
                before_sha256: Some(sha256(before.as_bytes())),
                after_sha256: sha256(after.as_bytes()),
            });
            kept.push(staged.keep());
        }
        let journal = Journal { kind: KIND.to_owned(), version: VERSION, files: entries };
        std::fs::write(dir.join(FILE_NAME), serde_json::to_vec(&journal).expect("json"))
            .expect("journal");
        kept
    }

    #[test]
    fn writes_every_file_and_leaves_no_journal() {
        let dir = seeded();
        let files = [
            Planned {
                path: &dir.path().join("kvsync.yaml"),
                before: b"a: old\n",
                after: b"a: new\n",
            },
            Planned {
                path: &dir.path().join("inc/more.yaml"),
                before: b"b: old\n",
                after: b"b: new\n",
            },
        ];
        write_all(dir.path(), &files).expect("written");
        assert_eq!(read(dir.path(), "kvsync.yaml"), "a: new\n");
        assert_eq!(read(dir.path(), "inc/more.yaml"), "b: new\n");
        assert_eq!(names(dir.path()), ["inc", "kvsync.yaml"]);
        assert_eq!(names(&dir.path().join("inc")), ["more.yaml"]);
        assert_eq!(pending(dir.path()), None);
    }

    #[test]
    fn a_file_changed_since_it_was_read_stops_every_write() {
        let dir = seeded();
        let files = [
            Planned {
                path: &dir.path().join("kvsync.yaml"),
                before: b"a: old\n",
                after: b"a: new\n",
            },
            Planned {
                path: &dir.path().join("inc/more.yaml"),
                before: b"b: older\n",
                after: b"b: new\n",
            },
        ];
        let error = write_all(dir.path(), &files).expect_err("refused");
        assert!(error.to_string().contains("changed while"), "{error}");
        assert_eq!(read(dir.path(), "kvsync.yaml"), "a: old\n");
        assert_eq!(names(dir.path()), ["inc", "kvsync.yaml"]);
        assert_eq!(names(&dir.path().join("inc")), ["more.yaml"]);
    }

    #[test]
    fn crash_before_the_first_rename_is_finished() {
        let dir = seeded();
        interrupted(dir.path());
        assert!(pending(dir.path()).is_some());
        let done = recover(dir.path()).expect("recovered");
        assert!(matches!(done, Recovery::Finished(ref files) if files.len() == 2), "{done:?}");
        assert_eq!(read(dir.path(), "kvsync.yaml"), "a: new\n");
        assert_eq!(read(dir.path(), "inc/more.yaml"), "b: new\n");
        assert_eq!(names(dir.path()), ["inc", "kvsync.yaml"]);
        assert_eq!(names(&dir.path().join("inc")), ["more.yaml"]);
        assert_eq!(recover(dir.path()).expect("nothing left"), Recovery::Nothing);
    }

    #[test]
    fn crash_between_two_renames_is_finished() {
        let dir = seeded();
        let kept = interrupted(dir.path());
        std::fs::rename(&kept[0].0, &kept[0].1).expect("first rename");
        assert!(matches!(recover(dir.path()).expect("recovered"), Recovery::Finished(_)));
        assert_eq!(read(dir.path(), "kvsync.yaml"), "a: new\n");
        assert_eq!(read(dir.path(), "inc/more.yaml"), "b: new\n");
        assert_eq!(names(&dir.path().join("inc")), ["more.yaml"]);
    }

    #[test]
    fn crash_after_the_last_rename_is_finished() {
        let dir = seeded();
        for (temporary, destination) in interrupted(dir.path()) {
            std::fs::rename(temporary, destination).expect("renamed");
        }
        assert!(matches!(recover(dir.path()).expect("recovered"), Recovery::Finished(_)));
        assert_eq!(names(dir.path()), ["inc", "kvsync.yaml"]);
    }

    #[test]
    fn a_missing_or_changed_temporary_file_before_any_rename_is_rolled_back() {
        for damage in ["missing", "changed"] {
            let dir = seeded();
            let kept = interrupted(dir.path());
            match damage {
                "missing" => std::fs::remove_file(&kept[1].0).expect("removed"),
                _ => std::fs::write(&kept[1].0, "b: half").expect("changed"),
            }
            let done = recover(dir.path()).expect("recovered");
            assert!(matches!(done, Recovery::RolledBack(_)), "{damage}: {done:?}");
            assert_eq!(read(dir.path(), "kvsync.yaml"), "a: old\n");
            assert_eq!(read(dir.path(), "inc/more.yaml"), "b: old\n");
            assert_eq!(names(dir.path()), ["inc", "kvsync.yaml"], "{damage}");
            assert_eq!(names(&dir.path().join("inc")), ["more.yaml"], "{damage}");
        }
    }

    #[test]
    fn a_state_neither_finished_nor_rolled_back_is_left_for_a_person() {
        // One file renamed, the other's new text lost: all or none is out of reach.
        let dir = seeded();
        let kept = interrupted(dir.path());
        std::fs::rename(&kept[0].0, &kept[0].1).expect("first rename");
        std::fs::remove_file(&kept[1].0).expect("removed");
        let error = recover(dir.path()).expect_err("refused");
        let text = error.to_string();
        assert!(text.contains("neither finished nor rolled back"), "{text}");
        assert!(text.contains("`") && text.contains("holds the new text"), "{text}");
        let hints = crate::text::Hint::hints(&error);
        assert!(hints[0].contains("delete"), "{hints:?}");
        assert!(pending(dir.path()).is_some());

        // A file edited by hand since the crash is never overwritten.
        let dir = seeded();
        interrupted(dir.path());
        std::fs::write(dir.path().join("kvsync.yaml"), "a: mine\n").expect("edited");
        let error = recover(dir.path()).expect_err("refused");
        assert!(error.to_string().contains("was changed since"), "{error}");
        assert_eq!(read(dir.path(), "kvsync.yaml"), "a: mine\n");
    }

    #[test]
    fn a_hostile_or_damaged_journal_touches_nothing() {
        let outside = tempfile::tempdir().expect("a folder");
        std::fs::write(outside.path().join("victim"), "keep").expect("seeded");
        let escape = format!("{}/victim", outside.path().display());
        for path in ["../victim", escape.as_str(), ""] {
            let dir = seeded();
            let journal = Journal {
                kind: KIND.to_owned(),
                version: VERSION,
                files: vec![Entry {
                    path: path.to_owned(),
                    temporary: "t".to_owned(),
                    before_sha256: Some(sha256(b"keep")),
                    after_sha256: sha256(b"evil"),
                }],
            };
            std::fs::write(dir.path().join("t"), "evil").expect("seeded");
            std::fs::write(dir.path().join(FILE_NAME), serde_json::to_vec(&journal).expect("json"))
                .expect("journal");
            let error = recover(dir.path()).expect_err("refused");
            assert!(error.to_string().contains("not a file inside its folder"), "{error}");
        }
        assert_eq!(std::fs::read(outside.path().join("victim")).expect("read"), b"keep");

        let dir = seeded();
        std::fs::write(dir.path().join(FILE_NAME), "{\"kind\": ").expect("damaged");
        let error = recover(dir.path()).expect_err("refused");
        assert!(error.to_string().contains("is not a journal kvsync can read"), "{error}");
        assert_eq!(read(dir.path(), "kvsync.yaml"), "a: old\n");
    }

    #[test]
    fn a_journal_already_there_stops_a_new_write() {
        let dir = seeded();
        interrupted(dir.path());
        let files =
            [Planned { path: &dir.path().join("kvsync.yaml"), before: b"a: old\n", after: b"x\n" }];
        let error = write_all(dir.path(), &files).expect_err("refused");
        assert!(error.to_string().contains("already there"), "{error}");
        assert_eq!(read(dir.path(), "kvsync.yaml"), "a: old\n");
    }
}
