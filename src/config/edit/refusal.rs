//! Why an edit is not made: a [`Refusal`] leaves one key to a person (the other edits go on),
//! an [`Error`] stops the whole pull. Both are data; `report::pull` words them for people and
//! for JSON, each with its hint on a line of its own.

use std::path::PathBuf;

use super::check::CheckError;

/// Why one change is not made. Its key is listed for a person; no byte is written for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The entry, or a node above it up to its scope, defines an anchor or is an alias: an edit
    /// would reach every place that repeats it. `place` is that node's `file:line:column`.
    #[error(
        "its entry is inside a YAML anchor or reached through an alias (at `{place}`), so other places repeat it"
    )]
    Shared { place: String },
    /// The key is not desired (it vanished from the desired state between reading and editing).
    #[error("it is not in the config")]
    NotDesired,
    /// No file the config read defines the key where pull looks (a `files:` key, say).
    #[error("its entry was not found in the config's files")]
    NotFound,
    /// The value is a file of the base config, which every environment reads.
    #[error("its value is the file `{file}`, which every environment reads")]
    SharedValueFile { file: String },
    /// A key of a `files:` source: its metadata and expiration are the source's.
    #[error(
        "it comes from a `files:` source, whose metadata and expiration every file of the source shares"
    )]
    FilesSource,
    /// The live value is not UTF-8: YAML cannot hold it inline.
    #[error("its live value is not UTF-8, so it cannot be written into YAML")]
    NotText,
    /// The edited entry, read back by the loader's own code, does not parse.
    #[error("the edited entry at `{place}` would not parse: {message}")]
    NotParsing { place: String, message: String },
    /// The edited entry parses but the loader refuses it.
    #[error("the edited entry at `{place}` would not load")]
    NotLoading { place: String },
    /// The edited entry loads, but one of its parts is not what is live.
    #[error("the edited entry at `{place}` would not have the live {part}")]
    Differs { place: String, part: Part },
    /// With environments, a removal of an entry of the base config.
    #[error("its entry at `{place}` is in the base config, which every environment reads")]
    InBase { place: String },
    /// `--into FILE` names a file the config does not read.
    #[error("`--into {into}` is not a file this config reads")]
    IntoNotRead { into: String },
    /// The file to add to has no such mapping.
    #[error("`{file}` has no `{path}` mapping to add to")]
    NoMapping { file: String, path: String },
    /// The place to add to is not a mapping kvsync can add a line to.
    #[error("`{path}` in `{file}` is not a mapping kvsync can add to")]
    NotMapping { file: String, path: String },
    /// The environment's overlay is a flow mapping, and an override spans several lines.
    #[error(
        "the `{environment}` overlay is a flow mapping, and this override does not fit on one line"
    )]
    Overlay { environment: String },
}

/// A part of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Value,
    Metadata,
    Expiration,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Value => "value",
            Self::Metadata => "metadata",
            Self::Expiration => "expiration",
        })
    }
}

impl Refusal {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        let by_hand_and_report = "edit it by hand, and report the case (`kvsync pull --dry-run` \
                                  shows the edit kvsync computed)";
        match self {
            Self::Shared { .. } => {
                "edit it by hand (every place that repeats it changes), or give the entry a node \
                 of its own"
                    .to_owned()
            }
            Self::NotDesired | Self::NotFound => "edit it by hand".to_owned(),
            Self::SharedValueFile { .. } => {
                "change the file by hand, or add an override in the environment's overlay"
                    .to_owned()
            }
            Self::FilesSource => "edit the `files:` source by hand".to_owned(),
            Self::NotText => {
                "keep a binary value in a file (`file:`), and put the live bytes there by hand"
                    .to_owned()
            }
            Self::NotParsing { .. } | Self::NotLoading { .. } | Self::Differs { .. } => {
                by_hand_and_report.to_owned()
            }
            Self::InBase { .. } => {
                "remove it by hand, or give the environment an override of its own".to_owned()
            }
            Self::IntoNotRead { .. } => {
                "name the root config or a file it includes, or leave out `--into`".to_owned()
            }
            Self::NoMapping { path, .. } => {
                format!("add an empty `{path}` mapping (`{{}}`) there, then pull again")
            }
            Self::NotMapping { .. } => "add the key by hand".to_owned(),
            Self::Overlay { environment } => {
                format!("add an override for it under `environments.{environment}` by hand")
            }
        }
    }

    /// A short, stable name for machines (the JSON report's `reason`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Shared { .. } => "anchor-or-alias",
            Self::NotDesired => "not-desired",
            Self::NotFound => "not-found",
            Self::SharedValueFile { .. } => "shared-value-file",
            Self::FilesSource => "files-source",
            Self::NotText => "not-text",
            Self::NotParsing { .. } => "would-not-parse",
            Self::NotLoading { .. } => "would-not-load",
            Self::Differs { .. } => "would-differ",
            Self::InBase { .. } => "in-base-config",
            Self::IntoNotRead { .. } => "into-not-read",
            Self::NoMapping { .. } => "no-mapping",
            Self::NotMapping { .. } => "not-a-mapping",
            Self::Overlay { .. } => "flow-overlay",
        }
    }

    /// Every code [`Refusal::code`] gives (the JSON schema lists them).
    pub const CODES: &'static [&'static str] = &[
        "anchor-or-alias",
        "not-desired",
        "not-found",
        "shared-value-file",
        "files-source",
        "not-text",
        "would-not-parse",
        "would-not-load",
        "would-differ",
        "in-base-config",
        "into-not-read",
        "no-mapping",
        "not-a-mapping",
        "flow-overlay",
    ];
}

/// One change not made: its scope and key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub scope: String,
    pub key: String,
    pub refusal: Refusal,
}

/// Why no edit at all can be computed, or the computed edits are not written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the load read cannot be read again.
    #[error("cannot read `{}` again to edit it: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file the load read no longer parses (it changed since).
    #[error("cannot read `{}` again to edit it: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// The whole result is not what it should be.
    #[error(transparent)]
    Check(#[from] CheckError),
}

impl Error {
    /// What the user can do about it.
    pub fn hints(&self) -> Vec<String> {
        match self {
            Self::Read { .. } | Self::Parse { .. } => {
                vec!["the config changed while kvsync read it: run `kvsync pull` again".to_owned()]
            }
            Self::Check(error) => vec![error.hint()],
        }
    }
}
