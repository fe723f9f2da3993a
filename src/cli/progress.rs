//! Progress on stderr: a live bar on a terminal, a plain line every few seconds without one,
//! nothing with `-q`. Never on stdout, so machine formats stay clean.
//!
//! indicatif draws the bar and hides it when stderr is not a terminal; for that case (CI logs)
//! this module prints its own throttled lines, so a long run still shows it is alive.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// One running counter ("listing: 12000 keys"). It may be advanced from several threads.
pub struct Progress {
    what: &'static str,
    unit: &'static str,
    mode: Mode,
    count: AtomicU64,
    started: Instant,
}

enum Mode {
    Off,
    Bar(ProgressBar),
    Plain { last: Mutex<Instant>, every: Duration },
}

/// Counters shown together, one line each, on a terminal (e.g. listing while loading).
pub struct Group(Option<MultiProgress>);

impl Group {
    pub fn new(printer: &Printer) -> Self {
        let live = !printer.quiet && std::io::stderr().is_terminal();
        Self(live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())))
    }

    /// A counter drawn in this group (see [`Progress::new`]).
    pub fn add(
        &self,
        printer: &Printer,
        what: &'static str,
        unit: &'static str,
        total: Option<u64>,
    ) -> Progress {
        let progress = Progress::new(printer, what, unit, total);
        if let (Some(multi), Mode::Bar(bar)) = (&self.0, &progress.mode) {
            multi.add(bar.clone());
        }
        progress
    }
}

impl Progress {
    /// Starts a counter of `unit`s for `what`; `total` when known gives a bar, else a spinner.
    pub fn new(
        printer: &Printer,
        what: &'static str,
        unit: &'static str,
        total: Option<u64>,
    ) -> Self {
        let mode = if printer.quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(total) => {
                    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                        .with_style(
                            ProgressStyle::with_template(
                                "{prefix}: [{bar:30}] {pos}/{len} {msg} ({per_sec}, {eta} left)",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                        )
                }
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template("{spinner} {prefix}: {pos} {msg} ({per_sec})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    ),
            };
            bar.set_prefix(what);
            bar.set_message(unit);
            bar.enable_steady_tick(Duration::from_millis(120));
            Mode::Bar(bar)
        } else {
            Mode::Plain { last: Mutex::new(Instant::now()), every: plain_every() }
        };
        Self { what, unit, mode, count: AtomicU64::new(0), started: Instant::now() }
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
        format!("{}: {count} {} ({:.0}/s)", self.what, self.unit, count as f64 / seconds)
    }

    /// Ends the counter; a plain-mode run that printed progress lines prints a final one.
    pub fn finish(&self) {
        match &self.mode {
            Mode::Off => {}
            Mode::Bar(bar) => bar.finish_and_clear(),
            Mode::Plain { every, .. } => {
                if self.started.elapsed() >= *every {
                    eprintln!("{}", self.line());
                }
            }
        }
    }
}
