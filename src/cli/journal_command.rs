//! The `command` journal entry of a docker invocation: exactly one per invocation, written
//! when it ends, whichever way it ends — a returned result ([`super::docker`]), an early
//! `exit` (a signal ending an attached session, [`exit`]), or death by SIGINT, SIGTERM or
//! SIGHUP (Ctrl-C on `logs -f`), which a signal handler journals before letting the signal
//! end the process as it would have.

use std::ffi::c_int;
use std::os::fd::IntoRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::events::{Event, Journal};
use crate::state::StateRoot;

/// The invocation under way: where to write and what was typed.
static PENDING: Mutex<Option<(Journal, Vec<String>)>> = Mutex::new(None);

/// Set by whoever writes the entry first (a normal end or the signal handler).
static DONE: AtomicBool = AtomicBool::new(false);

/// What the signal handler needs, prepared beforehand: it may not allocate or lock.
struct SignalEntry {
    /// An append descriptor on the journal.
    fd: c_int,
    /// The process the entry is for (a forked child must not write it).
    pid: libc::pid_t,
    /// The line around the time and the exit code: `{"time":"` TIME `","pid":…,"argv":…,
    /// "exit_code":` CODE `,"cwd":…}}\n`.
    middle: Vec<u8>,
    tail: Vec<u8>,
}

static SIGNAL_ENTRY: OnceLock<SignalEntry> = OnceLock::new();
static SIGNAL_FD: AtomicI32 = AtomicI32::new(-1);

/// The signals whose default action ends the process and which a student sends from the
/// keyboard or a terminal closing.
const FATAL: [c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Remember this invocation (its arguments after `docker`) and journal it even if a signal
/// ends the process.
pub fn begin(root: &StateRoot, args: &[String]) {
    let journal = Journal::open(root);
    prepare_signal_entry(&journal, args);
    if let Ok(mut p) = PENDING.lock() {
        *p = Some((journal, args.to_vec()));
    }
}

/// Write the invocation's `command` entry with the exit code the process returns.
pub fn finish(exit_code: i32) {
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let pending = PENDING.lock().ok().and_then(|mut p| p.take());
    if let Some((journal, argv)) = pending {
        journal.emit(Event::Command {
            argv,
            exit_code,
            cwd: cwd(),
        });
    }
}

/// End the process now with `code`, after writing the `command` entry.
pub fn exit(code: i32) -> ! {
    finish(code);
    std::process::exit(code)
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

/// Prepare the entry a signal writes and install the handler. Best effort: without it, a
/// signal ends the process unjournaled, as before.
fn prepare_signal_entry(journal: &Journal, argv: &[String]) {
    let Ok(file) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(journal.path())
    else {
        return;
    };
    let (Ok(argv), Ok(cwd)) = (serde_json::to_string(argv), serde_json::to_string(&cwd())) else {
        return;
    };
    let pid = std::process::id();
    let entry = SignalEntry {
        fd: file.into_raw_fd(),
        pid: pid as libc::pid_t,
        middle: format!(
            "\",\"pid\":{pid},\"event\":{{\"type\":\"command\",\"argv\":{argv},\"exit_code\":"
        )
        .into_bytes(),
        tail: format!(",\"cwd\":{cwd}}}}}\n").into_bytes(),
    };
    SIGNAL_FD.store(entry.fd, Ordering::SeqCst);
    if SIGNAL_ENTRY.set(entry).is_err() {
        return;
    }
    for signal in FATAL {
        // SAFETY: installs a handler that only does async-signal-safe work (atomics, reads
        // of data prepared above, clock_gettime, write, signal, raise).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            // Keep the default for signals that were ignored when we started (nohup).
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_IGN
            {
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }
}

/// Journal the invocation as ended by `signal` (exit code 128 + signal, as the shell
/// reports it), then die of the signal with its default action.
extern "C" fn on_fatal_signal(signal: c_int) {
    // SAFETY: getpid is async-signal-safe.
    let pid = unsafe { libc::getpid() };
    if let Some(entry) = SIGNAL_ENTRY.get().filter(|e| e.pid == pid) {
        if !DONE.swap(true, Ordering::SeqCst) {
            write_signal_entry(entry, 128 + signal);
        }
    }
    // SAFETY: signal and raise are async-signal-safe; the raised signal is blocked until
    // this handler returns, and then ends the process as it would have without us.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Assemble the line on the stack and write it in one `write(2)` (no allocation).
fn write_signal_entry(entry: &SignalEntry, code: i32) {
    let mut buf = [0u8; 16 * 1024];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        let end = len + bytes.len();
        if end <= buf.len() {
            buf[len..end].copy_from_slice(bytes);
        }
        len = end;
    };
    put(b"{\"time\":\"");
    put(&rfc3339_now());
    put(&entry.middle);
    let mut digits = [0u8; 12];
    put(decimal(code as u64, &mut digits));
    put(&entry.tail);
    if len <= buf.len() {
        // SAFETY: write(2) from a valid buffer of `len` bytes; the result is ignored (the
        // journal never fails a command).
        unsafe { libc::write(SIGNAL_FD.load(Ordering::SeqCst), buf.as_ptr().cast(), len) };
    }
}

/// The current UTC time as `2026-11-23T16:52:44.030144143Z`, without allocating.
fn rfc3339_now() -> [u8; 30] {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec given; async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    rfc3339(ts.tv_sec, ts.tv_nsec as u32)
}

fn rfc3339(secs: i64, nanos: u32) -> [u8; 30] {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00.000000000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y.clamp(0, 9999) as u64);
    put(5, 2, m.into());
    put(8, 2, d.into());
    put(11, 2, (rem / 3600) as u64);
    put(14, 2, (rem / 60 % 60) as u64);
    put(17, 2, (rem % 60) as u64);
    put(20, 9, nanos.into());
    out
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `v` in decimal, written into the end of `buf`.
fn decimal(mut v: u64, buf: &mut [u8; 12]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, SecondsFormat};

    #[test]
    fn the_handlers_clock_formats_as_chrono_does() {
        for (secs, nanos) in [
            (0, 0),
            (951_782_400, 5),
            (1_795_452_764, 30_144_143),
            (4_102_444_799, 999_999_999),
        ] {
            let ours = rfc3339(secs, nanos);
            let chrono = DateTime::from_timestamp(secs, nanos)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Nanos, true);
            assert_eq!(std::str::from_utf8(&ours).unwrap(), chrono);
        }
    }

    #[test]
    fn decimals() {
        let mut buf = [0u8; 12];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(130, &mut buf), b"130");
    }
}
