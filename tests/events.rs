//! The event journal (`<root>/events.jsonl`) as lessons see it: real docker commands through
//! the dokles binary, each test on a state root of its own (run as root), and what the
//! journal then holds — the container's real pid, namespaces and overlay, one `command`
//! entry per invocation with its exit code, whole lines from concurrent writers.

mod common_ctr;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common_ctr::{wait_for, Dokles, IMAGE};
use dokles::engine::image::Digest;
use dokles::events::{Entry, Event, Journal};
use dokles::state::StateRoot;

fn journal(d: &Dokles) -> Journal {
    Journal::open(&StateRoot::open(d.root()).expect("state root"))
}

/// The entries written since `offset`.
fn since(d: &Dokles, offset: u64) -> Vec<Entry> {
    journal(d).read_since(offset).expect("read the journal").0
}

/// `entries` without the unpacking an image's first container brings along.
fn without_unpacking(entries: Vec<Entry>) -> Vec<Entry> {
    entries
        .into_iter()
        .filter(|e| !matches!(e.event, Event::LayerUnpacked { .. }))
        .collect()
}

fn end(d: &Dokles) -> u64 {
    journal(d).end_offset().expect("journal end")
}

/// The `type` names of the events, in journal order.
fn types(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            serde_json::to_value(&e.event).expect("event as JSON")["type"]
                .as_str()
                .expect("a type")
                .to_string()
        })
        .collect()
}

fn commands(entries: &[Entry]) -> Vec<(Vec<String>, i32)> {
    entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::Command {
                argv, exit_code, ..
            } => Some((argv.clone(), *exit_code)),
            _ => None,
        })
        .collect()
}

fn started(entries: &[Entry]) -> Entry {
    entries
        .iter()
        .find(|e| matches!(e.event, Event::ContainerStarted { .. }))
        .cloned()
        .expect("a container_started entry")
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn ns_inode(path: impl AsRef<Path>) -> u64 {
    fs::metadata(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
        .ino()
}

fn canonical_root(d: &Dokles) -> PathBuf {
    fs::canonicalize(d.root()).expect("canonical root")
}

#[test]
fn run_rm_journals_created_started_exited_removed_then_the_command() {
    let d = Dokles::new();
    let from = end(&d);
    d.ok(&["run", "--rm", "--name", "kort", IMAGE, "true"]);
    let entries = since(&d, from);
    // The image's first container unpacks its layer first.
    assert_eq!(types(&entries)[0], "layer_unpacked");
    let entries = entries[1..].to_vec();
    assert_eq!(
        types(&entries),
        [
            "container_created",
            "container_started",
            "container_exited",
            "container_removed",
            "command"
        ]
    );
    let Event::ContainerStarted {
        name,
        pid,
        cmd,
        overlay,
        ..
    } = &started(&entries).event
    else {
        unreachable!()
    };
    assert_eq!(name, "kort");
    assert_eq!(cmd, &args(&["true"]));
    assert!(*pid > 1, "a host pid: {pid}");
    assert!(
        Path::new(&overlay.upperdir).starts_with(canonical_root(&d)),
        "{overlay:?}"
    );
    assert!(matches!(
        &entries[2].event,
        Event::ContainerExited { exit_code: 0, oom_killed: false, name, .. } if name == "kort"
    ));
    // The monitor journals the container's side, the CLI process the command.
    assert_ne!(entries[1].pid, entries[4].pid);
    assert_eq!(entries[0].pid, entries[4].pid);
    assert_eq!(
        commands(&entries),
        [(args(&["run", "--rm", "--name", "kort", IMAGE, "true"]), 0)]
    );
}

#[test]
fn a_started_event_shows_the_real_pid_namespaces_overlay_and_cgroups() {
    let d = Dokles::new();
    let from = end(&d);
    d.ok(&["run", "-d", "--name", "slaper", IMAGE, "sleep", "1000"]);
    let entries = since(&d, from);
    let Event::ContainerStarted {
        pid,
        namespaces,
        overlay,
        cgroups,
        hostname,
        tty,
        ..
    } = started(&entries).event
    else {
        unreachable!()
    };
    assert_eq!(pid.to_string(), d.inspect("slaper", "{{.State.Pid}}"));
    assert_eq!(&hostname, &d.inspect("slaper", "{{.Config.Hostname}}"));
    assert!(!tty);

    let kinds: Vec<&str> = namespaces.iter().map(|n| n.kind.as_str()).collect();
    for kind in ["pid", "mnt", "uts", "ipc", "net"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    for n in &namespaces {
        let theirs = ns_inode(format!("/proc/{pid}/ns/{}", n.kind));
        let ours = ns_inode(format!("/proc/self/ns/{}", n.kind));
        assert_ne!(theirs, ours, "the {} namespace is the host's", n.kind);
        assert_eq!(n.inode, Some(theirs), "{}", n.kind);
    }

    let root = canonical_root(&d);
    for dir in [&overlay.upperdir, &overlay.workdir, &overlay.merged] {
        assert!(
            Path::new(dir).starts_with(&root),
            "{dir} is not under the root"
        );
        assert!(Path::new(dir).is_dir(), "{dir} does not exist");
    }
    assert!(!overlay.lowerdirs.is_empty());
    for dir in &overlay.lowerdirs {
        assert!(Path::new(dir).is_dir(), "lower dir {dir} does not exist");
    }
    // The monitor's mount, seen from inside its mount namespace.
    let mounts = fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
    let upper = mounts
        .lines()
        .find(|l| l.contains(" - overlay "))
        .expect("an overlay root");
    assert!(
        upper.contains(&format!("upperdir={}", overlay.upperdir)),
        "{upper}"
    );

    assert!(!cgroups.is_empty());
    for dir in &cgroups {
        let procs = fs::read_to_string(Path::new(dir).join("cgroup.procs"))
            .unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert!(
            procs.lines().any(|p| p == pid.to_string()),
            "{pid} is not in {dir}"
        );
    }

    let from = end(&d);
    d.ok(&["rm", "-f", "slaper"]);
    let after = since(&d, from);
    assert!(after
        .iter()
        .any(|e| matches!(&e.event, Event::ContainerExited { exit_code: 137, .. })));
    assert_eq!(types(&after).last().map(String::as_str), Some("command"));
    assert!(types(&after).contains(&"container_removed".to_string()));
}

#[test]
fn failing_commands_journal_their_exit_code() {
    let d = Dokles::new();
    for (argv, code) in [
        (vec!["rmi", "nosuch"], 1),
        (vec!["ps", "--bogus"], 125),
        (vec!["frobnicate"], 1),
        (vec!["run", IMAGE, "sh", "-c", "exit 7"], 7),
        (vec!["run", IMAGE, "/no/such/binary"], 127),
    ] {
        let from = end(&d);
        let o = d.run(&argv);
        assert_eq!(o.code, code, "{argv:?}: {o:?}");
        let entries = since(&d, from);
        assert_eq!(commands(&entries), [(args(&argv), code)], "{argv:?}");
    }
}

#[test]
fn stop_pause_rename_exec_and_image_changes_are_journaled() {
    let d = Dokles::new();
    d.ok(&["run", "-d", "--name", "eerst", IMAGE, "sleep", "1000"]);
    let from = end(&d);
    d.ok(&["rename", "eerst", "daarna"]);
    d.ok(&["pause", "daarna"]);
    d.ok(&["unpause", "daarna"]);
    let o = d.run(&["exec", "daarna", "sh", "-c", "exit 4"]);
    assert_eq!(o.code, 4);
    d.ok(&["stop", "-t", "1", "daarna"]);
    d.ok(&["tag", IMAGE, "mijnbox:1"]);
    d.ok(&["rmi", "mijnbox:1"]);
    let entries = since(&d, from);
    let kinds: Vec<String> = types(&entries)
        .into_iter()
        .filter(|t| t != "command")
        .collect();
    assert_eq!(
        kinds,
        [
            "container_renamed",
            "container_paused",
            "container_unpaused",
            "exec_started",
            "exec_exited",
            "container_exited",
            "container_stopped",
            "image_tagged",
            "image_untagged"
        ]
    );
    let exec_pid = entries.iter().find_map(|e| match &e.event {
        Event::ExecStarted { pid, cmd, .. } => {
            assert_eq!(cmd, &args(&["sh", "-c", "exit 4"]));
            Some(*pid)
        }
        _ => None,
    });
    assert!(entries.iter().any(|e| matches!(
        &e.event,
        Event::ExecExited { pid, exit_code: 4, name, .. } if Some(*pid) == exec_pid && name == "daarna"
    )));
    assert!(
        entries.iter().any(|e| matches!(
            &e.event,
            Event::ContainerExited { exit_code: 137, name, .. } if name == "daarna"
        )),
        "the exit carries the name the container has now"
    );
    // sleep, as the container's pid 1, has no SIGTERM handler: the kernel ignores the signal
    // and SIGKILL follows the timeout.
    assert!(entries.iter().any(|e| matches!(
        &e.event,
        Event::ContainerStopped { signal, killed, .. } if signal == "SIGTERM" && *killed
    )));
    assert!(entries.iter().any(|e| matches!(
        &e.event,
        Event::ImageUntagged { reference } if reference == "docker.io/library/mijnbox:1"
    )));
}

#[test]
fn a_pull_journals_its_layers_and_a_second_pull_is_up_to_date() {
    let d = Dokles::new();
    let from = end(&d);
    d.ok(&["pull", "busybox"]);
    let entries = since(&d, from);
    assert_eq!(
        types(&entries)[..2],
        ["image_pulled".to_string(), "layer_stored".to_string()]
    );
    let Event::ImagePulled {
        reference, layers, ..
    } = &entries[0].event
    else {
        unreachable!()
    };
    assert_eq!(reference, "docker.io/library/busybox:latest");
    for l in layers {
        assert!(l.new);
        assert!(l.bytes > 0);
        assert!(!Path::new(&l.dir).exists(), "unpacked on first use only");
    }
    let Event::LayerStored { blob, diff_id, .. } = &entries[1].event else {
        unreachable!()
    };
    let tar = fs::read(blob).expect("the layer's tar");
    assert_eq!(&format!("{}", Digest::of(&tar)), diff_id);

    // The first container unpacks the layer where the pull said it would be.
    let from = end(&d);
    d.ok(&["run", "--rm", "busybox", "true"]);
    let unpacked: Vec<Entry> = since(&d, from)
        .into_iter()
        .filter(|e| matches!(e.event, Event::LayerUnpacked { .. }))
        .collect();
    let [Entry {
        event: Event::LayerUnpacked { dir, .. },
        ..
    }] = &unpacked[..]
    else {
        panic!("one layer_unpacked entry: {unpacked:?}")
    };
    assert_eq!(dir, &layers.last().expect("a layer").dir);
    assert!(Path::new(dir).join("bin/busybox").is_file());

    let from = end(&d);
    d.ok(&["pull", "busybox"]);
    assert_eq!(
        types(&since(&d, from)),
        ["image_up_to_date".to_string(), "command".to_string()]
    );
}

#[test]
fn concurrent_writers_leave_only_whole_lines() {
    let d = Dokles::new();
    let from = end(&d);
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_dokles"))
                .arg("--root")
                .arg(d.root())
                .args(["docker", "images"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn dokles")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let raw = fs::read(journal(&d).path()).expect("journal");
    assert!(raw.ends_with(b"\n"));
    for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        serde_json::from_slice::<Entry>(line)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)));
    }
    let entries = since(&d, from);
    assert_eq!(commands(&entries), vec![(args(&["images"]), 0); 8]);
    let mut pids: Vec<u32> = entries.iter().map(|e| e.pid).collect();
    pids.dedup();
    assert_eq!(pids.len(), 8, "one entry per process");
}

#[test]
fn read_since_round_trips_offsets_and_leaves_a_torn_last_line() {
    let dir = tempfile::TempDir::with_prefix("dokles-journal-").expect("temp dir");
    let root = StateRoot::open(dir.path()).expect("state root");
    let j = Journal::open(&root);
    assert_eq!(j.read_since(0).expect("read").0, []);
    let event = |n: i32| Event::Command {
        argv: args(&["ps"]),
        exit_code: n,
        cwd: "/".into(),
    };
    j.emit(event(1));
    j.emit(event(2));
    let (first, offset) = j.read_since(0).expect("read");
    assert_eq!(
        first.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        [event(1), event(2)]
    );
    assert_eq!(offset, j.end_offset().expect("end"));
    assert_eq!(first[0].pid, std::process::id());
    assert_eq!(j.read_since(offset).expect("read"), (vec![], offset));

    // A line from a newer dokles, then one still being written.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(j.path())
        .expect("open journal");
    writeln!(
        f,
        r#"{{"time":"2030-01-01T00:00:00.000000000Z","pid":1,"event":{{"type":"warp_drive"}}}}"#
    )
    .expect("write");
    let torn = serde_json::to_string(&first[0]).expect("entry as JSON");
    let (head, tail) = torn.split_at(torn.len() / 2);
    f.write_all(head.as_bytes()).expect("write");
    let (entries, after_unknown) = j.read_since(offset).expect("read");
    assert_eq!(entries, []);
    assert!(after_unknown > offset, "the unknown line is consumed");
    assert!(
        after_unknown < j.end_offset().expect("end"),
        "the torn one is not"
    );
    assert_eq!(j.read_since(after_unknown).expect("read").1, after_unknown);

    writeln!(f, "{tail}").expect("write");
    let (entries, last) = j.read_since(after_unknown).expect("read");
    assert_eq!(entries, [first[0].clone()]);
    assert_eq!(last, j.end_offset().expect("end"));
}

#[test]
fn commands_from_another_terminal_are_seen_by_a_reader() {
    let d = Dokles::new();
    let reader = journal(&d);
    let offset = reader.end_offset().expect("end");
    let child = d.spawn(&["run", "--name", "elders", IMAGE, "sleep", "1000"]);
    wait_for("the other terminal's container to start", || {
        types(&since(&d, offset)).contains(&"container_started".to_string())
    });
    d.ok(&["kill", "elders"]);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(137));
    let entries = since(&d, offset);
    let run = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::Command {
                argv, exit_code, ..
            } if argv[0] == "run" => Some(*exit_code),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(run, [137]);
    assert!(entries.iter().any(|e| matches!(
        &e.event,
        Event::ContainerKilled { signal, name, .. } if signal == "SIGKILL" && name == "elders"
    )));
}

#[test]
fn a_command_ended_by_ctrl_c_is_journaled_with_130_and_still_dies_of_the_signal() {
    use std::os::unix::process::ExitStatusExt;
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "prater",
        IMAGE,
        "sh",
        "-c",
        "echo hallo; sleep 1000",
    ]);
    let from = end(&d);
    let mut follower = d.spawn(&["logs", "-f", "prater"]);
    let mut first = [0u8; 6];
    std::io::Read::read_exact(follower.stdout.as_mut().expect("stdout"), &mut first)
        .expect("the log's first line");
    assert_eq!(&first, b"hallo\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(follower.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("send SIGINT");
    let status = follower.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGINT));
    assert_eq!(
        commands(&since(&d, from)),
        [(args(&["logs", "-f", "prater"]), 130)]
    );
}

#[test]
fn a_container_that_cannot_start_is_journaled_with_dockers_message() {
    let d = Dokles::new();
    let from = end(&d);
    let o = d.run(&["run", "--name", "mislukt", IMAGE, "/no/such/binary"]);
    assert_eq!(o.code, 127);
    let entries = without_unpacking(since(&d, from));
    assert_eq!(
        types(&entries),
        ["container_created", "container_start_failed", "command"]
    );
    let Event::ContainerStartFailed {
        name,
        message,
        exit_code,
        ..
    } = &entries[1].event
    else {
        unreachable!()
    };
    assert_eq!((name.as_str(), *exit_code), ("mislukt", 127));
    assert!(
        o.stderr.contains(message.as_str()),
        "{message} vs {}",
        o.stderr
    );
}

#[test]
fn commit_save_load_import_and_rmi_are_journaled_with_their_images() {
    let d = Dokles::new();
    let work = tempfile::TempDir::with_prefix("dokles-events-work-").expect("temp dir");
    d.ok(&[
        "run",
        "--name",
        "bouwer",
        IMAGE,
        "sh",
        "-c",
        "echo hoi > /hoi",
    ]);

    let from = end(&d);
    let id = d.ok(&["commit", "bouwer", "gebouwd:1"]);
    let entries = since(&d, from);
    assert_eq!(
        types(&entries),
        ["image_committed", "layer_stored", "command"]
    );
    assert!(matches!(
        &entries[0].event,
        Event::ImageCommitted { container_name, id: image, reference: Some(r), .. }
            if container_name == "bouwer" && *image == id.trim() && r == "docker.io/library/gebouwd:1"
    ));
    let Event::LayerStored { bytes, .. } = &entries[1].event else {
        unreachable!()
    };
    assert_eq!(*bytes, 4);
    let from = end(&d);
    assert_eq!(d.ok(&["run", "--rm", "gebouwd:1", "cat", "/hoi"]), "hoi");
    let Some(Event::LayerUnpacked { dir, bytes, .. }) = since(&d, from)
        .into_iter()
        .map(|e| e.event)
        .find(|e| matches!(e, Event::LayerUnpacked { .. }))
    else {
        panic!("the committed layer is unpacked for its first container")
    };
    assert_eq!(
        fs::read(Path::new(&dir).join("hoi")).expect("the layer"),
        b"hoi\n"
    );
    assert_eq!(bytes, 4);

    let archive = work.path().join("gebouwd.tar");
    let archive = archive.to_str().expect("utf-8 path");
    let from = end(&d);
    d.ok(&["save", "-o", archive, "gebouwd:1"]);
    d.ok(&["rmi", "gebouwd:1"]);
    d.ok(&["load", "-i", archive]);
    let entries = since(&d, from);
    let events: Vec<Event> = entries
        .into_iter()
        .map(|e| e.event)
        .filter(|e| !matches!(e, Event::Command { .. } | Event::LayerStored { .. }))
        .collect();
    assert_eq!(
        events,
        [
            Event::ImageSaved {
                refs: args(&["gebouwd:1"]),
                output: Some(archive.to_string()),
            },
            Event::ImageUntagged {
                reference: "docker.io/library/gebouwd:1".into(),
            },
            Event::ImageDeleted {
                id: id.trim().to_string(),
            },
            Event::ImageLoaded {
                id: id.trim().to_string(),
                refs: args(&["docker.io/library/gebouwd:1"]),
            },
        ]
    );

    let from = end(&d);
    let tar = common_ctr::busybox_tar().to_str().expect("utf-8 path");
    let imported = d.ok(&["import", tar, "kaal:1"]);
    let entries = since(&d, from);
    assert_eq!(types(&entries)[0], "image_imported");
    assert_eq!(
        entries[0].event,
        Event::ImageImported {
            id: imported.trim().to_string(),
            reference: Some("docker.io/library/kaal:1".into()),
            source: tar.to_string(),
        }
    );
}
