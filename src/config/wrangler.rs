//! wrangler's config: finding it, reading its KV bindings, and turning a scope's `binding:` into
//! a namespace id exactly as wrangler would (`cloudflare-kv-api.md` §6.3).
//!
//! What this module owns:
//! - discovery: `wrangler.json`, then `wrangler.jsonc`, then `wrangler.toml`, in the config's
//!   folder and then each folder above it (wrangler's `findWranglerConfig`), unless `wrangler:`
//!   names the file;
//! - reading: JSON with comments and trailing commas (wrangler reads both `.json` and `.jsonc`
//!   that way), or TOML; only `name`, `kv_namespaces` and `env.<NAME>.kv_namespaces` matter;
//! - resolving: `environment:` picks `[env.NAME]`, which does **not** inherit the top-level
//!   `kv_namespaces`; a binding with both `id` and `preview_id` needs `preview: true|false`
//!   (wrangler asks for `--preview` then); a binding declared twice is an error (current
//!   wrangler silently takes the first, which is no basis for syncing a namespace).
//!
//! Problems are returned as a message, a hint and the `kvsync.yaml` field to blame; the loader
//! turns them into diagnostics at that field's `file:line:column`. This module knows nothing of
//! YAML and never writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::problems::did_you_mean;
use super::sources::shown_dir;
use super::validate;

mod dev;

/// The names wrangler looks for, in the order it looks.
pub const FILE_NAMES: [&str; 3] = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/// A wrangler config, as far as kvsync cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WranglerConfig {
    /// The Worker's `name`, when set.
    pub name: Option<String>,
    /// The top-level `account_id`, when set.
    pub account_id: Option<String>,
    /// The top-level `kv_namespaces`; `None` when the key is absent.
    pub kv_namespaces: Option<Vec<KvBinding>>,
    /// The `env` sections, in file order.
    pub environments: Vec<WranglerEnvironment>,
}

/// One `[env.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WranglerEnvironment {
    pub name: String,
    /// Its `account_id`; unlike `kv_namespaces`, wrangler inherits the top level's when unset.
    pub account_id: Option<String>,
    /// Its own `kv_namespaces` (never the top level's); `None` when absent.
    pub kv_namespaces: Option<Vec<KvBinding>>,
}

/// One entry of `kv_namespaces`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvBinding {
    pub binding: String,
    pub id: Option<String>,
    pub preview_id: Option<String>,
}

impl WranglerConfig {
    fn section(&self, environment: Option<&str>) -> Option<&Option<Vec<KvBinding>>> {
        match environment {
            None => Some(&self.kv_namespaces),
            Some(name) => {
                self.environments.iter().find(|e| e.name == name).map(|e| &e.kv_namespaces)
            }
        }
    }

    /// The account an environment (or the top level) uses: its own `account_id`, else the top
    /// level's (wrangler's inheritable keys).
    pub fn account_id(&self, environment: Option<&str>) -> Option<&str> {
        environment
            .and_then(|name| self.environments.iter().find(|e| e.name == name))
            .and_then(|e| e.account_id.as_deref())
            .or(self.account_id.as_deref())
    }
}

/// The first wrangler config in `start` or the nearest folder above it, as wrangler finds it.
pub fn find(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(shown_dir(start)).ok()?;
    start.ancestors().find_map(|dir| {
        FILE_NAMES.iter().map(|name| dir.join(name)).find(|candidate| candidate.is_file())
    })
}

/// Reads a wrangler config: TOML for `*.toml`, JSON with comments and trailing commas otherwise.
/// The error is a sentence for a diagnostic (it says where in the file, when it can).
pub fn read(path: &Path) -> Result<WranglerConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let value = if is_toml { parse_toml(&text)? } else { parse_jsonc(&text)? };
    from_value(&value)
}

fn parse_jsonc(text: &str) -> Result<Value, String> {
    // What wrangler's JSONC reader accepts: comments and trailing commas; nothing looser.
    let options = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    match jsonc_parser::parse_to_serde_value::<Option<Value>>(text, &options) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Ok(Value::Object(serde_json::Map::new())),
        Err(error) => Err(format!(
            "{} at line {}, column {}",
            lowercase_first(&error.kind().to_string()),
            error.line_display(),
            error.column_display()
        )),
    }
}

fn parse_toml(text: &str) -> Result<Value, String> {
    match toml::from_str::<toml::Table>(text) {
        Ok(table) => Ok(toml_to_json(toml::Value::Table(table))),
        Err(error) => {
            let at = error.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(" at line {line}, column {column}")
            });
            Err(format!("{}{}", error.message().trim(), at.unwrap_or_default()))
        }
    }
}

fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => {
            Value::Object(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The parts of a parsed config kvsync reads, checked as wrangler's `validateKVBinding` does.
fn from_value(value: &Value) -> Result<WranglerConfig, String> {
    let Value::Object(root) = value else {
        return Err("the top level is not an object".to_owned());
    };
    let name = match root.get("name") {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err("`name` is not a string".to_owned()),
    };
    let account_id = string_field(root.get("account_id"), "account_id")?;
    let kv_namespaces = bindings(root.get("kv_namespaces"), "kv_namespaces")?;
    let mut environments = Vec::new();
    match root.get("env") {
        None => {}
        Some(Value::Object(envs)) => {
            for (env_name, env) in envs {
                let Value::Object(env) = env else {
                    return Err(format!("`env.{env_name}` is not an object"));
                };
                let path = format!("env.{env_name}.kv_namespaces");
                environments.push(WranglerEnvironment {
                    name: env_name.clone(),
                    account_id: string_field(
                        env.get("account_id"),
                        &format!("env.{env_name}.account_id"),
                    )?,
                    kv_namespaces: bindings(env.get("kv_namespaces"), &path)?,
                });
            }
        }
        Some(_) => return Err("`env` is not an object".to_owned()),
    }
    Ok(WranglerConfig { name, account_id, kv_namespaces, environments })
}

/// An optional string field (`account_id`): absent, or a string.
fn string_field(value: Option<&Value>, path: &str) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("`{path}` is not a string")),
    }
}

fn bindings(value: Option<&Value>, path: &str) -> Result<Option<Vec<KvBinding>>, String> {
    let Some(value) = value else { return Ok(None) };
    let Value::Array(items) = value else {
        return Err(format!("`{path}` is not a list"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(format!("`{path}[{index}]` is not an object"));
        };
        let binding = match item.get("binding") {
            Some(Value::String(binding)) if !binding.is_empty() => binding.clone(),
            _ => return Err(format!("`{path}[{index}]` has no `binding` name")),
        };
        let id = optional_id(item.get("id"), path, index, "id")?;
        let preview_id = optional_id(item.get("preview_id"), path, index, "preview_id")?;
        out.push(KvBinding { binding, id, preview_id });
    }
    Ok(Some(out))
}

/// `id` and `preview_id`: optional, but a non-empty string when present.
fn optional_id(
    value: Option<&Value>,
    path: &str,
    index: usize,
    field: &str,
) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(Value::String(id)) if !id.is_empty() => Ok(Some(id.clone())),
        Some(_) => Err(format!("`{path}[{index}].{field}` is not a non-empty string")),
    }
}

// ---------------------------------------------------------------------------------------------
// Resolving a scope's `binding:`.

/// The `kvsync.yaml` field a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Binding,
    Wrangler,
    Environment,
    Preview,
}

/// Why a binding could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub field: Field,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    fn new(field: Field, message: String, hint: impl Into<Option<String>>) -> Self {
        Self { field, message, hint: hint.into() }
    }
}

/// What a scope asks for, interpolated.
pub(crate) struct Request<'a> {
    pub binding: &'a str,
    /// `wrangler:` as written, relative to the config's folder.
    pub wrangler: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub preview: Option<bool>,
}

/// A resolved binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub namespace_id: String,
    /// How, for the plan: ``binding `FLAGS` in wrangler.jsonc [env.staging]``.
    pub from: String,
}

/// Resolves bindings for one config load, reading each wrangler config once.
pub(crate) struct Resolver {
    /// The root config's folder as given (`""` for the current directory).
    config_dir: PathBuf,
    /// The discovered file, looked for at most once: `Some(None)` when there is none.
    discovered: Option<Option<PathBuf>>,
    read: HashMap<PathBuf, Result<WranglerConfig, String>>,
    /// The `account_id` of the first binding resolved (its file and environment), if it names
    /// one.
    account_id: Option<String>,
    /// Resolving for `--target wrangler-dev`: ids as `wrangler dev` binds them ([`dev`]).
    dev: bool,
}

impl Resolver {
    pub(crate) fn new(config_dir: &Path) -> Self {
        Self {
            config_dir: config_dir.to_path_buf(),
            discovered: None,
            read: HashMap::new(),
            account_id: None,
            dev: false,
        }
    }

    /// The account the wrangler config of the first resolved binding names, in that binding's
    /// environment: what wrangler would use for it when nothing else sets one.
    pub(crate) fn account_id(&self) -> Option<String> {
        self.account_id.clone()
    }

    pub(crate) fn resolve(&mut self, request: &Request<'_>) -> Result<Resolved, Failure> {
        let (path, shown, blame) = match request.wrangler {
            Some(named) => {
                let path = self.config_dir.join(named);
                if !path.is_file() {
                    return Err(Failure::new(
                        Field::Wrangler,
                        format!("wrangler config `{named}` not found"),
                        format!(
                            "`wrangler:` is relative to the folder of this file (here `{}`)",
                            shown_dir(&self.config_dir).display()
                        ),
                    ));
                }
                (path, named.to_owned(), Field::Wrangler)
            }
            None => {
                let config_dir = self.config_dir.clone();
                let found = self.discovered.get_or_insert_with(|| find(&config_dir)).clone();
                let Some(path) = found else {
                    return Err(Failure::new(
                        Field::Binding,
                        format!(
                            "binding `{}` needs a wrangler config, and there is none in `{}` or \
                             any folder above it",
                            request.binding,
                            shown_dir(&self.config_dir).display()
                        ),
                        "kvsync looks for wrangler.json, wrangler.jsonc and wrangler.toml as \
                         wrangler does; name the file with `wrangler:`, or set `namespace_id:`"
                            .to_owned(),
                    ));
                };
                let shown = relative_to(&path, &self.config_dir);
                (path, shown, Field::Binding)
            }
        };
        let config = self.read.entry(path.clone()).or_insert_with(|| read(&path));
        let config = match config {
            Ok(config) => config,
            Err(detail) => {
                return Err(Failure::new(
                    blame,
                    format!("cannot read the wrangler config `{shown}`: {detail}"),
                    None,
                ));
            }
        };
        let resolved = if self.dev {
            dev::resolve_in(config, &shown, request)?
        } else {
            resolve_in(config, &shown, request)?
        };
        if self.account_id.is_none() {
            self.account_id = config.account_id(request.environment).map(str::to_owned);
        }
        Ok(resolved)
    }
}

/// Resolves a request in a parsed config shown as `shown`.
pub(crate) fn resolve_in(
    config: &WranglerConfig,
    shown: &str,
    request: &Request<'_>,
) -> Result<Resolved, Failure> {
    let binding = request.binding;
    let (entry, section_name) = binding_entry(config, shown, request)?;
    let place = format!("`{binding}` in `{shown}`{section_name}");
    let (id, which) = chosen_id(entry, request.preview, &place)?;
    if let Err((message, hint)) = validate::namespace_id(id) {
        return Err(Failure::new(Field::Binding, format!("binding {place}: {message}"), hint));
    }
    let which = if which == "id" { String::new() } else { format!(" ({which})") };
    Ok(Resolved {
        namespace_id: id.clone(),
        from: format!("binding `{binding}`{which} in {shown}{section_name}"),
    })
}

/// The entry of `kv_namespaces` a request names, and its section as shown (` [env.NAME]`, or
/// nothing for the top level).
fn binding_entry<'c>(
    config: &'c WranglerConfig,
    shown: &str,
    request: &Request<'_>,
) -> Result<(&'c KvBinding, String), Failure> {
    let section_name = request.environment.map(|e| format!(" [env.{e}]")).unwrap_or_default();
    let Some(section) = config.section(request.environment) else {
        let environment = request.environment.unwrap_or_default();
        let names: Vec<&str> = config.environments.iter().map(|e| e.name.as_str()).collect();
        let hint = match did_you_mean(environment, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`? it has {}", ticked(&names)),
            None if names.is_empty() => "it has no `env` sections".to_owned(),
            None => format!("it has {}", ticked(&names)),
        };
        return Err(Failure::new(
            Field::Environment,
            format!("wrangler config `{shown}` has no environment `{environment}`"),
            hint,
        ));
    };
    let entries = section.as_deref().unwrap_or_default();
    let entry = find_binding(config, entries, request, shown, &section_name)?;
    Ok((entry, section_name))
}

/// The one entry of `kv_namespaces` (of the section asked for) that declares the binding.
fn find_binding<'c>(
    config: &WranglerConfig,
    entries: &'c [KvBinding],
    request: &Request<'_>,
    shown: &str,
    section_name: &str,
) -> Result<&'c KvBinding, Failure> {
    let binding = request.binding;
    let matches: Vec<&KvBinding> = entries.iter().filter(|b| b.binding == binding).collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let names: Vec<&str> = entries.iter().map(|b| b.binding.as_str()).collect();
            let top_level_has_it = config
                .kv_namespaces
                .as_deref()
                .is_some_and(|top| top.iter().any(|b| b.binding == binding));
            let hint = if let (Some(environment), true) = (request.environment, top_level_has_it) {
                format!(
                    "wrangler environments do not inherit the top-level `kv_namespaces`: declare \
                     the binding under `env.{environment}.kv_namespaces`"
                )
            } else if let Some(close) = did_you_mean(binding, names.iter().copied()) {
                format!("did you mean `{close}`?")
            } else if names.is_empty() {
                format!("`{shown}`{section_name} declares no KV bindings (`kv_namespaces`)")
            } else {
                format!("it declares {}", ticked(&names))
            };
            Err(Failure::new(
                Field::Binding,
                format!("binding `{binding}` is not in `kv_namespaces` of `{shown}`{section_name}"),
                hint,
            ))
        }
        many => Err(Failure::new(
            Field::Binding,
            format!(
                "binding `{binding}` is declared {} times in `kv_namespaces` of \
                     `{shown}`{section_name}",
                many.len()
            ),
            "wrangler takes the first one; remove the others so it is clear which \
                 namespace kvsync syncs"
                .to_owned(),
        )),
    }
}

/// The id a binding gives: `id` or `preview_id`, as `preview` (the scope's `preview:`, else
/// `--preview`) asks, and as wrangler would choose without it; and which of the two it is.
fn chosen_id<'e>(
    entry: &'e KvBinding,
    preview: Option<bool>,
    place: &str,
) -> Result<(&'e String, &'static str), Failure> {
    match (preview, &entry.id, &entry.preview_id) {
        (Some(true), _, Some(preview_id)) => Ok((preview_id, "preview_id")),
        (Some(true), _, None) => Err(Failure::new(
            Field::Preview,
            format!("binding {place} has no `preview_id`"),
            "`--preview` and `preview: true` ask for the `preview_id`; drop them to use its `id`"
                .to_owned(),
        )),
        (Some(false) | None, Some(id), None) | (Some(false), Some(id), _) => Ok((id, "id")),
        (Some(false), None, _) => Err(Failure::new(
            Field::Preview,
            format!("binding {place} has no `id`"),
            "`preview: false` uses `id`; set `preview: true` to use its `preview_id`".to_owned(),
        )),
        (None, Some(_), Some(_)) => Err(Failure::new(
            Field::Binding,
            format!("binding {place} has both `id` and `preview_id`; say which with `preview:`"),
            "`preview: false` uses `id`, `preview: true` uses `preview_id`; or pass \
                 `--preview` or `--preview false`, as wrangler asks here too"
                .to_owned(),
        )),
        (None, None, Some(preview_id)) => Ok((preview_id, "preview_id")),
        (None, None, None) => Err(Failure::new(
            Field::Binding,
            format!("binding {place} has neither `id` nor `preview_id`"),
            "kvsync syncs an existing namespace: create one with `wrangler kv namespace \
                 create` and add its `id`"
                .to_owned(),
        )),
    }
}

/// `` `a`, `b` `` for hints.
fn ticked(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// `found` (a canonical path of a file in `dir` or in a folder above it) as seen from `dir`:
/// `wrangler.jsonc`, `../wrangler.toml`.
fn relative_to(found: &Path, dir: &Path) -> String {
    let name = found.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let Ok(dir) = std::fs::canonicalize(shown_dir(dir)) else {
        return found.display().to_string();
    };
    let Some(parent) = found.parent() else { return name };
    match dir.strip_prefix(parent) {
        Ok(below) => format!("{}{name}", "../".repeat(below.components().count())),
        Err(_) => found.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSONC: &str = r#"// wrangler.jsonc of the storefront
{
  "name": "storefront",
  /* the top level: local development */
  "kv_namespaces": [
    { "binding": "FLAGS", "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", },
    { "binding": "BOTH", "id": "11111111111111111111111111111111", "preview_id": "22222222222222222222222222222222" },
  ],
  "env": {
    "staging": {
      "kv_namespaces": [{ "binding": "FLAGS", "id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9" }], // trailing comma next
    },
    "production": {},
  },
}
"#;

    fn request<'a>(binding: &'a str, environment: Option<&'a str>) -> Request<'a> {
        Request { binding, wrangler: None, environment, preview: None }
    }

    fn config() -> WranglerConfig {
        from_value(&parse_jsonc(JSONC).expect("parses")).expect("valid")
    }

    #[test]
    fn jsonc_with_comments_and_trailing_commas() {
        let config = config();
        assert_eq!(config.name.as_deref(), Some("storefront"));
        assert_eq!(config.kv_namespaces.as_ref().map(Vec::len), Some(2));
        let names: Vec<&str> = config.environments.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["staging", "production"], "file order");
        assert_eq!(config.environments[1].kv_namespaces, None);
    }

    #[test]
    fn top_level_and_environments_resolve_separately() {
        let config = config();
        let top = resolve_in(&config, "wrangler.jsonc", &request("FLAGS", None)).expect("top");
        assert_eq!(top.namespace_id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        assert_eq!(top.from, "binding `FLAGS` in wrangler.jsonc");
        let staging =
            resolve_in(&config, "wrangler.jsonc", &request("FLAGS", Some("staging"))).expect("env");
        assert_eq!(staging.namespace_id, "9a8b7c6d5e4f30211203f4e5d6c7b8a9");
        assert_eq!(staging.from, "binding `FLAGS` in wrangler.jsonc [env.staging]");
    }

    #[test]
    fn environments_do_not_inherit_kv_namespaces() {
        let failure =
            resolve_in(&config(), "wrangler.jsonc", &request("FLAGS", Some("production")))
                .expect_err("not inherited");
        assert_eq!(failure.field, Field::Binding);
        assert_eq!(
            failure.message,
            "binding `FLAGS` is not in `kv_namespaces` of `wrangler.jsonc` [env.production]"
        );
        assert!(failure.hint.as_deref().is_some_and(|h| h.contains("do not inherit")));
        let unknown = resolve_in(&config(), "wrangler.jsonc", &request("FLAGS", Some("stagin")))
            .expect_err("unknown env");
        assert_eq!(unknown.field, Field::Environment);
        assert_eq!(
            unknown.hint.as_deref(),
            Some("did you mean `staging`? it has `staging`, `production`")
        );
    }

    #[test]
    fn preview_is_required_when_both_ids_are_set() {
        let config = config();
        let both = request("BOTH", None);
        let failure = resolve_in(&config, "w.jsonc", &both).expect_err("ambiguous");
        assert!(failure.message.contains("has both `id` and `preview_id`"), "{failure:?}");
        let production = Request { preview: Some(false), ..request("BOTH", None) };
        assert_eq!(
            resolve_in(&config, "w.jsonc", &production).expect("id").namespace_id,
            "11111111111111111111111111111111"
        );
        let preview = Request { preview: Some(true), ..request("BOTH", None) };
        let resolved = resolve_in(&config, "w.jsonc", &preview).expect("preview id");
        assert_eq!(resolved.namespace_id, "22222222222222222222222222222222");
        assert_eq!(resolved.from, "binding `BOTH` (preview_id) in w.jsonc");
        let missing = Request { preview: Some(true), ..request("FLAGS", None) };
        let failure = resolve_in(&config, "w.jsonc", &missing).expect_err("no preview id");
        assert_eq!(failure.field, Field::Preview);
    }

    #[test]
    fn duplicates_and_misspellings() {
        let text = r#"{"kv_namespaces": [{"binding": "A", "id": "a"}, {"binding": "A", "id": "b"}, {"binding": "FLAGS", "id": "c"}]}"#;
        let config = from_value(&parse_jsonc(text).expect("json")).expect("valid");
        let failure = resolve_in(&config, "wrangler.json", &request("A", None)).expect_err("dup");
        assert_eq!(
            failure.message,
            "binding `A` is declared 2 times in `kv_namespaces` of `wrangler.json`"
        );
        let failure =
            resolve_in(&config, "wrangler.json", &request("FLAG", None)).expect_err("typo");
        assert_eq!(failure.hint.as_deref(), Some("did you mean `FLAGS`?"));
    }

    #[test]
    fn toml_tables_and_arrays_of_tables() {
        let text = r#"
name = "shop"
[[kv_namespaces]]
binding = "FLAGS"
id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

[env.staging]
[[env.staging.kv_namespaces]]
binding = "FLAGS"
id = "9a8b7c6d5e4f30211203f4e5d6c7b8a9"
"#;
        let config = from_value(&parse_toml(text).expect("toml")).expect("valid");
        let resolved =
            resolve_in(&config, "wrangler.toml", &request("FLAGS", Some("staging"))).expect("ok");
        assert_eq!(resolved.namespace_id, "9a8b7c6d5e4f30211203f4e5d6c7b8a9");
    }

    #[test]
    fn parse_errors_say_where() {
        assert_eq!(
            parse_jsonc("{\n  \"a\": 1\n  \"b\": 2\n}").expect_err("missing comma"),
            "expected comma at line 2, column 9"
        );
        let error = parse_toml("name = \"x\"\n[[kv_namespaces]\n").expect_err("bad toml");
        assert!(error.ends_with("at line 2, column 17"), "{error}");
        assert_eq!(
            from_value(&parse_jsonc(r#"{"kv_namespaces": [{"id": "x"}]}"#).expect("json")),
            Err("`kv_namespaces[0]` has no `binding` name".to_owned())
        );
    }

    #[test]
    fn discovery_prefers_json_then_jsonc_then_toml_and_walks_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("kv/config");
        std::fs::create_dir_all(&nested).expect("mkdir");
        std::fs::write(dir.path().join("wrangler.toml"), "").expect("write");
        std::fs::write(dir.path().join("wrangler.jsonc"), "{}").expect("write");
        let found = find(&nested).expect("found above");
        assert_eq!(found.file_name().and_then(|n| n.to_str()), Some("wrangler.jsonc"));
        assert_eq!(relative_to(&found, &nested), "../../wrangler.jsonc");
        std::fs::write(dir.path().join("wrangler.json"), "{}").expect("write");
        let found = find(&nested).expect("found above");
        assert_eq!(found.file_name().and_then(|n| n.to_str()), Some("wrangler.json"));
        std::fs::write(nested.join("wrangler.toml"), "").expect("write");
        let found = find(&nested).expect("found here");
        assert_eq!(relative_to(&found, &nested), "wrangler.toml");
    }
}
