//! Container logs as Docker's json-file driver keeps them: reading a huge log costs little
//! memory (tails are found from the end, everything else is streamed), `--log-opt max-size`
//! / `max-file` rotate the files while `logs` (and `logs -f`, through rotations) still shows
//! everything kept, in order, and `--log-driver none` keeps nothing. Runs as root.

mod common_ctr;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common_ctr::{Dokles, IMAGE};

/// What a `dokles docker …` printed on stdout (the first bytes of it, and its line count),
/// its exit status and the most memory it held (max RSS, in KiB).
struct Measured {
    head: String,
    lines: usize,
    code: i32,
    max_rss_kib: i64,
}

// The child is reaped by `wait4`, which also gives its resource usage.
#[allow(clippy::zombie_processes)]
fn measured(d: &Dokles, args: &[&str]) -> Measured {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dokles"))
        .arg("--root")
        .arg(d.root())
        .arg("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dokles");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut head = Vec::new();
        let mut lines = 0;
        let mut buf = vec![0u8; 1 << 16];
        let mut out = stdout;
        loop {
            let n = out.read(&mut buf).expect("read dokles' output");
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|b| **b == b'\n').count();
            let room = 4096usize.saturating_sub(head.len());
            head.extend_from_slice(&buf[..n.min(room)]);
        }
        (String::from_utf8_lossy(&head).into_owned(), lines)
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into the two locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let (head, lines) = reader.join().expect("reader thread");
    Measured {
        head,
        lines,
        code: std::process::ExitStatus::from_raw(status)
            .code()
            .unwrap_or(-1),
        max_rss_kib: usage.ru_maxrss,
    }
}

fn log_path(d: &Dokles, name: &str) -> PathBuf {
    PathBuf::from(d.inspect(name, "{{.LogPath}}"))
}

fn rotated(log: &Path, n: u32) -> PathBuf {
    PathBuf::from(format!("{}.{n}", log.display()))
}

fn numbered(from: u32, to: u32) -> String {
    (from..=to)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_200_mb_log_is_read_in_little_memory() {
    let d = Dokles::new();
    // 200 MB of output in lines of 100 bytes: a log of about 340 MB.
    let line = "x".repeat(99);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "big",
        IMAGE,
        "sh",
        "-c",
        &format!("yes {line} | head -c 200000000; echo last line"),
    ]);
    assert_eq!(d.ok(&["wait", "big"]), "0");
    let size = std::fs::metadata(log_path(&d, "big")).expect("log").len();
    assert!(size > 300_000_000, "log of {size} bytes");

    let tail = measured(&d, &["logs", "--tail", "2", "big"]);
    assert_eq!(
        (tail.code, tail.head.as_str()),
        (0, &*format!("{line}\nlast line\n"))
    );
    assert!(
        tail.max_rss_kib < 20 * 1024,
        "--tail 2: {} KiB",
        tail.max_rss_kib
    );

    for args in [&["logs", "big"][..], &["logs", "-f", "big"]] {
        let all = measured(&d, args);
        assert_eq!((all.code, all.lines), (0, 2_000_001), "{args:?}");
        assert!(
            all.max_rss_kib < 20 * 1024,
            "{args:?}: {} KiB",
            all.max_rss_kib
        );
    }
}

#[test]
fn max_size_and_max_file_rotate_and_logs_shows_what_is_kept_in_order() {
    let d = Dokles::new();
    let hundred = "for i in $(seq 1 100); do echo line $i; done";
    d.ok(&[
        "run",
        "--name",
        "rot",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        IMAGE,
        "sh",
        "-c",
        hundred,
    ]);
    let log = log_path(&d, "rot");
    assert!(rotated(&log, 2).exists() && !rotated(&log, 3).exists());
    for f in [rotated(&log, 1), rotated(&log, 2)] {
        let size = std::fs::metadata(&f).expect("rotated file").len();
        assert!((1000..1100).contains(&size), "{}: {size}", f.display());
    }
    // Docker keeps the same: three files of 1 kB hold lines 66 to 100.
    assert_eq!(d.ok(&["logs", "rot"]), numbered(66, 100));
    // A tail reaching back into the rotated files.
    assert_eq!(d.ok(&["logs", "--tail", "30", "rot"]), numbered(71, 100));
    assert_eq!(d.ok(&["logs", "--tail", "0", "rot"]), "");
    assert_eq!(
        d.inspect("rot", "{{json .HostConfig.LogConfig}}"),
        r#"{"Type":"json-file","Config":{"max-file":"3","max-size":"1k"}}"#
    );

    // One file: emptied when full.
    d.ok(&[
        "run",
        "--name",
        "one",
        "--log-opt",
        "max-size=1k",
        IMAGE,
        "sh",
        "-c",
        hundred,
    ]);
    let log = log_path(&d, "one");
    assert!(!rotated(&log, 1).exists());
    let kept = d.ok(&["logs", "one"]);
    assert!(
        kept.ends_with(&numbered(95, 100)) && kept.lines().count() < 20,
        "{kept}"
    );

    // max-file without max-size rotates nothing, as in Docker.
    d.ok(&[
        "run",
        "--name",
        "all",
        "--log-opt",
        "max-file=2",
        IMAGE,
        "sh",
        "-c",
        hundred,
    ]);
    assert_eq!(d.ok(&["logs", "all"]), numbered(1, 100));
    assert!(!rotated(&log_path(&d, "all"), 1).exists());
}

/// `logs -f` of a container started with `opts` that waits a second and then runs
/// `script`: everything the follower printed.
fn follow(d: &Dokles, name: &str, opts: &[&str], script: &str) -> String {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(opts);
    let script = format!("sleep 1; {script}");
    args.extend_from_slice(&[IMAGE, "sh", "-c", &script]);
    d.ok(&args);
    let follower = d.spawn(&["logs", "-f", name]);
    let out = follower.wait_with_output().expect("logs -f");
    assert!(
        out.status.success(),
        "logs -f: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn logs_follow_keeps_up_through_rotations() {
    let d = Dokles::new();
    // A burst: about a hundred rotations between two looks of the follower.
    let burst = follow(
        &d,
        "burst",
        &["--log-opt", "max-size=2k", "--log-opt", "max-file=200"],
        "for i in $(seq 1 3000); do echo line $i; done",
    );
    assert_eq!(burst.trim_end(), numbered(1, 3000));
    assert!(rotated(&log_path(&d, "burst"), 90).exists(), "it rotated");
    // Steady output: a rotation or two between looks.
    let steady = follow(
        &d,
        "steady",
        &["--log-opt", "max-size=1k", "--log-opt", "max-file=5"],
        "for i in $(seq 1 300); do echo line $i; [ $((i % 25)) = 0 ] && sleep 0.1; done; true",
    );
    assert_eq!(steady.trim_end(), numbered(1, 300));
}

#[test]
fn log_driver_none_keeps_nothing() {
    let d = Dokles::new();
    // The attached client still gets the output.
    assert_eq!(
        d.ok(&[
            "run",
            "--name",
            "quiet",
            "--log-driver",
            "none",
            IMAGE,
            "echo",
            "hi"
        ]),
        "hi"
    );
    let id = d.inspect("quiet", "{{.Id}}");
    assert!(!d
        .root()
        .join("containers")
        .join(&id)
        .join(format!("{id}-json.log"))
        .exists());
    for args in [
        &["logs", "quiet"][..],
        &["logs", "-f", "--tail", "1", "quiet"],
    ] {
        let err = d.fails(args, 1);
        assert_eq!(
            err,
            "Error response from daemon: configured logging driver does not support reading\n"
        );
    }
    assert_eq!(
        d.inspect("quiet", "{{json .HostConfig.LogConfig}}|{{.LogPath}}|"),
        r#"{"Type":"none","Config":{}}||"#
    );
}

#[test]
fn a_log_option_the_driver_refuses_keeps_the_container_from_starting() {
    let d = Dokles::new();
    let err = d.fails(
        &[
            "run",
            "--name",
            "bad",
            "--log-opt",
            "max-size=10_kb",
            IMAGE,
            "echo",
            "hi",
        ],
        125,
    );
    assert!(
        err.starts_with(
            "docker: Error response from daemon: failed to initialize logging driver: invalid size: '10_kb'\n"
        ),
        "{err}"
    );
    assert_eq!(
        d.inspect(
            "bad",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}"
        ),
        "created 128 failed to initialize logging driver: invalid size: '10_kb'"
    );
    assert_eq!(
        d.fails(&["logs", "bad"], 1),
        "Error response from daemon: invalid size: '10_kb'\n"
    );
    // Nothing ran: no monitor, no log.
    let id = d.inspect("bad", "{{.Id}}");
    assert!(common_ctr::monitor_pid(&id).is_none());
    let lines =
        BufReader::new(std::fs::File::open(d.root().join("events.jsonl")).expect("journal"))
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains("container_start_failed") && l.contains(&id))
            .count();
    assert_eq!(lines, 1, "the failed start is journaled");
}

#[test]
fn drivers_and_options_dokles_lacks_are_refused_at_create() {
    let d = Dokles::new();
    // Docker's own drivers that dokles lacks are, as on a daemon without them, no plugin.
    assert_eq!(
        d.fails(&["create", "--log-driver", "syslog", IMAGE], 1),
        "Error response from daemon: error looking up logging plugin syslog: plugin \"syslog\" not found\n"
    );
    for opt in [
        "tag={{.Name}}",
        "compress=true",
        "labels=a",
        "mode=non-blocking",
    ] {
        let err = d.fails(&["create", "--log-opt", opt, IMAGE], 1);
        assert!(err.contains("not supported by dokles"), "{opt}: {err}");
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "", "nothing was created");
}

/// Makes a file immutable (`chattr +i`) until dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn new(path: PathBuf) -> Self {
        let status = Command::new("chattr")
            .arg("+i")
            .arg(&path)
            .status()
            .expect("chattr");
        assert!(status.success(), "chattr +i {}", path.display());
        Self(path)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn a_log_that_cannot_be_written_costs_lines_not_the_container() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "stuck",
        IMAGE,
        "sh",
        "-c",
        "echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after; exit 3",
    ]);
    common_ctr::wait_for("the first line", || d.ok(&["logs", "stuck"]) == "before");
    // From now on every write to the log fails (as on a full disk).
    let _frozen = Immutable::new(log_path(&d, "stuck"));
    d.ok(&["exec", "stuck", "touch", "/tmp/go"]);
    assert_eq!(d.ok(&["wait", "stuck"]), "3", "the exit is recorded");
    assert_eq!(
        d.inspect(
            "stuck",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}"
        ),
        "exited 3 "
    );
    assert_eq!(d.ok(&["logs", "stuck"]), "before");
}
