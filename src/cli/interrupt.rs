//! Ctrl-C during `apply`: a flag the executor reads between batches.
//!
//! The flag is set on a thread of its own, not by a task on the command's runtime. That runtime
//! has one thread, and a store that works synchronously (the local target writes a whole batch
//! inside one call) never gives a task on it a turn: the signal would be seen only after the
//! last batch, or, before the watcher had first run, not at all (the process just died with
//! 130). On its own thread the watcher sets the flag while the batch is still being written, so
//! every target stops after the batch under way and reports the rest as not attempted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the first Ctrl-C prints: apply finishes the batch it is writing, and a second Ctrl-C
/// does not wait for it.
pub const STOPPING: &str = "stopping after the batch in flight (up to 10,000 keys); Ctrl-C again \
     to stop now (the batch in flight may or may not be written)";

/// What a second Ctrl-C prints before the process ends with exit 1.
pub const STOPPED_NOW: &str = "stopped now: the batch in flight may or may not be written; \
     `kvsync plan` shows what is live";

/// Starts watching for Ctrl-C (SIGINT on Unix) and returns the flag it sets. The first Ctrl-C
/// sets the flag and says so ([`STOPPING`], even under `-q`: it answers a keypress); a second
/// one ends the process at once with exit 1 ([`STOPPED_NOW`]). The handler is in place when this
/// returns; if it cannot be installed, the flag is never set and Ctrl-C ends the process as it
/// would anyway.
pub fn watch(printer: crate::cli::output::Printer) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    let (ready, installed) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("kvsync-ctrl-c".to_owned()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            drop(ready);
            return;
        };
        runtime.block_on(async move {
            let Ok(mut signal) = listen() else {
                drop(ready);
                return;
            };
            ready.send(()).ok();
            if signal.recv().await.is_some() {
                set.store(true, Ordering::SeqCst);
                printer.stderr(STOPPING);
            }
            if signal.recv().await.is_some() {
                printer.stderr(STOPPED_NOW);
                crate::cli::progress::clear_all();
                std::process::exit(1);
            }
        });
    });
    if spawned.is_ok() {
        // Either the handler is installed, or the thread gave up (the sender is gone).
        installed.recv().ok();
    }
    flag
}

#[cfg(unix)]
fn listen() -> std::io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
}

#[cfg(windows)]
fn listen() -> std::io::Result<tokio::signal::windows::CtrlC> {
    tokio::signal::windows::ctrl_c()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn sigint_sets_the_flag_without_any_help_from_the_caller() {
        let printer = crate::cli::output::Printer {
            quiet: true,
            verbose: 0,
            stdout_color: false,
            stderr_color: false,
        };
        let flag = watch(printer);
        assert!(!flag.load(Ordering::SeqCst));
        // The handler is installed: SIGINT to this very process sets the flag instead of
        // ending it, while this thread only sleeps (as a synchronous batch write would).
        let status = std::process::Command::new("kill")
            .args(["-INT", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !flag.load(Ordering::SeqCst) {
            assert!(std::time::Instant::now() < deadline, "the flag was not set");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
