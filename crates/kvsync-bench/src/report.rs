//! The results: one Markdown row per (size, command), and the targets of DESIGN.md §9 checked
//! against them.

use std::fmt::Write as _;
use std::time::Duration;

use crate::floor::{Requests, Scenario};

/// The largest no-change plan time at 100,000 keys, as a multiple of the floor listing time.
pub(crate) const PLAN_FLOOR_RATIO_MAX: f64 = 1.25;
/// Peak memory allowed at 1,000,000 keys.
pub(crate) const RSS_MAX_AT_1M: u64 = 512 * 1024 * 1024;
/// "Linear": the memory each extra key costs between the two largest sizes is at most this
/// multiple of what it costs between the two smallest.
pub(crate) const LINEAR_SLACK: f64 = 1.5;

/// One measured command at one size (the median run when it ran several times).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Keys in the live namespace (and in the desired state).
    pub(crate) keys: u64,
    pub(crate) scenario: Scenario,
    pub(crate) runs: usize,
    pub(crate) requests: Requests,
    pub(crate) floor: Requests,
    pub(crate) wall: Duration,
    /// The floor client's time to list the same pages; `None` for commands that do not list.
    pub(crate) floor_list: Option<Duration>,
    pub(crate) cpu: Duration,
    pub(crate) max_rss: u64,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.floor_list.map(|floor| self.wall.as_secs_f64() / floor.as_secs_f64())
    }
}

/// The Markdown table of every row.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| keys | command | requests list/get/put/del | floor requests | wall | floor listing | \
         wall ÷ floor | kvsync CPU | CPU per key | peak RSS |\n",
    );
    out.push_str("|---:|---|---|---|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let mark = if row.requests == row.floor { "✓" } else { "✗" };
        let runs = if row.runs > 1 { format!(" ×{}", row.runs) } else { String::new() };
        let _ = writeln!(
            out,
            "| {} | {}{} | {} {} | {} | {} | {} | {} | {} | {} | {} |",
            thousands(row.keys),
            row.scenario.label(),
            runs,
            row.requests.compact(),
            mark,
            row.floor.compact(),
            duration(row.wall),
            row.floor_list.map_or_else(|| "—".to_owned(), duration),
            row.ratio().map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×")),
            duration(row.cpu),
            per_key(row.cpu, row.keys),
            mib(row.max_rss),
        );
    }
    out
}

/// A checked target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) target: &'static str,
    /// `None` when the run holds no row the target is about.
    pub(crate) pass: Option<bool>,
    pub(crate) detail: String,
}

impl Verdict {
    pub(crate) fn line(&self) -> String {
        let word = match self.pass {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "n/a",
        };
        format!("- **{word}** {}: {}", self.target, self.detail)
    }
}

/// The targets of DESIGN.md §9 against `rows`.
pub(crate) fn verdicts(rows: &[Row], latency_ms: u64) -> Vec<Verdict> {
    vec![
        requests_verdict(rows),
        time_verdict(rows),
        memory_verdict(rows),
        linear_verdict(rows),
        one_file_verdict(rows, latency_ms),
        schemas_verdict(rows),
    ]
}

/// Row (g) against row (d): checking every value of 100,000 keys against its JSON Schema adds
/// at most 25 % to `validate`'s wall time.
fn schemas_verdict(rows: &[Row]) -> Verdict {
    let target = "100,000-key validate with schemas ≤ 1.25× without";
    let find = |scenario| rows.iter().find(|r| r.keys == 100_000 && r.scenario == scenario);
    match (find(Scenario::Validate), find(Scenario::ValidateTyped)) {
        (Some(plain), Some(typed)) => {
            let ratio = typed.wall.as_secs_f64() / plain.wall.as_secs_f64().max(f64::EPSILON);
            Verdict {
                target,
                pass: Some(ratio <= 1.25),
                detail: format!(
                    "{ratio:.2}× ({} with, {} without; CPU {} with, {} without)",
                    duration(typed.wall),
                    duration(plain.wall),
                    duration(typed.cpu),
                    duration(plain.cpu)
                ),
            }
        }
        _ => Verdict { target, pass: None, detail: "100,000 is not among the sizes".into() },
    }
}

/// Row (f)'s goal, by the stand-in's latency: a one-file config lists while it is parsed, so a
/// 100,000-key no-change plan takes at most 1.15× the floor listing at 20 ms a page and 1.6× at
/// 0 ms (where parsing is most of the time).
fn one_file_verdict(rows: &[Row], latency_ms: u64) -> Verdict {
    let target = "100,000-key one-file plan ≤ 1.15× the floor at 20 ms, ≤ 1.6× at 0 ms";
    let limit = match latency_ms {
        20 => 1.15,
        0 => 1.6,
        _ => {
            let detail = "run with `--latency-ms 20` and `--latency-ms 0`".into();
            return Verdict { target, pass: None, detail };
        }
    };
    ratio_verdict(rows, Scenario::PlanOneFile, target, limit)
}

fn requests_verdict(rows: &[Row]) -> Verdict {
    let off: Vec<String> = rows
        .iter()
        .filter(|r| r.requests != r.floor)
        .map(|r| {
            format!(
                "{} keys {}: {} vs floor {}",
                thousands(r.keys),
                r.scenario.label(),
                r.requests.compact(),
                r.floor.compact()
            )
        })
        .collect();
    Verdict {
        target: "requests exactly at the floor of the performance targets (docs/spec.md)",
        pass: (!rows.is_empty()).then_some(off.is_empty()),
        detail: if off.is_empty() {
            format!("all {} commands", rows.len())
        } else {
            off.join("; ")
        },
    }
}

fn time_verdict(rows: &[Row]) -> Verdict {
    let target = "100,000-key no-change plan ≤ 1.25× the floor listing time";
    ratio_verdict(rows, Scenario::PlanSame, target, PLAN_FLOOR_RATIO_MAX)
}

/// Whether the 100,000-key row of `scenario` takes at most `limit` times the floor listing.
fn ratio_verdict(rows: &[Row], scenario: Scenario, target: &'static str, limit: f64) -> Verdict {
    let row = rows.iter().find(|r| r.keys == 100_000 && r.scenario == scenario);
    match row.and_then(|r| Some((r, r.ratio()?))) {
        Some((row, ratio)) => Verdict {
            target,
            pass: Some(ratio <= limit),
            detail: format!(
                "{ratio:.2}× ({} against {})",
                duration(row.wall),
                row.floor_list.map_or_else(String::new, duration)
            ),
        },
        None => Verdict { target, pass: None, detail: "100,000 is not among the sizes".into() },
    }
}

/// The highest peak RSS of any command at each size, by size.
fn peaks(rows: &[Row]) -> Vec<(u64, u64)> {
    let mut sizes: Vec<u64> = rows.iter().map(|r| r.keys).collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
        .into_iter()
        .map(|n| {
            (n, rows.iter().filter(|r| r.keys == n).map(|r| r.max_rss).max().unwrap_or_default())
        })
        .collect()
}

fn memory_verdict(rows: &[Row]) -> Verdict {
    let target = "peak memory at 1,000,000 keys < 512 MiB";
    match peaks(rows).into_iter().find(|(n, _)| *n == 1_000_000) {
        Some((_, peak)) => Verdict {
            target,
            pass: Some(peak < RSS_MAX_AT_1M),
            detail: format!("{} (highest of all commands)", mib(peak)),
        },
        None => Verdict { target, pass: None, detail: "1,000,000 is not among the sizes".into() },
    }
}

/// Bytes each extra key costs between consecutive sizes: `(from, to, bytes per key)`.
pub(crate) fn marginal_costs(peaks: &[(u64, u64)]) -> Vec<(u64, u64, f64)> {
    peaks
        .windows(2)
        .map(|pair| {
            let ((n0, m0), (n1, m1)) = (pair[0], pair[1]);
            (n0, n1, (m1 as f64 - m0 as f64) / (n1 - n0) as f64)
        })
        .collect()
}

fn linear_verdict(rows: &[Row]) -> Verdict {
    let target = "peak memory grows linearly with the keys";
    let peaks = peaks(rows);
    let steps = marginal_costs(&peaks);
    let shown = steps
        .iter()
        .map(|(a, b, per_key)| format!("{}→{}: {per_key:.0} B/key", short(*a), short(*b)))
        .collect::<Vec<_>>()
        .join(", ");
    match (steps.first(), steps.last()) {
        (Some(first), Some(last)) if steps.len() >= 2 => Verdict {
            target,
            pass: Some(last.2 <= first.2.max(1.0) * LINEAR_SLACK),
            detail: format!(
                "marginal cost per key {shown} (the last step may cost at most {LINEAR_SLACK}× the first)"
            ),
        },
        _ => Verdict { target, pass: None, detail: "needs at least three sizes".into() },
    }
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `10000` → `10k`, `1000000` → `1M`.
fn short(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n.is_multiple_of(1_000_000) => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n.is_multiple_of(1000) => format!("{}k", n / 1000),
        n => thousands(n),
    }
}

/// Seconds with two decimals, or whole milliseconds below one second.
pub(crate) fn duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    }
}

/// CPU time per key in microseconds.
fn per_key(cpu: Duration, keys: u64) -> String {
    if keys == 0 {
        return "—".to_owned();
    }
    format!("{:.2} µs", cpu.as_secs_f64() * 1e6 / keys as f64)
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(keys: u64, scenario: Scenario, wall_ms: u64, floor_ms: u64, rss_mib: u64) -> Row {
        let floor = Requests { list: keys.div_ceil(1000), ..Requests::default() };
        Row {
            keys,
            scenario,
            runs: 1,
            requests: floor,
            floor,
            wall: Duration::from_millis(wall_ms),
            floor_list: Some(Duration::from_millis(floor_ms)),
            cpu: Duration::from_millis(wall_ms / 2),
            max_rss: rss_mib * 1024 * 1024,
        }
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(short(100_000), "100k");
        assert_eq!(short(1_000_000), "1M");
        assert_eq!(duration(Duration::from_millis(1234)), "1.23 s");
        assert_eq!(duration(Duration::from_micros(15_400)), "15 ms");
        assert_eq!(per_key(Duration::from_millis(50), 10_000), "5.00 µs");
        assert_eq!(mib(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn table_has_one_line_per_row() {
        let rows = [row(10_000, Scenario::PlanSame, 200, 180, 20)];
        let text = table(&rows);
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.lines().nth(2).is_some_and(|l| l.starts_with(
                "| 10,000 | (a) plan, no changes | 10/0/0/0 ✓ | 10/0/0/0 | 200 ms | 180 ms | 1.11× |"
            )),
            "{text}"
        );
    }

    #[test]
    fn checks_the_targets() {
        let rows = [
            row(10_000, Scenario::PlanSame, 200, 180, 20),
            row(100_000, Scenario::PlanSame, 1900, 1600, 56),
            row(1_000_000, Scenario::PlanSame, 17_000, 16_000, 416),
        ];
        let all = verdicts(&rows, 15);
        assert!(all[..4].iter().all(|v| v.pass == Some(true)), "{all:#?}");
        assert_eq!(all[4].pass, None, "row (f) has goals at 20 ms and 0 ms only");
        // 10k → 100k and 100k → 1M both cost about 419 bytes per key: linear.
        let costs = marginal_costs(&peaks(&rows));
        assert!((costs[0].2 - costs[1].2).abs() < 1.0, "{costs:?}");

        let slow = [row(100_000, Scenario::PlanSame, 2100, 1600, 56)];
        assert_eq!(verdicts(&slow, 15)[1].pass, Some(false));
        let heavy = [row(1_000_000, Scenario::PlanSame, 1, 1, 600)];
        assert_eq!(verdicts(&heavy, 15)[2].pass, Some(false));
        let mut off = row(10_000, Scenario::PlanSame, 1, 1, 1);
        off.requests.list += 1;
        assert_eq!(verdicts(&[off], 15)[0].pass, Some(false));
        let superlinear = [
            row(10_000, Scenario::PlanSame, 1, 1, 10),
            row(100_000, Scenario::PlanSame, 1, 1, 20),
            row(1_000_000, Scenario::PlanSame, 1, 1, 500),
        ];
        assert_eq!(verdicts(&superlinear, 15)[3].pass, Some(false));

        let one_file = [row(100_000, Scenario::PlanOneFile, 2200, 2000, 56)];
        assert_eq!(verdicts(&one_file, 20)[4].pass, Some(true), "1.10× ≤ 1.15×");
        let one_file = [row(100_000, Scenario::PlanOneFile, 2400, 2000, 56)];
        assert_eq!(verdicts(&one_file, 20)[4].pass, Some(false), "1.20× > 1.15×");
        assert_eq!(verdicts(&one_file, 0)[4].pass, Some(true), "1.20× ≤ 1.6×");
    }
}
