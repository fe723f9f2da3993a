//! The one way kvsync writes a file: every file it writes (pull's edits of the config, `types
//! --out`, `export -o` and its value files, `plan --out`, `--markdown-out`, `init`) goes through
//! [`write`] or [`stage`], so that a reader never sees half a file and nothing is written
//! through a link it did not expect.
//!
//! The bytes go to a temporary file in the destination's folder with a random name, created
//! with create-new semantics (`O_EXCL`: an existing file or link at that name is never opened,
//! let alone clobbered; another name is tried) and never opened through a symbolic link
//! (`O_NOFOLLOW` on Unix). The file is flushed to disk, renamed over the destination, and the
//! folder is flushed so the rename survives a crash. A destination that is itself a symbolic
//! link is written at its target, and the link stays a link, when that target lies inside the
//! folder the caller allows (`within`); otherwise the write is refused and nothing is written.
//!
//! `journal.rs` builds on it: several files written all or none, across a crash.
//!
//! This module is a leaf: it imports nothing of the crate, so every layer may use it.

pub mod journal;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// How many random names are tried before giving up (each taken name is left alone).
const ATTEMPTS: u32 = 16;

/// Why a file could not be written. Nothing was written at the destination in any case.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Creating, writing, flushing or renaming failed.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The destination is a symbolic link whose target is outside the allowed folder.
    #[error(
        "`{}` is a symbolic link to `{}`, outside `{}`: kvsync does not write through it",
        path.display(),
        target.display(),
        within.display()
    )]
    LinkOutside { path: PathBuf, target: PathBuf, within: PathBuf },
    /// The destination is a symbolic link that cannot be followed (it points at nothing, or at
    /// a folder, or loops).
    #[error("`{}` is a symbolic link kvsync cannot follow: {why}", path.display())]
    Link { path: PathBuf, why: String },
    /// The destination exists and is not a regular file: a device, a pipe, a socket or a folder
    /// cannot be replaced by a rename (and replacing `/dev/null` would break the machine).
    #[error(
        "`{}` is not a regular file: kvsync writes a file by replacing it, so it never writes into a device, a pipe or a folder",
        path.display()
    )]
    NotAFile { path: PathBuf },
    /// A journal of files written all or none is damaged or cannot be acted on.
    #[error("{message}")]
    Journal { message: String, hint: Option<String> },
}

impl crate::text::Hint for Error {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::LinkOutside { .. } => {
                vec!["replace the link with a regular file, or write to another path".to_owned()]
            }
            Self::Journal { hint: Some(hint), .. } => vec![hint.clone()],
            _ => Vec::new(),
        }
    }
}

/// Writes `bytes` to `path` atomically (see the module header). A link at `path` is followed
/// only when its target is inside `within`. Returns the path written: `path`, or the target of
/// the link at `path`.
pub fn write(path: &Path, bytes: &[u8], within: &Path) -> Result<PathBuf, Error> {
    stage(path, within, |out| out.write_all(bytes))?.commit()
}

/// A temporary file filled and flushed, not yet renamed over its destination. Dropped without
/// [`Staged::commit`] (an error on the way, or a check that failed), it is removed.
#[derive(Debug)]
pub struct Staged {
    temporary: PathBuf,
    destination: PathBuf,
    armed: bool,
}

impl Staged {
    /// The temporary file, in the destination's folder.
    pub fn temporary(&self) -> &Path {
        &self.temporary
    }

    /// Where the file goes: the path asked for, or the target of the link there.
    pub fn destination(&self) -> &Path {
        &self.destination
    }

    /// Renames the temporary file over the destination and flushes the folder. Returns the
    /// destination.
    pub fn commit(mut self) -> Result<PathBuf, Error> {
        rename(&self.temporary, &self.destination)?;
        self.armed = false;
        Ok(std::mem::take(&mut self.destination))
    }

    /// Keeps the temporary file (a journal names it and finishes the job): it is no longer
    /// removed when this is dropped.
    pub(crate) fn keep(mut self) -> (PathBuf, PathBuf) {
        self.armed = false;
        (std::mem::take(&mut self.temporary), std::mem::take(&mut self.destination))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Writes a temporary file for `path` with what `fill` writes (streamed through a buffer), and
/// flushes it to disk; [`Staged::commit`] moves it into place. A link at `path` is followed only
/// when its target is inside `within`; an existing destination's permissions are kept.
pub fn stage(
    path: &Path,
    within: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<Staged, Error> {
    fill_temporary(resolve(path, within)?, fill)
}

/// A temporary file in `folder` filled with what `fill` writes, to be read and then dropped
/// (removed) rather than committed: `export` loads the YAML it wrote back before printing it.
pub fn scratch(
    folder: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<Staged, Error> {
    fill_temporary(folder.join("kvsync-scratch"), fill)
}

fn fill_temporary(
    destination: PathBuf,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<Staged, Error> {
    fill_temporary_named(destination, &mut random_suffix, fill)
}

/// [`fill_temporary`] with the random part of each name drawn from `suffixes` (tests draw
/// names that are taken).
fn fill_temporary_named(
    destination: PathBuf,
    suffixes: &mut dyn FnMut() -> io::Result<String>,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<Staged, Error> {
    let error = |source| Error::Write { path: destination.clone(), source };
    let folder = folder_of(&destination);
    let name = destination.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    // Keep the temporary name within the usual 255-byte limit of a file name.
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let prefix = format!(".{}.", &name[..cut]);
    let mut attempt = 0;
    let (temporary, file) = loop {
        let temporary = folder.join(format!("{prefix}{}.tmp", suffixes().map_err(error)?));
        match create_new(&temporary) {
            Ok(file) => break (temporary, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt + 1 < ATTEMPTS => {
                attempt += 1;
            }
            Err(e) => return Err(error(e)),
        }
    };
    let staged = Staged { temporary, destination: destination.clone(), armed: true };
    if let Ok(meta) = std::fs::metadata(&destination) {
        file.set_permissions(meta.permissions()).map_err(error)?;
    }
    let mut out = io::BufWriter::new(file);
    fill(&mut out).map_err(error)?;
    let file = out.into_inner().map_err(|e| error(e.into_error()))?;
    file.sync_all().map_err(error)?;
    Ok(staged)
}

/// Renames `from` over `to` (in the same folder) and flushes the folder.
pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), Error> {
    let error = |source| Error::Write { path: to.to_path_buf(), source };
    std::fs::rename(from, to).map_err(error)?;
    sync_folder(folder_of(to)).map_err(error)
}

/// Removes `path` and flushes its folder; a file already gone is fine.
pub(crate) fn remove(path: &Path) -> Result<(), Error> {
    let error = |source| Error::Write { path: path.to_path_buf(), source };
    match std::fs::remove_file(path) {
        Ok(()) => sync_folder(folder_of(path)).map_err(error),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(error(e)),
    }
}

/// The folder a file is in (`.` for a bare file name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Where a write of `path` goes: `path` itself, or the target of the link at `path` when that
/// target is a file inside `within`; either must be a regular file or a free name.
fn resolve(path: &Path, within: &Path) -> Result<PathBuf, Error> {
    linked_folder(path, within)?;
    let destination = follow(path, within)?;
    match std::fs::symlink_metadata(&destination) {
        Ok(meta) if !meta.is_file() => Err(Error::NotAFile { path: path.to_path_buf() }),
        _ => Ok(destination),
    }
}

/// Refuses a `path` whose folder is reached through a symbolic link (any folder named in it)
/// that leads outside `within`: a linked folder must not carry a write out of the repository
/// any more than a linked file.
fn linked_folder(path: &Path, within: &Path) -> Result<(), Error> {
    let folder = folder_of(path);
    let linked = folder.ancestors().filter(|a| !a.as_os_str().is_empty()).any(|ancestor| {
        std::fs::symlink_metadata(ancestor).is_ok_and(|meta| meta.file_type().is_symlink())
    });
    if !linked {
        return Ok(());
    }
    let link = |why: String| Error::Link { path: path.to_path_buf(), why };
    let target = std::fs::canonicalize(folder).map_err(|e| link(e.to_string()))?;
    let root = std::fs::canonicalize(within)
        .map_err(|source| Error::Write { path: within.to_path_buf(), source })?;
    if target.starts_with(&root) {
        Ok(())
    } else {
        Err(Error::LinkOutside { path: folder.to_path_buf(), target, within: root })
    }
}

/// [`create_new`] for a destination whose folder may be reached through a link only when the
/// link stays inside `within`.
pub fn create_new_within(path: &Path, within: &Path) -> Result<std::fs::File, Error> {
    linked_folder(path, within)?;
    create_new(path).map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

/// `path`, or the target of the link at `path` when that target is inside `within`.
fn follow(path: &Path, within: &Path) -> Result<PathBuf, Error> {
    let link = |why: String| Error::Link { path: path.to_path_buf(), why };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = std::fs::canonicalize(path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => link("it points at nothing".to_owned()),
                _ => link(e.to_string()),
            })?;
            let root = std::fs::canonicalize(within)
                .map_err(|source| Error::Write { path: within.to_path_buf(), source })?;
            if !target.starts_with(&root) {
                return Err(Error::LinkOutside { path: path.to_path_buf(), target, within: root });
            }
            Ok(target)
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// 16 random hexadecimal digits from the operating system.
fn random_suffix() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The name of the folder kvsync keeps its own state in (the local store, snapshots): nothing
/// in it is for git.
pub const STATE_FOLDER: &str = ".kvsync";

/// Creates `folder` and every folder above it that is missing: the one place that creates
/// kvsync's state folder, for every writer (the local store, apply's snapshots), so that a
/// [`STATE_FOLDER`] it creates always gets its `.gitignore` (holding `*`: nothing in it is
/// committed by accident), whoever writes there first. A state folder that exists already is
/// left as it is.
pub fn create_folders(folder: &Path) -> Result<(), Error> {
    let error = |path: &Path, source| Error::Write { path: path.to_path_buf(), source };
    let mut missing = Vec::new();
    let mut at = folder;
    while !at.as_os_str().is_empty() && std::fs::symlink_metadata(at).is_err() {
        missing.push(at);
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    for created in missing.into_iter().rev() {
        match std::fs::create_dir(created) {
            Ok(()) => {}
            // Another process made it meanwhile: its creator wrote what belongs in it.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(error(created, source)),
        }
        if created.file_name().is_some_and(|name| name == STATE_FOLDER) {
            let ignore = created.join(".gitignore");
            let mut file = create_new(&ignore).map_err(|source| error(&ignore, source))?;
            file.write_all(b"*\n").map_err(|source| error(&ignore, source))?;
            file.sync_all().map_err(|source| error(&ignore, source))?;
        }
    }
    if !folder.as_os_str().is_empty() && !folder.is_dir() {
        let source = io::Error::new(io::ErrorKind::NotADirectory, "not a folder");
        return Err(error(folder, source));
    }
    Ok(())
}

/// Creates `path`, failing if anything (a file, a link, even a dangling one) is there: for a
/// file written as a stream that no reader sees before it is complete under a name of its own
/// (apply's snapshots, which say in their trailer whether they are).
pub fn create_new(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // `O_EXCL` already refuses a link at the name; `O_NOFOLLOW` says so twice.
        options.custom_flags(libc::O_NOFOLLOW).mode(0o666);
    }
    options.open(path)
}

/// Flushes a folder's entries (a rename or removal in it) to disk. Filesystems that cannot
/// flush a folder, and systems where a folder cannot be opened (Windows), are left as they are.
fn sync_folder(folder: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match std::fs::File::open(folder).and_then(|dir| dir.sync_all()) {
            Err(e)
                if matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) =>
            {
                Ok(())
            }
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = folder;
        Ok(())
    }
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

    /// Whoever creates `.kvsync/` first (the local store, a snapshot), it gets its
    /// `.gitignore`; one that exists already is left alone.
    #[test]
    fn a_state_folder_is_created_with_its_gitignore() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("deep/.kvsync");
        create_folders(&store).expect("created");
        assert_eq!(std::fs::read_to_string(store.join(".gitignore")).expect("ignore"), "*\n");
        create_folders(&store.join("snapshots")).expect("created below");
        assert_eq!(names(&store), [".gitignore", "snapshots"]);
        // Made by someone else, without one: not kvsync's to add.
        let theirs = dir.path().join("theirs/.kvsync");
        std::fs::create_dir_all(&theirs).expect("mkdir");
        create_folders(&theirs.join("snapshots")).expect("created below");
        assert_eq!(names(&theirs), ["snapshots"]);
        // Another name gets nothing; a file in the way is an error.
        create_folders(&dir.path().join("plain/store")).expect("created");
        assert_eq!(names(&dir.path().join("plain")), ["store"]);
        std::fs::write(dir.path().join("file"), "x").expect("write");
        assert!(create_folders(&dir.path().join("file")).is_err());
        assert!(create_folders(&dir.path().join("file/below")).is_err());
    }

    #[test]
    fn writes_a_new_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("out.ts");
        assert_eq!(write(&path, b"one", dir.path()).expect("written"), path);
        write(&path, b"two", dir.path()).expect("written again");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(names(dir.path()), ["out.ts"]);
    }

    #[test]
    fn temporary_names_are_random_and_beside_the_destination() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("kvsync.yaml");
        let a = stage(&path, dir.path(), |out| out.write_all(b"a")).expect("staged");
        let b = stage(&path, dir.path(), |out| out.write_all(b"b")).expect("staged");
        assert_ne!(a.temporary(), b.temporary());
        for staged in [&a, &b] {
            assert_eq!(staged.temporary().parent(), Some(dir.path()));
            let name = staged.temporary().file_name().expect("a name").to_string_lossy();
            assert!(name.starts_with(".kvsync.yaml.") && name.ends_with(".tmp"), "{name}");
        }
        drop(a);
        b.commit().expect("committed");
        assert_eq!(names(dir.path()), ["kvsync.yaml"]);
        assert_eq!(std::fs::read(&path).expect("read"), b"b");
    }

    #[test]
    fn a_failed_fill_removes_the_temporary_and_keeps_the_destination() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("plan.json");
        std::fs::write(&path, "old").expect("seeded");
        let failed = stage(&path, dir.path(), |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("encoder failed"))
        });
        assert!(matches!(failed, Err(Error::Write { .. })));
        assert_eq!(names(dir.path()), ["plan.json"]);
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
    }

    #[cfg(unix)]
    #[test]
    fn permissions_of_the_file_replaced_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("run.sh");
        std::fs::write(&path, "old").expect("seeded");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        write(&path, b"new", dir.path()).expect("written");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o750);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_inside_is_written_at_its_target_and_stays_a_link() {
        let dir = tempfile::tempdir().expect("a folder");
        std::fs::create_dir(dir.path().join("real")).expect("a folder");
        let target = dir.path().join("real/kvsync.yaml");
        std::fs::write(&target, "old").expect("seeded");
        let link = dir.path().join("kvsync.yaml");
        std::os::unix::fs::symlink("real/kvsync.yaml", &link).expect("a link");
        let written = write(&link, b"new", dir.path()).expect("written");
        assert_eq!(written, std::fs::canonicalize(&target).expect("canonical"));
        assert!(std::fs::symlink_metadata(&link).expect("meta").file_type().is_symlink());
        assert_eq!(std::fs::read(&target).expect("read"), b"new");
        assert_eq!(names(&dir.path().join("real")), ["kvsync.yaml"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_outside_or_dangling_is_refused_and_nothing_is_written() {
        let outside = tempfile::tempdir().expect("a folder");
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep").expect("seeded");
        let dir = tempfile::tempdir().expect("a folder");
        let link = dir.path().join("out.ts");
        std::os::unix::fs::symlink(&victim, &link).expect("a link");
        let refused = write(&link, b"evil", dir.path()).expect_err("refused");
        assert!(matches!(refused, Error::LinkOutside { .. }), "{refused}");
        assert!(refused.to_string().contains("outside"), "{refused}");
        assert_eq!(std::fs::read(&victim).expect("read"), b"keep");
        assert_eq!(names(dir.path()), ["out.ts"]);

        let dangling = dir.path().join("gone.ts");
        std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).expect("a link");
        let refused = write(&dangling, b"x", dir.path()).expect_err("refused");
        assert!(refused.to_string().contains("points at nothing"), "{refused}");
    }

    /// A device, pipe, socket or folder at the destination is refused before anything is
    /// created: a rename would replace it (`plan --out /dev/null` as root would replace the
    /// machine's `/dev/null`). A socket stands in for a device here.
    #[cfg(unix)]
    #[test]
    fn a_destination_that_is_not_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().expect("a folder");
        let socket = dir.path().join("out.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("a socket");
        std::fs::create_dir(dir.path().join("folder")).expect("a folder");
        std::os::unix::fs::symlink("folder", dir.path().join("to-folder")).expect("a link");
        for name in ["out.sock", "folder", "to-folder"] {
            let refused = write(&dir.path().join(name), b"x", dir.path()).expect_err(name);
            assert!(matches!(refused, Error::NotAFile { .. }), "{name}: {refused}");
            assert!(refused.to_string().contains("not a regular file"), "{refused}");
        }
        assert_eq!(names(dir.path()), ["folder", "out.sock", "to-folder"]);
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&socket).expect("meta").file_type().is_socket());
    }

    /// A name already taken (a file, or a link to a file outside) is left alone and another is
    /// drawn; when every draw is taken, nothing is written.
    #[cfg(unix)]
    #[test]
    fn a_taken_temporary_name_is_never_clobbered() {
        let dir = tempfile::tempdir().expect("a folder");
        let outside = tempfile::tempdir().expect("a folder");
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep").expect("seeded");
        std::fs::write(dir.path().join(".out.ts.aaaa.tmp"), "mine").expect("seeded");
        std::os::unix::fs::symlink(&victim, dir.path().join(".out.ts.bbbb.tmp")).expect("link");
        let mut draws = ["aaaa", "bbbb", "cccc"].into_iter().map(|s| Ok(s.to_owned()));
        let mut suffixes = || draws.next().unwrap_or_else(|| Ok("zzzz".to_owned()));
        let destination = dir.path().join("out.ts");
        let staged =
            fill_temporary_named(destination.clone(), &mut suffixes, |out| out.write_all(b"types"))
                .expect("staged");
        assert_eq!(staged.temporary(), dir.path().join(".out.ts.cccc.tmp"));
        staged.commit().expect("committed");
        assert_eq!(std::fs::read(&destination).expect("read"), b"types");
        assert_eq!(std::fs::read(dir.path().join(".out.ts.aaaa.tmp")).expect("read"), b"mine");
        assert_eq!(std::fs::read(&victim).expect("read"), b"keep");

        let mut taken = || Ok("aaaa".to_owned());
        let refused =
            fill_temporary_named(destination.clone(), &mut taken, |out| out.write_all(b"other"))
                .expect_err("every name taken");
        assert!(refused.to_string().contains("exists"), "{refused}");
        assert_eq!(std::fs::read(&destination).expect("read"), b"types");
        assert_eq!(std::fs::read(dir.path().join(".out.ts.aaaa.tmp")).expect("read"), b"mine");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_or_file_at_a_temporary_name_is_never_opened() {
        let dir = tempfile::tempdir().expect("a folder");
        let outside = tempfile::tempdir().expect("a folder");
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep").expect("seeded");
        // Whatever name is drawn, creating it refuses a link or a file already there.
        let planted = dir.path().join(".out.ts.0011223344556677.tmp");
        std::os::unix::fs::symlink(&victim, &planted).expect("a link");
        let refused = create_new(&planted).expect_err("refused");
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        let file = dir.path().join(".out.ts.8899aabbccddeeff.tmp");
        std::fs::write(&file, "mine").expect("seeded");
        assert_eq!(create_new(&file).expect_err("refused").kind(), io::ErrorKind::AlreadyExists);
        write(&dir.path().join("out.ts"), b"types", dir.path()).expect("written");
        assert_eq!(std::fs::read(&victim).expect("read"), b"keep");
        assert_eq!(std::fs::read(&file).expect("read"), b"mine");
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_reached_through_a_link_must_stay_inside() {
        let root = tempfile::tempdir().expect("a folder");
        let outside = tempfile::tempdir().expect("a folder");
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).expect("a link");
        std::fs::create_dir(root.path().join("real")).expect("a folder");
        std::os::unix::fs::symlink(root.path().join("real"), root.path().join("in"))
            .expect("a link");

        let refused = write(&root.path().join("out/f.txt"), b"x", root.path());
        assert!(matches!(refused, Err(Error::LinkOutside { .. })), "{refused:?}");
        let refused = create_new_within(&root.path().join("out/g.txt"), root.path());
        assert!(matches!(refused, Err(Error::LinkOutside { .. })), "{refused:?}");
        assert!(names(outside.path()).is_empty(), "nothing written outside");

        write(&root.path().join("in/f.txt"), b"x", root.path()).expect("inside");
        create_new_within(&root.path().join("in/g.txt"), root.path()).expect("inside");
        assert_eq!(names(&root.path().join("real")), ["f.txt", "g.txt"]);
    }
}
