//! Interactive containers as a student meets them, driven through real terminals (tmux):
//! `docker run -it` lands in the container's shell or REPL; Ctrl+P Ctrl+Q detaches and the
//! container runs on; `docker attach` comes back; `exit` stops it with its exit code;
//! `exec -it` opens a second shell beside an attached one; the terminal's settings are
//! restored and its size follows the window; Ctrl+C reaches the container's foreground
//! process; `-i` without `-t` streams a pipe.
//!
//! Each test has its own state root and tmux session (on a tmux server of these tests), both
//! removed — and its containers killed — pass or fail.

mod common;
mod common_tty;

use std::process::Command;
use std::time::Duration;

use common::{binary, busybox_rootfs_tar, Dokles};
use common_tty::Terminal;

/// A state root whose containers are removed (running or not) when it is dropped.
struct Root(Dokles);

impl Root {
    fn with_busybox() -> Self {
        let d = Dokles::new();
        let tar = busybox_rootfs_tar(d.work());
        d.ok(&[
            "import",
            "-c",
            r#"CMD ["sh"]"#,
            tar.to_str().unwrap(),
            "bb:test",
        ]);
        Self(d)
    }

    /// The shell command line for `dokles --root R docker <args>`.
    fn docker(&self, args: &str) -> String {
        format!(
            "{} --root {} docker {args}",
            binary(),
            self.0.root().display()
        )
    }

    fn ps(&self) -> String {
        self.0
            .ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
    }

    /// The status column of container `name`.
    fn status(&self, name: &str) -> String {
        self.ps()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_string))
            .unwrap_or_default()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let ids = self.0.run(&["ps", "-aq"]).stdout;
        for id in ids.split_whitespace() {
            let _ = self.0.run(&["rm", "-f", id]);
        }
    }
}

#[test]
fn run_it_python_lands_in_its_repl() {
    let root = Root(Dokles::new());
    root.0.ok(&["pull", "-q", "python"]);
    let term = Terminal::new();
    term.type_line(&format!(
        "{}; echo rc=$?",
        root.docker("run -it --name mijn_python_container python")
    ));
    term.wait_for(">>> ");
    term.type_line("1+1");
    term.wait_for_line("2");
    term.type_line("exit()");
    term.wait_for("rc=0");
    assert!(root
        .status("mijn_python_container")
        .starts_with("Exited (0)"));
}

#[test]
fn detach_with_ctrl_p_ctrl_q_then_attach_again_and_exit() {
    let root = Root::with_busybox();
    let term = Terminal::new();
    term.type_line(&format!(
        "{}; echo rc=$?",
        root.docker("run -it --name box bb:test")
    ));
    term.wait_for("/ # ");
    term.type_line("echo one > /tmp/mark");
    // The shell asks the terminal for the cursor position with each prompt; wait for the
    // prompt after the command so that the answer is in before the detach keys.
    term.wait_until("the next prompt", |s| s.matches("/ #").count() >= 2);
    term.keys(&["C-p", "C-q"]);
    // `run` detaches silently and with success; the container runs on.
    term.wait_for("rc=0");
    assert!(root.status("box").starts_with("Up "), "{}", root.ps());

    term.clear();
    term.type_line(&format!("{}; echo rc=$?", root.docker("attach box")));
    term.type_line("cat /tmp/mark");
    term.wait_for_line("one");
    term.wait_until("the next prompt", |s| s.trim_end().ends_with("/ #"));
    term.keys(&["C-p", "C-q"]);
    // `attach` reports the escape sequence, as an error.
    term.wait_for("read escape sequence");
    term.wait_for("rc=1");
    assert!(root.status("box").starts_with("Up "), "{}", root.ps());

    term.clear();
    term.type_line(&format!(
        "{}; echo rc=$?",
        root.docker("attach --detach-keys ctrl-a box")
    ));
    term.type_line("exit 3");
    term.wait_for("rc=3");
    assert!(
        root.status("box").starts_with("Exited (3)"),
        "{}",
        root.ps()
    );

    // `start -ai` brings it back, attached; `exit` stops it again.
    term.clear();
    term.type_line(&format!("{}; echo rc=$?", root.docker("start -ai box")));
    term.type_line("echo restarted");
    term.wait_for_line("restarted");
    term.type_line("exit");
    term.wait_for("rc=0");
    assert!(
        root.status("box").starts_with("Exited (0)"),
        "{}",
        root.ps()
    );
}

#[test]
fn exec_it_opens_a_second_shell_beside_an_attached_one() {
    let root = Root::with_busybox();
    let first = Terminal::new();
    first.type_line(&root.docker("run -it --name shared bb:test"));
    first.wait_for("/ # ");
    let second = Terminal::new();
    second.type_line(&format!(
        "{}; echo rc=$?",
        root.docker("exec -it shared sh")
    ));
    second.wait_for("/ # ");
    second.type_line("ps; echo ps-done");
    let screen = second.wait_for_line("ps-done");
    // Two shells: the container's own and the exec'd one (ps itself shows as `{ps} sh`).
    let shells = screen
        .lines()
        .filter(|l| matches!(l.split_whitespace().collect::<Vec<_>>()[..], [pid, _, "sh"] if pid.parse::<u32>().is_ok()))
        .count();
    assert_eq!(shells, 2, "{screen}");
    second.type_line("exit 7");
    second.wait_for("rc=7");
    // The attached shell is untouched.
    first.type_line("echo still here");
    first.wait_for_line("still here");
}

#[test]
fn exec_it_detaches_with_ctrl_p_ctrl_q_and_its_process_runs_on() {
    let root = Root::with_busybox();
    root.0
        .ok(&["run", "-d", "--name", "host", "bb:test", "sleep", "1000"]);
    let term = Terminal::new();
    term.type_line("before=$(stty -g)");
    term.type_line(&format!("{}; echo rc=$?", root.docker("exec -it host sh")));
    term.wait_for("/ # ");
    term.type_line("export MARK=exec-shell");
    // The shell has run the line and drawn its next prompt (busybox asks the terminal
    // where the cursor is: the answer must reach it, not the host shell after detaching).
    term.wait_until("the exec'd shell's next prompt", |s| {
        s.lines().filter(|l| l.starts_with("/ #")).count() >= 2
    });
    std::thread::sleep(Duration::from_millis(200));
    term.keys(&["C-p", "C-q"]);
    // Docker's client: this line and exit code 1; the exec'd shell runs on.
    term.wait_for("read escape sequence");
    term.wait_for("rc=1");
    let top = root.0.ok(&["top", "host"]);
    assert!(top.lines().any(|l| l.ends_with(" sh")), "{top}");
    term.type_line(r#"[ "$before" = "$(stty -g)" ] && echo settings-kept-after-detach"#);
    term.wait_for_line("settings-kept-after-detach");

    // --detach-keys chooses other keys; the exec'd shell still ends with exit.
    term.clear();
    term.type_line(&format!(
        "{}; echo rc=$?",
        root.docker("exec -it --detach-keys ctrl-x host sh")
    ));
    term.wait_for("/ # ");
    std::thread::sleep(Duration::from_millis(200));
    term.keys(&["C-x"]);
    term.wait_for("rc=1");
    term.type_line(&format!("{}; echo rc=$?", root.docker("exec -it host sh")));
    term.wait_for("/ # ");
    term.type_line("exit 3");
    term.wait_for("rc=3");
}

#[test]
fn the_terminal_is_restored_after_exit_and_after_detach() {
    let root = Root::with_busybox();
    let term = Terminal::new();
    term.type_line("before=$(stty -g)");
    term.type_line(&root.docker("run -it --name restore bb:test"));
    term.wait_for("/ # ");
    term.type_line("exit 5");
    term.wait_for_shell();
    term.type_line(r#"[ "$before" = "$(stty -g)" ] && echo settings-kept-after-exit"#);
    term.wait_for_line("settings-kept-after-exit");

    term.clear();
    term.type_line(&root.docker("run -it --name detach bb:test"));
    term.wait_for("/ # ");
    term.keys(&["C-p", "C-q"]);
    term.wait_for_shell();
    term.type_line(r#"[ "$before" = "$(stty -g)" ] && echo settings-kept-after-detach"#);
    term.wait_for_line("settings-kept-after-detach");
}

#[test]
fn the_container_terminal_has_the_window_size_and_follows_it() {
    let root = Root::with_busybox();
    let term = Terminal::new();
    term.type_line(&root.docker("run -it --rm bb:test"));
    term.wait_for("/ # ");
    term.type_line("stty size");
    term.wait_for_line("40 120");
    term.resize(100, 30);
    term.type_line("stty size");
    term.wait_for_line("30 100");
    term.type_line("exit");
}

#[test]
fn ctrl_c_interrupts_the_containers_foreground_process_only() {
    let root = Root::with_busybox();
    let term = Terminal::new();
    term.type_line(&format!(
        "{}; echo rc=$?",
        root.docker("run -it --name sleeper bb:test")
    ));
    term.wait_for("/ # ");
    term.type_line("sleep 600");
    std::thread::sleep(Duration::from_millis(300));
    term.keys(&["C-c"]);
    term.type_line("echo interrupted $?");
    term.wait_for_line("interrupted 130");
    assert!(root.status("sleeper").starts_with("Up "), "{}", root.ps());
    term.type_line("exit");
    term.wait_for("rc=0");
}

#[test]
fn run_i_streams_a_pipe_and_closes_stdin_at_its_end() {
    let root = Root::with_busybox();
    let out = root
        .0
        .run_stdin(&["run", "-i", "--rm", "bb:test", "cat"], b"hi\n");
    assert_eq!(out.ok(), "hi\n");
    let out = root
        .0
        .run_stdin(&["run", "-i", "bb:test", "sh"], b"echo from-sh\nexit 4\n");
    assert_eq!(out.fails(4), "");
    assert_eq!(out.stdout, "from-sh\n");
}

#[test]
fn run_it_refuses_an_input_that_is_not_a_terminal() {
    let root = Root::with_busybox();
    let out = root
        .0
        .run_stdin(&["run", "-it", "--rm", "bb:test", "true"], b"");
    assert_eq!(out.fails(1), "the input device is not a TTY\n");
}

#[test]
fn attach_refuses_a_stopped_container() {
    let root = Root::with_busybox();
    root.0.ok(&["create", "--name", "idle", "bb:test"]);
    let out = root.0.run(&["attach", "idle"]);
    assert_eq!(
        out.fails(1),
        "You cannot attach to a stopped container, start it first\n"
    );
}

#[test]
fn exec_i_streams_a_pipe_into_a_running_container() {
    let root = Root::with_busybox();
    root.0.ok(&["run", "-dit", "--name", "bg", "bb:test"]);
    let out = root
        .0
        .run_stdin(&["exec", "-i", "bg", "wc", "-l"], b"a\nb\nc\n");
    assert_eq!(out.ok().trim(), "3");
}

/// The PIDs of `dokles --root <root> docker run ...` clients (not monitors).
fn run_clients(root: &Root) -> Vec<String> {
    let root_arg = root.0.root().display().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let entry = entry.expect("/proc entry");
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let under_root = args
            .iter()
            .any(|a| std::fs::canonicalize(a).is_ok_and(|p| p.display().to_string() == root_arg));
        if under_root && args.iter().any(|a| a == "run") && !args.iter().any(|a| a == "__monitor") {
            pids.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    pids
}

#[test]
fn sigterm_to_an_attached_dokles_restores_the_terminal() {
    let root = Root::with_busybox();
    let term = Terminal::new();
    term.type_line("before=$(stty -g)");
    term.type_line(&format!(
        "{}; echo rc=$?",
        root.docker("run -it --name hangup bb:test")
    ));
    term.wait_for("/ #");
    let clients = run_clients(&root);
    assert_eq!(clients.len(), 1, "{clients:?}");
    let status = Command::new("kill")
        .args(["-TERM", &clients[0]])
        .status()
        .expect("kill");
    assert!(status.success());
    term.wait_for("rc=143");
    term.type_line(r#"[ "$before" = "$(stty -g)" ] && echo settings-kept-after-sigterm"#);
    term.wait_for_line("settings-kept-after-sigterm");
    // Only the client went: the container runs on, to be attached again.
    assert!(root.status("hangup").starts_with("Up "), "{}", root.ps());
}

#[test]
fn several_clients_share_one_terminal_and_the_log_keeps_everything() {
    let root = Root::with_busybox();
    let first = Terminal::new();
    first.type_line(&format!(
        "{}; echo rc=$?",
        root.docker("run -it --name multi bb:test")
    ));
    first.wait_for("/ #");
    let second = Terminal::new();
    second.type_line(&format!("{}; echo rc=$?", root.docker("attach multi")));
    second.type_line("echo typed-in-$((20+22))");
    // Both clients see what either types and what the container answers.
    first.wait_for_line("typed-in-42");
    second.wait_for_line("typed-in-42");

    // With nobody attached, the container's output still reaches its log.
    second.keys(&["C-p", "C-q"]);
    second.wait_for("rc=1");
    first.keys(&["C-p", "C-q"]);
    first.wait_for("rc=0");
    root.0.ok(&[
        "exec",
        "multi",
        "sh",
        "-c",
        "echo while-detached > /proc/1/fd/1",
    ]);
    let logs = root.0.ok(&["logs", "multi"]);
    assert!(logs.contains("typed-in-42\r\n"), "{logs:?}");
    assert!(logs.contains("while-detached\r\n"), "{logs:?}");

    // The last one to attach sees the container end with its exit code.
    second.clear();
    second.type_line(&format!("{}; echo rc=$?", root.docker("attach multi")));
    second.type_line("exit 9");
    second.wait_for("rc=9");
}

#[test]
fn without_a_terminal_signals_to_dokles_reach_the_container() {
    use std::io::{BufRead, BufReader};
    let root = Root::with_busybox();
    let script = r#"trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done"#;
    let mut child = root
        .0
        .command(&[
            "run", "-i", "--name", "proxied", "bb:test", "sh", "-c", script,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn dokles");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read");
    assert_eq!(line, "ready\n");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    line.clear();
    out.read_line(&mut line).expect("read");
    assert_eq!(line, "got-term\n");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(7));
    assert!(
        root.status("proxied").starts_with("Exited (7)"),
        "{}",
        root.ps()
    );
}

#[test]
fn a_container_cannot_type_into_the_host_terminal() {
    // A hostile program pushes a command into "its" terminal's input queue (TIOCSTI). That
    // terminal is the container's own pty: the host shell that ran dokles never sees it.
    let root = Root(Dokles::new());
    root.0.ok(&["pull", "-q", "python"]);
    let marker = std::env::temp_dir().join(format!(
        "dokles-escaped-{}",
        std::process::id()
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos())
    ));
    // Raises at the first character where TIOCSTI is disabled (Linux >= 6.2 by default):
    // then nothing is injected at all, which is as good.
    let inject = format!(
        "python3 -c \"import fcntl,termios;[fcntl.ioctl(0,termios.TIOCSTI,c) for c in 'touch {}'+chr(10)]\"",
        marker.display()
    );
    let term = Terminal::new();
    term.type_line(&format!(
        "{} {}; echo rc=$?",
        root.docker("run -it --rm python"),
        inject
    ));
    term.wait_until("the container's exit", |s| {
        s.lines().any(|l| l.starts_with("rc="))
    });
    // Anything that reached the host shell's input would run before this line.
    term.type_line("echo host-done");
    term.wait_for_line("host-done");
    assert!(
        !marker.exists(),
        "input injected in the container reached the host terminal"
    );
}
