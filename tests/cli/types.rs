use std::process::{Command, Stdio};

use crate::simulator::{npm_bin, npm_file, provisioned};
use crate::support::{Test, repo};

/// Compiles `files` (written into a fresh folder beside the generated module) with
/// `tsc --strict --noEmit` against @cloudflare/workers-types; returns tsc's exit success and
/// its output.
fn tsc(module: &str, files: &[(&str, &str)]) -> (bool, String) {
    provisioned().expect("the npm packages of tests/simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kv-types.ts"), module).expect("write the module");
    let mut names = vec![
        npm_file("@cloudflare/workers-types/index.d.ts").display().to_string(),
        "kv-types.ts".to_owned(),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write a sample");
        names.push((*name).to_owned());
    }
    let config = serde_json::json!({
        "compilerOptions": {
            "strict": true,
            "noEmit": true,
            "target": "es2022",
            "module": "es2022",
            "moduleResolution": "bundler",
            "allowImportingTsExtensions": true,
            "lib": ["es2022"],
            "types": [],
            "skipLibCheck": true
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
    (output.status.success(), text)
}

const WORKER: &str = r#"import { flags } from "./kv-types.ts";

export default {
  async fetch(_request: Request, env: { FLAGS: KVNamespace }): Promise<Response> {
    const checkout = await flags.get(env.FLAGS, "flags/new-checkout");
    const enabled: boolean = checkout?.enabled ?? false;
    const rollout: number = checkout?.rollout ?? 0;
    const allow: string[] = (await flags.get(env.FLAGS, "flags/search-v2"))?.allowlist ?? [];
    const banner: string | null = await flags.get(env.FLAGS, "flags/banner");
    const most: number | null = await flags.get(env.FLAGS, "flags/max-items");
    const cache: "on" | "off" | null = await flags.get(env.FLAGS, "flags/warm-cache");
    const regions: string[] | null = await flags.get(env.FLAGS, "flags/regions");
    return new Response(JSON.stringify({ enabled, rollout, allow, banner, most, cache, regions }));
  },
};
"#;

const WRONG: &str = r#"import { flags } from "./kv-types.ts";

export async function wrong(kv: KVNamespace): Promise<string> {
  const checkout = await flags.get(kv, "flags/new-checkout");
  const rollout: string = checkout!.rollout!;
  return rollout;
}
"#;

const UNKNOWN_KEY: &str = r#"import { flags } from "./kv-types.ts";

export async function typo(kv: KVNamespace): Promise<unknown> {
  return flags.get(kv, "flags/new-chekout");
}
"#;

#[test]
fn the_feature_flags_types_are_current_and_compile_under_strict() {
    let example = repo().join("examples/feature-flags");
    let test = Test::new();
    let config = example.join("kvsync.yaml");
    let check = test.run(&[
        "types",
        "-c",
        &config.display().to_string(),
        "--out",
        &example.join("kv-types.ts").display().to_string(),
        "--check",
    ]);
    assert_eq!(check.code, 0, "run `kvsync types` for the example again:\n{}", check.snapshot());
    let module = std::fs::read_to_string(example.join("kv-types.ts")).expect("kv-types.ts");

    let (ok, output) = tsc(&module, &[("worker.ts", WORKER)]);
    assert!(ok, "the sample Worker must type-check:\n{output}\n{module}");
    let (ok, output) = tsc(&module, &[("wrong.ts", WRONG)]);
    assert!(!ok, "a flag assigned to the wrong type must not compile");
    assert!(output.contains("wrong.ts(5,"), "{output}");
    assert!(output.contains("Type 'number' is not assignable to type 'string'"), "{output}");
    let (ok, output) = tsc(&module, &[("typo.ts", UNKNOWN_KEY)]);
    assert!(!ok, "a key the config does not declare must not compile");
    assert!(output.contains("flags/new-chekout"), "{output}");
}

/// Every example's types compile: environments (a union), several scopes, globs and files.
#[test]
fn every_example_s_types_compile() {
    for example in ["app-config", "multi-env", "redirects", "shared-namespace", "static-site"] {
        let config = repo().join("examples").join(example).join("kvsync.yaml");
        let out = Test::new().run(&["types", "-c", &config.display().to_string()]);
        assert_eq!(out.code, 0, "{example}: {}", out.snapshot());
        let (ok, output) = tsc(&out.stdout, &[]);
        assert!(ok, "{example}:\n{output}\n{}", out.stdout);
    }
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
    assert!(module.contains("  [key: `f/n/${string}`]: FN;\n"), "{module}");
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

/// A hundred thousand keys (no schema) and a scope under one glob stay a small file that
/// compiles: keys are typed per group beyond a thousand.
#[test]
fn a_large_scope_is_typed_per_group_and_compiles() {
    let mut config = String::from(
        "version: 1\nowner: web\nnamespaces:\n  big:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"b/\"\n    keys:\n",
    );
    for i in 0..100_000 {
        let value = match i % 3 {
            0 => format!("{{value: {{n: {i}}}}}"),
            1 => format!("\"text {i}\""),
            _ => i.to_string(),
        };
        config.push_str(&format!("      b/g{}/k{i}: {value}\n", i % 50));
    }
    let test = Test::new().file("kvsync.yaml", config);
    let out = test.run(&["types"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.len() < 1_000_000, "{} bytes", out.stdout.len());
    assert!(out.stdout.contains("[key: `b/g0/${string}`]: string;"), "mixed reads give text");
    let (ok, output) = tsc(&out.stdout, &[]);
    assert!(ok, "{output}");
}
