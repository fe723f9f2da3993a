//! The saved plan file of `kvsync plan --out FILE`, read back by `kvsync apply FILE`.
//!
//! It is the versioned JSON plan (`schemas/plan.schema.json`, without value diffs) plus what
//! apply needs to refuse a stale plan: the config digest, the planning options, the target, and
//! the fingerprints of every live key the plan depends on ([`super::check`]). It never holds a
//! value, and nothing derived from a sensitive value outside one digest per scope.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Error, SavedCheck, StaleCheck, Target};
use crate::config::Desired;
use crate::kv::metadata::Validated;
use crate::plan::LiveScope;
use crate::report::json::PlanDocument;
use crate::saved;

/// The saved plan on disk, as `kvsync plan --out` writes it: borrowed from the planned state,
/// the fingerprints computed as they are written.
#[derive(Serialize)]
pub struct PlanFileOut<'a> {
    /// Always [`saved::KIND`], so another JSON file is refused clearly.
    pub kind: &'static str,
    /// [`saved::FORMAT_VERSION`].
    pub format_version: &'static str,
    /// The kvsync that wrote it.
    pub kvsync_version: &'static str,
    /// The config the plan was made from, as given (relative to the folder plan ran in), so
    /// `kvsync apply FILE` from that folder needs no `-c`; its digest proves it unchanged.
    pub config: &'a Path,
    /// The environment the plan was made for.
    pub environment: Option<&'a str>,
    /// `--preview` as the plan was made (absent without it): apply resolves `binding:` scopes
    /// the same way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<bool>,
    /// `local` or `cloudflare`.
    pub target: Target,
    /// The options that shaped the plan and its guards: apply recomputes it with the same ones,
    /// so what was reviewed is what applies.
    pub only: &'a [String],
    pub take_over: Option<&'a str>,
    pub max_deletes: Option<usize>,
    pub allow_empty: bool,
    /// `--no-snapshot`: apply saves no snapshot before its first write (absent when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_snapshot: bool,
    /// The digest of the desired state ([`super::config_digest`]).
    pub config_digest: String,
    /// Fingerprints of the live keys the plan depends on.
    pub stale_check: StaleCheck<'a>,
    /// The plan itself, as `--format json` prints it without value diffs.
    pub plan: PlanDocument,
}

impl PlanFileOut<'_> {
    /// Writes the file (pretty JSON), replacing any file there. Streamed: at a million keys the
    /// text is about 70 MB.
    ///
    /// Through the one atomic writer (`crate::fs`): a link at `path` is followed only when it
    /// points inside the current folder, and a reader never sees half a plan.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let error = |message: String| saved::Error::File { path: path.to_path_buf(), message };
        let staged = crate::fs::stage(path, Path::new("."), |out| {
            serde_json::to_writer_pretty(&mut *out, self).map_err(|e| {
                if e.is_io() {
                    io::Error::from(e)
                } else {
                    io::Error::other(format!("cannot encode the plan: {e}"))
                }
            })?;
            out.write_all(b"\n")
        })
        .map_err(|e| match e {
            crate::fs::Error::Write { source, .. } => error(source.to_string()),
            other => other.into(),
        })?;
        staged.commit()?;
        Ok(())
    }
}

/// The saved plan as `kvsync apply FILE` reads it. The fingerprints of the keys stay in the
/// file until they are compared ([`PlanFile::stale_keys`]).
#[derive(Debug, Clone, Deserialize)]
pub struct PlanFile {
    pub kind: String,
    pub format_version: String,
    pub kvsync_version: String,
    /// Absent in plans saved before kvsync recorded it: then `-c` (or its default) is used.
    #[serde(default)]
    pub config: Option<PathBuf>,
    pub environment: Option<String>,
    #[serde(default)]
    pub preview: Option<bool>,
    pub target: Target,
    pub only: Vec<String>,
    pub take_over: Option<String>,
    #[serde(default)]
    pub max_deletes: Option<usize>,
    #[serde(default)]
    pub allow_empty: bool,
    #[serde(default)]
    pub no_snapshot: bool,
    pub config_digest: String,
    /// Checked as the format says; the per-key fingerprints are read again to compare.
    pub stale_check: SavedCheck,
    pub plan: PlanDocument,
    /// Where it was read from, and the sha256 of its bytes: reading it again to compare must
    /// find the same file.
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    sha256: [u8; 32],
}

/// Reads a file while hashing its bytes.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}

impl<R> Hashing<R> {
    fn finish(self) -> [u8; 32] {
        self.sha.finalize().into()
    }
}

fn open(path: &Path) -> Result<Hashing<BufReader<fs_err::File>>, Error> {
    let file = fs_err::File::open(path)
        .map_err(|e| saved::Error::File { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(Hashing { inner: BufReader::new(file), sha: Sha256::new() })
}

/// What a saved plan says it is: `kind` and `format_version` when it is a JSON object that has
/// them as strings. Reading it checks that the whole file is JSON, exactly as decoding it into
/// a `serde_json::Value` would, without keeping the rest.
#[derive(Default)]
struct Header {
    kind: Option<String>,
    format_version: Option<String>,
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;

        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = Header;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
                let mut header = Header::default();
                while let Some(field) = map.next_key::<String>()? {
                    // As a JSON object keeps it: the last of a repeated field.
                    match field.as_str() {
                        "kind" => header.kind = map.next_value::<Field>()?.0,
                        "format_version" => header.format_version = map.next_value::<Field>()?.0,
                        _ => {
                            map.next_value::<Validated>()?;
                        }
                    }
                }
                Ok(header)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Header, A::Error> {
                while seq.next_element::<Validated>()?.is_some() {}
                Ok(Header::default())
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Header, E> {
                Ok(Header::default())
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Header, E> {
                Ok(Header::default())
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Header, E> {
                Ok(Header::default())
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Header, E> {
                Ok(Header::default())
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Header, E> {
                Ok(Header::default())
            }

            fn visit_unit<E: de::Error>(self) -> Result<Header, E> {
                Ok(Header::default())
            }
        }

        /// A field's value: the string it is, if it is one (anything else is only checked).
        struct Field(Option<String>);

        impl<'de> Deserialize<'de> for Field {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(deserializer)?;
                Ok(Field(value.as_str().map(str::to_owned)))
            }
        }

        deserializer.deserialize_any(HeaderVisitor)
    }
}

impl PlanFile {
    /// Reads and checks a saved plan.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let error = |message: String| saved::Error::File { path: path.to_path_buf(), message };
        let mut reader = open(path)?;
        let header: Header =
            serde_json::from_reader(&mut reader).map_err(|e| error(format!("not JSON: {e}")))?;
        let sha256 = reader.finish();
        if header.kind.as_deref() != Some(saved::KIND) {
            return Err(error(
                "not a kvsync saved plan (write one with `kvsync plan --out FILE`)".into(),
            ));
        }
        let version = header.format_version.unwrap_or_default();
        if version != saved::FORMAT_VERSION {
            return Err(error(format!(
                "saved plan format `{version}` is not the one this kvsync reads (`{}`)",
                saved::FORMAT_VERSION
            )));
        }
        let mut reader = open(path)?;
        let mut file: PlanFile = serde_json::from_reader(&mut reader)
            .map_err(|e| error(format!("damaged saved plan: {e}")))?;
        if reader.finish() != sha256 {
            return Err(changed(path));
        }
        file.path = path.to_path_buf();
        file.sha256 = sha256;
        Ok(file)
    }

    /// The keys whose state changed since the plan was made ([`saved::stale_keys`]), reading
    /// the saved fingerprints from the file again, one at a time.
    /// Keys in `done` (what the plan was going to make of them, [`saved::done_keys`]) are not
    /// stale.
    pub fn stale_keys(
        &self,
        desired: &Desired,
        live: &[LiveScope],
        done: &BTreeSet<(String, String)>,
    ) -> Result<saved::Stale, Error> {
        let path = &self.path;
        let mut reader = open(path)?;
        let stale = saved::stale_keys(&mut reader, desired, live, done).map_err(|e| {
            saved::Error::File { path: path.clone(), message: format!("damaged saved plan: {e}") }
        })?;
        if reader.finish() != self.sha256 {
            return Err(changed(path));
        }
        Ok(stale)
    }
}

fn changed(path: &Path) -> Error {
    saved::Error::File {
        path: path.to_path_buf(),
        message: "the file changed while it was being read; run `kvsync apply` again".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Expiration;
    use crate::plan::{self, Options};
    use crate::report::values::ValueViews;
    use crate::testing;

    fn desired() -> Desired {
        let entries = [("f/a".to_owned(), testing::entry("1", Expiration::Never, false))];
        testing::desired(
            "web",
            vec![testing::scope("flags", "ns", "f/", entries.into_iter().collect())],
        )
    }

    /// Writes a saved plan of `desired()` over an empty namespace into `dir`.
    fn write(dir: &Path) -> PathBuf {
        let desired = desired();
        let live = vec![LiveScope::default()];
        let options = Options {
            owner: "web".into(),
            now: 0,
            take_over_owner: None,
            only: None,
            guards: crate::plan::guards::Guards::default(),
        };
        let plan = plan::plan(&desired, &live, &options);
        let cost = crate::report::cost::estimate(
            &plan,
            crate::report::cost::SoFar {
                list_requests: 1,
                read_requests: 0,
                billed_lists: 1,
                billed_reads: 0,
            },
        );
        let file = PlanFileOut {
            kind: saved::KIND,
            format_version: saved::FORMAT_VERSION,
            kvsync_version: "0.0.0",
            config: Path::new("kvsync.yaml"),
            environment: None,
            preview: None,
            target: Target::Local,
            only: &[],
            max_deletes: None,
            allow_empty: false,
            no_snapshot: false,
            take_over: None,
            config_digest: saved::config_digest(&desired),
            stale_check: saved::stale_check(&desired, &live),
            plan: crate::report::json::plan_document(
                &crate::report::model::PlanReport::new(&plan, &ValueViews::new(), &cost),
                None,
                false,
            ),
        };
        let path = dir.join("plan.json");
        file.write(&path).expect("written");
        path
    }

    fn message(result: Result<PlanFile, Error>) -> String {
        match result {
            Err(saved::Error::File { message, .. }) => message,
            other => panic!("not a plan-file error: {other:?}"),
        }
    }

    #[test]
    fn a_written_plan_reads_back_and_is_current() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(dir.path());
        let text = std::fs::read_to_string(&path).expect("text");
        assert!(text.ends_with("}\n") && text.contains("\n  \"stale_check\": {\n"), "{text}");
        let file = PlanFile::read(&path).expect("read");
        assert_eq!(file.kind, saved::KIND);
        assert_eq!(file.stale_check.scopes[0].key_count, saved::KeyCount(1));
        assert!(
            file.stale_keys(&desired(), &[LiveScope::default()], &BTreeSet::new())
                .expect("compared")
                .keys
                .is_empty()
        );
    }

    #[test]
    fn what_is_not_a_saved_plan_is_refused_as_before() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.json");
        let read = |text: &str| {
            std::fs::write(&path, text).expect("write");
            message(PlanFile::read(&path))
        };
        for not_json in ["{\"a\": 1", "[1, 2] x", "{\"kind\": 1e400}", "{\"n\": [\"\\ud800\"]}"] {
            assert!(read(not_json).starts_with("not JSON: "), "{not_json}");
        }
        for other in
            ["{\"a\": 1}", "[1]", "\"kvsync-saved-plan\"", "{\"kind\": [\"kvsync-saved-plan\"]}"]
        {
            assert!(read(other).starts_with("not a kvsync saved plan"), "{other}");
        }
        let versioned = read("{\"kind\": \"kvsync-saved-plan\", \"format_version\": \"9\"}");
        assert_eq!(versioned, "saved plan format `9` is not the one this kvsync reads (`2`)");
        let damaged = read("{\"kind\": \"kvsync-saved-plan\", \"format_version\": \"2\"}");
        assert!(damaged.starts_with("damaged saved plan: missing field"), "{damaged}");
    }

    #[test]
    fn a_file_changed_after_it_was_read_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(dir.path());
        let file = PlanFile::read(&path).expect("read");
        let text = std::fs::read_to_string(&path).expect("text");
        std::fs::write(&path, text.replace("\"absent\"", "\"0000000000000000\"")).expect("write");
        match file.stale_keys(&desired(), &[LiveScope::default()], &BTreeSet::new()) {
            Err(saved::Error::File { message, .. }) => {
                assert!(message.contains("changed"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// The target is typed: a saved plan names `local` or `cloudflare`, and anything else is a
    /// damaged plan, not Cloudflare by default.
    #[test]
    fn the_target_is_local_or_cloudflare_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write(dir.path());
        assert_eq!(PlanFile::read(&path).expect("read").target, Target::Local);
        let text = std::fs::read_to_string(&path).expect("text");
        assert!(text.contains("\"target\": \"local\""), "{text}");
        std::fs::write(&path, text.replace("\"target\": \"local\"", "\"target\": \"moon\""))
            .expect("write");
        let damaged = message(PlanFile::read(&path));
        assert!(damaged.starts_with("damaged saved plan: unknown variant `moon`"), "{damaged}");
    }

    /// What `apply FILE` is given must be what the plan recorded; what it leaves out is taken
    /// from the plan.
    #[test]
    fn flags_that_differ_from_the_recorded_ones_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = PlanFile::read(&write(dir.path())).expect("read");
        let none = super::super::Given {
            environment: None,
            preview: None,
            target: None,
            only: &[],
            take_over: None,
            max_deletes: None,
            allow_empty: false,
            no_snapshot: false,
        };
        assert!(file.check_given(&none).is_ok());
        let same = super::super::Given { target: Some(Target::Local), ..none };
        assert!(file.check_given(&same).is_ok());
        let only = ["f/*".to_owned()];
        for (given, planned, now) in [
            (
                super::super::Given { target: Some(Target::Cloudflare), ..none },
                "the `local` target",
                "the `--target` given",
            ),
            (super::super::Given { only: &only, ..none }, "no `--only`", "`--only f/*`"),
            (
                super::super::Given { take_over: Some("ops"), ..none },
                "no `--take-over`",
                "`--take-over ops`",
            ),
            (
                super::super::Given { max_deletes: Some(3), ..none },
                "no `--max-deletes`",
                "`--max-deletes 3`",
            ),
            (
                super::super::Given { no_snapshot: true, ..none },
                "no `--no-snapshot`",
                "`--no-snapshot`",
            ),
            (
                super::super::Given { allow_empty: true, ..none },
                "no `--allow-empty`",
                "`--allow-empty`",
            ),
            (
                super::super::Given { environment: Some("prod"), ..none },
                "no environment",
                "environment `prod`",
            ),
        ] {
            match file.check_given(&given) {
                Err(saved::Error::Mismatch { planned: p, now: n }) => {
                    assert_eq!((p.as_str(), n.as_str()), (planned, now));
                }
                other => panic!("{given:?}: {other:?}"),
            }
        }
    }
}
