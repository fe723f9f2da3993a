//! Runs one `kvsync` process and measures it: wall time, CPU time (user + system) and peak
//! resident memory, from `wait4`'s `rusage` of that very child.

use std::io::{self, Read as _};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What one run of a child cost, and what it printed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    pub(crate) wall: Duration,
    pub(crate) user: Duration,
    pub(crate) sys: Duration,
    /// Peak resident set size in bytes (`ru_maxrss`).
    pub(crate) max_rss: u64,
    /// The exit code; `None` when a signal ended the process.
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Measured {
    /// User plus system CPU time.
    pub(crate) fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// Runs `command` to its end with stdout and stderr captured (so kvsync sees no terminal, as in
/// CI), timing it from just before the spawn to the moment it is reaped.
pub(crate) fn run(command: &mut Command) -> io::Result<Measured> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn()?;
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::other("the child's pid does not fit a pid_t"))?;
    let drain = |pipe: Option<Box<dyn io::Read + Send>>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                // A read error only loses output; the exit status still says how the run went.
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn io::Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn io::Read + Send>));
    let (status, usage) = wait4(pid)?;
    let wall = start.elapsed();
    // `child` was reaped by `wait4`; dropping the handle neither waits nor kills.
    drop(child);
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(Measured {
        wall,
        user: timeval(usage.ru_utime),
        sys: timeval(usage.ru_stime),
        max_rss: max_rss_bytes(usage.ru_maxrss),
        code,
        stdout,
        stderr,
    })
}

/// Waits for `pid` and returns its wait status and resource usage.
fn wait4(pid: libc::pid_t) -> io::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the types wait4 expects, and
        // `pid` is our own child, which nothing else waits for.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// A `timeval` as a duration; negative fields (which the kernel never reports) count as zero.
pub(crate) fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// `ru_maxrss` is in KiB on Linux.
pub(crate) fn max_rss_bytes(kib: libc::c_long) -> u64 {
    u64::try_from(kib).unwrap_or(0) * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_rusage_fields() {
        let tv = libc::timeval { tv_sec: 2, tv_usec: 250_000 };
        assert_eq!(timeval(tv), Duration::from_millis(2250));
        assert_eq!(max_rss_bytes(512), 512 * 1024);
        assert_eq!(max_rss_bytes(-1), 0);
    }

    #[test]
    fn measures_a_child() {
        let measured = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]))
            .expect("sh runs");
        assert_eq!(measured.code, Some(3));
        assert_eq!(measured.stdout, "out\n");
        assert_eq!(measured.stderr, "err\n");
        assert!(measured.max_rss > 0);
    }
}
