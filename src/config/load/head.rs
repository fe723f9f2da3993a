//! A scope's head: everything but its keys (namespace id, prefix, `list_shards`, globs), read
//! before any key so that listing can start early.

use crate::config::desired::Globs;
use crate::config::model::{FilesSource, KeyEntry, NamedMap, NamespaceConfig, SchemaSource, Sp};
use crate::config::overlay::MergedNamespace;
use crate::config::problems::{FileId, Pos, Problems};
use crate::config::starter::PLACEHOLDER_NAMESPACE_ID;
use crate::config::validate::{self, ScopeHead};
use crate::config::wrangler;
use crate::config::{AskTitles, Heads, ScopeListing};
use crate::kv::TitleError;
use crate::text::{counted, printable};
use std::path::PathBuf;

use super::Loader;

/// Two scopes whose keys could overlap (same namespace, one prefix inside the other), among
/// the heads whose namespace id and prefix are sound.
pub(super) fn check_overlaps(heads: &[Head], root: FileId, problems: &mut Problems) {
    let sound: Vec<(ScopeHead<'_>, Pos)> = heads
        .iter()
        .filter_map(|h| {
            let head = ScopeHead {
                name: &h.name,
                // An empty id is a title not looked up (a load that reaches no target).
                namespace_id: h.namespace_id.as_deref().filter(|id| !id.is_empty())?,
                prefix: h.prefix.as_deref()?,
            };
            Some((head, h.prefix_pos))
        })
        .collect();
    let (scopes, positions): (Vec<ScopeHead<'_>>, Vec<Pos>) = sound.into_iter().unzip();
    for (index, (message, hint)) in validate::overlapping_scopes(&scopes) {
        problems.error(root, positions[index], message, hint);
    }
}

/// What a caller needs to list a config's namespaces.
pub(super) fn listing(
    target: Option<crate::kv::TargetKind>,
    account_id: Option<String>,
    local_path: Option<PathBuf>,
    heads: &[Head],
) -> Heads {
    Heads {
        target,
        account_id,
        local_path,
        scopes: heads
            .iter()
            .filter_map(|h| {
                Some(ScopeListing {
                    namespace_id: h.namespace_id.clone()?,
                    prefix: h.prefix.clone()?,
                    shards: h.list_shards.clone(),
                })
            })
            .collect(),
    }
}

impl Loader<'_> {
    /// One scope's head: everything but its keys. The namespace id and the prefix are `None`
    /// when they have problems (reported).
    pub(super) fn head(&mut self, namespace: MergedNamespace) -> Head {
        let MergedNamespace { name, mut config, base_keys, overlay_keys } = namespace;
        let binding = config.binding.as_ref().map(|binding| binding.value.clone());
        let (namespace_id, resolved_from, title) =
            match self.namespace_id(&name.value, name.pos, &mut config) {
                Some(Source::Id(id, from)) => (Some(id), from, None),
                Some(Source::Title(title)) => (None, None, Some(title)),
                None => (None, None, None),
            };
        let prefix_pos = config.prefix.as_ref().map_or(name.pos, |p| p.pos);
        let prefix = match config.prefix.take() {
            Some(prefix) => {
                let pos = prefix.pos;
                let prefix = self.interpolate(prefix);
                if let Some(Err((message, hint))) = prefix.as_deref().map(validate::prefix) {
                    self.problems.error(self.root, pos, message, hint);
                }
                prefix
            }
            None => Some(String::new()),
        };
        let list_shards = self.list_shards(config.list_shards.take(), prefix.as_deref(), name.pos);
        Head {
            prune: config.prune.is_none_or(|p| p.value),
            allow_empty: config.allow_empty.is_some_and(|a| a.value),
            snapshot: config.snapshot.is_none_or(|s| s.value),
            ignore: self.globs("ignore", config.ignore.take()),
            protect: self.globs("protect", config.protect.take()),
            take_over: self.globs("take_over", config.take_over.take()),
            name: name.value,
            namespace_id,
            resolved_from,
            title,
            binding,
            prefix,
            prefix_pos,
            list_shards,
            include: config.include.take().unwrap_or_default(),
            files: config.files.take().unwrap_or_default(),
            schemas: config.schemas.take().unwrap_or_default(),
            base_keys,
            overlay_keys,
        }
    }

    /// A scope's `list_shards`, interpolated, checked and sorted (so that their listings, one
    /// after the other, are in key order); empty when there are none or any has a problem
    /// (reported).
    fn list_shards(
        &mut self,
        shards: Option<Vec<Sp<String>>>,
        prefix: Option<&str>,
        name_pos: Pos,
    ) -> Vec<String> {
        let Some(shards) = shards else { return Vec::new() };
        if shards.is_empty() {
            self.problems.error(
                self.root,
                name_pos,
                "`list_shards` is empty".to_owned(),
                Some("name two or more key prefixes, or remove `list_shards:`".to_owned()),
            );
            return Vec::new();
        }
        let positions: Vec<Pos> = shards.iter().map(|s| s.pos).collect();
        let texts: Vec<Option<String>> = shards.into_iter().map(|s| self.interpolate(s)).collect();
        let (Some(texts), Some(prefix)) = (texts.into_iter().collect::<Option<Vec<_>>>(), prefix)
        else {
            return Vec::new();
        };
        let views: Vec<&str> = texts.iter().map(String::as_str).collect();
        let found = validate::list_shards(&views, prefix);
        if !found.is_empty() {
            for (index, (message, hint)) in found {
                self.problems.error(self.root, positions[index], message, hint);
            }
            return Vec::new();
        }
        let mut texts = texts;
        texts.sort_unstable();
        texts
    }

    /// The scope's namespace id, written out (`namespace_id:`) or looked up through wrangler's
    /// config (`binding:`), and how it was found when it was looked up; `None` when there is a
    /// problem (reported). Takes the head fields out of `config`.
    fn namespace_id(
        &mut self,
        scope_name: &str,
        name_pos: Pos,
        config: &mut NamespaceConfig,
    ) -> Option<Source> {
        let (id, binding) = (config.namespace_id.take(), config.binding.take());
        let (wrangler_file, environment, preview) =
            (config.wrangler.take(), config.environment.take(), config.preview.take());
        if let Some(title) = config.namespace_title.take() {
            let other = match (&id, &binding) {
                (Some(_), _) => Some("namespace_id"),
                (None, Some(_)) => Some("binding"),
                (None, None) => None,
            };
            if let Some(other) = other {
                self.problems.error(
                    self.root,
                    title.pos,
                    format!("namespace `{scope_name}` sets both `namespace_title` and `{other}`"),
                    Some(format!(
                        "keep one: `namespace_title:` finds the namespace by its title, \
                         `{other}:` names it another way"
                    )),
                );
                return None;
            }
            self.binding_only([
                ("wrangler", wrangler_file.map(|w| w.pos)),
                ("environment", environment.map(|e| e.pos)),
                ("preview", preview.map(|p| p.pos)),
            ]);
            return self.title(title).map(Source::Title);
        }
        match (id, binding) {
            (Some(_), Some(binding)) => {
                self.problems.error(
                    self.root,
                    binding.pos,
                    format!("namespace `{scope_name}` sets both `namespace_id` and `binding`"),
                    Some(
                        "keep one: `namespace_id:` names the namespace, `binding:` looks its id \
                         up in the wrangler config"
                            .to_owned(),
                    ),
                );
                None
            }
            (id, None) => {
                let extras = [
                    ("wrangler", wrangler_file.map(|w| w.pos)),
                    ("environment", environment.map(|e| e.pos)),
                    ("preview", preview.map(|p| p.pos)),
                ];
                let (id, from) = self.direct_namespace_id(scope_name, name_pos, id, extras)?;
                Some(Source::Id(id, from))
            }
            (None, Some(binding)) => {
                let bound = (binding, wrangler_file, environment, preview);
                let (id, from) =
                    self.bound_namespace_id(scope_name, bound.0, bound.1, bound.2, bound.3)?;
                Some(Source::Id(id, from))
            }
        }
    }

    /// A scope's `namespace_title:`, interpolated and checked (1 to 512 characters, as
    /// Cloudflare's titles); `None` when it has a problem (reported).
    fn title(&mut self, title: Sp<String>) -> Option<Pending> {
        let pos = title.pos;
        let text = self.interpolate(title)?;
        let length = text.chars().count();
        if length == 0 || length > TITLE_MAX {
            self.problems.error(
                self.root,
                pos,
                format!("`namespace_title` has {length} characters"),
                Some(format!("a namespace title has 1 to {TITLE_MAX} characters")),
            );
            return None;
        }
        Some(Pending { title: text, pos })
    }

    /// The fields that apply only with `binding:`, where they were written: each is a problem.
    fn binding_only(&mut self, extras: [(&str, Option<Pos>); 3]) {
        for (field, pos) in extras {
            if let Some(pos) = pos {
                self.problems.error(
                    self.root,
                    pos,
                    format!("`{field}` applies only with `binding:`"),
                    Some(format!(
                        "name a KV binding of the wrangler config with `binding:`, or \
                         remove `{field}:`"
                    )),
                );
            }
        }
    }

    /// Gives every `namespace_title:` scope its namespace id, asking the target (`titles`) once
    /// for all of them, with where the keys live (`heads`). Without `titles` (a load that
    /// reaches no target) a title scope gets an empty id that says so. Returns `false` when the
    /// target could not be asked (the caller knows why). Nothing is asked when the config
    /// already has problems: the run fails on them.
    pub(super) fn resolve_titles(
        &mut self,
        heads: &mut [Head],
        at: Heads,
        titles: Option<&AskTitles<'_>>,
    ) -> bool {
        if heads.iter().all(|h| h.title.is_none()) || self.problems.has_errors() {
            return true;
        }
        let Some(titles) = titles else {
            for head in heads.iter_mut() {
                if let Some(pending) = &head.title {
                    head.namespace_id = Some(String::new());
                    head.resolved_from = Some(format!(
                        "namespace title `{}` (not looked up)",
                        printable(&pending.title)
                    ));
                }
            }
            return true;
        };
        let Some(titles) = titles(&at) else { return false };
        for head in heads.iter_mut() {
            let Some(Pending { title, pos }) = &head.title else { continue };
            let shown = printable(title);
            match titles.resolve(title) {
                Ok(id) => {
                    head.namespace_id = Some(id);
                    head.resolved_from = Some(format!("namespace title `{shown}`"));
                }
                Err(TitleError::Missing { close, count }) => {
                    let hint = if !close.is_empty() {
                        let close: Vec<String> =
                            close.iter().map(|t| format!("`{}`", printable(t))).collect();
                        format!("titles are exact; did you mean {}?", close.join(", "))
                    } else if count == 0 {
                        "the account has no KV namespaces".to_owned()
                    } else {
                        format!(
                            "the account's {} have other titles; `wrangler kv namespace list` \
                             shows them",
                            counted(count, "namespace", "namespaces")
                        )
                    };
                    self.problems.error(
                        self.root,
                        *pos,
                        format!("no namespace has the title `{shown}`"),
                        Some(hint),
                    );
                }
                Err(TitleError::Ambiguous { ids }) => {
                    let listed: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
                    self.problems.error(
                        self.root,
                        *pos,
                        format!(
                            "{} namespaces have the title `{shown}`: {}",
                            ids.len(),
                            listed.join(", ")
                        ),
                        Some("name the one to sync with `namespace_id:`".to_owned()),
                    );
                }
            }
        }
        true
    }

    /// A scope's `namespace_id:`: interpolated and checked; the fields that only apply with
    /// `binding:` (`extras`, where they were written) are problems here.
    fn direct_namespace_id(
        &mut self,
        scope_name: &str,
        name_pos: Pos,
        id: Option<Sp<String>>,
        extras: [(&str, Option<Pos>); 3],
    ) -> Option<(String, Option<String>)> {
        self.binding_only(extras);
        let Some(id) = id else {
            self.problems.error(
                self.root,
                name_pos,
                format!("namespace `{scope_name}` has no `namespace_id`"),
                Some(
                    "set `namespace_id:` (or `binding:`, a KV binding of the wrangler \
                     config, or `namespace_title:`) here or in the environment's overlay"
                        .to_owned(),
                ),
            );
            return None;
        };
        let pos = id.pos;
        let id = self.interpolate(id)?;
        if let Err((message, hint)) = validate::namespace_id(&id) {
            self.problems.error(self.root, pos, message, hint);
            return None;
        }
        if self.wrangler_dev {
            return self.wrangler_dev_id(&id, pos);
        }
        if id == PLACEHOLDER_NAMESPACE_ID {
            self.problems.warning(
                self.root,
                pos,
                format!("namespace `{scope_name}` uses `kvsync init`'s placeholder id `{id}`"),
                Some(
                    "fine for `--target local`; for Cloudflare, set the id of your \
                     namespace (`wrangler kv namespace list` shows it), or use \
                     `binding:` (`kvsync init --from-wrangler`)"
                        .to_owned(),
                ),
            );
        }
        Some((id, None))
    }

    /// On `--target wrangler-dev`, a scope's `namespace_id:` stands for the binding whose `id`
    /// it is: the id `wrangler dev` binds for that binding.
    fn wrangler_dev_id(&mut self, id: &str, pos: Pos) -> Option<(String, Option<String>)> {
        let environment = self.wrangler_environment.clone();
        match self.wrangler.dev_id_of(id, environment.as_deref()) {
            Ok(resolved) => Some((resolved.namespace_id, Some(resolved.from))),
            Err(failure) => {
                self.problems.error(self.root, pos, failure.message, failure.hint);
                None
            }
        }
    }

    /// Which id of a binding a scope asks for: its `preview:`, else `--preview`; `None` when
    /// neither says. A flag that contradicts the scope's `preview:` is a problem (reported),
    /// never silently overruled: `plan --preview` must not plan the `id` namespace.
    fn preview(&mut self, scope_name: &str, preview: Option<Sp<bool>>) -> Option<Option<bool>> {
        let (Some(scope), Some(flag)) = (&preview, self.preview) else {
            return Some(preview.map(|p| p.value).or(self.preview));
        };
        if scope.value == flag {
            return Some(Some(flag));
        }
        let flag_text = if flag { "`--preview`" } else { "`--preview false`" };
        let asks = if flag { "the binding's `preview_id`" } else { "the binding's `id`" };
        self.problems.error(
            self.root,
            scope.pos,
            format!(
                "namespace `{scope_name}` sets `preview: {}`, but {flag_text} asks for {asks}",
                scope.value
            ),
            Some(format!(
                "remove `preview:` from the scope to let the flag choose, or run without \
                 {flag_text}"
            )),
        );
        None
    }

    /// A scope's `binding:`, looked up in the wrangler config (its `wrangler:`, `environment:`
    /// and `preview:`, else `--env` and `--preview`); a failure points at the field at fault.
    fn bound_namespace_id(
        &mut self,
        scope_name: &str,
        binding: Sp<String>,
        wrangler_file: Option<Sp<String>>,
        environment: Option<Sp<String>>,
        preview: Option<Sp<bool>>,
    ) -> Option<(String, Option<String>)> {
        let binding_pos = binding.pos;
        let wrangler_pos = wrangler_file.as_ref().map_or(binding_pos, |w| w.pos);
        let environment_pos = environment.as_ref().map_or(binding_pos, |e| e.pos);
        let preview_pos = preview.as_ref().map_or(binding_pos, |p| p.pos);
        let preview = self.preview(scope_name, preview)?;
        let binding = self.interpolate(binding);
        let wrangler_file = wrangler_file.map(|w| self.interpolate(w));
        // A scope's own `environment:` wins over `--env`.
        let environment = match environment {
            Some(environment) => Some(self.interpolate(environment)),
            None => self.wrangler_environment.clone().map(Some),
        };
        let (Some(binding), Some(wrangler_file), Some(environment)) = (
            binding,
            wrangler_file.map_or(Some(None), |w| w.map(Some)),
            environment.map_or(Some(None), |e| e.map(Some)),
        ) else {
            return None;
        };
        let request = wrangler::Request {
            binding: &binding,
            wrangler: wrangler_file.as_deref(),
            environment: environment.as_deref(),
            preview,
        };
        match self.wrangler.resolve(&request) {
            Ok(resolved) => Some((resolved.namespace_id, Some(resolved.from))),
            Err(failure) => {
                let pos = match failure.field {
                    wrangler::Field::Binding => binding_pos,
                    wrangler::Field::Wrangler => wrangler_pos,
                    wrangler::Field::Environment => environment_pos,
                    wrangler::Field::Preview => preview_pos,
                };
                self.problems.error(self.root, pos, failure.message, failure.hint);
                None
            }
        }
    }
}

/// A scope before its keys are read.
pub(super) struct Head {
    pub(super) name: String,
    pub(super) namespace_id: Option<String>,
    pub(super) resolved_from: Option<String>,
    /// A `namespace_title:` waiting for the target's namespaces ([`Loader::resolve_titles`]).
    pub(super) title: Option<Pending>,
    pub(super) binding: Option<String>,
    pub(super) prefix: Option<String>,
    /// Where to blame an overlap with another scope.
    pub(super) prefix_pos: Pos,
    pub(super) list_shards: Vec<String>,
    pub(super) prune: bool,
    pub(super) allow_empty: bool,
    pub(super) snapshot: bool,
    pub(super) ignore: Globs,
    pub(super) protect: Globs,
    pub(super) take_over: Globs,
    pub(super) include: Vec<Sp<String>>,
    pub(super) files: Vec<FilesSource>,
    pub(super) schemas: NamedMap<SchemaSource>,
    pub(super) base_keys: NamedMap<KeyEntry>,
    pub(super) overlay_keys: NamedMap<KeyEntry>,
}

/// How a scope names its namespace, once read.
enum Source {
    /// An id, written out or found through a binding (and how, for a binding).
    Id(String, Option<String>),
    /// A title, to look up in the target's namespaces.
    Title(Pending),
}

/// A scope's `namespace_title:`, interpolated, before it is looked up.
pub(super) struct Pending {
    title: String,
    pos: Pos,
}

/// The longest namespace title Cloudflare takes (cloudflare-kv-api.md §1.1).
const TITLE_MAX: usize = 512;
