//! kvsync's benchmarks (the performance targets of docs/spec.md).
//!
//! For each size N: writes a desired state of N keys as YAML (a root config including a few
//! hundred key files and a folder of `file:` values), starts the Cloudflare stand-in with a
//! per-page list latency, seeds the live namespace exactly as `kvsync apply` would have written
//! it (markers computed with kvsync's own hash), and runs the release `kvsync` binary as a child
//! process for (a) a plan without changes, (b) a plan with 1 % changed, 1 % added and 1 %
//! removed, (c) the apply of (b), (d) validate, (h) `diff --live` of two environments whose
//! namespaces hold the same N keys (the second seeded for that row) and (i) a pull of one hand
//! edit (its whole-result check included). Each row shows the requests by kind (as the
//! stand-in counted them), wall time, kvsync's CPU time and peak RSS (from `wait4`, through a
//! small launcher process so that the bench's own memory does not count), beside the
//! floor: the request counts of DESIGN.md §9 and the time a minimal client needs to list the
//! same pages from the same server. The targets are checked and reported, never asserted.
//!
//! ```text
//! cargo run --release -p kvsync-bench -- [--sizes 10k,100k,1M] [--latency-ms 15]
//! ```

mod child;
mod floor;
mod report;
mod state;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;
use kv_standin::{Options, RateLimit, Standin};

use child::Measured;
use floor::{Requests, Scenario, floor_requests, list_floor};
use report::{Row, thousands};
use state::{Changes, Desired, Variant};

/// The namespace every generated config points at.
const NAMESPACE: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// The second environment's namespace of row (h), `diff --live`.
const SECOND_NAMESPACE: &str = "1f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// Row (h)'s config: the config of (a) with two environments, the second on [`SECOND_NAMESPACE`].
const ENVIRONMENTS_ROOT: &str = "kvsync-environments.yaml";

/// The key whose metadata row (i) edits live (not a `file:` value).
const HAND_EDITED: usize = 1;
/// Sizes above this run `--repeat-large` times instead of `--repeat`.
const LARGE: u64 = 100_000;

/// Benchmarks kvsync against the local Cloudflare stand-in and prints a Markdown table.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Keys in the namespace, comma-separated; `k` and `M` suffixes are allowed.
    #[arg(long, value_delimiter = ',', value_parser = parse_size, default_value = "10000,100000,1000000")]
    sizes: Vec<u64>,
    /// The stand-in's wait before answering each list page, in milliseconds.
    #[arg(long, default_value_t = 15)]
    latency_ms: u64,
    /// Runs of each command (and of the floor client) for sizes up to 100,000; the run with the
    /// median wall time is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Runs of each command for sizes above 100,000.
    #[arg(long, default_value_t = 1)]
    repeat_large: usize,
    /// The `kvsync` binary to measure. Default: `kvsync` next to this binary, built first (in
    /// the same profile) when the bench was started by `cargo run`.
    #[arg(long)]
    kvsync: Option<PathBuf>,
    /// Where the generated configs go (default: the system's temporary folder).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the generated configs instead of deleting them.
    #[arg(long)]
    keep: bool,
    /// For profiling: generate and seed the first size only, print how to point kvsync at it,
    /// and serve until stdin is closed (Ctrl-D) or the process is stopped. Measures nothing.
    #[arg(long)]
    serve: bool,
}

fn main() -> ExitCode {
    let mut raw = std::env::args_os().skip(1);
    if raw.next().as_deref() == Some(std::ffi::OsStr::new(child::LAUNCHER_FLAG)) {
        let (Some(report), Some(program)) = (raw.next(), raw.next()) else {
            eprintln!("kvsync-bench: {} needs a report file and a program", child::LAUNCHER_FLAG);
            return ExitCode::FAILURE;
        };
        let args: Vec<_> = raw.collect();
        return match child::launch(Path::new(&report), &program, &args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("kvsync-bench: cannot run `{}`: {error}", program.to_string_lossy());
                ExitCode::FAILURE
            }
        };
    }
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kvsync-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.serve {
        return serve(args);
    }
    let kvsync = kvsync_binary(args.kvsync.as_deref())?;
    let version = Command::new(&kvsync)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .map_err(|e| format!("cannot run `{}`: {e}", kvsync.display()))?;
    let latency = Duration::from_millis(args.latency_ms);
    let machine = machine();
    eprintln!("{version} at {}; {machine}", kvsync.display());
    let mut rows = Vec::new();
    for &n in &args.sizes {
        let repeat = if n > LARGE { args.repeat_large } else { args.repeat }.max(1);
        let started = Instant::now();
        rows.extend(bench_size(args, &kvsync, n, latency, repeat)?);
        eprintln!("== {} keys done in {}", thousands(n), report::duration(started.elapsed()));
    }
    println!("{version}, stand-in list latency {} ms per page; {machine}\n", latency.as_millis());
    print!("{}", report::table(&rows));
    println!();
    for verdict in report::verdicts(&rows, args.latency_ms) {
        println!("{}", verdict.line());
    }
    Ok(())
}

/// `--serve`: the seeded stand-in and both configs of the first size, for runs by hand.
fn serve(args: &Args) -> Result<(), String> {
    let n = *args.sizes.first().ok_or("no size given")?;
    let size = usize::try_from(n).map_err(|_| format!("{n} keys do not fit this machine"))?;
    let work = work_dir(args, n)?.keep();
    let (same, _) = state::write_config(&work.join("same"), NAMESPACE, size, Desired::Same)
        .map_err(|e| format!("cannot write the config: {e}"))?;
    let (edited, _) = state::write_config(&work.join("edited"), NAMESPACE, size, Desired::Edited)
        .map_err(|e| format!("cannot write the config: {e}"))?;
    let standin = seeded(size, Duration::from_millis(args.latency_ms))?;
    println!(
        "export CLOUDFLARE_API_BASE_URL={}\nexport CLOUDFLARE_API_TOKEN={}\nexport CLOUDFLARE_ACCOUNT_ID={}\n\
         # no changes: {}\n# 1 % changed, added, removed (applying it changes the namespace): {}\n\
         # serving until stdin closes",
        standin.base_url(),
        standin.token(),
        standin.account_id(),
        same.display(),
        edited.display()
    );
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    drop(standin);
    Ok(())
}

fn work_dir(args: &Args, n: u64) -> Result<tempfile::TempDir, String> {
    let prefix = format!("kvsync-bench-{n}-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    match &args.work_dir {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .map_err(|e| format!("cannot create a work folder: {e}"))
}

/// Everything measured at one size.
fn bench_size(
    args: &Args,
    kvsync: &Path,
    n: u64,
    latency: Duration,
    repeat: usize,
) -> Result<Vec<Row>, String> {
    let size = usize::try_from(n).map_err(|_| format!("{n} keys do not fit this machine"))?;
    let work = work_dir(args, n)?;
    let step = Instant::now();
    let (same, same_files) =
        state::write_config(&work.path().join("same"), NAMESPACE, size, Desired::Same)
            .map_err(|e| format!("cannot write the config: {e}"))?;
    let (edited, edited_files) =
        state::write_config(&work.path().join("edited"), NAMESPACE, size, Desired::Edited)
            .map_err(|e| format!("cannot write the config: {e}"))?;
    eprintln!(
        "== {} keys: wrote {} + {} files under {} in {}",
        thousands(n),
        same_files,
        edited_files,
        work.path().display(),
        report::duration(step.elapsed())
    );
    let changes = Changes::for_size(size);
    let mut standin = seeded(size, latency)?;

    // One untimed run first, so every timed run finds the binary and the YAML in the page cache.
    let warm = kvsync_run(kvsync, &standin, &["validate", "-c"], &same)?;
    check(Scenario::Validate, &warm, n, &changes)?;

    let mut floors = Vec::new();
    for _ in 0..repeat {
        floors.push(floor_listing(&standin)?);
    }
    floors.sort();
    let floor_list = floors[floors.len() / 2];
    eprintln!("   floor listing: {}", report::duration(floor_list));

    let mut rows = Vec::new();
    let plan_same = ["plan", "--detailed-exitcode", "-c"];
    let plan_edited = ["plan", "--detailed-exitcode", "-c"];
    let sharded = same.with_file_name(state::SHARDED_ROOT);
    let one_file = same.with_file_name(state::ONE_FILE_ROOT);
    let typed = same.with_file_name(state::TYPED_ROOT);
    let plans: [(Scenario, &[&str], &Path); 6] = [
        (Scenario::PlanSame, &plan_same, &same),
        (Scenario::PlanEdited, &plan_edited, &edited),
        (Scenario::Validate, &["validate", "-c"], &same),
        (Scenario::PlanSharded, &plan_same, &sharded),
        (Scenario::PlanOneFile, &plan_same, &one_file),
        (Scenario::ValidateTyped, &["validate", "-c"], &typed),
    ];
    for (scenario, command, config) in plans {
        let mut runs = Vec::new();
        for _ in 0..repeat {
            standin.reset_counts();
            let measured = kvsync_run(kvsync, &standin, command, config)?;
            check(scenario, &measured, n, &changes)?;
            runs.push((measured, Requests::from_counts(&standin.counts())));
        }
        rows.push(row(n, scenario, runs, floor_list, &changes));
        eprintln!("   {}", summary(rows.last()));
    }

    // (h): the same state in a second namespace, compared with the first by `diff --live`.
    let environments = same.with_file_name(ENVIRONMENTS_ROOT);
    let root =
        std::fs::read_to_string(&same).map_err(|e| format!("cannot read the config: {e}"))?;
    let overlay = format!(
        "environments:\n  staging: {{}}\n  production:\n    namespaces:\n      site:\n        \
         namespace_id: \"{SECOND_NAMESPACE}\"\n"
    );
    std::fs::write(&environments, format!("{root}{overlay}"))
        .map_err(|e| format!("cannot write the config: {e}"))?;
    seed(&standin, SECOND_NAMESPACE, size);
    let diff = ["diff", "--env", "staging", "--env", "production", "--live", "-c"];
    let mut runs = Vec::new();
    for _ in 0..repeat {
        standin.reset_counts();
        let measured = kvsync_run(kvsync, &standin, &diff, &environments)?;
        check(Scenario::DiffLive, &measured, n, &changes)?;
        runs.push((measured, Requests::from_counts(&standin.counts())));
    }
    rows.push(row(n, Scenario::DiffLive, runs, floor_list, &changes));
    eprintln!("   {}", summary(rows.last()));

    // (i): one key's metadata edited live (a hand edit pull writes back), then put back.
    let edited_live = state::live(state::spec(HAND_EDITED, Variant::Base));
    let mut hand = edited_live.metadata.clone();
    hand["hand"] = serde_json::json!("edit");
    let seed_key = |metadata| {
        standin.seed(
            NAMESPACE,
            &edited_live.key,
            &edited_live.value,
            Some(metadata),
            edited_live.expiration,
        );
    };
    seed_key(hand);
    let mut runs = Vec::new();
    for _ in 0..repeat {
        standin.reset_counts();
        let pull = ["pull", "--dry-run", "-c"];
        let measured = kvsync_run(kvsync, &standin, &pull, &same)?;
        check(Scenario::PullEdit, &measured, n, &changes)?;
        runs.push((measured, Requests::from_counts(&standin.counts())));
    }
    seed_key(edited_live.metadata.clone());
    rows.push(row(n, Scenario::PullEdit, runs, floor_list, &changes));
    eprintln!("   {}", summary(rows.last()));

    let mut runs = Vec::new();
    for run in 0..repeat {
        if run > 0 {
            // Apply changed the namespace: start again from the seeded state.
            drop(standin);
            standin = seeded(size, latency)?;
        }
        standin.reset_counts();
        let apply = ["apply", "--auto-approve", "-c"];
        let measured = kvsync_run(kvsync, &standin, &apply, &edited)?;
        check(Scenario::Apply, &measured, n, &changes)?;
        runs.push((measured, Requests::from_counts(&standin.counts())));
        let live = standin.keys(NAMESPACE).len() as u64;
        let expected = n - changes.delete + changes.create;
        if live != expected {
            return Err(format!("after apply the namespace holds {live} keys, not {expected}"));
        }
    }
    rows.push(row(n, Scenario::Apply, runs, floor_list, &changes));
    eprintln!("   {}", summary(rows.last()));
    // (a) to (i) in the table.
    rows.sort_by_key(|row| row.scenario);

    if args.keep {
        let kept = work.keep();
        eprintln!("   kept {}", kept.display());
    }
    Ok(rows)
}

/// The row of `scenario` from its runs: the run with the median wall time.
fn row(
    keys: u64,
    scenario: Scenario,
    mut runs: Vec<(Measured, Requests)>,
    floor_list: Duration,
    changes: &Changes,
) -> Row {
    let count = runs.len();
    runs.sort_by_key(|(measured, _)| measured.wall);
    let (measured, requests) = runs.swap_remove(count / 2);
    Row {
        keys,
        scenario,
        runs: count,
        requests,
        floor: floor_requests(scenario, keys, changes),
        wall: measured.wall,
        floor_list: scenario.lists().then_some(floor_list),
        cpu: measured.cpu(),
        max_rss: measured.max_rss,
    }
}

fn summary(row: Option<&Row>) -> String {
    let Some(row) = row else { return String::new() };
    format!(
        "{}: {} requests, wall {}, CPU {}, peak RSS {}",
        row.scenario.label(),
        row.requests.compact(),
        report::duration(row.wall),
        report::duration(row.cpu),
        report::mib(row.max_rss)
    )
}

/// A stand-in holding the applied state of `n` keys.
fn seeded(n: usize, latency: Duration) -> Result<Standin, String> {
    let step = Instant::now();
    let standin = Standin::start(Options {
        list_latency: latency,
        // One budget window for all runs would slow the later ones down: every run is a fresh
        // process with a fresh client budget, as it would be minutes apart against Cloudflare,
        // and none sends more than Cloudflare's 1,200 requests per 5 minutes.
        rate_limit: RateLimit { quota: u32::MAX, ..RateLimit::default() },
        ..Options::default()
    });
    seed(&standin, NAMESPACE, n);
    eprintln!("   seeded {} keys in {}", thousands(n as u64), report::duration(step.elapsed()));
    Ok(standin)
}

/// Creates `namespace` in `standin` holding the applied state of `n` keys.
fn seed(standin: &Standin, namespace: &str, n: usize) {
    standin.create_namespace(namespace);
    for (i, variant) in state::indices(n, Desired::Same) {
        debug_assert_eq!(variant, Variant::Base);
        let live = state::live(state::spec(i, variant));
        standin.seed(namespace, &live.key, &live.value, Some(live.metadata), live.expiration);
    }
}

/// One listing by the floor client.
fn floor_listing(standin: &Standin) -> Result<Duration, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let (_, took) = runtime.block_on(list_floor(
        &standin.base_url(),
        standin.account_id(),
        NAMESPACE,
        standin.token(),
    ))?;
    Ok(took)
}

/// Runs `kvsync <command> <config>` against `standin`, as CI would: token and account in the
/// environment, the API URL on the command line, no terminal.
fn kvsync_run(
    kvsync: &Path,
    standin: &Standin,
    command: &[&str],
    config: &Path,
) -> Result<Measured, String> {
    let url = standin.base_url();
    let mut cmd = Command::new(kvsync);
    cmd.args(command).arg(config).args(["--api-url", url.as_str()]);
    for name in [
        "GITHUB_SHA",
        "CLOUDFLARE_API_BASE_URL",
        "CF_API_BASE_URL",
        "CF_API_TOKEN",
        "CF_ACCOUNT_ID",
        "KVSYNC_NOW",
    ] {
        cmd.env_remove(name);
    }
    cmd.env("CLOUDFLARE_API_TOKEN", standin.token())
        .env("CLOUDFLARE_ACCOUNT_ID", standin.account_id());
    child::run_isolated(&cmd).map_err(|e| format!("cannot run `{}`: {e}", kvsync.display()))
}

/// Refuses a run whose output is not what the scenario must produce: a benchmark of a run that
/// did the wrong thing measures nothing.
fn check(scenario: Scenario, run: &Measured, n: u64, changes: &Changes) -> Result<(), String> {
    let unchanged = n - changes.update - changes.delete;
    let (code, expected) = match scenario {
        Scenario::PlanSame | Scenario::PlanSharded | Scenario::PlanOneFile => {
            (0, format!("No changes. {n} unchanged."))
        }
        Scenario::PlanEdited => (
            2,
            format!(
                "Plan: {} to create, {} to update, {} to delete, {unchanged} unchanged.",
                changes.create, changes.update, changes.delete
            ),
        ),
        Scenario::Apply => (
            0,
            format!(
                "Apply complete: {} written, {} deleted.",
                changes.create + changes.update,
                changes.delete
            ),
        ),
        Scenario::Validate | Scenario::ValidateTyped => (0, format!("1 scope, {n} keys")),
        Scenario::DiffLive => (0, format!("No differences: {n} equal.")),
        Scenario::PullEdit => (
            2,
            "Pull: 1 written back, 0 added, 0 removed, 0 for a person; 1 file would change."
                .to_owned(),
        ),
    };
    if run.code == Some(code) && (run.stdout.contains(&expected) || run.stderr.contains(&expected))
    {
        return Ok(());
    }
    let tail = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    Err(format!(
        "{}: expected exit {code} and `{expected}`, got exit {:?}\n--- stdout (end)\n{}\n--- stderr (end)\n{}",
        scenario.label(),
        run.code,
        tail(&run.stdout),
        tail(&run.stderr)
    ))
}

/// The binary to measure: `--kvsync`, else `kvsync` next to this binary, which `cargo run`
/// builds first in the same profile so the bench never measures a stale build.
fn kvsync_binary(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let me = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let dir = me.parent().ok_or("this binary has no folder")?.to_path_buf();
    let profile = dir.file_name().and_then(|p| p.to_str()).unwrap_or("release").to_owned();
    if profile != "release" {
        eprintln!("warning: measuring a `{profile}` build; benchmarks mean release builds");
    }
    if let Some(cargo) = std::env::var_os("CARGO") {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "kvsync", "--bin", "kvsync", "--manifest-path"]).arg(manifest);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let status = build.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("building `kvsync` failed".into());
        }
    }
    let kvsync = dir.join("kvsync");
    if kvsync.is_file() {
        Ok(kvsync)
    } else {
        Err(format!(
            "no `{}`: run `cargo build --release -p kvsync` first, or pass `--kvsync PATH`",
            kvsync.display()
        ))
    }
}

/// `10000`, `10k`, `1M`, `1_000_000` → the number of keys.
fn parse_size(text: &str) -> Result<u64, String> {
    let clean: String = text.trim().chars().filter(|c| *c != '_').collect();
    let (digits, factor) = match clean.char_indices().last() {
        Some((at, 'k' | 'K')) => (&clean[..at], 1000),
        Some((at, 'm' | 'M')) => (&clean[..at], 1_000_000),
        _ => (clean.as_str(), 1),
    };
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a number of keys"))?;
    match n.checked_mul(factor) {
        Some(0) | None => Err(format!("`{text}` is not a usable number of keys")),
        Some(n) => Ok(n),
    }
}

/// CPUs, CPU model and memory, for the record.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| cpu_model(&text))
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text))
        .map_or_else(|| "unknown memory".into(), |bytes| format!("{:.1} GiB RAM", gib(bytes)));
    format!("{cpus} CPUs ({model}), {memory}")
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0 * 1024.0)
}

/// The `model name` of the first processor in `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 =
        line.trim_start_matches("MemTotal:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("10000"), Ok(10_000));
        assert_eq!(parse_size("100k"), Ok(100_000));
        assert_eq!(parse_size("1M"), Ok(1_000_000));
        assert_eq!(parse_size("1_000_000"), Ok(1_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("ten").is_err());
    }

    #[test]
    fn reads_proc_files() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        let meminfo = "MemTotal:       24576000 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(24_576_000 * 1024));
        assert_eq!(mem_total("nothing"), None);
    }

    #[test]
    fn checks_outputs() {
        let changes = Changes::for_size(10_000);
        let ok = Measured {
            code: Some(2),
            stdout: "…\nPlan: 100 to create, 100 to update, 100 to delete, 9800 unchanged.\n"
                .into(),
            ..Measured::default()
        };
        assert_eq!(check(Scenario::PlanEdited, &ok, 10_000, &changes), Ok(()));
        let wrong = Measured { code: Some(0), ..ok };
        assert!(check(Scenario::PlanEdited, &wrong, 10_000, &changes).is_err());
    }
}
