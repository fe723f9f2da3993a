//! `kvsync init`: the starter `kvsync.yaml`, commented for someone who has never seen one, and
//! the same built from a wrangler config (one scope per KV binding, through `binding:`).
//!
//! Both starters must load as they are (a test loads them), so a new user's first `kvsync
//! validate` passes and `kvsync plan --target local` shows what kvsync does without an
//! account. The plain starter names no real namespace: its id is `${FLAGS_NAMESPACE_ID}` with
//! [`PLACEHOLDER_NAMESPACE_ID`] as the default, a valid id no namespace has, and every load
//! warns while a scope still uses it. Scalars go through the writer in `yaml_out`.

use std::fmt::Write as _;

use super::export::SCHEMA_URL;
use super::wrangler::{KvBinding, WranglerConfig};
use super::yaml_out::{scalar, value_scalar};

/// The namespace id of the plain starter until the user names theirs: valid (32 hex digits), so
/// the starter validates and plans locally, and clearly no namespace of anyone's.
pub const PLACEHOLDER_NAMESPACE_ID: &str = "00000000000000000000000000000000";

/// The owner when no better name is at hand.
pub const DEFAULT_OWNER: &str = "my-app";

/// `name` as an owner (`[a-z0-9._-]`, 1 to 64 characters): lowercased, other characters become
/// `-`; `None` when nothing is left.
pub fn owner_from(name: &str) -> Option<String> {
    let mut owner = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
            owner.push(c);
        } else if !owner.ends_with('-') {
            owner.push('-');
        }
    }
    let owner: String = owner.trim_matches(['-', '.']).chars().take(64).collect();
    let owner = owner.trim_end_matches(['-', '.']).to_owned();
    (!owner.is_empty()).then_some(owner)
}

/// The commented starter config.
pub fn starter(owner: &str) -> String {
    let owner = scalar(owner);
    format!(
        r#"# yaml-language-server: $schema={SCHEMA_URL}
#
# kvsync keeps Cloudflare Workers KV keys in the state this file declares.
#   kvsync validate   checks this file and touches nothing
#   kvsync plan       shows what would change (add --target local to try it without an account)
#   kvsync apply      makes that change
# Already have keys in a namespace? `kvsync export --namespace-id ID` writes them as a config.
version: 1

# Who owns the keys this file writes. kvsync records it in every key's metadata and never
# deletes or overwrites keys another owner wrote. Choose it once: renaming it later makes the
# keys written so far someone else's.
owner: {owner}

# The Workers KV plan of the account. `free` warns when a run would pass the Free plan's daily
# limits (1,000 writes, 1,000 deletes, 1,000 lists).
# plan_tier: free

namespaces:
  # One entry per namespace (or prefix of one) this file manages; the name is used in output.
  flags:
    # The namespace id (32 hex digits), as `wrangler kv namespace list` shows it. The default
    # below is a placeholder that lets `kvsync plan --target local` run as it is: set
    # FLAGS_NAMESPACE_ID, or write your id here. Or let kvsync read it from your wrangler
    # config: `binding: FLAGS` (and `environment: staging` for [env.staging]).
    namespace_id: ${{FLAGS_NAMESPACE_ID:-{PLACEHOLDER_NAMESPACE_ID}}}
    # kvsync lists, compares and changes only keys under this prefix; "" is the whole namespace.
    prefix: "flags/"
    keys:
      flags/welcome: "Hello from kvsync"    # a string is stored as it is
      flags/max-items: 42                   # other scalars and lists are stored as JSON: "42"
      flags/checkout:                       # a mapping is an entry: value, metadata, expiration
        value: {{enabled: true, rollout: 10}} # a JSON object goes under value:
        metadata: {{team: web}}
    # Keys a Worker writes at run time, which kvsync must never report or touch:
    # ignore: ["flags/runtime/**"]
    # Typed values: a JSON Schema per key glob (a file, or inline), checked before anything
    # ships; `kvsync types --out src/kv-types.ts` turns it into TypeScript for the Worker.
    # schemas:
    #   "flags/checkout": {{type: object, required: [enabled], properties: {{enabled: {{type: boolean}}, rollout: {{type: integer, minimum: 0, maximum: 100}}}}}}

# Environments are overlays picked with `--env NAME`; with any, `--env` is required unless
# default_environment names one.
# environments:
#   staging:
#     namespaces:
#       flags: {{namespace_id: 9a8b7c6d5e4f30211203f4e5d6c7b8a9}}
"#
    )
}

/// The starter for a wrangler config shown as `shown`: one scope per KV binding (top level and
/// environments), found through `binding:`; each wrangler environment that declares bindings
/// becomes a kvsync environment that picks it with `environment:`. `wrangler_field` is written
/// as `wrangler:` when the config will not find the same file by itself. `None` when the
/// wrangler config declares no KV binding.
pub fn from_wrangler(
    config: &WranglerConfig,
    shown: &str,
    owner: &str,
    wrangler_field: Option<&str>,
) -> Option<String> {
    let bindings = all_bindings(config);
    if bindings.is_empty() {
        return None;
    }
    let environments: Vec<(&str, &[KvBinding])> = config
        .environments
        .iter()
        .filter_map(|e| Some((e.name.as_str(), e.kv_namespaces.as_deref()?)))
        .filter(|(_, section)| !section.is_empty())
        .collect();
    let top: &[KvBinding] = config.kv_namespaces.as_deref().unwrap_or_default();

    let mut out = String::new();
    let _ = writeln!(out, "# yaml-language-server: $schema={SCHEMA_URL}");
    out.push_str("#\n");
    let _ = writeln!(
        out,
        "# Made by `kvsync init --from-wrangler` from {shown}: one scope per KV binding, each finding"
    );
    out.push_str(
        "# its namespace id through the binding, as wrangler does. Add keys under `keys:`, or fill\n\
         # a scope from what the namespace already holds with `kvsync export --namespace-id ID`.\n",
    );
    out.push_str("#   kvsync validate   checks this file and touches nothing\n");
    out.push_str("#   kvsync plan       shows what would change\n");
    out.push_str("#   kvsync apply      makes that change\n");
    out.push_str("version: 1\n");
    out.push_str(
        "# Who owns the keys this file writes (recorded in every key's metadata; kvsync never\n\
         # touches keys another owner wrote). Choose it once.\n",
    );
    let _ = writeln!(out, "owner: {}", scalar(owner));
    if let Some(default) = default_environment(&environments) {
        let _ = writeln!(out, "# Without `--env`, kvsync plans this environment.");
        let _ = writeln!(out, "default_environment: {}", scalar(default));
    }
    out.push_str("namespaces:\n");
    let mut names: Vec<String> = Vec::new();
    for binding in &bindings {
        let name = unique(scope_name(&binding.binding), &names);
        names.push(name.clone());
        let _ = writeln!(out, "  {}:", scalar(&name));
        let _ = writeln!(out, "    binding: {}", scalar(&binding.binding));
        if let Some(path) = wrangler_field {
            let _ = writeln!(out, "    wrangler: {}", value_scalar(path));
        }
        let top_entry = top.iter().find(|b| b.binding == binding.binding);
        if top_entry.is_some_and(|b| has_both_ids(&b)) {
            // Not pinned: wrangler asks for `--preview` here, and so does kvsync.
            out.push_str(
                "    # it has `id` and `preview_id`: pass `--preview false` (its `id`) or \
                 `--preview`,\n    # as wrangler asks, or pin one here with `preview: false|true`\n",
            );
        }
        if top_entry.is_none() {
            out.push_str(
                "    # not at the top level of the wrangler config: plan it with `--env`\n",
            );
        }
        let _ = writeln!(out, "    # prefix: \"{name}/\"   # manage only the keys under a prefix");
        out.push_str("    keys: {}\n");
    }
    let top_level = (!top.is_empty()).then(|| top_level_environment(config));
    let sections = Sections { top_level: top_level.as_deref(), top, environments: &environments };
    write_environments(&mut out, shown, &bindings, &names, &sections);
    Some(out)
}

/// Whether a binding has both ids, so that each run must say which (`--preview`).
fn has_both_ids(binding: &&KvBinding) -> bool {
    binding.id.is_some() && binding.preview_id.is_some()
}

/// The bindings with both `id` and `preview_id` (in any section), which every command run on
/// the starter must pick one of with `--preview` or `--preview false`, as wrangler asks.
pub fn bindings_with_both_ids(config: &WranglerConfig) -> Vec<&str> {
    let sections = std::iter::once(config.kv_namespaces.as_deref())
        .chain(config.environments.iter().map(|e| e.kv_namespaces.as_deref()));
    let mut names: Vec<&str> = Vec::new();
    for binding in sections.flatten().flatten().filter(has_both_ids) {
        if !names.contains(&binding.binding.as_str()) {
            names.push(&binding.binding);
        }
    }
    names
}

/// The name of the environment that plans wrangler's top level (what `wrangler deploy` uses
/// without `--env`) in a starter that has environments: `production`, or `default` when the
/// wrangler config has an `[env.production]` of its own (`default-2`, … past other clashes).
pub fn top_level_environment(config: &WranglerConfig) -> String {
    let taken: Vec<String> = config.environments.iter().map(|e| e.name.clone()).collect();
    let name = if taken.iter().any(|n| n == "production") { "default" } else { "production" };
    unique(name.to_owned(), &taken)
}

/// The wrangler sections a starter's environments come from.
struct Sections<'a> {
    /// The environment that plans wrangler's top level, when the top level declares bindings.
    top_level: Option<&'a str>,
    top: &'a [KvBinding],
    /// Each `[env.NAME]` that declares bindings.
    environments: &'a [(&'a str, &'a [KvBinding])],
}

/// Every binding, in the order first seen: top level, then each environment.
fn all_bindings(config: &WranglerConfig) -> Vec<&KvBinding> {
    let mut bindings: Vec<&KvBinding> = Vec::new();
    let sections = std::iter::once(config.kv_namespaces.as_deref())
        .chain(config.environments.iter().map(|e| e.kv_namespaces.as_deref()));
    for section in sections.flatten() {
        for binding in section {
            if !bindings.iter().any(|b| b.binding == binding.binding) {
                bindings.push(binding);
            }
        }
    }
    bindings
}

/// The `environments:` section: per wrangler environment with KV bindings, each scope on that
/// environment's binding (and a comment where the environment does not declare it).
fn write_environments(
    out: &mut String,
    shown: &str,
    bindings: &[&KvBinding],
    names: &[String],
    sections: &Sections<'_>,
) {
    if sections.environments.is_empty() {
        return;
    }
    out.push_str("environments:\n");
    if let Some(top_level) = sections.top_level {
        // The base scopes already look their bindings up at the top level: an empty overlay
        // is what makes it reachable once the config has environments.
        let _ = writeln!(
            out,
            "  # wrangler's top level (what `wrangler deploy` uses without `--env`): the scopes \
             above as they are"
        );
        for binding in bindings {
            if !sections.top.iter().any(|b| b.binding == binding.binding) {
                let _ = writeln!(
                    out,
                    "  # {shown} declares no `{}` at its top level: `--env {top_level}` fails \
                     until it does",
                    binding.binding
                );
            }
        }
        let _ = writeln!(out, "  {}: {{}}", scalar(top_level));
    }
    for (environment, section) in sections.environments {
        let _ = writeln!(out, "  {}:", scalar(environment));
        out.push_str("    namespaces:\n");
        for (binding, name) in bindings.iter().zip(names) {
            let entry = section.iter().find(|b| b.binding == binding.binding);
            if entry.is_none() {
                // Still named, so that `--env` fails here instead of syncing the top-level
                // namespace into this environment.
                let _ = writeln!(
                    out,
                    "      # {shown} declares no `{}` in [env.{environment}] (environments do \
                     not inherit): `--env {environment}` fails until it does",
                    binding.binding
                );
            }
            let _ =
                writeln!(out, "      {}: {{environment: {}}}", scalar(name), scalar(environment));
        }
    }
}

/// The environment to plan without `--env`: the first whose name does not say production, so a
/// bare `kvsync apply` never writes production by surprise. `None` when all do (then `--env`
/// is required, which is the safe failure).
fn default_environment<'a>(environments: &[(&'a str, &[KvBinding])]) -> Option<&'a str> {
    environments.iter().map(|(name, _)| *name).find(|name| {
        let lower = name.to_ascii_lowercase();
        !lower.contains("prod") && lower != "live" && lower != "main"
    })
}

/// A binding name as a scope name: `FLAGS` → `flags`, `MY_KV` → `my_kv`.
fn scope_name(binding: &str) -> String {
    let name: String = binding
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() { "kv".to_owned() } else { name }
}

fn unique(name: String, taken: &[String]) -> String {
    if !taken.contains(&name) {
        return name;
    }
    (2..).map(|n| format!("{name}-{n}")).find(|n| !taken.contains(n)).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load};

    fn loads(
        text: &str,
        files: &[(&str, &str)],
        environment: Option<&str>,
    ) -> crate::config::Loaded {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kvsync.yaml"), text).expect("write");
        for (path, contents) in files {
            std::fs::write(dir.path().join(path), contents).expect("write");
        }
        let options = LoadOptions::of(environment);
        load(&dir.path().join("kvsync.yaml"), &options).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
    }

    #[test]
    fn the_starter_loads_as_it_is() {
        let loaded = loads(&starter("shop"), &[], None);
        assert_eq!(loaded.desired.owner, "shop");
        assert_eq!(loaded.desired.scopes[0].namespace_id, PLACEHOLDER_NAMESPACE_ID);
        assert_eq!(loaded.desired.scopes[0].entries.len(), 3);
        let warnings: Vec<&str> = loaded.warnings.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(
            warnings,
            [
                "namespace `flags` uses `kvsync init`'s placeholder id `00000000000000000000000000000000`"
            ]
        );
    }

    #[test]
    fn owners_from_names() {
        assert_eq!(owner_from("My Shop!").as_deref(), Some("my-shop"));
        assert_eq!(owner_from("storefront-worker").as_deref(), Some("storefront-worker"));
        assert_eq!(owner_from("--").as_deref(), None);
        assert_eq!(owner_from(&"x".repeat(100)).map(|o| o.len()), Some(64));
    }

    #[test]
    fn from_wrangler_one_scope_per_binding_and_an_environment_per_env() {
        let wrangler = r#"{
          // comments are fine
          "name": "storefront",
          "kv_namespaces": [
            {"binding": "FLAGS", "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "preview_id": "11111111111111111111111111111111"},
            {"binding": "CONFIG", "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90"},
          ],
          "env": {
            "production": {"kv_namespaces": [{"binding": "FLAGS", "id": "22222222222222222222222222222222"}]},
            "staging": {"kv_namespaces": [{"binding": "FLAGS", "id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9"}, {"binding": "CONFIG", "id": "33333333333333333333333333333333"}]},
          },
        }"#;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wrangler.jsonc");
        std::fs::write(&path, wrangler).expect("write");
        let config = crate::config::wrangler::read(&path).expect("reads");
        let text = from_wrangler(&config, "wrangler.jsonc", "storefront", None).expect("bindings");
        let body = text.split_once("version: 1\n").expect("version").1;
        insta::assert_snapshot!(body, @r#"
        # Who owns the keys this file writes (recorded in every key's metadata; kvsync never
        # touches keys another owner wrote). Choose it once.
        owner: storefront
        # Without `--env`, kvsync plans this environment.
        default_environment: staging
        namespaces:
          flags:
            binding: FLAGS
            # it has `id` and `preview_id`: pass `--preview false` (its `id`) or `--preview`,
            # as wrangler asks, or pin one here with `preview: false|true`
            # prefix: "flags/"   # manage only the keys under a prefix
            keys: {}
          config:
            binding: CONFIG
            # prefix: "config/"   # manage only the keys under a prefix
            keys: {}
        environments:
          # wrangler's top level (what `wrangler deploy` uses without `--env`): the scopes above as they are
          default: {}
          production:
            namespaces:
              flags: {environment: production}
              # wrangler.jsonc declares no `CONFIG` in [env.production] (environments do not inherit): `--env production` fails until it does
              config: {environment: production}
          staging:
            namespaces:
              flags: {environment: staging}
              config: {environment: staging}
        "#);
        let files = [("wrangler.jsonc", wrangler)];
        let staging = loads(&text, &files, None);
        assert_eq!(staging.desired.environment.as_deref(), Some("staging"));
        assert_eq!(staging.desired.scopes[0].namespace_id, "9a8b7c6d5e4f30211203f4e5d6c7b8a9");
        assert_eq!(staging.desired.scopes[1].namespace_id, "33333333333333333333333333333333");
        // Production declares no CONFIG binding, and environments do not inherit: an error
        // that says so, rather than a silent fall-back to the top level.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kvsync.yaml"), &text).expect("write");
        std::fs::write(dir.path().join("wrangler.jsonc"), wrangler).expect("write");
        let options = LoadOptions::of(Some("production"));
        let error = load(&dir.path().join("kvsync.yaml"), &options).expect_err("config missing");
        assert!(
            error.to_string().contains(
                "binding `CONFIG` is not in `kv_namespaces` of `wrangler.jsonc` [env.production]"
            ),
            "{error}"
        );
        // wrangler's top level is the environment `default` (there is an `[env.production]`);
        // FLAGS has both ids there, so it takes `--preview` (never pinned by init).
        let top = |preview| {
            let options = LoadOptions {
                environment: Some("default"),
                preview,
                target: None,
                vars: &|_| None,
                titles: None,
            };
            load(&dir.path().join("kvsync.yaml"), &options)
        };
        let ids = |loaded: crate::config::Loaded| -> Vec<String> {
            loaded.desired.scopes.into_iter().map(|s| s.namespace_id).collect()
        };
        let top_ids = ids(top(Some(false)).expect("top level"));
        assert_eq!(
            top_ids,
            ["0f1e2d3c4b5a69788796a5b4c3d2e1f0", "a1b2c3d4e5f60718293a4b5c6d7e8f90"]
        );
        // `--preview` is every binding's `preview_id`, as in wrangler: CONFIG has none.
        let error = top(Some(true)).expect_err("CONFIG has no preview id").to_string();
        assert!(error.contains("`CONFIG` in `wrangler.jsonc` has no `preview_id`"), "{error}");
        let error = top(None).expect_err("both ids, nothing says which").to_string();
        assert!(error.contains("has both `id` and `preview_id`"), "{error}");
        assert_eq!(bindings_with_both_ids(&config), ["FLAGS"]);
    }

    #[test]
    fn the_top_level_environment_is_production_unless_wrangler_has_one() {
        let config = |names: &[&str]| WranglerConfig {
            name: None,
            account_id: None,
            kv_namespaces: None,
            environments: names
                .iter()
                .map(|name| crate::config::wrangler::WranglerEnvironment {
                    name: (*name).to_owned(),
                    account_id: None,
                    kv_namespaces: None,
                })
                .collect(),
        };
        assert_eq!(top_level_environment(&config(&["staging"])), "production");
        assert_eq!(top_level_environment(&config(&["staging", "production"])), "default");
        let taken = config(&["production", "default"]);
        assert_eq!(top_level_environment(&taken), "default-2");
    }

    #[test]
    fn no_bindings_no_starter() {
        let config = WranglerConfig {
            name: None,
            account_id: None,
            kv_namespaces: Some(Vec::new()),
            environments: Vec::new(),
        };
        assert_eq!(from_wrangler(&config, "wrangler.toml", "x", None), None);
    }
}
