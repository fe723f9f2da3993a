//! Progress as a person sees it: kvsync runs under a pseudo-terminal made by `script` (util-linux),
//! its output is fed to a terminal screen model (the `vt100` crate) of the same size, and the
//! final screen is checked: every progress line fitted to the width, no half-lines left behind
//! by redraws, no stale bars after the run.

use std::process::Command;

use crate::support::{NOW, NS, Test, hermetic, repo};

/// Runs `kvsync args` in `test`'s folder under a `rows`×`columns` pseudo-terminal and returns
/// the screen it leaves.
fn run_on_screen(test: &Test, args: &str, rows: u16, columns: u16) -> vt100::Screen {
    let binary = env!("CARGO_BIN_EXE_kvsync");
    let inner = format!("stty rows {rows} cols {columns}; {binary} {args}");
    let mut command = Command::new("script");
    command
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .current_dir(test.path())
        .env("KVSYNC_NOW", NOW)
        .env("TERM", "xterm-256color");
    hermetic(&mut command);
    let output = command.output().expect("run `script` (util-linux)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    let size = |n: u16| std::num::NonZeroU16::new(n).expect("a screen size");
    let mut parser = vt100::Parser::new(size(rows), size(columns), 0);
    parser.process(&output.stdout);
    parser.screen().clone()
}

fn config(keys: usize) -> String {
    let mut yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n"
    );
    for i in 0..keys {
        yaml.push_str(&format!("      f/{i:05}: \"v{i}\"\n"));
    }
    yaml
}

#[test]
fn progress_fits_the_terminal_and_leaves_nothing_behind() {
    let _ = repo();
    for columns in [50u16, 120] {
        let test = Test::new().file("kvsync.yaml", config(30_000));
        let screen = run_on_screen(
            &test,
            "apply --target local --auto-approve --no-value-diff -q",
            40,
            columns,
        );
        // `-q`: no progress at all, and the plan on stdout.
        assert!(!screen.contents().contains("applying"), "{}", screen.contents());
        test.write("kvsync.yaml", config(30_000).replace("\"v1", "\"w1"));
        let screen = run_on_screen(
            &test,
            "apply --target local --auto-approve --no-value-diff",
            40,
            columns,
        );
        // Row by row, as drawn (a long data line wraps; a progress line must not leave any
        // part of itself behind).
        let contents: Vec<String> = screen.rows(0, columns).collect();
        let contents = contents.join("\n");
        // The bars are cleared when they finish: none is left on screen, whole or in part.
        for stale in ["applying:", "listing:", "loading:", "reading values:", "] "] {
            assert!(!contents.contains(stale), "{columns} columns: {stale:?} left:\n{contents}");
        }
        assert!(contents.contains("Apply complete: "), "{columns} columns:\n{contents}");
    }
}
