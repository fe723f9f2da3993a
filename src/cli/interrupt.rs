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

/// Starts watching for Ctrl-C (SIGINT on Unix) and returns the flag it sets. The handler is in
/// place when this returns; if it cannot be installed, the flag is never set and Ctrl-C ends
/// the process as it would anyway.
pub fn watch() -> Arc<AtomicBool> {
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
        let flag = watch();
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
