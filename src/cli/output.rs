//! All output goes through one [`Printer`]: data on stdout, everything else on stderr.
//!
//! Colour is decided once per stream (`--color`, then `NO_COLOR`/`CLICOLOR*` and whether the
//! stream is a terminal, as `anstream` decides it); renderers get a plain `bool` and produce text
//! that reads the same without colour. Write errors on stdout (a closed pipe, as in
//! `kvsync plan | head`) are ignored: the exit status still tells the truth. Every line goes
//! past the progress bars ([`progress::above`]), so none cuts through a bar being drawn.

use std::io::Write as _;

use super::args::ColorChoice;
use super::progress::above;
use crate::report::style::Style;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub quiet: bool,
    pub verbose: u8,
    pub stdout_color: bool,
    pub stderr_color: bool,
}

impl Printer {
    pub fn new(color: ColorChoice, quiet: bool, verbose: u8) -> Self {
        let decide = |auto: anstream::ColorChoice| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !matches!(auto, anstream::ColorChoice::Never),
        };
        Self {
            quiet,
            verbose,
            stdout_color: decide(anstream::AutoStream::choice(&std::io::stdout())),
            stderr_color: decide(anstream::AutoStream::choice(&std::io::stderr())),
        }
    }

    /// Data (a plan, JSON, a schema): always printed, on stdout.
    pub fn data(&self, text: &str) {
        above(|| {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = out.write_all(b"\n");
            }
            let _ = out.flush();
        });
    }

    /// Progress and notes, on stderr; `-q` silences them.
    pub fn info(&self, text: &str) {
        if !self.quiet {
            above(|| eprintln!("{text}"));
        }
    }

    /// Detail for `-v`.
    pub fn verbose(&self, text: &str) {
        if self.verbose > 0 && !self.quiet {
            above(|| eprintln!("{text}"));
        }
    }

    /// A warning, on stderr; `-q` silences it.
    pub fn warn(&self, text: &str) {
        if !self.quiet {
            above(|| eprintln!("{}: {text}", Style::new(self.stderr_color).warning("warning")));
        }
    }

    /// An error with its hints, on stderr; never silenced.
    pub fn error(&self, message: &str, hints: &[String]) {
        let style = Style::new(self.stderr_color);
        above(|| {
            eprintln!("{}: {message}", style.removed("error"));
            for hint in hints {
                eprintln!("{}: {hint}", style.info("hint"));
            }
        });
    }

    /// Raw text on stderr (pre-rendered diagnostics).
    pub fn stderr(&self, text: &str) {
        above(|| {
            eprint!("{text}");
            if !text.ends_with('\n') {
                eprintln!();
            }
        });
    }
}
