//! The lesson REPL as a student meets it, in a real terminal (tmux): `dokles les 1` narrates
//! in Dutch, runs typed docker commands on the real engine, advances when the state is
//! right, gives hints and status, goes under the hood on request, and hands the terminal to
//! an interactive python container and gets it back after Ctrl+P Ctrl+Q.

mod common;
mod common_tty;

use common::{binary, Dokles};
use common_tty::Terminal;

/// A lesson REPL in tmux on a private state root, started in a scratch directory.
struct Repl {
    root: Dokles,
    term: Terminal,
}

impl Repl {
    fn start(lesson: &str) -> Self {
        let root = Dokles::new();
        let term = Terminal::new();
        term.type_line(&format!("cd {}", root.work().display()));
        term.type_line(&format!(
            "{} --root {} les {lesson}; echo repl-rc=$?",
            binary(),
            root.root().display()
        ));
        term.wait_for("stap 1/");
        Self { root, term }
    }

    fn status(&self, name: &str) -> String {
        self.root
            .run(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_string))
            .unwrap_or_default()
    }
}

impl Drop for Repl {
    fn drop(&mut self) {
        for id in self.root.run(&["ps", "-aq"]).stdout.split_whitespace() {
            let _ = self.root.run(&["rm", "-f", id]);
        }
    }
}

#[test]
fn lesson_one_runs_python_interactively_and_detaches_back_to_the_lesson() {
    let r = Repl::start("1");
    let t = &r.term;
    t.wait_for("Opdracht:");

    // Step 1: the image comes from the offline cache; the narration says so in Dutch.
    t.type_line("docker pull python");
    t.wait_for("offline cache");
    t.wait_for("stap 2/");

    // Step 2: only observing; an equivalent spelling counts.
    t.type_line("docker image ls");
    t.wait_for("stap 3/");

    // Step 3: the student's terminal goes to python inside the container.
    t.type_line("docker run -it --name mijn_python_container python");
    t.wait_for(">>> ");
    t.type_line("print(\"Hallo vanuit mijn Python Docker-container!\")");
    t.wait_for_line("Hallo vanuit mijn Python Docker-container!");
    t.keys(&["C-p", "C-q"]);
    // Back in the lesson, the step passed and the container runs on.
    t.wait_for("stap 4/");
    let status = r.status("mijn_python_container");
    assert!(status.starts_with("Up"), "status {status:?}");

    // Leaving the lesson saves progress; starting again resumes at step 4.
    t.type_line("stop");
    t.wait_for("repl-rc=0");
    t.type_line(&format!(
        "{} --root {} les 1",
        binary(),
        r.root.root().display()
    ));
    t.wait_for("Je gaat verder bij stap 4");
    t.type_line("stop");
}

#[test]
fn meta_commands_give_hints_status_and_the_view_under_the_hood() {
    let r = Repl::start("1");
    let t = &r.term;

    t.type_line("hulp");
    t.wait_for("motorkap aan");

    // Hints come one by one and end with the example.
    t.type_line("hint");
    t.wait_for("Tip:");
    for _ in 0..4 {
        t.type_line("hint");
    }
    t.wait_for("Zo kan het bijvoorbeeld:");

    // A wrong command does not pass the step, and says what was expected and found.
    t.type_line("docker pull pyhton");
    t.wait_for("Nog niet:");
    t.wait_for("stap 1/");

    // Under the hood: the real layer tars the pull checked and stored.
    t.type_line("motorkap aan");
    t.wait_for("Onder de motorkap: aan.");
    t.type_line("docker pull python");
    t.wait_for(&format!("{}/image/blobs/sha256/", r.root.root().display()));
    t.wait_for("stap 2/");

    t.type_line("status");
    t.wait_for("Deze stap:");

    t.type_line("terug");
    t.wait_for("stap 1/");
    t.type_line("overslaan");
    t.wait_for("stap 2/");
    t.type_line("stop");
    t.wait_for("repl-rc=0");
}

#[test]
fn a_command_from_another_terminal_is_narrated_at_once_and_counts_for_the_step() {
    let r = Repl::start("1");
    let t = &r.term;
    t.wait_for("Opdracht:");
    // The student pulls in a second terminal, on the same state root.
    r.root.ok(&["pull", "-q", "python"]);
    // The waiting REPL tells what happened without a key being pressed...
    t.wait_for("offline cache");
    t.wait_for("druk Enter om de stap na te kijken");
    // ...and Enter checks the step, which passes on the real state.
    t.keys(&["Enter"]);
    t.wait_for("stap 2/");
    t.type_line("stop");
    t.wait_for("repl-rc=0");
}

/// The mode of `path`'s permission bits.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o7777
}

/// The files of `dir` whose names start with `prefix`.
fn files_starting(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

#[test]
fn what_a_lesson_keeps_is_for_its_student_alone() {
    let r = Repl::start("1");
    let t = &r.term;
    t.wait_for("Opdracht:");
    // Keys forwarded into a container are recorded (les/invoer-<pid>) for the transcript.
    t.type_line("echo getypt-in-cat | docker run -i --rm busybox cat | tr a-z A-Z");
    t.wait_for_line("GETYPT-IN-CAT");
    let les = r.root.root().join("les");
    let typed = files_starting(&les, "invoer-");
    assert_eq!(typed.len(), 1, "{typed:?}");
    assert_eq!(mode(&typed[0]), 0o600, "recorded keys");
    t.type_line("stop");
    t.wait_for("repl-rc=0");
    assert_eq!(mode(&les), 0o700);
    assert_eq!(mode(&les.join("bin")), 0o700, "the docker shim's directory");
    assert_eq!(mode(&les.join("transcripten")), 0o700);
    let transcripts = files_starting(&les.join("transcripten"), "");
    assert_eq!(transcripts.len(), 1, "{transcripts:?}");
    assert_eq!(mode(&transcripts[0]), 0o600, "the transcript");
    assert_eq!(mode(&les.join("voortgang.json")), 0o600, "saved progress");
}
