//! Progress as a person sees it: kvsync runs under a pseudo-terminal made by `script` (util-linux),
//! its output is fed to a terminal screen model (the `vt100` crate) of the same size, and the
//! screen is checked before every redraw as well as at the end: every progress line whole on one
//! row (a line wider than the pane wraps, and each redraw shows it cut in two), no bar left behind
//! by a line printed while it was drawn (a retry, the Ctrl-C line), no bar after the run.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kv_standin::{Endpoint, Fault};

use crate::support::{Cloud, NOW, NS, Test, hermetic};

/// What each progress line starts with (after a spinner): see `src/cli/progress.rs`.
const PROGRESS: [&str; 7] = [
    "loading:",
    "listing:",
    "listing again:",
    "reading values:",
    "snapshot:",
    "applying:",
    "verifying:",
];

/// Rows enough that nothing scrolls off the screen model: a bar left behind stays in view.
const ROWS: u16 = 100;

/// `kvsync args` in `test`'s folder under a `ROWS`×`columns` pseudo-terminal, with the
/// variables `test` sets. kvsync's process id is written to `kvsync.pid` in that folder.
fn under_a_terminal(test: &Test, args: &str, columns: u16) -> Command {
    let binary = env!("CARGO_BIN_EXE_kvsync");
    let inner =
        format!("stty rows {ROWS} cols {columns}; echo $$ > kvsync.pid; exec {binary} {args}");
    let mut command = Command::new("script");
    command
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .current_dir(test.path())
        .stdin(Stdio::null())
        .env("KVSYNC_NOW", NOW)
        .env("TERM", "xterm-256color");
    hermetic(&mut command);
    for (name, value) in test.vars() {
        command.env(name, value);
    }
    command
}

/// Everything kvsync drew, replayed on a screen model, checked before each carriage return
/// (where a redraw starts: the frame before it is complete) and returned as the last screen.
fn replay(output: &[u8], columns: u16) -> vt100::Screen {
    let size = |n: u16| std::num::NonZeroU16::new(n).expect("a screen size");
    let mut parser = vt100::Parser::new(size(ROWS), size(columns), 0);
    let mut from = 0;
    for (at, byte) in output.iter().enumerate() {
        if *byte == b'\r' {
            parser.process(&output[from..at]);
            from = at;
            check_frame(parser.screen(), columns);
        }
    }
    parser.process(&output[from..]);
    check_frame(parser.screen(), columns);
    parser.screen().clone()
}

fn rows(screen: &vt100::Screen, columns: u16) -> Vec<String> {
    screen.rows(0, columns).collect()
}

/// A screen as drawn at some moment: each progress line whole on its row (a bar ends with `]`,
/// a spinner's counter with `)`), and at most one line of each counter (a second one is a bar
/// left behind).
fn check_frame(screen: &vt100::Screen, columns: u16) {
    let rows = rows(screen, columns);
    let shown = || rows.join("\n");
    for what in PROGRESS {
        let lines: Vec<&String> =
            rows.iter().filter(|row| progress_of(row) == Some(what)).collect();
        assert!(lines.len() <= 1, "{columns} columns: `{what}` drawn twice:\n{}", shown());
        for line in lines {
            let end = line.trim_end();
            assert!(
                end.ends_with(']') || end.ends_with(')'),
                "{columns} columns: `{what}` cut at the edge of the pane:\n{}",
                shown()
            );
        }
    }
}

/// Which counter a row shows, if any.
fn progress_of(row: &str) -> Option<&'static str> {
    // "⠁ listing: 3000 keys (1200/s)", "applying: 0/11111 keys (0/s) [   ]"
    let text = row.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
    PROGRESS.into_iter().filter(|what| text.starts_with(what)).max_by_key(|what| what.len())
}

/// After the run: no counter on screen, whole or in part.
fn assert_no_progress_left(screen: &vt100::Screen, columns: u16) {
    let rows = rows(screen, columns);
    for what in PROGRESS {
        assert!(
            !rows.iter().any(|row| row.contains(what)),
            "{columns} columns: `{what}` left after the run:\n{}",
            rows.join("\n")
        );
    }
    // A bar's end (`…keys (12/s) [====   ]`) on a row of its own.
    assert!(!rows.iter().any(|row| row.trim_end().ends_with(']')), "{}", rows.join("\n"));
}

/// The screen's text with wrapped rows joined, as a person reads a long line.
fn text(screen: &vt100::Screen) -> String {
    screen.contents()
}

fn local_config(keys: usize, value: &str) -> String {
    let mut yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n"
    );
    for i in 0..keys {
        yaml.push_str(&format!("      f/{i:05}: \"{value}{i}\"\n"));
    }
    yaml
}

/// Loading, listing, the snapshot and a 30,000-key apply to the local target, in a 50-column
/// pane and a 120-column one: no frame shows a counter cut in two or twice, and none is left.
#[test]
fn progress_fits_the_terminal_and_leaves_nothing_behind() {
    for columns in [50u16, 120] {
        let test = Test::new().file("kvsync.yaml", local_config(30_000, "v"));
        let args = "apply --target local --auto-approve --no-value-diff";
        let quiet =
            under_a_terminal(&test, &format!("{args} -q"), columns).output().expect("script");
        assert!(quiet.status.success(), "{}", String::from_utf8_lossy(&quiet.stdout));
        // `-q`: no progress at all.
        let screen = replay(&quiet.stdout, columns);
        assert!(!text(&screen).contains("applying"), "{}", text(&screen));
        test.write("kvsync.yaml", local_config(30_000, "v").replace("\"v1", "\"w1"));
        let output = under_a_terminal(&test, args, columns).output().expect("script");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
        let raw = String::from_utf8_lossy(&output.stdout);
        // The run drew its counters (else this test would prove nothing).
        for what in ["loading:", "listing:", "applying:"] {
            assert!(raw.contains(what), "{columns} columns: `{what}` never drawn");
        }
        let screen = replay(&output.stdout, columns);
        assert_no_progress_left(&screen, columns);
        assert!(text(&screen).contains("Apply complete: 11111 written"), "{}", text(&screen));
    }
}

/// What a run under [`under_a_terminal`] printed so far, read as it comes.
struct Live {
    child: std::process::Child,
    seen: Arc<Mutex<Vec<u8>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Live {
    fn start(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).spawn().expect("run `script` (util-linux)");
        let mut stdout = child.stdout.take().expect("stdout");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&seen);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                into.lock().expect("lock").extend_from_slice(&chunk[..n]);
            }
        });
        Self { child, seen, reader }
    }

    /// Waits until `ready` holds, failing if the run ends first or takes a minute.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(&self.seen.lock().expect("lock")) {
            let ended = self.child.try_wait().expect("wait").is_some();
            assert!(!ended && Instant::now() < deadline, "no {what}:\n{}", self.shown());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("lock")).into_owned()
    }

    /// Waits for the end; returns the exit code and all the output.
    fn finish(mut self) -> (Option<i32>, Vec<u8>) {
        let status = self.child.wait().expect("wait");
        self.reader.join().expect("reader");
        let output = std::mem::take(&mut *self.seen.lock().expect("lock"));
        (status.code(), output)
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

fn cloud_config(keys: usize) -> String {
    local_config(keys, "v")
}

fn pid(test: &Test) -> String {
    std::fs::read_to_string(test.path().join("kvsync.pid")).expect("kvsync.pid").trim().to_owned()
}

/// Ctrl-C while a batch is written, with the bar on screen: the line saying what happens
/// appears whole above the bar, no bar is left around it, and apply stops after the batch
/// (exit 1). The stand-in holds the batch until the signal has been taken.
#[test]
fn ctrl_c_says_what_happens_above_the_bar() {
    for columns in [50u16, 120] {
        let cloud = Cloud::new(&cloud_config(10_001));
        cloud.standin.inject(Fault::Hold { endpoint: Endpoint::BulkPut });
        let args =
            format!("apply --auto-approve --no-value-diff --api-url {}", cloud.standin.base_url());
        let test = &cloud.test;
        let mut live = Live::start(under_a_terminal(test, &args, columns));
        live.wait_for("bar while the batch is held", |seen| contains(seen, "applying:"));
        live.wait_for("held batch", |_| cloud.standin.counts().bulk_put > 0);
        let kvsync = pid(test);
        let signal = Command::new("kill").args(["-INT", &kvsync]).status().expect("kill");
        assert!(signal.success());
        live.wait_for("Ctrl-C line", |seen| contains(seen, "stopping after the batch in flight"));
        cloud.standin.release();
        let (code, output) = live.finish();
        assert_eq!(code, Some(1), "{}", String::from_utf8_lossy(&output));
        let screen = replay(&output, columns);
        assert_no_progress_left(&screen, columns);
        let shown = text(&screen);
        assert!(
            shown.contains(
                "stopping after the batch in flight (up to 10,000 keys); Ctrl-C again to stop \
                 now (the batch in flight may or may not be written)"
            ),
            "{columns} columns:\n{shown}"
        );
        assert!(shown.contains("Apply incomplete: 10000 written"), "{columns} columns:\n{shown}");
        assert_eq!(cloud.standin.keys(NS).len(), 10_000);
    }
}

/// A second Ctrl-C ends the run at once (exit 1): its line is whole and no bar is left behind.
#[test]
fn a_second_ctrl_c_stops_now_and_leaves_no_bar() {
    let columns = 50;
    let cloud = Cloud::new(&cloud_config(10_001));
    cloud.standin.inject(Fault::Hold { endpoint: Endpoint::BulkPut });
    let args =
        format!("apply --auto-approve --no-value-diff --api-url {}", cloud.standin.base_url());
    let test = &cloud.test;
    let mut live = Live::start(under_a_terminal(test, &args, columns));
    live.wait_for("bar while the batch is held", |seen| contains(seen, "applying:"));
    live.wait_for("held batch", |_| cloud.standin.counts().bulk_put > 0);
    let kvsync = pid(test);
    let interrupt = || {
        let signal = Command::new("kill").args(["-INT", &kvsync]).status().expect("kill");
        assert!(signal.success());
    };
    interrupt();
    live.wait_for("Ctrl-C line", |seen| contains(seen, "stopping after the batch in flight"));
    interrupt();
    let (code, output) = live.finish();
    cloud.standin.release();
    assert_eq!(code, Some(1), "{}", String::from_utf8_lossy(&output));
    let screen = replay(&output, columns);
    assert_no_progress_left(&screen, columns);
    let shown = text(&screen);
    assert!(
        shown.contains(
            "stopped now: the batch in flight may or may not be written; `kvsync plan` shows \
             what is live"
        ),
        "{shown}"
    );
}

/// A retry while the bar is on screen: its line is printed above the bar, whole, and the bar
/// goes on below it. The stand-in holds the first batch until the bar is drawn, then answers
/// the second with a 503 once.
#[test]
fn retry_lines_go_above_the_bar() {
    let columns = 50;
    let cloud = Cloud::new(&cloud_config(10_001));
    cloud.standin.inject(Fault::Hold { endpoint: Endpoint::BulkPut });
    cloud.standin.inject(Fault::ServerError {
        endpoint: Endpoint::BulkPut,
        status: 503,
        after_effect: false,
    });
    let args =
        format!("apply --auto-approve --no-value-diff --api-url {}", cloud.standin.base_url());
    let mut live = Live::start(under_a_terminal(&cloud.test, &args, columns));
    live.wait_for("bar while the batch is held", |seen| contains(seen, "applying:"));
    cloud.standin.release();
    let (code, output) = live.finish();
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&output));
    let screen = replay(&output, columns);
    assert_no_progress_left(&screen, columns);
    let shown = text(&screen);
    assert!(shown.contains("(attempt 2 of 6): HTTP 503"), "{shown}");
    assert!(shown.contains("Apply complete: 10001 written"), "{shown}");
    assert_eq!(cloud.standin.counts().bulk_put, 3);
}
