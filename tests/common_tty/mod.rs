//! A real terminal for tests: a tmux session (on a tmux server of dokles' tests, apart from
//! any the user runs) that a test types into and reads the screen of.

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use super::common::unique_name;

/// The tmux server of these tests.
const TMUX_SOCKET: &str = "dokles-interactive-tests";

/// A tmux session running a plain shell in a 120x40 window, killed when dropped.
pub struct Terminal {
    name: String,
}

impl Terminal {
    pub fn new() -> Self {
        let name = unique_name("dokles-tty");
        // A session started while the server is exiting (its last session just killed)
        // fails; a moment later a new server starts.
        let started = (0..5).any(|attempt| {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            tmux()
                .args(["new-session", "-d", "-s", &name, "-x", "120", "-y", "40"])
                .arg("env PS1='$ ' bash --norc --noprofile")
                .status()
                .expect("tmux")
                .success()
        });
        assert!(started, "tmux new-session failed");
        let t = Self { name };
        t.wait_for("$ ");
        t
    }

    /// Type `line` and Enter.
    pub fn type_line(&self, line: &str) {
        self.keys(&["-l", line]);
        self.keys(&["Enter"]);
    }

    /// Press keys as tmux names them (`C-p`, `Enter`).
    pub fn keys(&self, keys: &[&str]) {
        let status = tmux()
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    pub fn screen(&self) -> String {
        let out = tmux()
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen shows `text` (tmux drops trailing blanks: so does this).
    #[track_caller]
    pub fn wait_for(&self, text: &str) -> String {
        let text = text.trim_end();
        self.wait_until(text, |s| s.contains(text))
    }

    /// Wait until some line of the screen, trimmed, is `line`.
    #[track_caller]
    pub fn wait_for_line(&self, line: &str) -> String {
        self.wait_until(line, |s| s.lines().any(|l| l.trim_end() == line))
    }

    #[track_caller]
    pub fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the host shell prompts again (dokles has returned).
    #[track_caller]
    pub fn wait_for_shell(&self) {
        self.wait_until("the shell's prompt", |s| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_end().ends_with('$'))
        });
    }

    /// Resize the window to `columns` x `rows`.
    pub fn resize(&self, columns: u16, rows: u16) {
        let status = tmux()
            .args(["resize-window", "-t", &self.name])
            .args(["-x", &columns.to_string(), "-y", &rows.to_string()])
            .status()
            .expect("tmux resize-window");
        assert!(status.success());
    }

    /// Clear the screen (so earlier output cannot satisfy a later wait).
    pub fn clear(&self) {
        self.type_line("clear");
        self.wait_until("a cleared screen", |s| s.trim() == "$");
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = tmux().args(["kill-session", "-t", &self.name]).status();
    }
}

fn tmux() -> Command {
    let mut c = Command::new("tmux");
    c.args(["-L", TMUX_SOCKET]);
    c
}
