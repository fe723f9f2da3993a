//! Namespace ids for `--target wrangler-dev`, as `wrangler dev` binds them
//! (`cloudflare-kv-api.md`, appendix): a binding's `preview_id` when it has one, else its `id`,
//! else the binding's name. These ids need not be Cloudflare's 32 hex digits (a binding without
//! ids is bound by its name), so the id rule is not applied here; the dev server's own list of
//! bound namespaces is the check (`kv::wrangler_dev`).
//!
//! `preview:` (or `--preview`) still picks `preview_id` or `id` when given, as
//! `wrangler kv … --local --preview [false]` does. A `namespace_id:` scope names a production
//! namespace: it stands for the binding whose `id` it is, and so for that binding's dev id.

use super::*;

impl Resolver {
    /// A resolver for `--target wrangler-dev`.
    pub(crate) fn for_wrangler_dev(mut self) -> Self {
        self.dev = true;
        self
    }

    /// The dev id of the binding whose `id` (or `preview_id`) is `namespace_id`, in the wrangler
    /// config found from the config's folder: in `environment`'s section (the top level when
    /// `None`) first, else in any section, as long as they agree.
    pub(crate) fn dev_id_of(
        &mut self,
        namespace_id: &str,
        environment: Option<&str>,
    ) -> Result<Resolved, Failure> {
        let config_dir = self.config_dir.clone();
        let found = self.discovered.get_or_insert_with(|| find(&config_dir)).clone();
        let Some(path) = found else {
            return Err(Failure::new(
                Field::Binding,
                format!(
                    "`--target wrangler-dev` looks namespace `{namespace_id}` up in the wrangler \
                     config, and there is none in `{}` or any folder above it",
                    shown_dir(&self.config_dir).display()
                ),
                "`wrangler dev` binds namespaces by the Worker's wrangler config: run kvsync in \
                 the Worker's folder, or use `binding:` with `wrangler:`"
                    .to_owned(),
            ));
        };
        let shown = relative_to(&path, &self.config_dir);
        let config = match self.read.entry(path.clone()).or_insert_with(|| read(&path)) {
            Ok(config) => config,
            Err(detail) => {
                return Err(Failure::new(
                    Field::Binding,
                    format!("cannot read the wrangler config `{shown}`: {detail}"),
                    None,
                ));
            }
        };
        dev_id_in(config, &shown, namespace_id, environment)
    }
}

/// [`super::resolve_in`] for `--target wrangler-dev`.
pub(super) fn resolve_in(
    config: &WranglerConfig,
    shown: &str,
    request: &Request<'_>,
) -> Result<Resolved, Failure> {
    let binding = request.binding;
    let (entry, section_name) = binding_entry(config, shown, request)?;
    let place = format!("`{binding}` in `{shown}`{section_name}");
    let (id, which) = match request.preview {
        None => dev_id(entry),
        Some(_) => {
            let (id, which) = chosen_id(entry, request.preview, &place)?;
            (id.as_str(), which)
        }
    };
    Ok(Resolved {
        namespace_id: id.to_owned(),
        from: format!(
            "binding `{binding}` ({which}, as `wrangler dev` binds it) in {shown}{section_name}"
        ),
    })
}

/// The id `wrangler dev` binds a binding to, and which field it is.
fn dev_id(entry: &KvBinding) -> (&str, &'static str) {
    match (&entry.preview_id, &entry.id) {
        (Some(preview_id), _) => (preview_id, "preview_id"),
        (None, Some(id)) => (id, "id"),
        (None, None) => (&entry.binding, "its name"),
    }
}

/// The dev id of the binding whose `id` or `preview_id` is `namespace_id` in a parsed config.
fn dev_id_in(
    config: &WranglerConfig,
    shown: &str,
    namespace_id: &str,
    environment: Option<&str>,
) -> Result<Resolved, Failure> {
    let sections = std::iter::once((None, &config.kv_namespaces))
        .chain(config.environments.iter().map(|e| (Some(e.name.as_str()), &e.kv_namespaces)));
    let mut matches: Vec<(Option<&str>, &KvBinding)> = sections
        .flat_map(|(name, entries)| {
            entries.iter().flatten().map(move |entry| (name, entry)).filter(|(_, entry)| {
                entry.id.as_deref() == Some(namespace_id)
                    || entry.preview_id.as_deref() == Some(namespace_id)
            })
        })
        .collect();
    if matches.iter().any(|(name, _)| *name == environment) {
        matches.retain(|(name, _)| *name == environment);
    }
    let section = |name: Option<&str>| name.map(|e| format!(" [env.{e}]")).unwrap_or_default();
    let mut ids: Vec<&str> = matches.iter().map(|(_, entry)| dev_id(entry).0).collect();
    ids.sort_unstable();
    ids.dedup();
    match (matches.first(), ids.as_slice()) {
        (Some((name, entry)), [id]) => Ok(Resolved {
            namespace_id: (*id).to_owned(),
            from: format!(
                "binding `{}` ({}, as `wrangler dev` binds it) in {shown}{}",
                entry.binding,
                dev_id(entry).1,
                section(*name)
            ),
        }),
        (None, _) => Err(Failure::new(
            Field::Binding,
            format!(
                "namespace `{namespace_id}` is the `id` of no binding in `kv_namespaces` of \
                 `{shown}`, so `--target wrangler-dev` cannot tell which namespace `wrangler \
                 dev` binds for it"
            ),
            "add the namespace to the Worker's `kv_namespaces`, or name it with `binding:`"
                .to_owned(),
        )),
        (Some(_), _) => {
            let places: Vec<String> = matches
                .iter()
                .map(|(name, entry)| {
                    format!("`{}`{} (`{}`)", entry.binding, section(*name), dev_id(entry).0)
                })
                .collect();
            Err(Failure::new(
                Field::Binding,
                format!(
                    "namespace `{namespace_id}` is bound differently in `{shown}`: {}",
                    places.join(", ")
                ),
                "name the namespace with `binding:` and `environment:` instead".to_owned(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
name = "shop"
[[kv_namespaces]]
binding = "BOTH"
id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
preview_id = "11111111111111111111111111111111"
[[kv_namespaces]]
binding = "PROD_ONLY"
id = "22222222222222222222222222222222"
[[kv_namespaces]]
binding = "NAMED"
[env.staging]
[[env.staging.kv_namespaces]]
binding = "BOTH"
id = "33333333333333333333333333333333"
"#;

    fn config() -> WranglerConfig {
        from_value(&parse_toml(TOML).expect("toml")).expect("config")
    }

    fn resolve(binding: &str, environment: Option<&str>, preview: Option<bool>) -> String {
        let request = Request { binding, wrangler: None, environment, preview };
        match resolve_in(&config(), "wrangler.toml", &request) {
            Ok(resolved) => resolved.namespace_id,
            Err(failure) => format!("error: {}", failure.message),
        }
    }

    #[test]
    fn a_binding_resolves_to_the_id_wrangler_dev_binds() {
        assert_eq!(resolve("BOTH", None, None), "11111111111111111111111111111111");
        assert_eq!(resolve("PROD_ONLY", None, None), "22222222222222222222222222222222");
        assert_eq!(resolve("NAMED", None, None), "NAMED");
        assert_eq!(resolve("BOTH", Some("staging"), None), "33333333333333333333333333333333");
        // `--preview` and `--preview false` choose as `wrangler kv … --local` does.
        assert_eq!(resolve("BOTH", None, Some(true)), "11111111111111111111111111111111");
        assert_eq!(resolve("BOTH", None, Some(false)), "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        assert!(resolve("BOTH", Some("staging"), Some(true)).starts_with("error: "));
        assert!(resolve("NOPE", None, None).starts_with("error: binding `NOPE` is not"));
    }

    #[test]
    fn a_namespace_id_stands_for_its_bindings_dev_id() {
        let dev = |id: &str, environment: Option<&str>| {
            dev_id_in(&config(), "wrangler.toml", id, environment)
                .map(|r| r.namespace_id)
                .unwrap_or_else(|failure| format!("error: {}", failure.message))
        };
        assert_eq!(
            dev("0f1e2d3c4b5a69788796a5b4c3d2e1f0", None),
            "11111111111111111111111111111111"
        );
        assert_eq!(
            dev("11111111111111111111111111111111", None),
            "11111111111111111111111111111111"
        );
        assert_eq!(
            dev("22222222222222222222222222222222", Some("staging")),
            "22222222222222222222222222222222"
        );
        assert_eq!(
            dev("33333333333333333333333333333333", None),
            "33333333333333333333333333333333"
        );
        let missing = dev("44444444444444444444444444444444", None);
        assert!(missing.starts_with("error: namespace `4444"), "{missing}");
    }
}
