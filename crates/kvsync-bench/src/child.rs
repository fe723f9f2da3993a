//! Runs one `kvsync` process and measures it: wall time, CPU time (user + system) and peak
//! resident memory, from `wait4`'s `rusage` of that very child.
//!
//! A child's `ru_maxrss` is never below what its parent held when it was spawned: Linux records
//! the high-water mark of the address space a process leaves at `exec`, and a child spawned
//! with `fork` or `vfork` leaves a copy of (or shares) its parent's. The bench holds the
//! stand-in's copy of the namespace (over 400 MiB at 1M keys), so a kvsync spawned by it would
//! never report less than that. [`run_isolated`] therefore starts kvsync from a fresh copy of
//! this binary (a few MiB), which measures it and writes the figures to a file: the launcher.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{self, Read as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The first argument that makes this binary the launcher: `--measure-child REPORT PROGRAM
/// ARGS…`.
pub(crate) const LAUNCHER_FLAG: &str = "--measure-child";

/// Runs `command` as [`run`] does, but spawned by the launcher (see the module documentation),
/// so that its peak memory is its own. Output, exit code and the figures are `command`'s.
pub(crate) fn run_isolated(command: &Command) -> io::Result<Measured> {
    let report = tempfile::NamedTempFile::new()?;
    let mut launcher = Command::new(std::env::current_exe()?);
    launcher
        .arg(LAUNCHER_FLAG)
        .arg(report.path())
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => launcher.env(name, value),
            None => launcher.env_remove(name),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        launcher.current_dir(dir);
    }
    let outer = run(&mut launcher)?;
    let text = std::fs::read_to_string(report.path())?;
    let inner = parse_report(&text).ok_or_else(|| {
        io::Error::other(format!(
            "the launcher reported no measurement (exit {:?}): {}",
            outer.code, outer.stderr
        ))
    })?;
    Ok(Measured { stdout: outer.stdout, stderr: outer.stderr, ..inner })
}

/// The launcher: runs `program` with `args` (standard streams and environment inherited),
/// waits for it, and writes what it cost to `report` for [`run_isolated`].
pub(crate) fn launch(report: &Path, program: &OsStr, args: &[OsString]) -> io::Result<()> {
    let start = Instant::now();
    let child = Command::new(program).args(args).spawn()?;
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::other("the child's pid does not fit a pid_t"))?;
    let (status, usage) = wait4(pid)?;
    let wall = start.elapsed();
    drop(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let measured = Measured {
        wall,
        user: timeval(usage.ru_utime),
        sys: timeval(usage.ru_stime),
        max_rss: max_rss_bytes(usage.ru_maxrss),
        code,
        stdout: String::new(),
        stderr: String::new(),
    };
    std::fs::write(report, format_report(&measured))
}

/// `wall_ns user_ns sys_ns max_rss_bytes code` (code `-` when a signal ended the process).
fn format_report(m: &Measured) -> String {
    let mut line = String::new();
    let code = m.code.map_or_else(|| "-".to_owned(), |c| c.to_string());
    let _ = write!(
        line,
        "{} {} {} {} {code}",
        m.wall.as_nanos(),
        m.user.as_nanos(),
        m.sys.as_nanos(),
        m.max_rss
    );
    line
}

fn parse_report(text: &str) -> Option<Measured> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [wall, user, sys, max_rss, code] = fields.as_slice() else { return None };
    let nanos = |field: &str| field.parse::<u64>().ok().map(Duration::from_nanos);
    Some(Measured {
        wall: nanos(wall)?,
        user: nanos(user)?,
        sys: nanos(sys)?,
        max_rss: max_rss.parse().ok()?,
        code: if *code == "-" { None } else { Some(code.parse().ok()?) },
        stdout: String::new(),
        stderr: String::new(),
    })
}

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
    fn the_launchers_report_reads_back() {
        let measured = Measured {
            wall: Duration::from_nanos(1_234_567_891),
            user: Duration::from_micros(250),
            sys: Duration::from_nanos(7),
            max_rss: 42 * 1024,
            code: Some(2),
            ..Measured::default()
        };
        let back = parse_report(&format_report(&measured)).expect("report");
        assert_eq!(
            (back.wall, back.user, back.sys, back.max_rss, back.code),
            (measured.wall, measured.user, measured.sys, measured.max_rss, measured.code)
        );
        let signalled = Measured { code: None, ..measured };
        assert_eq!(parse_report(&format_report(&signalled)).and_then(|m| m.code), None);
        assert!(parse_report("1 2 3").is_none());
    }

    #[test]
    fn the_launcher_measures_its_child() {
        let report = tempfile::NamedTempFile::new().expect("temp file");
        let args = ["-c".into(), "exit 3".into()];
        launch(report.path(), OsStr::new("sh"), &args).expect("sh runs");
        let measured =
            parse_report(&std::fs::read_to_string(report.path()).expect("report")).expect("parse");
        assert_eq!(measured.code, Some(3));
        assert!(measured.max_rss > 0);
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
