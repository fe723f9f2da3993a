//! ARCHITECTURE.md's dependency arrows, checked: each top-level module may name only the modules
//! below it. A test reads the production code of every file under `src/` (a file's test module
//! is left out: tests may build data from anywhere) and fails on any `crate::` path that points
//! the wrong way, naming the file.

use std::path::{Path, PathBuf};

/// What each module may import from the crate (besides itself); a module missing here may not
/// be imported by any module listed. `error` and `cli` sit at the top and may import anything.
/// `fs` (the one atomic writer) sits just above `text` (its errors give hints through
/// [`crate::text::Hint`]): every layer may write a file.
const ALLOWED: &[(&str, &[&str])] = &[
    ("text", &[]),
    ("content", &[]),
    ("env_vars", &[]),
    ("fs", &["text"]),
    ("config", &["content", "env_vars", "kv", "text", "fs"]),
    ("kv", &["content", "env_vars", "text", "fs"]),
    ("plan", &["content", "config", "kv", "text"]),
    ("apply", &["content", "config", "kv", "plan", "env_vars", "text", "fs"]),
    ("report", &["content", "config", "kv", "plan", "apply", "env_vars", "text", "fs"]),
    ("saved", &["content", "config", "kv", "plan", "apply", "report", "env_vars", "text", "fs"]),
    ("types", &["content", "config", "text", "fs"]),
];

/// Paths a renderer may not name even though `kv` is allowed: renderers format data and never
/// call a store.
const STORE_PATHS: &[&str] = &[
    "kv::local",
    "kv::cloudflare",
    "kv::KvStore",
    "kv::token",
    "kv::retry",
    "kv::list_all",
    "kv::read",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("src is readable");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's production code: without its `#[cfg(test)] mod tests` and without comments.
fn production(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path into the crate that `code` names, as the text after `crate::` up to the end of
/// the path: `crate::` paths, grouped imports (`use crate::{config::Desired, kv::{self, X}}` is
/// `config::Desired`, `kv::self` and `kv::X`), and `super::` chains that climb out of the
/// file's top-level module (from `src/plan/drift.rs`, whose `module_path` is `["plan",
/// "drift"]`, `super::super::kv::X` is `kv::X`).
fn crate_paths(module_path: &[&str], code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (at, found) in code.match_indices("crate::") {
        // Not a longer identifier ending in `crate` (such as `kvsync_crate::`).
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        expand("", &code[at + found.len()..], &mut paths);
    }
    let mut rest = code;
    while let Some(at) = rest.find("super::") {
        let before = &rest[..at];
        let chain_start = rest[at..].as_ptr() as usize - code.as_ptr() as usize;
        rest = &rest[at + "super::".len()..];
        // Only the first `super` of a chain counts, and not `…_super::`.
        if before.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut tail = &code[chain_start + "super::".len()..];
        let mut climbs = 1;
        while let Some(next) = tail.strip_prefix("super::") {
            climbs += 1;
            tail = next;
        }
        // A `mod.rs` is its folder's module; any other file is one level below it.
        if climbs >= module_path.len() {
            expand("", tail, &mut paths);
        }
    }
    paths
}

/// Adds the paths that `rest` (the text after a `crate::`) names, each behind `prefix`.
fn expand(prefix: &str, rest: &str, out: &mut Vec<String>) {
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0usize;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    item(prefix, &group[start..i], out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    item(prefix, &group[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let end =
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
    let path = rest[..end].trim_end_matches(':');
    if rest[end..].starts_with('{') && rest[..end].ends_with("::") {
        expand(&format!("{prefix}{path}::"), &rest[end..], out);
    } else if !path.is_empty() {
        out.push(format!("{prefix}{path}"));
    }
}

/// One item of a group: a path, maybe with a group of its own, maybe renamed (`as`).
fn item(prefix: &str, text: &str, out: &mut Vec<String>) {
    let text = text.trim();
    if !text.is_empty() {
        expand(prefix, text, out);
    }
}

/// The problems with one file's imports: `module` is its top-level module.
fn wrong_arrows(module_path: &[&str], code: &str) -> Vec<String> {
    let module = module_path.first().copied().unwrap_or_default();
    let Some((_, allowed)) = ALLOWED.iter().find(|(name, _)| *name == module) else {
        return Vec::new();
    };
    let mut wrong = Vec::new();
    for path in crate_paths(module_path, code) {
        let target = path.split("::").next().unwrap_or_default();
        if target == module || target.is_empty() {
            continue;
        }
        if !allowed.contains(&target) {
            wrong.push(format!("`{module}` imports `crate::{path}`"));
        } else if module == "report" && STORE_PATHS.iter().any(|store| path.starts_with(store)) {
            wrong.push(format!("the renderers name a store: `crate::{path}`"));
        }
    }
    wrong
}

/// The module a file under `src/` is: `plan/drift.rs` is `["plan", "drift"]`, `plan/mod.rs`
/// is `["plan"]`, `layering.rs` is `["layering"]`.
fn module_path(relative: &Path) -> Vec<&str> {
    let mut path: Vec<&str> = relative
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .map(|name| name.trim_end_matches(".rs"))
        .collect();
    if path.len() > 1 && path.last() == Some(&"mod") {
        path.pop();
    }
    path
}

#[test]
fn every_arrow_points_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let module_path = module_path(relative);
        // A module's test-only files (`config/tests.rs`) are tests.
        if relative.file_name().is_some_and(|name| name == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file");
        for problem in wrong_arrows(&module_path, &production(&text)) {
            wrong.push(format!("{}: {problem}", relative.display()));
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    assert!(wrong.is_empty(), "arrows that point the wrong way:\n{}", wrong.join("\n"));
}

/// Calls that write a file other than through `crate::fs` (ARCHITECTURE.md: every file kvsync
/// writes goes through the one atomic writer). `crate::fs::write` is told apart by its prefix.
const RAW_WRITES: &[&str] = &[
    "fs::write(",
    "fs_err::write(",
    "File::create(",
    "fs::rename(",
    "fs_err::rename(",
    "OpenOptions::new(",
    "fs::copy(",
    "fs_err::copy(",
];

/// The raw writes in one file's production code.
fn raw_writes(code: &str) -> Vec<&'static str> {
    RAW_WRITES
        .iter()
        .copied()
        .filter(|call| code.match_indices(call).any(|(at, _)| !code[..at].ends_with("crate::")))
        .collect()
}

/// Whether the file's module is declared for tests only: `#[cfg(test)]` on the line before
/// `mod NAME;` in its parent (`config/edit/mod.rs` declares `property`).
fn declared_for_tests(src: &Path, relative: &Path) -> bool {
    let Some(name) = relative.file_stem().and_then(|stem| stem.to_str()) else { return false };
    let Some(folder) = relative.parent().filter(|folder| !folder.as_os_str().is_empty()) else {
        return false;
    };
    let parents = [src.join(folder).join("mod.rs"), src.join(folder).with_extension("rs")];
    let declaration = format!("#[cfg(test)]\nmod {name};");
    parents
        .iter()
        .any(|parent| std::fs::read_to_string(parent).is_ok_and(|text| text.contains(&declaration)))
}

#[test]
fn every_file_is_written_through_the_atomic_writer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let test_only = relative.file_name().is_some_and(|name| {
            name == "tests.rs" || name.to_string_lossy().ends_with("_tests.rs")
        }) || declared_for_tests(&src, relative);
        if relative.starts_with("fs") || relative == Path::new("layering.rs") || test_only {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file");
        for call in raw_writes(&production(&text)) {
            wrong.push(format!("{}: `{call}`", relative.display()));
        }
    }
    assert!(wrong.is_empty(), "files written around `crate::fs`:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_a_wrong_arrow() {
    assert_eq!(raw_writes("fs_err::write(&out, text)?;"), ["fs_err::write("]);
    assert!(raw_writes("crate::fs::write(out, bytes, root)?;").is_empty());
    assert_eq!(raw_writes("std::fs::write(&out, text)?;"), ["fs::write("]);
    let code = "use crate::plan::hash::ContentHash;\nfn f() { crate::apply::run(); }";
    assert_eq!(wrong_arrows(&["config"], code).len(), 2);
    assert_eq!(
        wrong_arrows(&["report"], "use crate::kv::local::LocalStore;"),
        ["the renderers name a store: `crate::kv::local::LocalStore`"]
    );
    assert!(wrong_arrows(&["report"], "use crate::kv::LiveValue;").is_empty());
    assert!(wrong_arrows(&["plan"], "use crate::kv::ListedKey;").is_empty());
    assert_eq!(wrong_arrows(&["kv"], "crate::plan::Plan"), ["`kv` imports `crate::plan::Plan`"]);
    assert_eq!(
        wrong_arrows(&["fs"], "crate::config::load"),
        ["`fs` imports `crate::config::load`"]
    );
    assert!(wrong_arrows(&["saved"], "crate::fs::write(path, bytes, root)").is_empty());
    // The pure engine writes no file.
    assert_eq!(wrong_arrows(&["plan"], "crate::fs::write"), ["`plan` imports `crate::fs::write`"]);
    assert_eq!(production("// crate::cli::x\nfn a() {}"), "fn a() {}");
    assert_eq!(
        production("use crate::kv::X;\n#[cfg(test)]\nmod tests { use crate::cli::Y; }"),
        "use crate::kv::X;"
    );
}

#[test]
fn the_check_reads_grouped_imports_and_super_chains() {
    let grouped = "use crate::{\n    content::Expiration,\n    kv::{self, local::LocalStore},\n    plan as p,\n};";
    assert_eq!(
        crate_paths(&["report", "human"], grouped),
        ["content::Expiration", "kv::self", "kv::local::LocalStore", "plan"]
    );
    assert_eq!(
        wrong_arrows(&["kv", "read"], "use crate::{content::BOM, plan::{Plan, drift}};"),
        ["`kv` imports `crate::plan::Plan`", "`kv` imports `crate::plan::drift`"]
    );
    assert_eq!(
        wrong_arrows(&["report", "human"], grouped),
        ["the renderers name a store: `crate::kv::local::LocalStore`"]
    );
    // From `src/kv/local.rs`, `super::` is `kv` itself; `super::super::` is the crate.
    assert!(wrong_arrows(&["kv", "local"], "use super::{Error, refusal};").is_empty());
    assert_eq!(
        wrong_arrows(&["kv", "local"], "use super::super::plan::Plan;"),
        ["`kv` imports `crate::plan::Plan`"]
    );
    assert_eq!(
        wrong_arrows(&["kv", "cloudflare", "stats"], "use super::super::super::{cli::Printer};"),
        ["`kv` imports `crate::cli::Printer`"]
    );
    // From a `mod.rs`, one `super::` is the crate already.
    assert_eq!(
        wrong_arrows(&["kv"], "fn f() { super::apply::run() }"),
        ["`kv` imports `crate::apply::run`"]
    );
    assert!(wrong_arrows(&["kv", "local"], "fn f() { my_super::apply(); }").is_empty());
    assert_eq!(module_path(Path::new("plan/mod.rs")), ["plan"]);
    assert_eq!(module_path(Path::new("kv/cloudflare/stats.rs")), ["kv", "cloudflare", "stats"]);
}
