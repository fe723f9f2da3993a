//! `kvsync types`: every generated module of the suite is compiled in ONE `tsc --strict`
//! project (the suite's one npm install in `tests/simulator` brings TypeScript and
//! workers-types), with `// @ts-expect-error` probes for what must not compile; the emitted
//! JavaScript is then loaded in node, once, to prove no text of a config ran and that each
//! glob's expression matches exactly the keys kvsync's own matcher does.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use kvsync::config::Globs;

use crate::simulator::{npm_bin, npm_file, provisioned};
use crate::support::{Test, repo};

/// One module of the project: its generated text, and TypeScript files that use it.
struct Case {
    name: String,
    module: String,
    probes: Vec<(String, String)>,
    /// `(glob, key, whether kvsync's matcher matches)`: checked in node through `getMatching`.
    globs: Vec<(String, String, bool)>,
}

impl Case {
    fn new(name: &str, module: String) -> Self {
        Self { name: name.to_owned(), module, probes: Vec::new(), globs: Vec::new() }
    }

    /// A TypeScript file beside the module; `MODULE` in it is the module's import path.
    fn probe(mut self, text: &str) -> Self {
        let file = format!("{}-probe{}", self.name, self.probes.len());
        self.probes.push((file, text.replace("MODULE", &format!("./{}.js", self.name))));
        self
    }
}

/// Runs `kvsync types` for the config at `config` (with the other files) and returns stdout.
fn generate(files: &[(&str, &str)], config: &str) -> String {
    let mut test = Test::new();
    for (path, text) in files {
        test = test.file(path, text);
    }
    let out = test.run(&["types", "-c", config]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    out.stdout
}

/// Compiles every case in one `tsc` run and loads the emitted modules in one node run.
fn compile_and_load(cases: &[Case]) {
    provisioned().expect("the npm packages of tests/simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut names = vec![npm_file("@cloudflare/workers-types/index.d.ts").display().to_string()];
    for case in cases {
        let file = format!("{}.ts", case.name);
        std::fs::write(dir.path().join(&file), &case.module).expect("write a module");
        names.push(file);
        for (name, text) in &case.probes {
            let file = format!("{name}.ts");
            std::fs::write(dir.path().join(&file), text).expect("write a probe");
            names.push(file);
        }
    }
    let config = serde_json::json!({
        "compilerOptions": {
            "strict": true,
            "target": "es2022",
            "module": "es2022",
            "moduleResolution": "bundler",
            "lib": ["es2022"],
            "types": [],
            "skipLibCheck": true,
            "outDir": "out"
        },
        "files": names
    });
    std::fs::write(dir.path().join("tsconfig.json"), config.to_string()).expect("tsconfig");
    let output = Command::new(npm_bin("tsc"))
        .args(["-p", "tsconfig.json"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run tsc");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "tsc --strict:\n{text}");
    std::fs::write(dir.path().join("out/package.json"), r#"{"type":"module"}"#).expect("pkg");
    load_in_node(&dir.path().join("out"), cases);
}

/// Imports every emitted module, reads each listed key through a stand-in namespace, checks
/// every `(glob, key)` through `getMatching`, and asserts the sentinel was never set.
fn load_in_node(out: &Path, cases: &[Case]) {
    let checks: Vec<serde_json::Value> = cases
        .iter()
        .map(|case| {
            serde_json::json!({
                "module": format!("./{}.js", case.name),
                "globs": case.globs.iter().map(|(g, k, m)| serde_json::json!([g, k, m])).collect::<Vec<_>>(),
            })
        })
        .collect();
    let script = format!(
        r#"
const cases = {cases};
const kv = {{
  async get(key) {{ return Array.isArray(key) ? new Map(key.map((k) => [k, null])) : null; }},
  async getWithMetadata() {{ return {{ value: null, metadata: null }}; }},
}};
const env = new Proxy({{}}, {{ get: () => kv }});
const failures = [];
for (const c of cases) {{
  const module = await import(c.module);
  const accessors = Object.values(module).filter((v) => v && typeof v.getMatching === "function");
  for (const accessor of accessors) {{
    for (const [glob, key, expected] of c.globs) {{
      let matched;
      try {{
        await accessor.getMatching(env, glob, key);
        matched = true;
      }} catch (error) {{
        if (!(error instanceof TypeError)) throw error;
        matched = String(error.message).includes("does not match") ? false : "unknown glob";
      }}
      if (matched === "unknown glob") continue;
      if (matched !== expected) failures.push([c.module, glob, key, expected]);
    }}
  }}
}}
// getMany splits at KV's 100 keys per bulk read and answers every key asked for.
const calls = [];
const counting = {{
  async get(key) {{
    calls.push(Array.isArray(key) ? key.length : 1);
    return Array.isArray(key) ? new Map(key.map((k) => [k, null])) : null;
  }},
}};
const {{ flags }} = await import("./feature_flags.js");
const asked = Array.from({{ length: 250 }}, (_, i) => `flags/k${{i}}`);
const many = await flags.getMany(counting, asked);
if (many.size !== 250 || calls.some((n) => n > 100) || calls.length !== 3) {{
  failures.push(["getMany", calls, many.size]);
}}
if (globalThis.__kvsyncInjected !== undefined) failures.push("config text ran as code");
console.log(JSON.stringify(failures));
"#,
        cases = serde_json::Value::Array(checks)
    );
    std::fs::write(out.join("check.mjs"), script).expect("script");
    let output = Command::new("node")
        .arg("check.mjs")
        .current_dir(out)
        .stdin(Stdio::null())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.trim(), "[]", "globs that mean something else in a Worker, or injection");
}

/// The probes of the feature-flags example: what compiles and what must not.
const FLAGS_PROBE: &str = r#"import { flags } from "MODULE";

export async function reads(kv: KVNamespace): Promise<unknown[]> {
  const checkout = await flags.get(kv, "flags/new-checkout", { cacheTtl: 300 });
  const enabled: boolean = checkout?.enabled ?? false;
  const rollout: number = checkout?.rollout ?? 0;
  const banner: string | null = await flags.get(kv, "flags/banner");
  const most: number | null = await flags.get(kv, "flags/max-items");
  const cache: "on" | "off" | null = await flags.get(kv, "flags/warm-cache");
  const regions: string[] | null = await flags.get(kv, "flags/regions");
  const many: Map<"flags/banner" | "flags/max-items", string | number | null> =
    await flags.getMany(kv, ["flags/banner", "flags/max-items"], { cacheTtl: 60 });
  const both = await flags.getWithMetadata(kv, "flags/new-checkout");
  const team: string | undefined = both.metadata?.team;
  const flag: boolean | undefined = both.value?.enabled;
  const matched = await flags.getMatching(kv, "flags/{new-checkout,search-v2,black-friday}", "flags/search-v2");
  const allow: string[] | undefined = matched?.allowlist;

  // @ts-expect-error a misspelt key does not compile
  await flags.get(kv, "flags/new-chekout");
  // @ts-expect-error a value of the wrong type does not compile
  const wrong: string | null = await flags.get(kv, "flags/max-items");
  // @ts-expect-error getMany's Map holds the listed keys' types only
  const other: Map<string, boolean | null> = await flags.getMany(kv, ["flags/banner"]);
  // @ts-expect-error a glob that is not a schema glob
  await flags.getMatching(kv, "flags/*", "flags/x");
  // @ts-expect-error cacheTtl is a number of seconds
  await flags.get(kv, "flags/banner", { cacheTtl: "1h" });
  return [enabled, rollout, banner, most, cache, regions, many, team, flag, allow, wrong, other];
}
"#;

/// The feature-flags example's module is current, compiles with its probes, and every
/// example's module compiles.
fn example_cases() -> Vec<Case> {
    let example = repo().join("examples/feature-flags");
    let check = Test::new().run(&[
        "types",
        "-c",
        &example.join("kvsync.yaml").display().to_string(),
        "--out",
        &example.join("kv-types.ts").display().to_string(),
        "--check",
    ]);
    assert_eq!(check.code, 0, "run `kvsync types` for the example again:\n{}", check.snapshot());
    let module = std::fs::read_to_string(example.join("kv-types.ts")).expect("kv-types.ts");
    let mut cases = vec![Case::new("feature_flags", module).probe(FLAGS_PROBE)];
    for example in ["app-config", "multi-env", "redirects", "shared-namespace", "static-site"] {
        let config = repo().join("examples").join(example).join("kvsync.yaml");
        let out = Test::new().run(&["types", "-c", &config.display().to_string()]);
        assert_eq!(out.code, 0, "{example}: {}", out.snapshot());
        cases.push(Case::new(&example.replace('-', "_"), out.stdout));
    }
    cases
}

/// The README's typed-values example: its config, its schema and its Worker, as written.
fn readme_case() -> Case {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = readme
        .split("### Typed values: `schemas:` and `kvsync types`")
        .nth(1)
        .and_then(|rest| rest.split("\n### ").next())
        .expect("the typed-values section");
    let block = |fence: &str| -> String {
        let start = section.find(&format!("```{fence}\n")).expect(fence) + fence.len() + 4;
        let end = section[start..].find("```").expect("closing fence") + start;
        section[start..end].to_owned()
    };
    let module = generate(
        &[("kvsync.yaml", &block("yaml")), ("schemas/flag.schema.json", &block("json"))],
        "kvsync.yaml",
    );
    let worker = block("ts").replace("\"./kv-types\"", "\"MODULE\"");
    Case::new("readme", module).probe(&worker)
}

/// A `binding:` scope takes the Worker's `env` and reads its binding itself.
fn binding_case() -> Case {
    let wrangler = r#"{ "name": "w", "kv_namespaces": [
      { "binding": "FLAGS", "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0" },
      { "binding": "*/\"]; globalThis.__kvsyncInjected = 1; //", "id": "1f1e2d3c4b5a69788796a5b4c3d2e1f0" }
    ] }"#;
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    binding: FLAGS\n    prefix: \"flags/\"\n    keys:\n      flags/banner: hi\n      flags/n: {value: 3, metadata: {team: growth}}\n  hostile:\n    binding: \"*/\\\"]; globalThis.__kvsyncInjected = 1; //\"\n    prefix: \"h/\"\n    keys:\n      h/a: 1\n";
    let module = generate(&[("wrangler.jsonc", wrangler), ("kvsync.yaml", config)], "kvsync.yaml");
    Case::new("binding", module).probe(
        r#"import { flags } from "MODULE";

interface Env {
  FLAGS: KVNamespace;
  OTHER: KVNamespace;
}

export async function reads(env: Env): Promise<unknown[]> {
  const banner: string | null = await flags.get(env, "flags/banner");
  const n = await flags.getWithMetadata(env, "flags/n");
  const team: string | undefined = n.metadata?.team;
  const marker: unknown = n.metadata?.__kvsync;
  // @ts-expect-error the wrong binding does not compile
  await flags.get({ OTHER: env.OTHER }, "flags/banner");
  // @ts-expect-error nor the namespace itself: the accessor reads `env.FLAGS`
  await flags.get(env.FLAGS, "flags/banner");
  return [banner, team, marker];
}
"#,
    )
}

/// A tree schema with four self-references, a logic schema (`and`/`or`/`not`), a tuple that
/// may be short, and schema files named like globals.
fn schema_cases() -> Vec<Case> {
    let tree = r##"{"$defs": {"node": {"type": "object", "required": ["value"], "properties": {
        "value": {"type": "number"},
        "a": {"$ref": "#/$defs/node"}, "b": {"$ref": "#/$defs/node"},
        "c": {"$ref": "#/$defs/node"}, "d": {"$ref": "#/$defs/node"}},
        "additionalProperties": false}},
      "$ref": "#/$defs/node"}"##;
    let logic = r##"{"$defs": {"expr": {"anyOf": [
        {"type": "boolean"},
        {"type": "object", "properties": {"and": {"type": "array", "items": {"$ref": "#/$defs/expr"}}}, "required": ["and"]},
        {"type": "object", "properties": {"or": {"type": "array", "items": {"$ref": "#/$defs/expr"}}}, "required": ["or"]},
        {"type": "object", "properties": {"not": {"$ref": "#/$defs/expr"}}, "required": ["not"]}]}},
      "$ref": "#/$defs/expr"}"##;
    let config = "version: 1\nowner: web\nnamespaces:\n  t:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"t/\"\n    schemas:\n      t/tree: tree.schema.json\n      t/rule: logic.schema.json\n      t/tuple: {type: array, prefixItems: [{type: number}, {type: string}], items: false}\n      t/p: Promise.json\n      t/k: KVNamespace.json\n      t/r: regexp.json\n      t/m: map.json\n      t/cycle: cycle.json\n      t/pair: {type: array, prefixItems: [{type: number}, {type: string}], minItems: 1}\n    keys:\n      t/tree: {value: {value: 1, a: {value: 2, d: {value: 3}}}}\n      t/rule: {value: {and: [true, {not: false}, {or: [false]}]}}\n      t/tuple: [1]\n      t/p: 1\n      t/k: 2\n      t/r: 3\n      t/m: 4\n      t/cycle: 5\n      t/pair: [1, a, true]\n";
    let number = r#"{"type": "number"}"#;
    // Two parts that name each other outside any object: TypeScript refuses such aliases.
    let cycle = r##"{"type": "number", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "number"}]}}, "$ref": "#/$defs/a"}"##;
    let files = [
        ("kvsync.yaml", config),
        ("tree.schema.json", tree),
        ("logic.schema.json", logic),
        ("Promise.json", number),
        ("KVNamespace.json", number),
        ("regexp.json", number),
        ("map.json", number),
        ("cycle.json", cycle),
    ];
    let module = generate(&files, "kvsync.yaml");
    assert!(module.len() < 50_000, "a fan-out-4 recursive schema: {} bytes", module.len());
    for shadowing in ["type Promise ", "type KVNamespace ", "type RegExp ", "type Map "] {
        assert!(!module.contains(shadowing), "{shadowing}\n{module}");
    }
    let schemas = Case::new("schemas", module).probe(
        r#"import { t, type Tree, type Logic } from "MODULE";

export async function reads(kv: KVNamespace): Promise<unknown[]> {
  const tree: Tree = { value: 1, a: { value: 2, b: { value: 3, c: { value: 4 } } }, d: { value: 5 } };
  // @ts-expect-error a node's value is a number
  const bad: Tree = { value: 1, a: { value: "2" } };
  const rule: Logic = { and: [true, { not: { or: [false, { and: [] }] } }] };
  const tuple = (await t.get(kv, "t/tuple"))!;
  const first: number | undefined = tuple[0];
  // @ts-expect-error a tuple the schema lets be short: its items may be missing
  const second: string = tuple[1];
  const read: Tree | null = await t.get(kv, "t/tree");
  const pair = (await t.get(kv, "t/pair"))!;
  const one: number = pair[0];
  const rest: unknown = pair[2];
  // @ts-expect-error past `minItems`, an item may be missing
  const two: string = pair[1];
  const cycle: unknown = await t.get(kv, "t/cycle");
  return [tree, bad, rule, first, second, read, one, rest, two, cycle];
}
"#,
    );
    vec![schemas]
}

/// With environments, a schema is one alias however many environments use it, and a key's
/// type is the union over them.
fn environments_case() -> Case {
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    schemas:\n      f/a: flag.json\n      f/n: {type: integer}\n    keys:\n      f/a: {value: {on: true}}\n      f/n: 1\n      f/s: text\nenvironments:\n  staging: {}\n  production:\n    namespaces:\n      flags:\n        keys:\n          f/s: {value: 2}\n";
    let flag = r##"{"type": "object", "properties": {"on": {"$ref": "#/$defs/on"}}, "$defs": {"on": {"type": "boolean"}}}"##;
    let module = generate(&[("kvsync.yaml", config), ("flag.json", flag)], "kvsync.yaml");
    assert_eq!(module.matches("export type Flag ").count(), 1, "{module}");
    assert!(!module.contains("Flag2") && !module.contains("FlagOn2"), "{module}");
    assert!(module.contains("  \"f/s\": string;\n"), "text in one, JSON in another: {module}");
    Case::new("environments", module)
}

/// Pieces of hostile names: comment closers, line breaks of every kind, quotes, backticks,
/// `${`, regex and glob syntax, reserved words, global type names, and code.
const HOSTILE: &[&str] = &[
    "*/ globalThis.__kvsyncInjected = 1; /*",
    "\nglobalThis.__kvsyncInjected = 1; //",
    "\r\nglobalThis.__kvsyncInjected = 1;",
    "\u{2028}globalThis.__kvsyncInjected = 1;",
    "\u{2029}globalThis.__kvsyncInjected = 1;",
    "\u{85}x",
    "\"; globalThis.__kvsyncInjected = 1; \"",
    "'; globalThis.__kvsyncInjected = 1; '",
    "`; ${globalThis.__kvsyncInjected = 1}; `",
    "${globalThis.__kvsyncInjected = 1}",
    "/; globalThis.__kvsyncInjected = 1; /",
    "\\",
    "if",
    "export",
    "let",
    "null",
    "Promise",
    "KVNamespace",
    "RegExp",
    "kvsyncReadOf",
    "é",
    "\u{202E}",
    "😀",
];

/// A tiny deterministic generator: the cases are random, and the same in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.next() % items.len() as u64).unwrap_or(0)]
    }
}

/// A YAML double-quoted scalar holding exactly `text`.
fn yaml(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// Configs whose scope, environment, key and glob names are hostile, with nested and
/// overlapping globs at several depths.
fn hostile_cases() -> Vec<Case> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let segments = ["a", "b", "x", "é", "*", "ab"];
    let glob_shapes = [
        "*",
        "**",
        "a/*",
        "a/**",
        "a/b/*",
        "{a,b}/*",
        "[ab]/*",
        "?/*",
        "**/x",
        "a*/b",
        "*/*/*",
        "a/{b,x}/**",
        "[!a]/*",
        "[a-c]*/**",
        "[é]/*",
        "*é*/*",
        "?/?",
        "\\*/*",
        "a/**/x",
    ];
    let mut cases = Vec::new();
    for index in 0..20 {
        let hostile = |rng: &mut Rng| rng.pick(HOSTILE).to_owned();
        let scope = format!("{}{}", hostile(&mut rng), hostile(&mut rng));
        let environment = hostile(&mut rng);
        let mut keys = Vec::new();
        for _ in 0..8 {
            let depth = 1 + rng.next() % 3;
            let mut key = String::from("p/");
            for level in 0..depth {
                if level > 0 {
                    key.push('/');
                }
                if rng.next().is_multiple_of(3) {
                    key.push_str(&hostile(&mut rng));
                } else {
                    key.push_str(rng.pick(&segments));
                }
            }
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let mut globs: Vec<String> = Vec::new();
        for _ in 0..5 {
            let glob = format!("p/{}", rng.pick(&glob_shapes));
            if !globs.contains(&glob) {
                globs.push(glob);
            }
        }
        // One glob with hostile literal text, escaped for the glob syntax.
        let literal: String = hostile(&mut rng)
            .chars()
            .flat_map(|c| {
                let escape = "*?[]{}\\".contains(c);
                escape.then_some('\\').into_iter().chain(std::iter::once(c))
            })
            .collect();
        globs.push(format!("p/{literal}/*"));
        keys.push(format!("p/{}/k", hostile(&mut rng)));
        let matcher =
            |glob: &str, key: &str| Globs::new(&[glob.to_owned()]).is_ok_and(|g| g.is_match(key));
        let mut yaml_text = format!(
            "version: 1\nowner: web\nnamespaces:\n  {}:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"p/\"\n    schemas:\n",
            yaml(&scope)
        );
        for glob in &globs {
            let _ = writeln!(yaml_text, "      {}: {{type: integer}}", yaml(glob));
        }
        yaml_text.push_str("    keys:\n");
        for (n, key) in keys.iter().enumerate() {
            let typed = globs.iter().any(|glob| matcher(glob, key));
            let value = if typed { n.to_string() } else { format!("{{value: {{k: {n}}}}}") };
            let _ = writeln!(yaml_text, "      {}: {value}", yaml(key));
        }
        let _ = writeln!(yaml_text, "environments:\n  {}: {{}}", yaml(&environment));
        let out = Test::new().file("kvsync.yaml", &yaml_text).run(&["types"]);
        assert_eq!(out.code, 0, "{yaml_text}\n{}", out.snapshot());
        let mut case = Case::new(&format!("hostile{index}"), out.stdout);
        // Every glob against every key and some that only nearly match.
        let mut probes = keys.clone();
        probes.extend(
            ["p/a", "p/a/b", "p/a/b/c/x", "p//x", "p/a\n/b", "p/é", "q/a/b"].map(str::to_owned),
        );
        for glob in &globs {
            for key in &probes {
                case.globs.push((glob.clone(), key.clone(), matcher(glob, key)));
            }
        }
        cases.push(case);
    }
    cases
}

/// Every module of the suite, compiled in one project, loaded in node once.
#[test]
fn generated_modules_compile_under_strict_and_never_run_config_text() {
    let mut cases = example_cases();
    cases.push(readme_case());
    cases.push(binding_case());
    cases.extend(schema_cases());
    cases.push(environments_case());
    cases.extend(hostile_cases());
    cases.push(large_case());
    compile_and_load(&cases);
}

/// A scope above the listing cap is written in the compact form, and `types` says so.
fn large_case() -> Case {
    let mut config = String::from(
        "version: 1\nowner: web\nnamespaces:\n  big:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"b/\"\n    keys:\n",
    );
    for i in 0..10_001 {
        let value = match i % 3 {
            0 => format!("{{value: {{n: {i}}}}}"),
            1 => format!("\"text {i}\""),
            _ => i.to_string(),
        };
        let _ = writeln!(config, "      b/g{}/k{i}: {value}", i % 50);
    }
    let test = Test::new().file("kvsync.yaml", config);
    let out = test.run(&["types"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("namespace `big` has 10001 keys"), "{}", out.stderr);
    assert!(out.stdout.len() < 20_000, "{} bytes", out.stdout.len());
    assert!(out.stdout.contains("[key: `b/g0/${string}`]: string;"), "mixed reads give text");
    Case::new("large", out.stdout).probe(
        r#"import { big } from "MODULE";

export async function reads(kv: KVNamespace): Promise<unknown[]> {
  const text: string | null = await big.get(kv, "b/g7/k7");
  // @ts-expect-error in the compact form a key's group prefix is still checked
  await big.get(kv, "b/elsewhere/k7");
  return [text];
}
"#,
    )
}

/// `--check` exits 2 for a stale or missing file and writes nothing; `--out` writes it.
#[test]
fn check_fails_on_a_stale_file_and_out_writes_it() {
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    schemas:\n      \"f/n/*\": {type: integer}\n    keys:\n      f/a: hello\n      f/n/b: 3\n";
    let test = Test::new().file("kvsync.yaml", config);
    let missing = test.run(&["types", "--out", "kv.ts", "--check"]);
    assert_eq!(missing.code, 2, "{}", missing.snapshot());
    assert!(missing.stderr.contains("`kv.ts` does not exist"), "{}", missing.snapshot());
    assert!(!test.path().join("kv.ts").exists());

    let written = test.run(&["types", "--out", "kv.ts"]);
    assert_eq!(written.code, 0, "{}", written.snapshot());
    let module = std::fs::read_to_string(test.path().join("kv.ts")).expect("written");
    assert!(module.contains("  \"f/a\": string;\n"), "{module}");
    assert!(module.contains("  \"f/n/b\": FN;\n"), "every desired key is listed: {module}");
    assert!(module.contains("  \"f/n/*\": FN;\n"), "{module}");
    assert_eq!(test.run(&["types", "--out", "kv.ts", "--check"]).code, 0);

    std::fs::write(test.path().join("kv.ts"), format!("{module}// edited\n")).expect("edit");
    let stale = test.run(&["types", "--out", "kv.ts", "--check"]);
    assert_eq!(stale.code, 2, "{}", stale.snapshot());
    assert!(
        stale.stderr.contains("`kv.ts` is stale: run `kvsync types --out kv.ts`"),
        "{}",
        stale.snapshot()
    );
    let usage = test.run(&["types", "--check"]);
    assert_eq!(usage.code, 1, "a usage error: {}", usage.snapshot());
    assert!(usage.stderr.contains("--out <FILE>"), "{}", usage.snapshot());
}

/// A sensitive value that breaks its schema shows no part of itself (its object keys in a
/// pointer, a quoted value or property name) in human, JSON or GitHub output.
#[test]
fn a_sensitive_value_is_never_shown_in_any_output() {
    let config = "version: 1\nowner: web\nnamespaces:\n  s:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"s/\"\n    schemas:\n      s/a: {type: object, additionalProperties: false}\n      s/b: {type: object, propertyNames: {pattern: \"^x\"}}\n      s/c: {type: object, additionalProperties: {type: integer, maximum: 1}}\n    keys:\n      s/a: ${SECRET}\n      s/b: ${SECRET}\n      s/c: ${SECRET}\n";
    let test = Test::new()
        .file("kvsync.yaml", config)
        .env("SECRET", r#"{"tok_live_9f8e": "tok_live_9f8e_value"}"#);
    for format in ["human", "json", "github"] {
        let out = test.run(&["validate", "--format", format]);
        assert_eq!(out.code, 1, "{}", out.snapshot());
        assert!(!out.snapshot().contains("tok_live"), "{format}: {}", out.snapshot());
        assert!(out.snapshot().contains("additionalProperties"), "{format}: {}", out.snapshot());
    }
}
