//! Progress on stderr: a live bar on a terminal, a plain line every few seconds without one,
//! nothing with `-q`. Never on stdout, so machine formats stay clean.
//!
//! indicatif draws the bar and hides it when stderr is not a terminal; for that case (CI logs)
//! this module prints its own throttled lines, so a long run still shows it is alive.
//!
//! Every bar of the process is drawn by one [`MultiProgress`], and every other line on the
//! terminal (a retry, the Ctrl-C line, a warning, the plan) is printed through [`above`]: the
//! bars are cleared, the line printed, the bars drawn again below it. A line written past the
//! bars would leave the bar it cut through on screen, and the next redraw would erase the
//! line's end instead of the bar.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::output::Printer;

/// How often a line is printed when stderr is not a terminal, unless
/// `KVSYNC_PROGRESS_EVERY_MS` says otherwise.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

fn plain_every() -> Duration {
    std::env::var(crate::env_vars::KVSYNC_PROGRESS_EVERY_MS)
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .map_or(PLAIN_EVERY, Duration::from_millis)
}

/// The one group every bar of the process is drawn in; made with the first bar.
static BARS: OnceLock<MultiProgress> = OnceLock::new();

fn bars() -> &'static MultiProgress {
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// Runs `print` (which writes whole lines to stdout or stderr) with the progress bars taken off
/// the terminal, and draws them again below what it printed. Without a bar it just runs `print`.
pub fn above<R>(print: impl FnOnce() -> R) -> R {
    match BARS.get() {
        Some(multi) => multi.suspend(print),
        None => print(),
    }
}

/// Takes every bar off the terminal for good, for a process about to end while one runs (a
/// second Ctrl-C), so none is left on screen.
pub fn clear_all() {
    if let Some(multi) = BARS.get() {
        let _ = multi.clear();
    }
}

/// One running counter ("listing: 12000 keys"). It may be advanced from several threads.
pub struct Progress {
    what: &'static str,
    unit: &'static str,
    total: Option<u64>,
    mode: Mode,
    count: AtomicU64,
    started: Instant,
}

enum Mode {
    Off,
    Bar(ProgressBar),
    Plain { last: Mutex<Instant>, every: Duration },
}

/// A bar (or, without a total, a spinner) for a terminal, drawn in [`bars`]. It is hidden until
/// it is there, so it never draws a line of its own outside the group's; and it starts ticking
/// only then. Rates are whole units per second. The bar takes the width the terminal leaves (a
/// fixed one wrapped in a narrow pane and left half-lines behind at each redraw), and there is
/// no time estimate: progress moves a whole batch (10,000 keys) at a time, so one would
/// saw-tooth and, after Ctrl-C, climb.
fn bar(what: &'static str, unit: &'static str, total: Option<u64>) -> ProgressBar {
    let template = match total {
        Some(_) => "{prefix}: {pos}/{len} {msg} ({rate}) [{wide_bar}]",
        None => "{spinner} {prefix}: {pos} {msg} ({rate})",
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key("rate", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0}/s", state.per_sec());
        });
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden()).with_style(style);
    bar.set_prefix(what);
    bar.set_message(unit);
    let bar = bars().add(bar);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

impl Progress {
    /// Starts a counter of `unit`s for `what`; `total` when known gives a bar, else a spinner.
    /// On a terminal, counters running at the same time are drawn together, one line each
    /// (listing while loading).
    pub fn new(
        printer: &Printer,
        what: &'static str,
        unit: &'static str,
        total: Option<u64>,
    ) -> Self {
        let mode = if printer.quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Bar(bar(what, unit, total))
        } else {
            Mode::Plain { last: Mutex::new(Instant::now()), every: plain_every() }
        };
        Self { what, unit, total, mode, count: AtomicU64::new(0), started: Instant::now() }
    }

    /// Adds `n` units.
    pub fn inc(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
        match &self.mode {
            Mode::Off => {}
            Mode::Bar(bar) => bar.inc(n),
            Mode::Plain { last, every } => {
                let Ok(mut last) = last.lock() else { return };
                if last.elapsed() >= *every {
                    *last = Instant::now();
                    eprintln!("{}", self.line());
                }
            }
        }
    }

    fn line(&self) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let count = self.count.load(Ordering::Relaxed);
        let rate = count as f64 / seconds;
        match self.total {
            Some(total) => format!("{}: {count}/{total} {} ({rate:.0}/s)", self.what, self.unit),
            None => format!("{}: {count} {} ({rate:.0}/s)", self.what, self.unit),
        }
    }

    /// Ends the counter; a plain-mode run that printed progress lines prints a final one.
    pub fn finish(&self) {
        match &self.mode {
            Mode::Off => {}
            Mode::Bar(bar) => {
                bar.finish_and_clear();
                bars().remove(bar);
            }
            Mode::Plain { every, .. } => {
                if self.started.elapsed() >= *every {
                    eprintln!("{}", self.line());
                }
            }
        }
    }
}
