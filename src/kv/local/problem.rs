//! What can be wrong with the local store's file, each with the facts it needs, and what the
//! user can do about it ([`Problem::hint`], printed on its own `hint:` line).

/// Why the local store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The folder the file lives in could not be created.
    #[error("{0}")]
    Folder(#[source] crate::fs::Error),
    /// The file could not be opened, read or written.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// The storage engine failed on a file it opened.
    #[error("{0}")]
    Storage(#[source] redb::Error),
    /// A store a process left open (killed, or stopped mid-apply), opened read-only: only a
    /// writer repairs it.
    #[error(
        "the store was not closed cleanly (an apply was stopped?), and reading it as it is could \
         mislead"
    )]
    NotClosedCleanly,
    /// Some other program's redb database.
    #[error(
        "not a kvsync local store (it is a redb database with the tables {})",
        tables.join(", ")
    )]
    OtherDatabase { tables: Vec<String> },
    /// A file the storage engine does not read as a database of kvsync's tables.
    #[error("not a kvsync local store, or damaged ({source})")]
    NotAStore { source: redb::Error },
    /// A store of format 1, from a kvsync before checksums.
    #[error("written by an earlier kvsync (format 1, without checksums)")]
    FormatOne,
    /// A format version this kvsync does not know (`none` when the file has none).
    #[error("written in an unknown format (version {version}); it may come from a newer kvsync")]
    UnknownFormat { version: String },
    /// A namespace whose entries are not the ones written.
    #[error(
        "the file is damaged: namespace `{namespace_id}` does not read back as it was written \
         ({damage})"
    )]
    DamagedNamespace { namespace_id: String, damage: NamespaceDamage },
    /// An entry (`namespace/key`) that fails its checksum or has no value that matches it.
    #[error("damaged entry `{entry}`")]
    DamagedEntry { entry: String },
    /// The storage engine panicked on the file: it is damaged where the engine does not check.
    #[error("the file is damaged (the storage engine failed: {detail})")]
    EngineFailed { detail: String },
    /// The store was used after it was closed.
    #[error("the store is closed")]
    Closed,
    /// A write to a store opened read-only.
    #[error("opened read-only; only `kvsync apply` writes the store")]
    ReadOnly,
}

/// How a namespace does not read back as it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NamespaceDamage {
    /// Its count and sum of checksums cannot be read.
    #[error("its summary is unreadable")]
    SummaryUnreadable,
    /// As many entries as written, but other ones.
    #[error("its entries are not the ones written")]
    OtherEntries,
    /// Another number of entries than written.
    #[error(
        "it holds {found} {} where {written} were written",
        crate::text::plural(usize::try_from(*found).unwrap_or(usize::MAX), "entry", "entries")
    )]
    Count { found: u64, written: u64 },
}

impl Problem {
    /// What the user can do about this problem, if there is advice.
    pub fn hint(&self) -> Option<&'static str> {
        const MOVE_OR_ANOTHER_PATH: &str =
            "move it away or choose another path with `--local-path`";
        Some(match self {
            Self::NotClosedCleanly => {
                "`kvsync apply` repairs it when it opens it, and shows the plan before it writes \
                 anything"
            }
            Self::OtherDatabase { .. } | Self::NotAStore { .. } | Self::EngineFailed { .. } => {
                MOVE_OR_ANOTHER_PATH
            }
            Self::FormatOne => "move it away to start afresh, and apply again",
            Self::DamagedNamespace { .. } => {
                "move the file away to start afresh, or choose another path with `--local-path`"
            }
            Self::DamagedEntry { .. } => "move the file away to start afresh",
            Self::Folder(_)
            | Self::Io(_)
            | Self::Storage(_)
            | Self::UnknownFormat { .. }
            | Self::Closed
            | Self::ReadOnly => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::Error;

    fn redb_error() -> redb::Error {
        redb::Error::Corrupted("page 7".to_owned())
    }

    /// On one line (an apply's failed key), each problem reads as the message the store gave
    /// before problems had their own hints: the words, then what to do after a `; `.
    #[test]
    fn each_problem_on_one_line_keeps_its_words_and_advice() {
        let io = || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let cases = [
            (Problem::Io(io()), "denied"),
            (Problem::Storage(redb_error()), "DB corrupted: page 7"),
            (
                Problem::NotClosedCleanly,
                "the store was not closed cleanly (an apply was stopped?), and reading it as it is \
                 could mislead; `kvsync apply` repairs it when it opens it, and shows the plan \
                 before it writes anything",
            ),
            (
                Problem::OtherDatabase { tables: vec!["things".into(), "more".into()] },
                "not a kvsync local store (it is a redb database with the tables things, more); \
                 move it away or choose another path with `--local-path`",
            ),
            (
                Problem::NotAStore { source: redb_error() },
                "not a kvsync local store, or damaged (DB corrupted: page 7); move it away or \
                 choose another path with `--local-path`",
            ),
            (
                Problem::FormatOne,
                "written by an earlier kvsync (format 1, without checksums); move it away to \
                 start afresh, and apply again",
            ),
            (
                Problem::UnknownFormat { version: "none".into() },
                "written in an unknown format (version none); it may come from a newer kvsync",
            ),
            (
                Problem::DamagedNamespace {
                    namespace_id: "ns".into(),
                    damage: NamespaceDamage::Count { found: 1, written: 2 },
                },
                "the file is damaged: namespace `ns` does not read back as it was written (it \
                 holds 1 entry where 2 were written); move the file away to start afresh, or \
                 choose another path with `--local-path`",
            ),
            (
                Problem::DamagedEntry { entry: "ns/k".into() },
                "damaged entry `ns/k`; move the file away to start afresh",
            ),
            (
                Problem::EngineFailed { detail: "index out of bounds".into() },
                "the file is damaged (the storage engine failed: index out of bounds); move it \
                 away or choose another path with `--local-path`",
            ),
            (Problem::Closed, "the store is closed"),
            (Problem::ReadOnly, "opened read-only; only `kvsync apply` writes the store"),
        ];
        for (problem, words) in cases {
            let error = Error::Local { path: "s.db".into(), problem };
            assert_eq!(error.on_one_line(), format!("local store `s.db`: {words}"));
        }
        // An I/O failure keeps the error it was, for callers that ask what kind it is.
        let failed = Problem::Io(io());
        let source = std::error::Error::source(&failed).and_then(|e| e.downcast_ref());
        let kind = source.map(std::io::Error::kind);
        assert_eq!(kind, Some(std::io::ErrorKind::PermissionDenied));
        let count = |found| NamespaceDamage::Count { found, written: 3 }.to_string();
        assert_eq!(count(0), "it holds 0 entries where 3 were written");
        assert_eq!(count(2), "it holds 2 entries where 3 were written");
    }

    /// The advice is a hint line of its own wherever hints are printed.
    #[test]
    fn the_advice_is_a_hint_not_part_of_the_message() {
        let error = Error::Local {
            path: "s.db".into(),
            problem: Problem::DamagedNamespace {
                namespace_id: "ns".into(),
                damage: NamespaceDamage::SummaryUnreadable,
            },
        };
        assert_eq!(
            error.to_string(),
            "local store `s.db`: the file is damaged: namespace `ns` does not read back as it \
             was written (its summary is unreadable)"
        );
        assert_eq!(
            crate::text::Hint::hints(&error),
            ["move the file away to start afresh, or choose another path with `--local-path`"]
        );
        let closed = Error::Local { path: "s.db".into(), problem: Problem::Closed };
        assert!(crate::text::Hint::hints(&closed).is_empty());
    }
}
