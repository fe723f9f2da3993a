//! ARCHITECTURE.md's dependency arrows, checked: each top-level module may name only the modules
//! below it. A test reads the production code of every file under `src/` (a file's test module
//! is left out: tests may build data from anywhere) and fails on any `crate::` path that points
//! the wrong way, naming the file.

use std::path::{Path, PathBuf};

/// What each module may import from the crate (besides itself); a module missing here may not
/// be imported by any module listed. `error` and `cli` sit at the top and may import anything.
/// `fs` (the one atomic writer) is a leaf like `content`: every layer may write a file.
const ALLOWED: &[(&str, &[&str])] = &[
    ("content", &[]),
    ("env_vars", &[]),
    ("fs", &[]),
    ("config", &["content", "env_vars", "fs"]),
    ("kv", &["content", "env_vars", "fs"]),
    ("plan", &["content", "config", "kv"]),
    ("apply", &["content", "config", "kv", "plan", "env_vars", "fs"]),
    ("report", &["content", "config", "kv", "plan", "apply", "env_vars", "fs"]),
    ("saved", &["content", "config", "kv", "plan", "apply", "report", "env_vars", "fs"]),
    ("types", &["content", "config", "fs"]),
];

/// Paths a renderer may not name even though `kv` is allowed: renderers format data and never
/// call a store.
const STORE_PATHS: &[&str] =
    &["kv::local", "kv::cloudflare", "kv::KvStore", "kv::token", "kv::retry", "kv::list_all"];

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

/// Every `crate::name…` path in `code`, as the text after `crate::` up to the end of the path.
fn crate_paths(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // Not a longer identifier ending in `crate` (such as `kvsync_crate::`).
            !code[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
        })
        .map(|(at, found)| {
            let rest = &code[at + found.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches(':').to_owned()
        })
        .collect()
}

/// The problems with one file's imports: `module` is its top-level module.
fn wrong_arrows(module: &str, code: &str) -> Vec<String> {
    let Some((_, allowed)) = ALLOWED.iter().find(|(name, _)| *name == module) else {
        return Vec::new();
    };
    let mut wrong = Vec::new();
    for path in crate_paths(code) {
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

#[test]
fn every_arrow_points_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let module = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs");
        // A module's test-only files (`config/tests.rs`) are tests.
        if relative.file_name().is_some_and(|name| name == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file");
        for problem in wrong_arrows(module, &production(&text)) {
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
        });
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
    let code = "use crate::plan::hash::ContentHash;\nfn f() { crate::kv::local::open(); }";
    assert_eq!(wrong_arrows("config", code).len(), 2);
    assert_eq!(
        wrong_arrows("report", "use crate::kv::local::LocalStore;"),
        ["the renderers name a store: `crate::kv::local::LocalStore`"]
    );
    assert!(wrong_arrows("report", "use crate::kv::LiveValue;").is_empty());
    assert!(wrong_arrows("plan", "use crate::kv::ListedKey;").is_empty());
    assert_eq!(wrong_arrows("kv", "crate::plan::Plan"), ["`kv` imports `crate::plan::Plan`"]);
    assert_eq!(wrong_arrows("fs", "crate::config::load"), ["`fs` imports `crate::config::load`"]);
    assert!(wrong_arrows("saved", "crate::fs::write(path, bytes, root)").is_empty());
    // The pure engine writes no file.
    assert_eq!(wrong_arrows("plan", "crate::fs::write"), ["`plan` imports `crate::fs::write`"]);
    assert_eq!(production("// crate::cli::x\nfn a() {}"), "fn a() {}");
    assert_eq!(
        production("use crate::kv::X;\n#[cfg(test)]\nmod tests { use crate::cli::Y; }"),
        "use crate::kv::X;"
    );
}
