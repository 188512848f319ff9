//! The container lifecycle through dokles' Docker CLI, end to end (run as root): every test
//! has its own state root with a busybox image, runs `dokles --root ROOT docker …`, and ends
//! with all its containers removed and nothing of them left (see `common_ctr`).
//!
//! Texts and exit codes are Docker Engine 20.10's, checked against the real engine with the
//! same busybox image (`tests/differential_containers.rs` keeps checking them).

mod common_ctr;

use std::io::Read;
use std::time::{Duration, Instant};

use common_ctr::{
    alive, container_cgroup_dirs, monitor_pid, wait_for, Dokles, DEFAULT_CAP_EFF, IMAGE,
};

// ---------------------------------------------------------------------------------------
// run: exit codes and output

#[test]
fn run_propagates_the_containers_exit_code() {
    let d = Dokles::new();
    let o = d.run(&["run", IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(o.code, 3);
    assert_eq!(o.stderr, "", "a failing container is no dokles error");
}

#[test]
fn run_of_a_killed_container_exits_128_plus_the_signal() {
    let d = Dokles::new();
    let foreground = d.spawn(&["run", "--name", "doomed", IMAGE, "sleep", "1000"]);
    wait_for("the container to run", || {
        d.run(&["inspect", "-f", "{{.State.Status}}", "doomed"])
            .stdout
            == "running\n"
    });
    d.ok(&["kill", "doomed"]);
    let out = foreground.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137));
    assert_eq!(d.inspect("doomed", "{{.State.ExitCode}}"), "137");
}

#[test]
fn foreground_run_keeps_stdout_and_stderr_apart() {
    let d = Dokles::new();
    let o = d.run(&[
        "run",
        "--name",
        "split",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; echo out2",
    ]);
    assert_eq!(o.code, 0);
    assert_eq!(o.stdout, "out\nout2\n");
    assert_eq!(o.stderr, "err\n");
    // The log keeps them apart too.
    let logs = d.run(&["logs", "split"]);
    assert_eq!(logs.stdout, "out\nout2\n");
    assert_eq!(logs.stderr, "err\n");
}

#[test]
fn a_missing_command_exits_127_with_dockers_message() {
    let d = Dokles::new();
    let err = d.fails(&["run", IMAGE, "nosuchcmd"], 127);
    assert!(
        err.starts_with("docker: Error response from daemon: failed to create shim task: OCI runtime create failed: "),
        "{err}"
    );
    assert!(
        err.ends_with(
            "unable to start container process: exec: \"nosuchcmd\": executable file not found in $PATH: unknown\n\nRun 'docker run --help' for more information\n"
        ),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_executable_exits_126() {
    let d = Dokles::new();
    let err = d.fails(&["run", IMAGE, "/etc/passwd"], 126);
    assert!(
        err.contains("exec: \"/etc/passwd\": permission denied: unknown"),
        "{err}"
    );
}

#[test]
fn a_container_that_failed_to_start_stays_created_with_the_error() {
    let d = Dokles::new();
    d.fails(&["run", "--name", "broken", IMAGE, "nosuchcmd"], 127);
    assert_eq!(d.status("broken"), "created");
    assert_eq!(d.inspect("broken", "{{.State.ExitCode}}"), "127");
    assert!(d
        .inspect("broken", "{{.State.Error}}")
        .contains("executable file not found in $PATH"));
}

// ---------------------------------------------------------------------------------------
// run -d: the monitor owns the container

#[test]
fn run_detached_prints_the_full_id_and_returns_while_the_container_runs() {
    let d = Dokles::new();
    let started = Instant::now();
    let id = d.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(d.status(&id), "running");
    let pid: i32 = d.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    assert!(alive(pid), "the container's init runs on the host as {pid}");
    assert!(monitor_pid(&id).is_some(), "a monitor owns the container");
}

#[test]
fn detached_output_keeps_going_to_the_log() {
    let d = Dokles::new();
    let id = d.ok(&[
        "run",
        "-d",
        IMAGE,
        "sh",
        "-c",
        "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three",
    ]);
    d.wait_status(&id, "exited");
    let logs = d.run(&["logs", &id]);
    assert_eq!(logs.stdout, "one\nthree\n");
    assert_eq!(logs.stderr, "two\n");
}

#[test]
fn the_exit_is_recorded_with_no_dokles_command_waiting() {
    let d = Dokles::new();
    let id = d.ok(&["run", "-d", IMAGE, "sh", "-c", "sleep 0.5; exit 3"]);
    // Nobody waits: the monitor alone records the exit.
    wait_for("the monitor to record the exit", || {
        d.inspect(&id, "{{.State.Status}} {{.State.ExitCode}}") == "exited 3"
    });
    let state = &d.inspect_json(&id)["State"];
    assert_eq!(state["Running"], false);
    assert_eq!(state["Pid"], 0);
    let started = state["StartedAt"].as_str().unwrap();
    let finished = state["FinishedAt"].as_str().unwrap();
    assert!(finished > started, "{started} .. {finished}");
    assert_eq!(d.ok(&["wait", &id]), "3");
    let status = d.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(
        status.starts_with("Exited (3) ") && status.ends_with(" ago"),
        "{status}"
    );
    wait_for("the monitor to end with its container", || {
        monitor_pid(&id).is_none()
    });
}

#[test]
fn wait_blocks_until_the_container_exits_and_prints_its_code() {
    let d = Dokles::new();
    let id = d.ok(&["run", "-d", IMAGE, "sh", "-c", "sleep 0.5; exit 7"]);
    let waiter = d.spawn(&["wait", &id]);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "7\n");
    assert_eq!(d.status(&id), "exited");
}

// ---------------------------------------------------------------------------------------
// stop, kill, restart, start

#[test]
fn stop_sends_sigterm_then_sigkill_after_the_timeout() {
    let d = Dokles::new();
    // The shell traps TERM, so only SIGKILL ends it.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo got TERM' TERM; while true; do sleep 0.1; done",
    ]);
    wait_for("the trap to be set", || {
        d.ok(&["logs", "stubborn"]).is_empty()
    });
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    assert_eq!(d.ok(&["stop", "-t", "1", "stubborn"]), "stubborn");
    let took = t.elapsed();
    assert!(took >= Duration::from_secs(1), "stop took {took:?}");
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    assert_eq!(d.inspect("stubborn", "{{.State.ExitCode}}"), "137");
    assert!(d.ok(&["logs", "stubborn"]).contains("got TERM"));
}

#[test]
fn stop_of_a_container_that_honours_sigterm_is_quick() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    d.ok(&["stop", "-t", "5", "polite"]);
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(
        d.ok(&["ps", "-a", "--format", "{{.Status}}"])
            .split(' ')
            .take(2)
            .collect::<Vec<_>>(),
        ["Exited", "(0)"]
    );
}

#[test]
fn kill_sends_the_named_signal() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "kk",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo got USR1' USR1; while true; do sleep 0.1; done",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.ok(&["kill", "-s", "USR1", "kk"]), "kk");
    wait_for("the trap to run", || d.ok(&["logs", "kk"]) == "got USR1");
    assert_eq!(d.status("kk"), "running", "USR1 is handled, not fatal");
    d.ok(&["kill", "-s", "9", "kk"]);
    d.wait_status("kk", "exited");
    assert_eq!(d.inspect("kk", "{{.State.ExitCode}}"), "137");
}

#[test]
fn kill_defaults_to_sigkill() {
    let d = Dokles::new();
    d.ok(&["run", "-d", "--name", "kk", IMAGE, "sleep", "1000"]);
    d.ok(&["kill", "kk"]);
    assert_eq!(d.ok(&["wait", "kk"]), "137");
}

#[test]
fn kill_of_a_stopped_container_is_refused() {
    let d = Dokles::new();
    d.ok(&["run", "--name", "xx", IMAGE, "true"]);
    let id = d.inspect("xx", "{{.Id}}");
    let err = d.fails(&["kill", "xx"], 1);
    assert_eq!(
        err,
        format!("Error response from daemon: Cannot kill container: xx: Container {id} is not running\n")
    );
}

#[test]
fn restart_runs_the_container_again() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "rr",
        IMAGE,
        "sh",
        "-c",
        "echo started; sleep 1000",
    ]);
    wait_for("the first start", || d.ok(&["logs", "rr"]) == "started");
    let first_pid = d.inspect("rr", "{{.State.Pid}}");
    assert_eq!(d.ok(&["restart", "-t", "1", "rr"]), "rr");
    assert_eq!(d.status("rr"), "running");
    assert_ne!(d.inspect("rr", "{{.State.Pid}}"), first_pid);
    wait_for("the second start", || {
        d.ok(&["logs", "rr"]) == "started\nstarted"
    });
}

#[test]
fn start_runs_a_created_container_and_start_a_attaches() {
    let d = Dokles::new();
    let id = d.ok(&[
        "create",
        "--name",
        "cc",
        IMAGE,
        "sh",
        "-c",
        "echo hello; exit 4",
    ]);
    assert_eq!(id.len(), 64);
    assert_eq!(d.status("cc"), "created");
    assert_eq!(d.ok(&["start", "cc"]), "cc");
    assert_eq!(d.ok(&["wait", "cc"]), "4");
    let o = d.run(&["start", "-a", "cc"]);
    assert_eq!((o.code, o.stdout.as_str()), (4, "hello\n"));
    assert_eq!(d.ok(&["logs", "cc"]), "hello\nhello");
}

// ---------------------------------------------------------------------------------------
// rm, --rm, prune: nothing is left behind

#[test]
fn rm_of_a_running_container_is_refused_without_force() {
    let d = Dokles::new();
    let id = d.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
    let err = d.fails(&["rm", &id], 1);
    assert_eq!(
        err,
        format!("Error response from daemon: You cannot remove a running container {id}. Stop the container before attempting removal or force remove\n")
    );
    assert_eq!(d.status(&id), "running");
}

#[test]
fn rm_force_of_a_running_container_leaves_nothing_behind() {
    let d = Dokles::new();
    let id = d.ok(&["run", "-d", "--name", "victim", IMAGE, "sleep", "1000"]);
    let pid: i32 = d.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let monitor = monitor_pid(&id).expect("the container's monitor");
    assert_eq!(d.ok(&["rm", "-f", "victim"]), "victim");
    wait_for("the init and the monitor to end", || {
        !alive(pid) && !alive(monitor)
    });
    assert_eq!(d.all_ids(), Vec::<String>::new());
    assert!(!d.root().join("containers").join(&id).exists());
    assert_eq!(
        d.wait_clean(std::slice::from_ref(&id)),
        Vec::<String>::new()
    );
}

/// The guard's own check, as an assertion: after `rm -f` of running, exited and created
/// containers, no process, mount or cgroup of them remains.
#[test]
fn cleanup_leaves_no_process_mount_or_cgroup() {
    let d = Dokles::new();
    let running = d.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
    let exited = d.ok(&["run", "-d", IMAGE, "true"]);
    let created = d.ok(&["create", IMAGE]);
    let ids = vec![running.clone(), exited, created];
    assert!(
        container_cgroup_dirs(&running).iter().all(|d| d.is_dir()),
        "a running container has its cgroup"
    );
    assert!(
        !d.leftovers(&ids).is_empty(),
        "the check sees a running container"
    );
    assert_eq!(d.remove_all(), Vec::<String>::new());
    assert_eq!(d.leftovers(&ids), Vec::<String>::new());
}

#[test]
fn run_rm_removes_the_container_after_it_exits() {
    let d = Dokles::new();
    let o = d.run(&[
        "run",
        "--rm",
        "--name",
        "gone",
        IMAGE,
        "sh",
        "-c",
        "echo bye; exit 2",
    ]);
    assert_eq!((o.code, o.stdout.as_str()), (2, "bye\n"));
    assert_eq!(d.all_ids(), Vec::<String>::new());
    let id = d.ok(&["run", "-d", "--rm", IMAGE, "sh", "-c", "sleep 0.3"]);
    wait_for("the detached --rm container to go", || {
        d.all_ids().is_empty()
    });
    assert_eq!(d.wait_clean(&[id]), Vec::<String>::new());
}

#[test]
fn container_prune_removes_stopped_containers_only() {
    let d = Dokles::new();
    let exited = d.ok(&["run", "-d", IMAGE, "true"]);
    let created = d.ok(&["create", IMAGE]);
    let running = d.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
    d.wait_status(&exited, "exited");
    let out = d.ok(&["container", "prune", "-f"]);
    let mut lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.remove(0), "Deleted Containers:");
    let mut deleted: Vec<&str> = lines[..2].to_vec();
    deleted.sort();
    let mut expected = vec![exited.as_str(), created.as_str()];
    expected.sort();
    assert_eq!(deleted, expected);
    assert_eq!(lines[2], "");
    assert!(lines[3].starts_with("Total reclaimed space: "), "{out}");
    assert_eq!(d.all_ids(), vec![running]);
}

// ---------------------------------------------------------------------------------------
// names, IDs, prefixes

#[test]
fn a_name_in_use_is_a_conflict_with_exit_125() {
    let d = Dokles::new();
    d.ok(&["run", "--name", "x1", IMAGE, "true"]);
    let id = d.inspect("x1", "{{.Id}}");
    let err = d.fails(&["run", "--name", "x1", IMAGE, "true"], 125);
    assert_eq!(
        err,
        format!("docker: Error response from daemon: Conflict. The container name \"/x1\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.\n\nRun 'docker run --help' for more information\n")
    );
    // `create` prints the daemon's error plainly and exits 1.
    let err = d.fails(&["create", "--name", "x1", IMAGE], 1);
    assert!(
        err.starts_with("Error response from daemon: Conflict. The container name \"/x1\""),
        "{err}"
    );
}

#[test]
fn an_unknown_container_is_no_such_container() {
    let d = Dokles::new();
    for cmd in [
        &["rm", "nope"][..],
        &["stop", "nope"],
        &["logs", "nope"],
        &["wait", "nope"],
    ] {
        let err = d.fails(cmd, 1);
        assert_eq!(
            err, "Error response from daemon: No such container: nope\n",
            "{cmd:?}"
        );
    }
    assert_eq!(
        d.fails(&["start", "nope"], 1),
        "Error response from daemon: No such container: nope\nError: failed to start containers: nope\n"
    );
    assert_eq!(
        d.fails(&["kill", "nope"], 1),
        "Error response from daemon: Cannot kill container: nope: No such container: nope\n"
    );
    assert_eq!(
        d.fails(&["inspect", "nope"], 1),
        "Error: No such object: nope\n"
    );
}

#[test]
fn containers_are_found_by_name_full_id_and_unique_prefix() {
    let d = Dokles::new();
    let id = d.ok(&["create", "--name", "findme", IMAGE]);
    assert_eq!(d.inspect("findme", "{{.Id}}"), id);
    assert_eq!(d.inspect("/findme", "{{.Id}}"), id);
    assert_eq!(d.inspect(&id, "{{.Name}}"), "/findme");
    assert_eq!(d.inspect(&id[..12], "{{.Name}}"), "/findme");
    assert_eq!(d.inspect(&id[..3], "{{.Name}}"), "/findme");
}

#[test]
fn an_ambiguous_id_prefix_is_refused() {
    let d = Dokles::new();
    // Create until two IDs share their first hex digit.
    let mut ids: Vec<String> = Vec::new();
    let prefix = loop {
        let id = d.ok(&["create", IMAGE]);
        if let Some(other) = ids.iter().find(|o| o[..1] == id[..1]) {
            break other[..1].to_string();
        }
        ids.push(id);
    };
    let err = d.fails(&["rm", &prefix], 1);
    assert_eq!(
        err,
        format!("Error response from daemon: Multiple IDs found with provided prefix: {prefix}\n")
    );
}

#[test]
fn rename_changes_the_name_and_checks_the_new_one() {
    let d = Dokles::new();
    let id = d.ok(&["create", "--name", "old", IMAGE]);
    d.ok(&["create", "--name", "taken", IMAGE]);
    assert_eq!(d.ok(&["rename", "old", "new"]), "");
    assert_eq!(d.inspect(&id, "{{.Name}}"), "/new");
    assert_eq!(
        d.fails(&["inspect", "old"], 1),
        "Error: No such object: old\n"
    );
    let taken = d.inspect("taken", "{{.Id}}");
    assert_eq!(
        d.fails(&["rename", "new", "taken"], 1),
        format!("Error response from daemon: Error when allocating new name: Conflict. The container name \"/taken\" is already in use by container \"{taken}\". You have to remove (or rename) that container to be able to reuse that name.\nError: failed to rename container named new\n")
    );
    assert_eq!(
        d.fails(&["rename", "new", "new"], 1),
        "Error response from daemon: Renaming a container with the same name as its current name\nError: failed to rename container named new\n"
    );
    assert_eq!(
        d.fails(&["rename", "nope", "xx"], 1),
        "Error response from daemon: No such container: nope\nError: failed to rename container named nope\n"
    );
}

#[test]
fn generated_names_are_adjective_underscore_scientist() {
    let d = Dokles::new();
    d.ok(&["create", IMAGE]);
    let name = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let (left, right) = name.split_once('_').expect("adjective_name");
    assert!(
        !left.is_empty()
            && right
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{name}"
    );
}

// ---------------------------------------------------------------------------------------
// ps

#[test]
fn ps_lists_running_containers_and_ps_a_all_newest_first() {
    let d = Dokles::new();
    d.ok(&["create", "--name", "c1", IMAGE, "sh", "-c", "echo hi"]);
    d.fails(&["run", "--name", "e1", IMAGE, "sh", "-c", "exit 3"], 3);
    d.ok(&["run", "-d", "--name", "r1", IMAGE, "sleep", "1000"]);
    let table = d.ok(&["ps"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "CONTAINER",
            "ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert!(
        lines[1].contains("\"sleep 1000\"") && lines[1].ends_with("r1"),
        "{table}"
    );
    assert_eq!(
        d.ok(&["ps", "-a", "--format", "{{.Names}}"]),
        "r1\ne1\nc1",
        "newest first"
    );
    let statuses = d.ok(&["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"]);
    let s: Vec<&str> = statuses.lines().collect();
    assert!(s[0].starts_with("r1\tUp "), "{statuses}");
    assert!(
        s[1].starts_with("e1\tExited (3) ") && s[1].ends_with(" ago"),
        "{statuses}"
    );
    assert_eq!(s[2], "c1\tCreated");
}

#[test]
fn ps_quotes_and_truncates_the_command() {
    let d = Dokles::new();
    d.ok(&["create", "--name", "short", IMAGE, "sh", "-c", "echo hi"]);
    d.ok(&[
        "create",
        "--name",
        "long",
        IMAGE,
        "sh",
        "-c",
        "echo hi; sleep 100",
    ]);
    assert_eq!(
        d.ok(&["ps", "-a", "--format", "{{.Names}} {{.Command}}"]),
        "long \"sh -c 'echo hi; sle…\"\nshort \"sh -c 'echo hi'\""
    );
    assert_eq!(
        d.ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "-n",
            "1",
            "--format",
            "{{.Command}}"
        ]),
        "\"sh -c 'echo hi; sleep 100'\""
    );
}

#[test]
fn ps_quiet_latest_last_and_no_trunc() {
    let d = Dokles::new();
    let a = d.ok(&["create", IMAGE]);
    let b = d.ok(&["create", IMAGE]);
    let c = d.ok(&["create", IMAGE]);
    assert_eq!(d.ok(&["ps", "-q"]), "", "none runs");
    assert_eq!(
        d.ok(&["ps", "-aq"]),
        format!("{}\n{}\n{}", &c[..12], &b[..12], &a[..12])
    );
    assert_eq!(d.ok(&["ps", "-lq"]), c[..12]);
    assert_eq!(
        d.ok(&["ps", "-q", "-n", "2"]),
        format!("{}\n{}", &c[..12], &b[..12])
    );
    assert_eq!(d.ok(&["ps", "-aq", "--no-trunc", "-l"]), c);
}

#[test]
fn ps_size_shows_the_containers_own_and_virtual_size() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "--name",
        "writer",
        IMAGE,
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /big",
    ]);
    let size = d.ok(&["ps", "-as", "--format", "{{.Size}}"]);
    assert!(size.starts_with("5kB (virtual "), "{size}");
    let table = d.ok(&["ps", "-as"]);
    assert!(table.lines().next().unwrap().ends_with("SIZE"), "{table}");
}

#[test]
fn ps_filters_by_name_status_label_ancestor_exited_and_id() {
    let d = Dokles::new();
    let created = d.ok(&["create", "--name", "web-1", "-l", "tier=web", IMAGE]);
    d.fails(
        &[
            "run",
            "--name",
            "job-1",
            "-l",
            "tier=batch",
            IMAGE,
            "sh",
            "-c",
            "exit 3",
        ],
        3,
    );
    d.ok(&["run", "--name", "job-2", "-l", "tier=batch", IMAGE, "true"]);
    d.ok(&[
        "run", "-d", "--name", "web-2", "-l", "tier=web", "-l", "canary", IMAGE, "sleep", "1000",
    ]);
    let names = |filters: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        d.ok(&args)
    };
    assert_eq!(names(&["name=web"]), "web-2\nweb-1");
    // Names are matched as regular expressions, with or without the leading slash.
    assert_eq!(names(&["name=^web-1$"]), "web-1");
    assert_eq!(names(&["name=^/job-.$"]), "job-2\njob-1");
    assert_eq!(names(&["name=["]), "");
    assert_eq!(names(&["status=exited"]), "job-2\njob-1");
    assert_eq!(names(&["status=created"]), "web-1");
    assert_eq!(names(&["status=running"]), "web-2");
    assert_eq!(names(&["label=tier=batch"]), "job-2\njob-1");
    assert_eq!(names(&["label=canary"]), "web-2");
    assert_eq!(names(&["exited=3"]), "job-1");
    assert_eq!(names(&["exited=0"]), "job-2");
    assert_eq!(names(&[&format!("id={}", &created[..6])]), "web-1");
    assert_eq!(
        names(&[&format!("ancestor={IMAGE}")]),
        "web-2\njob-2\njob-1\nweb-1"
    );
    assert_eq!(names(&["ancestor=other:tag"]), "");
    assert_eq!(
        names(&["label=tier=web", "status=running"]),
        "web-2",
        "filters of different keys all apply"
    );
    // A status filter lists stopped containers without -a.
    assert_eq!(
        d.ok(&["ps", "--filter", "status=exited", "--format", "{{.Names}}"]),
        "job-2\njob-1"
    );
    assert_eq!(
        d.fails(&["ps", "--filter", "status=sleeping"], 1),
        "Error response from daemon: Invalid filter 'status=sleeping'\n"
    );
}

#[test]
fn ps_table_format_prints_a_header() {
    let d = Dokles::new();
    d.ok(&["create", "--name", "t1", IMAGE]);
    assert_eq!(
        d.ok(&["ps", "-a", "--format", "table {{.Names}}\t{{.Status}}"]),
        "NAMES     STATUS\nt1        Created"
    );
}

// ---------------------------------------------------------------------------------------
// logs

#[test]
fn logs_tail_timestamps_since_and_until() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "--name",
        "ll",
        IMAGE,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done",
    ]);
    assert_eq!(d.ok(&["logs", "--tail", "2", "ll"]), "line4\nline5");
    assert_eq!(d.ok(&["logs", "-n", "0", "ll"]), "");
    let stamped = d.ok(&["logs", "-t", "--tail", "1", "ll"]);
    let (time, text) = stamped.split_once(' ').unwrap();
    assert_eq!(text, "line5");
    assert!(
        time.ends_with('Z') && time.contains('T') && time.len() > 20,
        "{time}"
    );
    assert_eq!(d.ok(&["logs", "--since", "1h", "ll"]).lines().count(), 5);
    assert_eq!(d.ok(&["logs", "--until", "1h", "ll"]), "");
    let after = chrono_like_now_plus_secs(60);
    assert_eq!(d.ok(&["logs", "--since", &after, "ll"]), "");
}

/// Unix seconds `secs` from now, a form `--since` takes.
fn chrono_like_now_plus_secs(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (now + secs).to_string()
}

#[test]
fn logs_follow_streams_until_the_container_exits() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ff",
        IMAGE,
        "sh",
        "-c",
        "echo a; sleep 0.5; echo b; sleep 0.5; echo c",
    ]);
    let mut follower = d.spawn(&["logs", "-f", "ff"]);
    let mut out = String::new();
    follower
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(follower.wait().unwrap().success());
    assert_eq!(out, "a\nb\nc\n");
}

// ---------------------------------------------------------------------------------------
// inspect and the container's configuration

#[test]
fn inspect_shows_dockers_fields() {
    let d = Dokles::new();
    d.fails(
        &[
            "run", "--name", "insp", "-l", "k=v", IMAGE, "sh", "-c", "exit 5",
        ],
        5,
    );
    let id = d.inspect("insp", "{{.Id}}");
    let v = d.inspect_json("insp");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Name"], "/insp");
    assert!(v["Created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["Path"], "sh");
    assert_eq!(v["Args"], serde_json::json!(["-c", "exit 5"]));
    let s = &v["State"];
    assert_eq!(s["Status"], "exited");
    assert_eq!(s["Running"], false);
    assert_eq!(s["Paused"], false);
    assert_eq!(s["Pid"], 0);
    assert_eq!(s["ExitCode"], 5);
    assert_eq!(s["OOMKilled"], false);
    assert_ne!(s["StartedAt"], "0001-01-01T00:00:00Z");
    assert_ne!(s["FinishedAt"], "0001-01-01T00:00:00Z");
    let c = &v["Config"];
    assert_eq!(c["Cmd"], serde_json::json!(["sh", "-c", "exit 5"]));
    assert_eq!(c["Entrypoint"], serde_json::Value::Null);
    assert_eq!(c["Image"], IMAGE);
    assert_eq!(c["Labels"], serde_json::json!({"k": "v"}));
    assert_eq!(c["WorkingDir"], "");
    assert_eq!(c["User"], "");
    assert_eq!(c["Hostname"], &id[..12]);
    assert!(v["Image"].as_str().unwrap().starts_with("sha256:"));
    let h = &v["HostConfig"];
    assert_eq!(h["Privileged"], false);
    assert_eq!(h["AutoRemove"], false);
    assert_eq!(h["CapAdd"], serde_json::Value::Null);
    assert_eq!(h["RestartPolicy"]["Name"], "no");
    assert_eq!(v["GraphDriver"]["Name"], "overlay2");
    let upper = v["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(upper.starts_with(d.root().to_str().unwrap()), "{upper}");
    // A created container has zero times.
    d.ok(&["create", "--name", "fresh", IMAGE]);
    let fresh = d.inspect_json("fresh");
    assert_eq!(fresh["State"]["Status"], "created");
    assert_eq!(fresh["State"]["StartedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        fresh["Config"]["Cmd"],
        serde_json::json!(["sh"]),
        "the image's CMD"
    );
}

#[test]
fn inspect_of_a_running_container_shows_its_pid() {
    let d = Dokles::new();
    let id = d.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
    let s = &d.inspect_json(&id)["State"];
    assert_eq!(
        (s["Status"].as_str(), s["Running"].as_bool()),
        (Some("running"), Some(true))
    );
    let pid = s["Pid"].as_i64().unwrap() as i32;
    assert!(alive(pid));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    assert_eq!(s["FinishedAt"], "0001-01-01T00:00:00Z");
}

#[test]
fn env_comes_from_the_image_then_env_file_then_e() {
    let d = Dokles::new();
    let file = d.root().join("vars.env");
    std::fs::write(&file, "# comment\nFROM_FILE=1\nBOTH=file\n\n").unwrap();
    let o = d.ok(&[
        "run",
        "--name",
        "envy",
        "--env-file",
        file.to_str().unwrap(),
        "-e",
        "BOTH=flag",
        "-e",
        "GREETING=hallo wereld",
        IMAGE,
        "env",
    ]);
    let env: Vec<&str> = o.lines().collect();
    for want in [
        "FROM_FILE=1",
        "BOTH=flag",
        "GREETING=hallo wereld",
        "HOME=/root",
    ] {
        assert!(env.contains(&want), "{want} in {env:?}");
    }
    assert!(
        env.iter().any(|e| e.starts_with("PATH=/usr/local/sbin:")),
        "{env:?}"
    );
    let id = d.inspect("envy", "{{.Id}}");
    assert!(
        env.contains(&format!("HOSTNAME={}", &id[..12]).as_str()),
        "{env:?}"
    );
    assert_eq!(
        d.inspect_json("envy")["Config"]["Env"],
        serde_json::json!(["FROM_FILE=1", "BOTH=flag", "GREETING=hallo wereld"])
    );
}

#[test]
fn workdir_user_entrypoint_and_hostname() {
    let d = Dokles::new();
    assert_eq!(d.ok(&["run", "--rm", "-w", "/tmp", IMAGE, "pwd"]), "/tmp");
    assert_eq!(
        d.ok(&["run", "--rm", "-w", "/new/dir", IMAGE, "pwd"]),
        "/new/dir"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "-u", "nobody", IMAGE, "id", "-u"]),
        "65534"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "-u", "1234:5", IMAGE, "id"]),
        "uid=1234 gid=5 groups=5"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            IMAGE,
            "via",
            "entrypoint"
        ]),
        "via entrypoint"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "-h", "mijnhost", IMAGE, "hostname"]),
        "mijnhost"
    );
    let id = d.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
    let _ = id;
    d.ok(&[
        "create",
        "--name",
        "ep",
        "--entrypoint",
        "echo",
        IMAGE,
        "hi",
    ]);
    let c = &d.inspect_json("ep")["Config"];
    assert_eq!(c["Entrypoint"], serde_json::json!(["echo"]));
    assert_eq!(c["Cmd"], serde_json::json!(["hi"]));
}

#[test]
fn the_hostname_is_the_short_id_and_etc_files_are_present() {
    let d = Dokles::new();
    let out = d.ok(&[
        "run",
        "--name",
        "hh",
        IMAGE,
        "sh",
        "-c",
        "hostname; cat /etc/hostname; grep -c localhost /etc/hosts; test -s /etc/resolv.conf && echo resolv",
    ]);
    let id = d.inspect("hh", "{{.Id}}");
    let short = &id[..12];
    assert_eq!(out, format!("{short}\n{short}\n2\nresolv"));
}

#[test]
fn the_containers_writes_stay_in_the_container() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "--name",
        "ww",
        IMAGE,
        "sh",
        "-c",
        "echo data > /tmp/f",
    ]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            IMAGE,
            "sh",
            "-c",
            "test -e /tmp/f || echo absent"
        ]),
        "absent"
    );
    assert_eq!(d.ok(&["start", "-a", "ww"]), "");
    let upper = d.inspect_json("ww")["GraphDriver"]["Data"]["UpperDir"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        std::fs::read_to_string(format!("{upper}/tmp/f")).unwrap(),
        "data\n"
    );
}

// ---------------------------------------------------------------------------------------
// reconciliation

#[test]
fn a_container_whose_monitor_and_init_were_killed_shows_as_exited() {
    let d = Dokles::new();
    let id = d.ok(&["run", "-d", "--name", "orphan", IMAGE, "sleep", "1000"]);
    let pid: i32 = d.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let monitor = monitor_pid(&id).expect("the container's monitor");
    for p in [monitor, pid] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    wait_for("both to die", || !alive(pid) && !alive(monitor));
    let status = d.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(status.starts_with("orphan Exited ("), "{status}");
    assert_eq!(d.status("orphan"), "exited");
    assert_eq!(d.ok(&["ps", "-q"]), "", "not running");
    assert_eq!(
        d.inspect("orphan", "{{.State.ExitCode}}"),
        "255",
        "the real exit code died with the monitor"
    );
    // Its cgroup, which the monitor would have removed, is gone too.
    assert_eq!(
        d.wait_clean(std::slice::from_ref(&id)),
        Vec::<String>::new()
    );
    // It can be started again.
    d.ok(&["start", "orphan"]);
    assert_eq!(d.status("orphan"), "running");
}

// ---------------------------------------------------------------------------------------
// security, seen from inside the container

#[test]
fn the_default_capabilities_are_dockers() {
    let d = Dokles::new();
    let caps = d.ok(&["run", "--rm", IMAGE, "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(caps, format!("CapEff:\t{DEFAULT_CAP_EFF}"));
}

#[test]
fn privileged_gives_every_capability_and_cap_drop_all_none() {
    let d = Dokles::new();
    // Every capability dokles itself holds (where dokles runs restricted, not all 41).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let all = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:\t"))
        .unwrap()
        .to_string();
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--privileged",
            IMAGE,
            "grep",
            "CapEff",
            "/proc/self/status"
        ]),
        format!("CapEff:\t{all}")
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--cap-drop",
            "ALL",
            IMAGE,
            "grep",
            "CapEff",
            "/proc/self/status"
        ]),
        "CapEff:\t0000000000000000"
    );
    // NET_ADMIN is bit 12.
    let with = d.ok(&[
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        IMAGE,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_eq!(with, format!("CapEff:\t{:016x}", 0xa80425fbu64 | 1 << 12));
    // Names are recorded as Docker records them.
    let v = {
        d.ok(&[
            "create",
            "--name",
            "capped",
            "--cap-add",
            "net_admin",
            "--cap-drop",
            "chown",
            IMAGE,
        ]);
        d.inspect_json("capped")
    };
    assert_eq!(
        v["HostConfig"]["CapAdd"],
        serde_json::json!(["CAP_NET_ADMIN"])
    );
    assert_eq!(v["HostConfig"]["CapDrop"], serde_json::json!(["CAP_CHOWN"]));
}

#[test]
fn kernel_interfaces_are_masked_and_read_only() {
    let d = Dokles::new();
    assert_eq!(
        d.ok(&["run", "--rm", IMAGE, "sh", "-c", "cat /proc/kcore | wc -c"]),
        "0"
    );
    let o = d.run(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "echo h > /proc/sysrq-trigger",
    ]);
    assert_ne!(o.code, 0, "writing sysrq-trigger must fail");
    let o = d.run(&["run", "--rm", IMAGE, "mount", "-t", "tmpfs", "xx", "/mnt"]);
    assert_ne!(o.code, 0, "mount must fail without CAP_SYS_ADMIN");
}

#[test]
fn the_container_inherits_only_its_standard_descriptors() {
    let d = Dokles::new();
    let fds = d.ok(&["run", "--rm", IMAGE, "ls", "/proc/self/fd"]);
    let fds: Vec<&str> = fds.lines().collect();
    // 0, 1, 2 and the directory ls itself opened.
    assert_eq!(fds.len(), 4, "{fds:?}");
    assert_eq!(&fds[..3], ["0", "1", "2"]);
}

#[test]
fn security_opt_no_new_privileges_is_applied() {
    let d = Dokles::new();
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--security-opt",
            "no-new-privileges",
            IMAGE,
            "grep",
            "NoNewPrivs",
            "/proc/self/status"
        ]),
        "NoNewPrivs:\t1"
    );
}

#[test]
fn a_container_whose_monitor_alone_was_killed_can_still_be_stopped() {
    let d = Dokles::new();
    let id = d.ok(&["run", "-d", "--name", "unowned", IMAGE, "sleep", "1000"]);
    let pid: i32 = d.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let monitor = monitor_pid(&id).expect("the container's monitor");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for("the monitor to die", || !alive(monitor));
    assert_eq!(d.status("unowned"), "running", "its init still runs");
    assert!(alive(pid));
    assert_eq!(d.ok(&["stop", "-t", "1", "unowned"]), "unowned");
    assert!(!alive(pid));
    assert_eq!(d.status("unowned"), "exited");
    assert_eq!(
        d.wait_clean(std::slice::from_ref(&id)),
        Vec::<String>::new()
    );
}

#[test]
fn run_and_create_check_their_options_as_docker_does() {
    let d = Dokles::new();
    assert_eq!(
        d.fails(&["run", "--nope", IMAGE], 125),
        "unknown flag: --nope\n\nUsage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'docker run --help' for more information\n"
    );
    assert_eq!(
        d.fails(&["run", "-e", "=x", IMAGE], 125),
        "invalid argument \"=x\" for \"-e, --env\" flag: invalid environment variable: =x\n\nUsage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'docker run --help' for more information\n"
    );
    assert_eq!(
        d.fails(&["run", "--env-file", "/nonexistent.env", IMAGE], 125),
        "docker: open /nonexistent.env: no such file or directory\n\nRun 'docker run --help' for more information\n"
    );
    let bad = d.root().join("bad.env");
    std::fs::write(&bad, "GOOD=1\nA B=2\n").unwrap();
    assert_eq!(
        d.fails(&["create", "--env-file", bad.to_str().unwrap(), IMAGE], 125),
        format!("docker: invalid env file ({}): variable 'A B' contains whitespaces\n\nRun 'docker create --help' for more information\n", bad.display())
    );
    assert_eq!(
        d.fails(&["run", "--security-opt", "foo", IMAGE], 125),
        "docker: Invalid --security-opt: \"foo\"\n\nRun 'docker run --help' for more information\n"
    );
    assert_eq!(
        d.fails(&["run", "--security-opt", "foo=bar", IMAGE], 125),
        "docker: Error response from daemon: invalid --security-opt 2: \"foo=bar\"\n\nRun 'docker run --help' for more information\n"
    );
    assert_eq!(
        d.fails(&["create", "-w", "tmp", IMAGE], 1),
        "Error response from daemon: the working directory 'tmp' is invalid, it needs to be an absolute path\n"
    );
    assert_eq!(
        d.fails(&["run", "--cap-add", "NOPE", IMAGE], 125),
        "docker: Error response from daemon: invalid CapAdd: unknown capability: \"CAP_NOPE\"\n\nRun 'docker run --help' for more information\n"
    );
    assert_eq!(
        d.all_ids(),
        Vec::<String>::new(),
        "none of them created anything"
    );
    // Flags after the image belong to the container's command.
    assert_eq!(
        d.ok(&["run", "--rm", IMAGE, "echo", "--nope", "-e"]),
        "--nope -e"
    );
}

#[test]
fn rm_force_of_a_missing_container_reports_it_without_failing() {
    let d = Dokles::new();
    d.ok(&["create", "--name", "real", IMAGE]);
    let o = d.run(&["rm", "-f", "nope", "real"]);
    assert_eq!(o.code, 0);
    assert_eq!(o.stdout, "real\n");
    assert_eq!(
        o.stderr,
        "Error response from daemon: No such container: nope\n"
    );
    assert_eq!(
        d.fails(&["rm", "nope"], 1),
        "Error response from daemon: No such container: nope\n"
    );
}

#[test]
fn stop_takes_a_timeout_and_a_signal() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "sig",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 7' USR2; while true; do sleep 0.1; done",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        d.ok(&["stop", "-s", "USR2", "--timeout", "5", "sig"]),
        "sig"
    );
    assert_eq!(d.inspect("sig", "{{.State.ExitCode}}"), "7");
    // The old flag name still works, with Docker's notice on stdout.
    d.ok(&["start", "sig"]);
    assert_eq!(
        d.ok(&["stop", "--time", "1", "sig"]),
        "Flag --time has been deprecated, use --timeout instead\nsig"
    );
}

#[test]
fn ps_checks_its_filters_even_with_no_containers() {
    let d = Dokles::new();
    assert_eq!(
        d.fails(&["ps", "--filter", "foo=bar"], 1),
        "Error response from daemon: Invalid filter 'foo'\n"
    );
    assert_eq!(
        d.fails(&["ps", "--filter", "exited=x"], 1),
        "Error response from daemon: strconv.Atoi: parsing \"x\": invalid syntax\n"
    );
}

#[test]
fn container_prune_honours_its_filters() {
    let d = Dokles::new();
    let kept = d.ok(&["create", "-l", "keep=yes", IMAGE]);
    let plain = d.ok(&["create", IMAGE]);
    // Nothing was created over an hour ago.
    assert_eq!(
        d.ok(&["container", "prune", "-f", "--filter", "until=1h"]),
        "Total reclaimed space: 0B"
    );
    assert_eq!(d.all_ids().len(), 2);
    let out = d.ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    assert_eq!(
        out,
        format!("Deleted Containers:\n{plain}\n\nTotal reclaimed space: 0B")
    );
    assert_eq!(d.all_ids(), vec![kept]);
    assert_eq!(
        d.fails(&["container", "prune", "-f", "--filter", "foo=bar"], 1),
        "Error response from daemon: Invalid filter 'foo'\n"
    );
    assert_eq!(
        d.fails(&["container", "prune", "-f", "--filter", "until=xyz"], 1),
        "Error response from daemon: failed to parse value as time or duration: \"xyz\"\n"
    );
}

#[test]
fn signals_to_an_attached_run_are_passed_on_to_the_container() {
    let d = Dokles::new();
    for (signal, code) in [
        (nix::sys::signal::Signal::SIGINT, 3),
        (nix::sys::signal::Signal::SIGTERM, 4),
    ] {
        // The loop ends by itself after some 15 s, so a signal that never arrives fails the test
        // instead of hanging it.
        let mut client = d.spawn(&[
            "run",
            "--rm",
            IMAGE,
            "sh",
            "-c",
            "trap 'echo got INT; exit 3' INT; trap 'echo got TERM; exit 4' TERM; echo ready; i=0; while [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done",
        ]);
        let mut stdout = std::io::BufReader::new(client.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert_eq!(line, "ready\n");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(client.id() as i32), signal).unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, format!("got {}\n", &signal.as_str()[3..]));
        let status = client.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{signal}");
    }
}

#[test]
fn start_a_of_a_running_container_follows_it_to_its_end() {
    // Docker attaches to the running container instead of returning at once.
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "late",
        IMAGE,
        "sh",
        "-c",
        "sleep 1; echo late-output; exit 4",
    ]);
    let o = d.run(&["start", "-a", "late"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (4, "late-output\n"),
        "{}",
        o.stderr
    );
}
