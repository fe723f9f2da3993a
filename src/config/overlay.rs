//! Environments: which overlay applies, and merging it into the base config.
//!
//! An overlay deep-merges into the base before anything is validated: top-level fields it sets
//! replace the base's; namespaces merge by name field by field (a new name adds a namespace);
//! a list (`ignore`, `include`, `files`, …) replaces the base's list; a key entry it names
//! replaces the base's entry for that key (including one from an include or a `files:` source),
//! which is not "defined twice".
//! Keys are kept apart here ([`MergedNamespace::overlay_keys`]) because includes are only read
//! later; the loader applies them last.

use super::model::{
    ConfigFile, EnvironmentOverlay, KeyEntry, NamedMap, NamespaceConfig, PlanTier, SchemaSource,
    Sp, Target,
};
use super::problems::{FileId, Pos, Problems, did_you_mean};

/// The config with its environment's overlay applied.
pub(crate) struct Merged {
    pub environment: Option<String>,
    /// `--env NAME` on a config without `environments:` whose scopes use `binding:`: the
    /// wrangler environment (`[env.NAME]`) those scopes are looked up in, as `wrangler --env`.
    pub wrangler_environment: Option<String>,
    pub version: Sp<u32>,
    pub owner: Sp<String>,
    pub account_id: Option<Sp<String>>,
    pub target: Option<Sp<Target>>,
    pub local_path: Option<Sp<String>>,
    pub max_deletes: Option<Sp<usize>>,
    pub plan_tier: Option<Sp<PlanTier>>,
    pub namespaces: Vec<MergedNamespace>,
}

/// One namespace after merging; its `keys` are split into the base's and the overlay's.
pub(crate) struct MergedNamespace {
    pub name: Sp<String>,
    /// Every field but `keys` (which is `None` here).
    pub config: NamespaceConfig,
    pub base_keys: NamedMap<KeyEntry>,
    pub overlay_keys: NamedMap<KeyEntry>,
}

/// Picks the environment and merges its overlay; `None` when the choice itself is a problem
/// (reported): checking the base alone would then only report problems the overlay fixes.
pub(crate) fn apply(
    config: ConfigFile,
    requested: Option<&str>,
    file: FileId,
    problems: &mut Problems,
) -> Option<Merged> {
    let ConfigFile {
        version,
        owner,
        account_id,
        target,
        local_path,
        max_deletes,
        default_environment,
        plan_tier,
        namespaces,
        mut environments,
    } = config;
    let uses_bindings = namespaces.0.iter().any(|(_, n)| n.value.binding.is_some());
    let chosen = Choice { requested, default: default_environment.as_ref(), uses_bindings };
    let (overlay, wrangler_environment) = choose(&chosen, &mut environments, file, problems)?;

    let mut merged = Merged {
        environment: wrangler_environment.clone(),
        wrangler_environment,
        version,
        owner,
        account_id,
        target,
        local_path,
        max_deletes,
        plan_tier,
        namespaces: namespaces
            .0
            .into_iter()
            .map(|(name, config)| {
                let mut config = config.value;
                MergedNamespace {
                    name,
                    base_keys: config.keys.take().unwrap_or_default(),
                    config,
                    overlay_keys: NamedMap::default(),
                }
            })
            .collect(),
    };
    if let Some((name, overlay)) = overlay {
        merge(&mut merged, overlay);
        merged.environment = Some(name);
    }
    Some(merged)
}

/// What picks the overlay: `--env`, the config's `default_environment:`, and whether any scope
/// names a wrangler `binding:`.
struct Choice<'a> {
    requested: Option<&'a str>,
    default: Option<&'a Sp<String>>,
    uses_bindings: bool,
}

/// The overlay to apply, by name, and wrangler's environment.
type Chosen = (Option<(String, EnvironmentOverlay)>, Option<String>);

/// The overlay to apply (taken out of `environments`), and wrangler's environment when `--env`
/// means wrangler's `[env.NAME]` (a config without overlays of its own, with `binding:`
/// scopes). `None` when the choice is a problem (reported).
fn choose(
    choice: &Choice<'_>,
    environments: &mut NamedMap<EnvironmentOverlay>,
    file: FileId,
    problems: &mut Problems,
) -> Option<Chosen> {
    let names: Vec<&str> = environments.0.iter().map(|(n, _)| n.value.as_str()).collect();
    let listed = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    // Where to point when the choice is wrong: the `environments` mapping, else the file start.
    let environments_pos = environments.0.first().map_or(Pos::START, |(n, _)| n.pos);

    // A default that names no environment is wrong even when `--env` overrides it today.
    if let (Some(_), Some(default)) = (choice.requested, choice.default)
        && !names.contains(&default.value.as_str())
    {
        problems.error(
            file,
            default.pos,
            format!("`default_environment` names no environment: `{}`", default.value),
            Some(format!("this config has {}", if listed.is_empty() { "none" } else { &listed })),
        );
    }
    let chosen: Option<(String, Pos)> = match (choice.requested, choice.default) {
        (Some(name), _) => Some((name.to_owned(), environments_pos)),
        (None, Some(default)) => Some((default.value.clone(), default.pos)),
        (None, None) => None,
    };
    let mut wrangler_environment = None;
    let overlay = match chosen {
        None if environments.0.is_empty() => None,
        // Without overlays of its own, `--env` means what it means to wrangler.
        Some((name, _))
            if environments.0.is_empty() && choice.requested.is_some() && choice.uses_bindings =>
        {
            wrangler_environment = Some(name);
            None
        }
        None => {
            problems.error(
                file,
                environments_pos,
                format!("this config has environments ({listed}); pass `--env`"),
                Some(format!(
                    "e.g. `--env {}`, or set `default_environment:`",
                    names.first().copied().unwrap_or("NAME")
                )),
            );
            return None;
        }
        Some((name, pos)) if environments.0.is_empty() => {
            problems.error(
                file,
                pos,
                format!(
                    "environment `{name}` was asked for, but this config has no `environments`"
                ),
                Some(
                    "drop `--env`, or add an `environments:` mapping with this name (with \
                     `binding:` scopes, `--env` picks wrangler's `[env.NAME]` instead)"
                        .to_owned(),
                ),
            );
            return None;
        }
        Some((name, pos)) => {
            let Some(index) = environments.0.iter().position(|(n, _)| n.value == name) else {
                let hint = match did_you_mean(&name, names.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`? this config has {listed}"),
                    None => format!("this config has {listed}"),
                };
                problems.error(file, pos, format!("unknown environment `{name}`"), Some(hint));
                return None;
            };
            Some((name, environments.0.swap_remove(index).1.value))
        }
    };
    Some((overlay, wrangler_environment))
}

fn merge(base: &mut Merged, overlay: EnvironmentOverlay) {
    let EnvironmentOverlay {
        owner,
        account_id,
        target,
        local_path,
        max_deletes,
        plan_tier,
        namespaces,
    } = overlay;
    replace(&mut base.owner, owner);
    replace_option(&mut base.account_id, account_id);
    replace_option(&mut base.target, target);
    replace_option(&mut base.local_path, local_path);
    replace_option(&mut base.max_deletes, max_deletes);
    replace_option(&mut base.plan_tier, plan_tier);
    for (name, overlay) in namespaces.0 {
        let mut overlay = overlay.value;
        let overlay_keys = overlay.keys.take().unwrap_or_default();
        match base.namespaces.iter_mut().find(|n| n.name.value == name.value) {
            Some(existing) => {
                merge_namespace(&mut existing.config, overlay);
                existing.overlay_keys = overlay_keys;
            }
            None => base.namespaces.push(MergedNamespace {
                name,
                config: overlay,
                base_keys: NamedMap::default(),
                overlay_keys,
            }),
        }
    }
}

fn merge_namespace(base: &mut NamespaceConfig, overlay: NamespaceConfig) {
    let NamespaceConfig {
        namespace_id,
        binding,
        namespace_title,
        wrangler,
        environment,
        preview,
        prefix,
        prune,
        allow_empty,
        snapshot,
        ignore,
        protect,
        take_over,
        list_shards,
        schemas,
        keys: _,
        include,
        files,
    } = overlay;
    // `namespace_id`, `binding` and `namespace_title` are three ways to say one thing: an
    // overlay that names one replaces the base's way, so a base `binding:` and a staging
    // `namespace_id:` do not clash.
    if namespace_id.is_some() || binding.is_some() || namespace_title.is_some() {
        base.namespace_id = namespace_id;
        base.binding = binding;
        base.namespace_title = namespace_title;
    }
    replace_option(&mut base.wrangler, wrangler);
    replace_option(&mut base.environment, environment);
    replace_option(&mut base.preview, preview);
    replace_option(&mut base.prefix, prefix);
    replace_option(&mut base.prune, prune);
    replace_option(&mut base.allow_empty, allow_empty);
    replace_option(&mut base.snapshot, snapshot);
    replace_option(&mut base.ignore, ignore);
    replace_option(&mut base.protect, protect);
    replace_option(&mut base.take_over, take_over);
    replace_option(&mut base.list_shards, list_shards);
    replace_option(&mut base.include, include);
    replace_option(&mut base.files, files);
    merge_schemas(&mut base.schemas, schemas);
}

/// `schemas:` merges as a mapping: a glob the overlay names gets the overlay's schema (whole: an
/// inline schema is never merged into the base's), other globs keep the base's.
fn merge_schemas(
    base: &mut Option<NamedMap<SchemaSource>>,
    overlay: Option<NamedMap<SchemaSource>>,
) {
    let Some(overlay) = overlay else { return };
    let base = base.get_or_insert_with(NamedMap::default);
    for (glob, schema) in overlay.0 {
        match base.0.iter_mut().find(|(existing, _)| existing.value == glob.value) {
            Some(entry) => *entry = (glob, schema),
            None => base.0.push((glob, schema)),
        }
    }
}

fn replace<T>(base: &mut T, overlay: Option<T>) {
    if let Some(value) = overlay {
        *base = value;
    }
}

fn replace_option<T>(base: &mut Option<T>, overlay: Option<T>) {
    if overlay.is_some() {
        *base = overlay;
    }
}
