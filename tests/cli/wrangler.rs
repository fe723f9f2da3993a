use crate::support::{NOW, Test};

/// wrangler.jsonc as projects write it: comments, trailing commas, two environments that each
/// declare their own bindings.
const WRANGLER: &str = r#"// wrangler.jsonc of the storefront Worker
{
  "name": "storefront",
  "main": "src/index.ts",
  "kv_namespaces": [
    // `wrangler dev` uses these
    { "binding": "FLAGS", "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "preview_id": "00000000000000000000000000000001" },
  ],
  "env": {
    "staging": {
      "kv_namespaces": [
        { "binding": "FLAGS", "id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9" }, // staging's own
      ],
    },
    "production": {
      "kv_namespaces": [{ "binding": "FLAGS", "id": "5f4e3d2c1b0a99887766554433221100" }],
    },
  },
}
"#;

const CONFIG: &str = r#"version: 1
owner: storefront
default_environment: staging
namespaces:
  flags:
    binding: FLAGS
    preview: false
    prefix: "flags/"
    keys:
      flags/banner: "Welcome!"
environments:
  staging:
    namespaces: {flags: {environment: staging}}
  production:
    namespaces: {flags: {environment: production}}
"#;

fn project() -> Test {
    Test::new().file("wrangler.jsonc", WRANGLER).file("kv/kvsync.yaml", CONFIG)
}

/// Issue #7's "done means": `plan` with `binding:` against a wrangler.jsonc with comments and
/// two environments picks the right id for each environment (the scope heading shows it).
#[test]
fn plan_picks_each_environments_namespace_id() {
    let test = project();
    for (env, id) in [
        (None, "9a8b7c6d5e4f30211203f4e5d6c7b8a9"),
        (Some("staging"), "9a8b7c6d5e4f30211203f4e5d6c7b8a9"),
        (Some("production"), "5f4e3d2c1b0a99887766554433221100"),
    ] {
        let mut args = vec!["plan", "-c", "kv/kvsync.yaml", "--target", "local"];
        args.extend(env.iter().flat_map(|e| ["--env", *e]));
        let out = test.run(&args);
        assert_eq!(out.code, 0, "{}", out.snapshot());
        assert!(
            out.stdout.contains(&format!("scope `flags` (namespace {id}")),
            "{env:?}: {}",
            out.stdout
        );
        assert!(out.stdout.starts_with(&format!("Environment: {}", env.unwrap_or("staging"))));
    }
    // With environments and no `default_environment`, `--env` is required.
    test.write("kv/kvsync.yaml", CONFIG.replace("default_environment: staging\n", ""));
    let out = test.run(&["plan", "-c", "kv/kvsync.yaml", "--target", "local"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.starts_with(
            "error: kv/kvsync.yaml:11:3: this config has environments (`staging`, \
             `production`); pass `--env`\n"
        ),
        "{}",
        out.stderr
    );
    // The top level of wrangler's config has both ids: without `preview:` it is ambiguous.
    test.write("kv/kvsync.yaml", CONFIG.replace("    preview: false\n", "").replace("default_environment: staging\n", "").replace("environments:\n  staging:\n    namespaces: {flags: {environment: staging}}\n  production:\n    namespaces: {flags: {environment: production}}\n", ""));
    let out = test.run(&["validate", "-c", "kv/kvsync.yaml"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with(
            "error: kv/kvsync.yaml:5:14: binding `FLAGS` in `../wrangler.jsonc` has both `id` and \
             `preview_id`; say which with `preview:`\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "hint: `preview: false` uses `id`, `preview: true` uses `preview_id`; or pass \
             `--preview` or `--preview false`, as wrangler asks here too"
        ),
        "{}",
        out.stderr
    );
}

/// What `plan` prints for each scope found through a binding, end to end through the library
/// as the CLI's engine composes it: load, plan against a live listing, render with the scopes'
/// sources. (The CLI prints the same once `engine::render_human` passes
/// `Desired::resolved_from`; see `plan_says_how_it_found_the_namespace`.)
#[test]
fn the_plan_heading_says_which_binding_gave_the_id() {
    let test = project();
    let vars = |_: &str| None;
    let options = kvsync::config::LoadOptions {
        vars: &vars,
        ..kvsync::config::LoadOptions::of(Some("production"))
    };
    let loaded =
        kvsync::config::load(&test.path().join("kv/kvsync.yaml"), &options).expect("loads");
    let desired = loaded.desired;
    let plan_options = kvsync::plan::Options {
        owner: desired.owner.clone(),
        now: NOW.parse().expect("NOW"),
        take_over_owner: None,
        only: None,
        guards: kvsync::plan::guards::Guards::default(),
    };
    let plan = kvsync::plan::plan(&desired, &[], &plan_options);
    let human = kvsync::report::human::HumanOptions {
        color: false,
        value_diffs: false,
        environment: desired.environment.clone(),
        show_all: false,
    };
    let views = kvsync::report::values::ValueViews::new();
    let cost = kvsync::report::cost::Cost::default();
    let report = kvsync::report::model::PlanReport::new(&plan, &views, &cost);
    let text = kvsync::report::human::render_plan(&report, &human);
    insta::assert_snapshot!(text, @r#"
    Environment: production

    scope `flags` (namespace 5f4e3d2c1b0a99887766554433221100 from binding `FLAGS` in ../wrangler.jsonc [env.production], prefix "flags/")
      + flags/banner

    Plan: 1 to create.
    "#);
}

/// Every plan, in every format, says where a `binding:` scope's namespace id came from.
#[test]
fn plan_says_how_it_found_the_namespace() {
    let test = project();
    let out = test.run(&["plan", "-c", "kv/kvsync.yaml", "--target", "local"]);
    assert!(
        out.stdout.contains(
            "scope `flags` (namespace 9a8b7c6d5e4f30211203f4e5d6c7b8a9 from binding `FLAGS` in ../wrangler.jsonc [env.staging], prefix \"flags/\")"
        ),
        "{}",
        out.stdout
    );
    test.run(&["apply", "-c", "kv/kvsync.yaml", "--target", "local", "--auto-approve"]);
    let quiet = test.run(&["plan", "-c", "kv/kvsync.yaml", "--target", "local"]);
    assert!(
        quiet.stdout.contains("from binding `FLAGS`"),
        "even without changes: {}",
        quiet.stdout
    );
    let json = test.run(&["plan", "-c", "kv/kvsync.yaml", "--target", "local", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(
        document["scopes"][0]["namespace_source"],
        "binding `FLAGS` in ../wrangler.jsonc [env.staging]"
    );
    let markdown =
        test.run(&["plan", "-c", "kv/kvsync.yaml", "--target", "local", "--format", "markdown"]);
    assert!(markdown.stdout.contains("Namespace id from binding `FLAGS`"), "{}", markdown.stdout);
}

/// `plan_tier: free` warns when a run would pass the Free plan's daily limits.
#[test]
fn the_free_plan_warns_in_every_format() {
    let mut config = String::from(
        "version: 1\nowner: web\nplan_tier: free\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n",
    );
    for i in 0..1_001 {
        config.push_str(&format!("      k{i:04}: v\n"));
    }
    let test = Test::new().file("kvsync.yaml", &config);
    let human = test.run(&["plan", "--target", "local", "--no-value-diff"]);
    assert!(human.stdout.contains("warning: this run needs 1001 writes"), "{}", human.stdout);
    let json = test.run(&["plan", "--target", "local", "--format", "json"]);
    assert!(
        json.stdout.contains("\"free_plan_warning\": \"this run needs 1001 writes"),
        "{}",
        json.stdout
    );
    let markdown = test.run(&["plan", "--target", "local", "--format", "markdown"]);
    assert!(markdown.stdout.contains("**Warning (Free plan):** this run needs 1001 writes"));
}

/// `binding:` problems are reported with every other problem, each at its place in kvsync.yaml,
/// also as GitHub annotations.
#[test]
fn binding_problems_are_diagnostics_in_every_format() {
    let test = project().file(
        "kv/kvsync.yaml",
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    binding: FLAG\n    environment: staging\n",
    );
    let human = test.run(&["validate", "-c", "kv/kvsync.yaml"]);
    assert_eq!(human.code, 1);
    assert!(
        human.stderr.contains(
            "error: kv/kvsync.yaml:5:14: binding `FLAG` is not in `kv_namespaces` of `../wrangler.jsonc` [env.staging]"
        ),
        "{}",
        human.stderr
    );
    assert!(human.stderr.contains("hint: did you mean `FLAGS`?"), "{}", human.stderr);
    let github = test.run(&["validate", "-c", "kv/kvsync.yaml", "--format", "github"]);
    assert!(
        github.stdout.starts_with("::error file=kv/kvsync.yaml,line=5,col=14"),
        "{}",
        github.stdout
    );
}

/// wrangler.toml and an explicit `wrangler:` path work the same; `plan_tier: free` is accepted.
#[test]
fn toml_and_an_explicit_path() {
    let test = Test::new()
        .file(
            "worker/wrangler.toml",
            "name = \"shop\"\n\n[[env.staging.kv_namespaces]]\nbinding = \"CONFIG\"\nid = \"a1b2c3d4e5f60718293a4b5c6d7e8f90\"\n",
        )
        .file(
            "kvsync.yaml",
            "version: 1\nowner: shop\nplan_tier: free\nnamespaces:\n  config:\n    binding: CONFIG\n    wrangler: worker/wrangler.toml\n    environment: staging\n    keys: {a: b}\n",
        );
    let out = test.run(&["plan", "--target", "local"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stdout.contains("scope `config` (namespace a1b2c3d4e5f60718293a4b5c6d7e8f90, whole namespace)")
            || out.stdout.contains("scope `config` (namespace a1b2c3d4e5f60718293a4b5c6d7e8f90 from binding `CONFIG` in worker/wrangler.toml [env.staging], whole namespace)"),
        "{}",
        out.stdout
    );
}

/// Issue #11: `--env NAME` on a config without `environments:` looks `binding:` scopes up in
/// wrangler's `[env.NAME]`, as `wrangler --env` does; a scope's own `environment:` still wins,
/// and `--preview` picks the binding's `preview_id` as wrangler's `--preview` does.
#[test]
fn env_and_preview_flags_work_as_wranglers() {
    let config = "version: 1\nowner: storefront\nnamespaces:\n  flags:\n    binding: FLAGS\n    \
                  prefix: \"flags/\"\n    keys:\n      flags/banner: \"Welcome!\"\n";
    let test = Test::new().file("wrangler.jsonc", WRANGLER).file("kv/kvsync.yaml", config);
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", "-c", "kv/kvsync.yaml", "--target", "local"];
        args.extend(extra);
        test.run(&args)
    };
    for (extra, id) in [
        (&["--env", "staging"][..], "9a8b7c6d5e4f30211203f4e5d6c7b8a9"),
        (&["--env", "production"][..], "5f4e3d2c1b0a99887766554433221100"),
        (&["--preview"][..], "00000000000000000000000000000001"),
        (&["--preview", "false"][..], "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    ] {
        let out = plan(extra);
        assert_eq!(out.code, 0, "{extra:?}: {}", out.snapshot());
        assert!(
            out.stdout.contains(&format!("scope `flags` (namespace {id}")),
            "{extra:?}: {}",
            out.stdout
        );
    }
    assert!(plan(&["--env", "staging"]).stdout.starts_with("Environment: staging"));
    // The scope's own `environment:` wins over `--env`.
    test.write(
        "kv/kvsync.yaml",
        config.replace("binding: FLAGS\n", "binding: FLAGS\n    environment: production\n"),
    );
    let out = plan(&["--env", "staging"]);
    assert!(
        out.stdout.contains("namespace 5f4e3d2c1b0a99887766554433221100"),
        "{}",
        out.snapshot()
    );
    // A scope's `preview:` and a flag that agrees with it; one that contradicts it is an
    // error naming both, never a silent choice of the other namespace.
    test.write(
        "kv/kvsync.yaml",
        config.replace("binding: FLAGS\n", "binding: FLAGS\n    preview: false\n"),
    );
    let out = plan(&["--preview", "false"]);
    assert!(
        out.stdout.contains("namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        "{}",
        out.snapshot()
    );
    let out = plan(&["--preview"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.starts_with(
            "error: kv/kvsync.yaml:6:14: namespace `flags` sets `preview: false`, but \
             `--preview` asks for the binding's `preview_id`\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "hint: remove `preview:` from the scope to let the flag choose, or run without \
             `--preview`"
        ),
        "{}",
        out.stderr
    );
    test.write(
        "kv/kvsync.yaml",
        config.replace("binding: FLAGS\n", "binding: FLAGS\n    preview: true\n"),
    );
    let out = plan(&["--preview", "false"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.starts_with(
            "error: kv/kvsync.yaml:6:14: namespace `flags` sets `preview: true`, but `--preview \
             false` asks for the binding's `id`\n"
        ),
        "{}",
        out.stderr
    );
    // Without bindings, `--env` on a config without environments is still a mistake.
    test.write(
        "kv/kvsync.yaml",
        config.replace("binding: FLAGS", "namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    );
    let out = plan(&["--env", "staging"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!("env_without_environments_or_bindings", out.snapshot());
}

/// Issue #11: the wrangler config's `account_id` is used when neither the config nor
/// `CLOUDFLARE_ACCOUNT_ID` names the account, as wrangler would.
#[test]
fn the_wrangler_configs_account_id_is_the_last_resort() {
    let standin = kv_standin::Standin::start(kv_standin::Options::default());
    standin.create_namespace("9a8b7c6d5e4f30211203f4e5d6c7b8a9");
    let wrangler = WRANGLER.replace(
        "\"main\": \"src/index.ts\",",
        &format!("\"main\": \"src/index.ts\",\n  \"account_id\": \"{}\",", standin.account_id()),
    );
    let config = "version: 1\nowner: storefront\nnamespaces:\n  flags:\n    binding: FLAGS\n    \
                  keys:\n      banner: \"Welcome!\"\n";
    let test = Test::new()
        .file("wrangler.jsonc", &wrangler)
        .file("kvsync.yaml", config)
        .env("CLOUDFLARE_API_TOKEN", standin.token());
    let url = standin.base_url();
    let out = test.run(&["plan", "--env", "staging", "--api-url", &url]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("Plan: 1 to create"), "{}", out.stdout);
    // Without any, the error says where an account id may come from.
    test.write("wrangler.jsonc", WRANGLER);
    let out = test.run(&["plan", "--env", "staging", "--api-url", &url]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("no Cloudflare account id"), "{}", out.stderr);
    // The environment variable wins over wrangler's config.
    let other = wrangler.replace(standin.account_id(), "023e105f4ecef8ad9ca31a8372d0c999");
    test.write("wrangler.jsonc", &other);
    let test = test.env("CLOUDFLARE_ACCOUNT_ID", standin.account_id());
    let out = test.run(&["plan", "--env", "staging", "--api-url", &url]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

/// A plan saved with `--preview` is applied to the preview namespaces it was made for, without
/// repeating the flag; a different `--preview` at apply time is refused.
#[test]
fn a_saved_plan_remembers_preview() {
    let config = "version: 1\nowner: storefront\nnamespaces:\n  flags:\n    binding: FLAGS\n    \
                  prefix: \"flags/\"\n    keys:\n      flags/banner: \"Welcome!\"\n";
    let test = Test::new().file("wrangler.jsonc", WRANGLER).file("kvsync.yaml", config);
    let plan = test.run(&["plan", "--preview", "--target", "local", "--out", "plan.json"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    let refused = test.run(&["apply", "plan.json", "--preview", "false"]);
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    assert!(
        refused.stderr.contains("the plan was made for `--preview true`, not `--preview false`"),
        "{}",
        refused.stderr
    );
    let apply = test.run(&["apply", "plan.json"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let after = test.run(&["plan", "--preview", "--target", "local", "--detailed-exitcode"]);
    assert_eq!(after.code, 0, "the preview namespace holds the key now: {}", after.snapshot());
}

/// Issue #25: a namespace id the account does not have (code 10013), found through a
/// `binding:`, gets a hint that names the scope and the wrangler file and environment it came
/// from.
#[test]
fn an_unknown_namespace_from_a_binding_names_its_source() {
    let standin = kv_standin::Standin::start(kv_standin::Options::default());
    let test = project()
        .env("CLOUDFLARE_API_TOKEN", standin.token())
        .env("CLOUDFLARE_ACCOUNT_ID", standin.account_id());
    let url = standin.base_url();
    let out = test.run(&["plan", "-c", "kv/kvsync.yaml", "--env", "production", "--api-url", &url]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let hint = out.stderr.lines().find(|l| l.starts_with("hint: ")).expect("a hint");
    assert!(hint.starts_with("hint: scope `flags` takes its namespace id from binding"), "{hint}");
    assert!(hint.contains("wrangler.jsonc"), "{hint}");
    assert!(hint.contains("production"), "{hint}");
}

/// Issue #26: `namespace_title:` finds namespaces nobody wrote the ids of (wrangler's
/// provisioning names them after the Worker), with one namespace listing per run whatever the
/// number of title scopes; a title nobody has is an error at its line naming the near titles;
/// on the local target a title names a namespace of its own, the same from run to run.
#[test]
fn namespace_titles_are_looked_up_with_one_request_per_run() {
    let standin = kv_standin::Standin::start(kv_standin::Options::default());
    let (flags, config_ns) =
        ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "9a8b7c6d5e4f30211203f4e5d6c7b8a9");
    standin.set_title(flags, "storefront-FLAGS");
    standin.set_title(config_ns, "storefront-CONFIG");
    standin.set_title("5f4e3d2c1b0a99887766554433221100", "other-worker-FLAGS");
    let config = "version: 1\nowner: storefront\nnamespaces:\n  flags:\n    namespace_title: \
                  storefront-FLAGS\n    keys:\n      banner: \"Welcome!\"\n  config:\n    \
                  namespace_title: storefront-CONFIG\n    keys:\n      limit: \"3\"\n";
    let test = Test::new()
        .file("kvsync.yaml", config)
        .env("CLOUDFLARE_API_TOKEN", standin.token())
        .env("CLOUDFLARE_ACCOUNT_ID", standin.account_id());
    let url = standin.base_url();
    let out = test.run(&["plan", "--api-url", &url]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stdout.contains(&format!(
            "scope `flags` (namespace {flags} from namespace title `storefront-FLAGS`"
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Plan: 2 to create"), "{}", out.stdout);
    assert_eq!(standin.counts().namespaces, 1, "one listing for both title scopes");
    let apply = test.run(&["apply", "--auto-approve", "--api-url", &url]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert_eq!(standin.keys(flags), ["banner"]);
    assert_eq!(standin.keys(config_ns), ["limit"]);
    let again = test.run(&["plan", "--detailed-exitcode", "--api-url", &url]);
    assert_eq!(again.code, 0, "{}", again.snapshot());

    // Titles are exact: the near ones are named.
    test.write("kvsync.yaml", config.replace("title: storefront-FLAGS", "title: Storefront-Flags"));
    let out = test.run(&["plan", "--api-url", &url]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.starts_with(
            "error: kvsync.yaml:5:22: no namespace has the title `Storefront-Flags`\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("titles are exact; did you mean `storefront-FLAGS`?"),
        "{}",
        out.stderr
    );

    // A target that cannot list its namespaces says why (here: another account).
    let foreign = test.env("CLOUDFLARE_ACCOUNT_ID", "ffffffffffffffffffffffffffffffff");
    let out = foreign.run(&["plan", "--api-url", &url]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.starts_with("error: the Cloudflare API refused `GET …/storage/kv/namespaces`"),
        "{}",
        out.stderr
    );

    // The local target: no request, the same namespace on every run.
    let local = Test::new().file("kvsync.yaml", config);
    let apply = local.run(&["apply", "--auto-approve", "--target", "local"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let id = kvsync::kv::titles::local_id("storefront-FLAGS");
    let plan = local.run(&["plan", "--detailed-exitcode", "--target", "local"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert!(
        plan.stdout.contains(&format!("namespace {id} from namespace title")),
        "{}",
        plan.stdout
    );
}
