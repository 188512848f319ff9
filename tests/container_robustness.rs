//! The container store under attack and chaos (run as root): damaged container files in the
//! state root, many users removing and creating containers at once, and dokles processes
//! killed with SIGKILL half-way through `create`, `run` and `rm`.
//!
//! What these tests hold dokles to: one damaged container never stops another command; it
//! is reported (stderr of `ps`, a clear error from `inspect`) and removable with `rm -f` by
//! ID or unique ID prefix; concurrent commands see every container either whole or not at
//! all; and a killed writer leaves nothing the next writer does not clean up.

mod common_ctr;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common_ctr::{alive, monitor_pid, wait_for, Dokles, IMAGE};

// ---------------------------------------------------------------------------------------
// helpers

/// A random 64-hex container ID that no container has.
fn random_id() -> String {
    let mut bytes = [0u8; 32];
    let mut f = fs::File::open("/dev/urandom").expect("/dev/urandom");
    std::io::Read::read_exact(&mut f, &mut bytes).expect("random bytes");
    hex::encode(bytes)
}

fn container_dir(d: &Dokles, id: &str) -> PathBuf {
    d.root().join("containers").join(id)
}

/// Names in `dir` (empty if it does not exist).
fn entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The containers that own a layer pin.
fn pins(d: &Dokles) -> BTreeSet<String> {
    entries(&d.root().join("image/pins"))
        .into_iter()
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect()
}

/// `ps -a` as IDs, names, states, images and commands: what a healthy container shows,
/// without the times that change from one call to the next.
fn ps_rows(d: &Dokles) -> String {
    d.ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Names}} {{.State}} {{.Image}} {{.Command}}",
    ])
}

/// How many `container_removed` events the journal holds for `id`.
fn removals_journaled(d: &Dokles, id: &str) -> usize {
    fs::read_to_string(d.root().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"type\":\"container_removed\"") && l.contains(id))
        .count()
}

/// A directory with `docker` (a symlink to dokles) for shell lines typed as a user would,
/// on this test's state root.
struct Shell {
    bin: tempfile::TempDir,
    root: PathBuf,
}

impl Shell {
    fn new(d: &Dokles) -> Self {
        let bin = tempfile::TempDir::with_prefix("dokles-shim-").expect("shim dir");
        symlink(env!("CARGO_BIN_EXE_dokles"), bin.path().join("docker")).expect("docker shim");
        Self {
            bin,
            root: d.root().to_path_buf(),
        }
    }

    /// Run `script` with `sh -c`: exit code, stdout, stderr.
    fn run(&self, script: &str) -> (i32, String, String) {
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let o = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .env("DOKLES_ROOT", &self.root)
            .stdin(Stdio::null())
            .output()
            .expect("sh");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

// ---------------------------------------------------------------------------------------
// damaged containers

/// The ways a container's directory can be damaged: by a full disk, a power cut, a
/// student poking around in the state root, or an attacker.
#[derive(Debug, Clone, Copy)]
enum Damage {
    ConfigCutInHalf,
    StateCutInHalf,
    ConfigGarbage,
    StateGarbage,
    ConfigEmpty,
    StateEmpty,
    ConfigMissing,
    StateMissing,
    /// The config of another container, copied in: it names another ID.
    ConfigOfAnother,
}

const DAMAGES: [Damage; 9] = [
    Damage::ConfigCutInHalf,
    Damage::StateCutInHalf,
    Damage::ConfigGarbage,
    Damage::StateGarbage,
    Damage::ConfigEmpty,
    Damage::StateEmpty,
    Damage::ConfigMissing,
    Damage::StateMissing,
    Damage::ConfigOfAnother,
];

impl Damage {
    fn apply(self, dir: &Path, other: &Path) {
        let cut = |file: &str| {
            let p = dir.join(file);
            let data = fs::read(&p).expect("container file");
            fs::write(&p, &data[..data.len() / 2]).expect("cut file");
        };
        match self {
            Damage::ConfigCutInHalf => cut("config.json"),
            Damage::StateCutInHalf => cut("state.json"),
            Damage::ConfigGarbage => {
                fs::write(dir.join("config.json"), b"\x00\xff{\"id\":[").unwrap()
            }
            Damage::StateGarbage => {
                fs::write(dir.join("state.json"), b"{\"status\":\"zombie\"}").unwrap()
            }
            Damage::ConfigEmpty => fs::write(dir.join("config.json"), b"").unwrap(),
            Damage::StateEmpty => fs::write(dir.join("state.json"), b"").unwrap(),
            Damage::ConfigMissing => fs::remove_file(dir.join("config.json")).unwrap(),
            Damage::StateMissing => fs::remove_file(dir.join("state.json")).unwrap(),
            Damage::ConfigOfAnother => {
                fs::copy(other.join("config.json"), dir.join("config.json")).unwrap();
            }
        }
    }

    /// Whether the container's name can still be read (its config is intact).
    fn name_readable(self) -> bool {
        matches!(
            self,
            Damage::StateCutInHalf
                | Damage::StateGarbage
                | Damage::StateEmpty
                | Damage::StateMissing
        )
    }
}

/// A damaged entry of `containers/` and how a user would name it.
struct Victim {
    id: String,
    what: String,
}

#[test]
fn damaged_containers_are_reported_and_every_other_command_still_works() {
    let d = Dokles::new();
    d.ok(&["run", "--name", "good", IMAGE, "true"]);
    let good = d.inspect("good", "{{.Id}}");
    let alive = d.ok(&["run", "-d", "--name", "alive", IMAGE, "sleep", "1000"]);
    let healthy_rows = ps_rows(&d);

    let mut victims = Vec::new();
    for (n, damage) in DAMAGES.iter().enumerate() {
        let id = d.ok(&["create", "--name", &format!("victim{n}"), IMAGE, "true"]);
        damage.apply(&container_dir(&d, &id), &container_dir(&d, &good));
        victims.push(Victim {
            id,
            what: format!("{damage:?}"),
        });
    }
    // Entries no create made: an empty directory, one with only a state file, a file, and a
    // symlink to a directory elsewhere (which must be left alone).
    let empty = random_id();
    fs::create_dir(container_dir(&d, &empty)).unwrap();
    victims.push(Victim {
        id: empty,
        what: "an empty directory".into(),
    });
    let only_state = random_id();
    fs::create_dir(container_dir(&d, &only_state)).unwrap();
    fs::copy(
        container_dir(&d, &good).join("state.json"),
        container_dir(&d, &only_state).join("state.json"),
    )
    .unwrap();
    victims.push(Victim {
        id: only_state,
        what: "a directory with only state.json".into(),
    });
    let file = random_id();
    fs::write(container_dir(&d, &file), b"not a container").unwrap();
    victims.push(Victim {
        id: file,
        what: "a plain file".into(),
    });
    let elsewhere = tempfile::TempDir::with_prefix("dokles-not-a-container-").unwrap();
    fs::write(elsewhere.path().join("precious"), b"keep me").unwrap();
    let link = random_id();
    symlink(elsewhere.path(), container_dir(&d, &link)).unwrap();
    victims.push(Victim {
        id: link,
        what: "a symlink".into(),
    });

    // `ps -a` lists the healthy containers exactly as before, and names each damaged one
    // on stderr with the way out.
    let ps = d.run(&["ps", "-a"]);
    assert_eq!(ps.code, 0, "ps -a: {}", ps.stderr);
    assert_eq!(
        ps.stdout.lines().count(),
        3,
        "header, alive, good:\n{}",
        ps.stdout
    );
    assert_eq!(ps_rows(&d), healthy_rows);
    for v in &victims {
        let short = &v.id[..12];
        assert!(!ps.stdout.contains(short), "{}: listed on stdout", v.what);
        let warning = ps
            .stderr
            .lines()
            .find(|l| l.contains(short))
            .unwrap_or_else(|| panic!("{}: no warning in\n{}", v.what, ps.stderr));
        assert!(
            warning.starts_with("WARNING: container ")
                && warning.contains("is damaged")
                && warning.ends_with(&format!("Remove it with: docker rm -f {short}")),
            "{}: {warning}",
            v.what
        );
    }
    assert_eq!(ps.stderr.lines().count(), victims.len(), "{}", ps.stderr);

    // `inspect` of a damaged container says what is wrong; the others inspect as ever.
    for v in &victims {
        let short = &v.id[..12];
        let err = d.fails(&["inspect", short], 1);
        assert!(
            err.starts_with(&format!(
                "Error response from daemon: container {short} is damaged: "
            )) && err.ends_with(&format!("Remove it with: docker rm -f {short}\n")),
            "{}: {err}",
            v.what
        );
    }
    assert_eq!(d.inspect("good", "{{.State.Status}}"), "exited");
    assert_eq!(d.inspect(&alive, "{{.State.Status}}"), "running");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.Name}}", "good", "alive"]),
        "/good\n/alive"
    );

    // Everything else goes on as if they were not there.
    assert_eq!(
        d.ok(&["run", "--rm", IMAGE, "echo", "still works"]),
        "still works"
    );
    d.ok(&["run", "--rm", IMAGE, "true"]);
    let other = d.ok(&["create", "--name", "other", IMAGE]);
    d.ok(&["rename", "other", "other2"]);
    d.ok(&["start", "other2"]);
    assert_eq!(d.ok(&["rm", "-f", "other2"]), "other2");
    assert!(!container_dir(&d, &other).exists());
    d.ok(&["stop", "-t", "0", "alive"]);
    let prune = d.ok(&["container", "prune", "-f"]);
    assert!(
        prune.starts_with("Deleted Containers:\n") && prune.contains(&good),
        "{prune}"
    );
    for v in &victims {
        assert!(
            fs::symlink_metadata(container_dir(&d, &v.id)).is_ok(),
            "{}: prune removes only what it can see as stopped",
            v.what
        );
    }

    // `rm -f` removes each damaged one: by name where the name can still be read, else by
    // a unique ID prefix or the full ID.
    for (n, v) in victims.iter().enumerate() {
        let by = match DAMAGES.get(n) {
            Some(dmg) if dmg.name_readable() => format!("victim{n}"),
            _ if n % 2 == 0 => v.id[..12].to_string(),
            _ => v.id.clone(),
        };
        let o = d.run(&["rm", "-f", &by]);
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (0, format!("{by}\n").as_str(), ""),
            "rm -f of {}",
            v.what
        );
        assert!(
            fs::symlink_metadata(container_dir(&d, &v.id)).is_err(),
            "{}: still there",
            v.what
        );
    }
    assert_eq!(
        fs::read(elsewhere.path().join("precious")).unwrap(),
        b"keep me",
        "rm -f of a symlinked entry removed what it points to"
    );
    let ps = d.run(&["ps", "-a"]);
    assert_eq!((ps.code, ps.stderr.as_str()), (0, ""));
    assert_eq!(pins(&d), BTreeSet::new(), "every pin released");
    assert_eq!(entries(&d.root().join("containers")), BTreeSet::new());
}

#[test]
fn rm_without_force_refuses_a_damaged_container_only_while_it_runs() {
    let d = Dokles::new();
    let stopped = d.ok(&["create", IMAGE, "true"]);
    fs::write(container_dir(&d, &stopped).join("config.json"), b"{").unwrap();
    assert_eq!(d.ok(&["rm", &stopped[..12]]), &stopped[..12]);

    let running = d.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
    fs::write(container_dir(&d, &running).join("config.json"), b"{").unwrap();
    let err = d.fails(&["rm", &running[..12]], 1);
    assert_eq!(
        err,
        format!("Error response from daemon: You cannot remove a running container {running}. Stop the container before attempting removal or force remove\n")
    );
    assert_eq!(d.ok(&["rm", "-f", &running[..12]]), &running[..12]);
    assert_eq!(d.wait_clean(&[running]), Vec::<String>::new());
}

/// Damaging the state of a running container cannot hide its processes from `rm -f`: the
/// init, the monitor, the mount and the cgroup all go.
#[test]
fn rm_f_of_a_running_container_with_damaged_files_stops_it() {
    let d = Dokles::new();
    for file in ["state.json", "config.json"] {
        let id = d.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
        let pid: i32 = d.inspect(&id, "{{.State.Pid}}").parse().unwrap();
        let monitor = monitor_pid(&id).expect("the container's monitor");
        fs::write(container_dir(&d, &id).join(file), b"garbage").unwrap();
        assert!(
            d.run(&["ps"]).stderr.contains(&id[..12]),
            "the damaged running container is reported"
        );
        assert_eq!(d.ok(&["rm", "-f", &id[..12]]), &id[..12], "{file}");
        wait_for("the init and the monitor to end", || {
            !alive(pid) && !alive(monitor)
        });
        assert_eq!(
            d.wait_clean(std::slice::from_ref(&id)),
            Vec::<String>::new()
        );
        assert!(!container_dir(&d, &id).exists());
    }
}

// ---------------------------------------------------------------------------------------
// many users at once

#[test]
fn fifty_parallel_rm_f_all_succeed() {
    let d = Dokles::new();
    let mut ids = BTreeSet::new();
    for n in 0..50 {
        let id = if n % 10 == 0 {
            d.ok(&["run", "-d", IMAGE, "sleep", "1000"])
        } else {
            d.ok(&["create", "--name", &format!("c{n}"), IMAGE])
        };
        ids.insert(id[..12].to_string());
    }
    let sh = Shell::new(&d);
    let (code, out, err) = sh.run("docker ps -aq | xargs -P10 -n1 docker rm -f");
    assert_eq!((code, err.as_str()), (0, ""), "stdout:\n{out}");
    let removed: BTreeSet<String> = out.lines().map(str::to_string).collect();
    assert_eq!(removed, ids);
    assert_eq!(d.all_ids(), Vec::<String>::new());
    assert_eq!(entries(&d.root().join("containers")), BTreeSet::new());
    assert_eq!(pins(&d), BTreeSet::new());
}

#[test]
fn parallel_runs_with_rm_all_succeed_and_leave_nothing() {
    let d = Dokles::new();
    let sh = Shell::new(&d);
    let (code, out, err) = sh.run(&format!(
        "seq 30 | xargs -P10 -I{{}} docker run --rm --name r{{}} {IMAGE} echo {{}}"
    ));
    assert_eq!((code, err.as_str()), (0, ""), "stdout:\n{out}");
    let printed: BTreeSet<u32> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(printed, (1..=30).collect());
    wait_for("every --rm container to be gone", || {
        entries(&d.root().join("containers")).is_empty()
    });
    assert_eq!(d.all_ids(), Vec::<String>::new());
    assert_eq!(pins(&d), BTreeSet::new());
}

#[test]
fn of_two_creates_with_one_name_exactly_one_wins() {
    let d = Dokles::new();
    for round in 0..3 {
        let name = format!("contested{round}");
        let racers: Vec<Child> = (0..6)
            .map(|_| d.spawn(&["create", "--name", &name, IMAGE]))
            .collect();
        let outs: Vec<_> = racers
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let winners: Vec<_> = outs.iter().filter(|o| o.status.success()).collect();
        assert_eq!(winners.len(), 1, "{outs:?}");
        let id = String::from_utf8_lossy(&winners[0].stdout)
            .trim()
            .to_string();
        for o in outs.iter().filter(|o| !o.status.success()) {
            assert_eq!(o.status.code(), Some(1));
            assert_eq!(
                String::from_utf8_lossy(&o.stderr),
                format!("Error response from daemon: Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.\n")
            );
        }
        assert_eq!(d.inspect(&name, "{{.Id}}"), id);
    }
}

/// Hold the state root's writer lock, as a long command of another user would, until
/// `waiters` processes wait for it.
struct HeldLock(fs::File);

impl HeldLock {
    fn take(d: &Dokles) -> Self {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(d.root().join("lock"))
            .expect("lock file");
        // SAFETY: flock on a descriptor we own.
        assert_eq!(
            unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) },
            0
        );
        Self(f)
    }

    /// Wait until `n` processes are blocked on this lock (`/proc/locks` shows them as `->`).
    fn wait_for_waiters(&self, n: usize) {
        let inode = std::os::unix::fs::MetadataExt::ino(&self.0.metadata().unwrap());
        let suffix = format!(":{inode} ");
        wait_for(&format!("{n} processes waiting for the lock"), || {
            fs::read_to_string("/proc/locks")
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("->") && l.contains(&suffix))
                .count()
                >= n
        });
    }
}

#[test]
fn of_parallel_removals_of_one_container_exactly_one_removes_it() {
    let d = Dokles::new();
    for force in [false, true] {
        let id = d.ok(&["create", "--name", "once", IMAGE]);
        let mut args = vec!["rm"];
        if force {
            args.push("-f");
        }
        args.push("once");
        // Every racer finds the container, then waits for the lock: only one may remove it.
        let held = HeldLock::take(&d);
        let racers: Vec<Child> = (0..6).map(|_| d.spawn(&args)).collect();
        held.wait_for_waiters(6);
        drop(held);
        let outs: Vec<_> = racers
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let removed = outs.iter().filter(|o| o.stdout == b"once\n").count();
        assert_eq!(removed, 1, "{outs:?}");
        for o in outs.iter().filter(|o| o.stdout.is_empty()) {
            // As Docker: `rm -f` of a container that is not there says so but succeeds.
            assert_eq!(o.status.code(), Some(if force { 0 } else { 1 }), "{o:?}");
            assert_eq!(
                String::from_utf8_lossy(&o.stderr),
                "Error response from daemon: No such container: once\n"
            );
        }
        assert_eq!(
            removals_journaled(&d, &id),
            1,
            "one removal, journaled once"
        );
    }
}

/// `rm -f` of a container that another user is starting at that moment: whichever gets
/// the lock first, the container ends up removed and nothing of it runs on unseen.
#[test]
fn rm_f_during_a_start_leaves_no_container_running_unseen() {
    let d = Dokles::new();
    for _ in 0..4 {
        let id = d.ok(&["create", IMAGE, "sleep", "1000"]);
        let held = HeldLock::take(&d);
        let start = d.spawn(&["start", &id]);
        let rm = d.spawn(&["rm", "-f", &id]);
        // The monitor (to record the start) and `rm` (to remove) both wait for the lock.
        held.wait_for_waiters(2);
        drop(held);
        let rm = rm.wait_with_output().unwrap();
        assert_eq!(rm.status.code(), Some(0), "{rm:?}");
        start.wait_with_output().unwrap();
        assert_eq!(d.all_ids(), Vec::<String>::new());
        assert_eq!(entries(&d.root().join("containers")), BTreeSet::new());
        assert_eq!(
            d.wait_clean(std::slice::from_ref(&id)),
            Vec::<String>::new()
        );
    }
}

// ---------------------------------------------------------------------------------------
// writers killed half-way

/// A small xorshift generator: the kill moments, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("kill schedule seed: {seed}");
        Self(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// When to kill the command.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// After a random delay within the command's usual duration.
    After(Duration),
    /// As soon as a new entry appears in this directory of the root.
    Appears(&'static str),
}

/// Run `args` and SIGKILL it at `moment`; whether it was killed before it finished.
fn kill_at(d: &Dokles, args: &[&str], moment: Moment) -> bool {
    let watched = match moment {
        Moment::Appears(dir) => Some((d.root().join(dir), entries(&d.root().join(dir)))),
        Moment::After(_) => None,
    };
    let mut child = d.spawn(args);
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let due = match (&moment, &watched) {
            (Moment::After(delay), _) => start.elapsed() >= *delay,
            (Moment::Appears(_), Some((dir, before))) => {
                entries(dir).difference(before).next().is_some()
            }
            _ => unreachable!(),
        };
        if due {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        if start.elapsed() > Duration::from_secs(20) {
            panic!("docker {args:?} did not end");
        }
        if matches!(moment, Moment::After(_)) {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// The invariants a killed writer may not break, once the next writer has run: every
/// entry of `containers/` is a whole container that `ps -a` lists without complaint, each
/// has its layer pin and no other pin is left, and no staging is left in `tmp/`.
fn assert_whole(d: &Dokles, after: &str) {
    // Monitors of killed `run`s (also one forked but not yet executed when its `run` was
    // killed) finish on their own: their containers run `true`. Wait for them.
    let root = d.root().to_string_lossy().into_owned();
    wait_for("the monitors to finish", || {
        !common_ctr::processes().into_iter().any(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&root))
        })
    });
    // The next writer.
    let probe = d.ok(&["create", IMAGE, "true"]);
    let ps = d.run(&["ps", "-aq", "--no-trunc"]);
    assert_eq!((ps.code, ps.stderr.as_str()), (0, ""), "after {after}");
    let listed: BTreeSet<String> = ps.stdout.lines().map(str::to_string).collect();
    assert!(listed.contains(&probe));
    assert_eq!(
        entries(&d.root().join("containers")),
        listed,
        "after {after}: containers/ holds exactly the listed containers"
    );
    assert_eq!(pins(d), listed, "after {after}: one pin per container");
    assert_eq!(
        entries(&d.root().join("tmp")),
        BTreeSet::new(),
        "after {after}: staging left"
    );
    d.ok(&["rm", &probe]);
}

#[test]
fn writers_killed_at_any_moment_leave_nothing_after_the_next_writer() {
    let d = Dokles::new();
    let mut rng = Rng::new();
    // How long an undisturbed create takes (layers unpacked by a first one).
    d.ok(&["rm", &d.ok(&["create", IMAGE])]);
    let t = Instant::now();
    d.ok(&["rm", &d.ok(&["create", IMAGE])]);
    let usual = t.elapsed() * 3 / 2;
    let mut killed = 0;
    for round in 0..60 {
        let moment = match round % 5 {
            0 => Moment::Appears("containers"),
            1 => Moment::Appears("tmp"),
            2 => Moment::Appears("image/pins"),
            _ => Moment::After(Duration::from_micros(rng.below(usual.as_micros() as u64))),
        };
        let (what, args): (&str, Vec<&str>) = match round % 3 {
            0 => ("create", vec!["create", IMAGE, "true"]),
            1 => ("run --rm", vec!["run", "--rm", IMAGE, "true"]),
            _ => ("run -d", vec!["run", "-d", IMAGE, "true"]),
        };
        killed += kill_at(&d, &args, moment) as usize;
        assert_whole(&d, &format!("{what} killed at {moment:?}"));
    }
    eprintln!("{killed} of 60 commands killed before they finished");
    assert!(
        killed >= 30,
        "only {killed} of 60 commands were killed in time"
    );
}

#[test]
fn removals_killed_at_any_moment_leave_nothing_after_the_next_writer() {
    let d = Dokles::new();
    let mut rng = Rng::new();
    // How long an undisturbed `rm -f` of a created container takes.
    let id = d.ok(&["create", IMAGE]);
    let t = Instant::now();
    d.ok(&["rm", "-f", &id]);
    let usual = t.elapsed();
    let mut killed = 0;
    for round in 0..30 {
        let id = if round % 2 == 0 {
            d.ok(&["create", IMAGE])
        } else {
            d.ok(&["run", "-d", IMAGE, "sleep", "1000"])
        };
        let moment = match round % 3 {
            0 => Moment::Appears("tmp"),
            _ => Moment::After(Duration::from_micros(rng.below(usual.as_micros() as u64))),
        };
        killed += kill_at(&d, &["rm", "-f", &id], moment) as usize;
        // The container is either whole (killed before it went) or gone: never damaged.
        let ps = d.run(&["ps", "-aq", "--no-trunc"]);
        assert_eq!(
            (ps.code, ps.stderr.as_str()),
            (0, ""),
            "rm -f killed at {moment:?}"
        );
        let listed = ps.stdout.lines().any(|l| l == id);
        assert_eq!(
            listed,
            container_dir(&d, &id).exists(),
            "rm -f killed at {moment:?}"
        );
        if listed {
            d.ok(&["rm", "-f", &id]);
        }
        assert_whole(&d, &format!("rm -f killed at {moment:?}"));
    }
    eprintln!("{killed} of 30 removals killed before they finished");
    assert!(
        killed >= 10,
        "only {killed} of 30 removals were killed in time"
    );
}
