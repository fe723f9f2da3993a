//! The saved plan file of `kvsync plan --out FILE`, read back by `kvsync apply FILE`.
//!
//! It is the versioned JSON plan (`schemas/plan.schema.json`, without value diffs) plus what
//! apply needs to refuse a stale plan: the config digest, the planning options, the target, and
//! the fingerprints of every live key the plan depends on (`apply::saved`). It never holds a
//! value, and nothing derived from a sensitive value outside one digest per scope.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::apply::saved::{self, StaleCheck};
use crate::error::Error;
use crate::report::json::PlanDocument;

/// The saved plan on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    /// Always [`saved::KIND`], so another JSON file is refused clearly.
    pub kind: String,
    /// [`saved::FORMAT_VERSION`].
    pub format_version: String,
    /// The kvsync that wrote it.
    pub kvsync_version: String,
    /// The environment the plan was made for.
    pub environment: Option<String>,
    /// `local` or `cloudflare`.
    pub target: String,
    /// The options that shaped the plan: apply recomputes it with the same ones.
    pub only: Vec<String>,
    pub take_over: Option<String>,
    /// The digest of the desired state (`apply::saved::config_digest`).
    pub config_digest: String,
    /// Fingerprints of the live keys the plan depends on.
    pub stale_check: StaleCheck,
    /// The plan itself, as `--format json` prints it without value diffs.
    pub plan: PlanDocument,
}

impl PlanFile {
    /// Writes the file (pretty JSON), replacing any file there.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::PlanFile {
            path: path.to_path_buf(),
            message: format!("cannot encode the plan: {e}"),
        })?;
        fs_err::write(path, text + "\n")
            .map_err(|e| Error::PlanFile { path: path.to_path_buf(), message: e.to_string() })
    }

    /// Reads and checks a saved plan.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let error = |message: String| Error::PlanFile { path: path.to_path_buf(), message };
        let text = fs_err::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| error(format!("not JSON: {e}")))?;
        if value.get("kind").and_then(|k| k.as_str()) != Some(saved::KIND) {
            return Err(error(
                "not a kvsync saved plan (write one with `kvsync plan --out FILE`)".into(),
            ));
        }
        let version = value.get("format_version").and_then(|v| v.as_str()).unwrap_or("");
        if version != saved::FORMAT_VERSION {
            return Err(error(format!(
                "saved plan format `{version}` is not the one this kvsync reads (`{}`)",
                saved::FORMAT_VERSION
            )));
        }
        serde_json::from_value(value).map_err(|e| error(format!("damaged saved plan: {e}")))
    }
}
