//! `dokles nakijken`: submissions in fixtures/submissions/ graded against a small busybox
//! lesson (and lesson 1 when it ships) and compared with their expected reports; grading in
//! parallel equals grading one by one; hanging and hostile submissions only hurt their own
//! result; the JUnit report validates against the Ant JUnit schema; `--live` grades a state
//! root; the docker CLI records what is typed into interactive containers for transcripts.

mod common;
mod common_tty;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const LESSON: &str = "lessen/01-proefles.toml";

fn submissions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions")
}

struct Graded {
    report: Value,
    code: i32,
    stdout: String,
}

/// `dokles nakijken --json --les LESSON ARGS…` run in fixtures/submissions.
fn nakijken(args: &[&str]) -> Graded {
    let out = Command::new(common::binary())
        .current_dir(submissions_dir())
        .args(["nakijken", "--json", "--les", LESSON])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running dokles nakijken");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Graded {
        report,
        code: out.status.code().unwrap_or(-1),
        stdout,
    }
}

/// The submission reports without their timing (the only part that may differ).
fn without_timing(report: &Value) -> Vec<Value> {
    report["submissions"]
        .as_array()
        .expect("submissions")
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.as_object_mut().expect("object").remove("timing");
            s
        })
        .collect()
}

fn expected(name: &str) -> Value {
    let path = submissions_dir()
        .join("verwacht")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("expected report"))
        .expect("expected report is JSON")
}

#[track_caller]
fn assert_graded_as_expected(file: &str) {
    let g = nakijken(&["--ruimte", "256", file]);
    let name = file.split('.').next().unwrap_or(file);
    assert_eq!(
        without_timing(&g.report),
        vec![expected(name)],
        "report for {file}:\n{}",
        g.stdout
    );
}

/// Removes every container of a test's state root when dropped, pass or fail.
struct RemoveContainers<'a>(&'a common::Dokles);

impl Drop for RemoveContainers<'_> {
    fn drop(&mut self) {
        for id in self.0.run(&["ps", "-aq"]).stdout.split_whitespace() {
            let _ = self.0.run(&["rm", "-f", id]);
        }
    }
}

#[test]
fn a_perfect_submission_passes_every_step_and_exits_0() {
    assert_graded_as_expected("perfect.txt");
    let g = nakijken(&["perfect.txt"]);
    assert_eq!(g.code, 0);
    assert_eq!(g.report["submissions"][0]["points"], 6);
}

#[test]
fn a_partial_submission_keeps_the_steps_it_passed() {
    assert_graded_as_expected("gedeeltelijk.txt");
}

#[test]
fn an_empty_submission_passes_nothing_and_exits_1() {
    assert_graded_as_expected("leeg.txt");
    assert_eq!(nakijken(&["leeg.txt"]).code, 1);
}

#[test]
fn a_typod_image_fails_its_step_and_the_steps_after_it() {
    assert_graded_as_expected("tikfout.txt");
}

#[test]
fn a_hostile_submission_only_hurts_its_own_result() {
    // Disk filled, state removed, fork bombs in a container and in its shell — next to a
    // perfect submission graded at the same time.
    let started = Instant::now();
    let out = Command::new(common::binary())
        .current_dir(submissions_dir())
        .args(["nakijken", "--json", "--les", LESSON, "--ruimte", "256"])
        .args(["--parallel", "2", "vijandig.sh", "perfect.txt"])
        .stdin(Stdio::null())
        .output()
        .expect("running dokles nakijken");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let reports = without_timing(&report);
    assert_eq!(reports[0], expected("vijandig"));
    assert_eq!(reports[1], expected("perfect"));
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn grading_leaves_no_mounts_cgroups_or_processes_behind() {
    // The sandboxes go in a directory of this test's own (TMPDIR), to look for leftovers.
    let tmp = tempfile::tempdir().expect("temp dir");
    let child = Command::new(common::binary())
        .current_dir(submissions_dir())
        .env("TMPDIR", tmp.path())
        .args(["nakijken", "--json", "--les", LESSON, "--ruimte", "256"])
        .args(["vijandig.sh", "perfect.txt", "hangt.txt", "--timeout", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting dokles nakijken");
    let grader = child.id();
    let out = child.wait_with_output().expect("waiting for dokles");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let dirs: Vec<String> = report["submissions"]
        .as_array()
        .expect("submissions")
        .iter()
        .map(|s| s["submission"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(dirs, ["vijandig.sh", "perfect.txt", "hangt.txt"]);
    // No mount and no file is left in it.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let tmp_path = tmp.path().display().to_string();
    assert!(
        !mounts.contains(&tmp_path),
        "mounts left under {tmp_path}:\n{mounts}"
    );
    let files: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("tmp")
        .flatten()
        .collect();
    assert!(files.is_empty(), "left in TMPDIR: {files:?}");
    // The grader's cgroups (named after its pid) are gone in every hierarchy.
    let bases =
        dokles::runtime::Cgroup::locate_everywhere(Path::new("/dokles-nakijken")).expect("cgroups");
    for base in bases.dirs() {
        let left: Vec<String> = std::fs::read_dir(base)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&format!("{grader}-")))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "cgroups left in {}: {left:?}",
            base.display()
        );
    }
    // No process of the grader's is left (monitors, containers, fork bombs).
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
        if cgroup.contains(&format!("/dokles-nakijken/{grader}-")) {
            orphans.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    assert!(orphans.is_empty(), "processes left: {orphans:?}");
}

#[test]
fn a_hanging_submission_is_stopped_at_its_time_limit_and_grading_goes_on() {
    let started = Instant::now();
    let g = nakijken(&["--timeout", "5", "hangt.txt", "perfect.txt"]);
    assert!(started.elapsed() < Duration::from_secs(60));
    let hung = &g.report["submissions"][0];
    assert_eq!(hung["status"], "timeout");
    assert!(hung["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("tijdslimiet overschreden"));
    assert_eq!(hung["steps"][0]["passed"], true, "{}", g.stdout);
    assert_eq!(hung["steps"][1]["passed"], false);
    assert_eq!(g.report["submissions"][1]["passed"], true);
    assert_eq!(g.code, 1);
}

#[test]
fn grading_in_parallel_gives_the_same_reports_as_one_by_one() {
    let subs = [
        "perfect.txt",
        "gedeeltelijk.txt",
        "perfect.txt",
        "tikfout.txt",
        "gedeeltelijk.txt",
    ];
    let mut parallel = vec!["--parallel", "2"];
    parallel.extend(subs);
    let one_by_one = nakijken(&subs);
    let together = nakijken(&parallel);
    assert_eq!(
        without_timing(&together.report),
        without_timing(&one_by_one.report)
    );
    // The same submission twice reads the same, and as expected.
    let r = without_timing(&together.report);
    assert_eq!(r[0], r[2]);
    assert_eq!(r[0], expected("perfect"));
    assert_eq!(r[1], expected("gedeeltelijk"));
}

#[test]
fn the_junit_report_validates_against_the_ant_junit_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let xml = dir.path().join("junit.xml");
    let out = Command::new(common::binary())
        .current_dir(submissions_dir())
        .args(["nakijken", "--les", LESSON, "--timeout", "5", "--junit"])
        .arg(&xml)
        .args(["perfect.txt", "gedeeltelijk.txt", "hangt.txt", "leeg.txt"])
        .stdin(Stdio::null())
        .output()
        .expect("running dokles nakijken");
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&xml).expect("junit file");
    assert_eq!(text.matches("<testsuite ").count(), 4);
    assert_eq!(text.matches("<testcase ").count(), 20);
    assert!(text.contains("type=\"tijdslimiet overschreden\""));
    assert!(
        text.contains("<failure message=\"verwacht: container shell bestaat, met status running")
    );
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit/JUnit.xsd");
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&xml)
        .output()
        .expect("xmllint (libxml2-utils) is installed: see scripts/test");
    assert!(
        lint.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&lint.stderr)
    );
}

#[test]
fn the_terminal_summary_says_per_step_behaald_or_niet_behaald_with_the_message() {
    let out = Command::new(common::binary())
        .current_dir(submissions_dir())
        .args(["nakijken", "--les", LESSON, "gedeeltelijk.txt"])
        .stdin(Stdio::null())
        .output()
        .expect("running dokles nakijken");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("gedeeltelijk.txt: 3/6 punten — 2 van 5 stappen behaald"),
        "{text}"
    );
    assert!(
        text.contains("✔ stap 2 starten (Een container op de achtergrond) [gewicht 2]: behaald")
    );
    assert!(text.contains("✘ stap 3 interactief (In een container werken): niet behaald"));
    assert!(text.contains("gevonden: shell heeft status exited (exitcode 0)"));
}

#[test]
fn live_grading_counts_saved_progress_and_the_state_as_it_is() {
    let d = common::Dokles::new();
    let _cleanup = RemoveContainers(&d);
    let root = d.root();
    d.ok(&["pull", "busybox"]);
    d.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]);
    // The REPL recorded step 1 as passed; the image has been removed since.
    let progress = root.join("les/voortgang.json");
    std::fs::create_dir_all(progress.parent().expect("parent")).expect("les dir");
    std::fs::write(
        &progress,
        r#"{"proefles":{"step":1,"passed":["ophalen"],"motorkap":false}}"#,
    )
    .expect("progress");
    let out = Command::new(common::binary())
        .current_dir(submissions_dir())
        .arg("--root")
        .arg(&root)
        .args(["nakijken", "--live", "--json", "--les", LESSON])
        .stdin(Stdio::null())
        .output()
        .expect("running dokles nakijken --live");
    d.ok(&["rm", "-f", "web"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let steps = &report["submissions"][0]["steps"];
    assert_eq!(steps[0]["basis"], "progress");
    assert_eq!(steps[0]["passed"], true);
    assert_eq!(steps[1]["basis"], "state");
    assert_eq!(steps[1]["passed"], true);
    assert_eq!(steps[2]["passed"], false);
    assert!(steps[2].get("basis").is_none());
    assert_eq!(report["submissions"][0]["points"], 3);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn the_docker_cli_records_what_is_typed_into_a_container() {
    let d = common::Dokles::new();
    let _cleanup = RemoveContainers(&d);
    d.ok(&["pull", "busybox"]);
    let typed = d.work().join("typed");
    let mut child = d
        .command(&["run", "-i", "--rm", "busybox", "cat"])
        .env("DOKLES_TYPED_INPUT", &typed)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker run -i");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"hallo\nwereld\n").expect("typing");
    }
    let out = child.wait_with_output().expect("waiting");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hallo\nwereld\n");
    // A pipe's end is no Ctrl+D: only what was forwarded is recorded.
    assert_eq!(std::fs::read(&typed).expect("recorded"), b"hallo\nwereld\n");
}

#[test]
fn lesson_one_submissions_are_graded_as_expected_with_the_shipped_lesson() {
    // Lesson 1 (python, interactive run with Ctrl+P Ctrl+Q, exec -it, commando checks), by
    // number from the catalog; a perfect and a typo'd submission at the same time.
    let out = Command::new(common::binary())
        .current_dir(submissions_dir())
        .args(["nakijken", "--json", "--les", "1", "--parallel", "2"])
        .args(["les1/perfect.txt", "les1/tikfout.txt"])
        .stdin(Stdio::null())
        .output()
        .expect("running dokles nakijken");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert_eq!(report["lesson"], "eerste-container");
    let dir = submissions_dir().join("les1/verwacht");
    let read = |name: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("expected report"),
        )
        .expect("expected report is JSON")
    };
    assert_eq!(
        without_timing(&report),
        vec![read("perfect"), read("tikfout")]
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_repl_transcript_records_what_was_typed_inside_the_container_and_replays_faithfully() {
    let d = common::Dokles::new();
    let _cleanup = RemoveContainers(&d);
    let lessons = submissions_dir().join("lessen");
    let term = common_tty::Terminal::new();
    term.type_line(&format!("cd {}", d.work().display()));
    term.type_line(&format!(
        "{} --root {} les --lessen {} 1; echo repl-rc=$?",
        common::binary(),
        d.root().display(),
        lessons.display()
    ));
    term.wait_for("stap 1/5");
    term.type_line("docker pull busybox");
    term.wait_for("stap 2/5");
    term.type_line("docker run -d --name web busybox sleep 1000");
    term.wait_for("stap 3/5");
    term.type_line("docker run -it --name shell busybox sh");
    term.wait_for("/ #");
    term.type_line("echo hoi > /tmp/hallo.txt");
    // The shell has run the line (its prompt is back) before the student detaches.
    term.wait_until("the shell's next prompt", |s| {
        s.lines().filter(|l| l.starts_with("/ #")).count() >= 2
    });
    term.keys(&["C-p"]);
    term.keys(&["C-q"]);
    term.wait_for("stap 4/5");
    term.type_line("docker ps -a > containers.txt");
    term.wait_for("stap 5/5");
    term.type_line("docker rm -f web");
    term.wait_for("klaar $");
    term.type_line("stop");
    term.wait_for("repl-rc=0");
    let dir = d.root().join("les/transcripten");
    let transcript = std::fs::read_dir(&dir)
        .expect("transcripts")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("one transcript");
    let text = std::fs::read_to_string(&transcript).expect("transcript");
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "docker pull busybox",
            "docker run -d --name web busybox sleep 1000",
            "docker run -it --name shell busybox sh",
            "> echo hoi > /tmp/hallo.txt",
            "> ^P^Q",
            "docker ps -a > containers.txt",
            "docker rm -f web",
        ],
        "{text}"
    );
    for id in d.run(&["ps", "-aq"]).stdout.split_whitespace() {
        let _ = d.run(&["rm", "-f", id]);
    }
    // Handed in, it earns every point.
    let out = Command::new(common::binary())
        .current_dir(submissions_dir())
        .args(["nakijken", "--json", "--les", LESSON])
        .arg(&transcript)
        .stdin(Stdio::null())
        .output()
        .expect("running dokles nakijken");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["submissions"][0]["passed"], true, "{report:#}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn ctrl_c_and_ctrl_d_typed_on_a_terminal_without_a_container_terminal_are_recorded() {
    // `run -i` (no -t): the terminal turns Ctrl+C into SIGINT and Ctrl+D into an end of
    // input, not into bytes; the recording still gets them as keys.
    let d = common::Dokles::new();
    let _cleanup = RemoveContainers(&d);
    d.ok(&["pull", "busybox"]);
    let typed = d.work().join("typed");
    let term = common_tty::Terminal::new();
    term.type_line(&format!(
        "DOKLES_TYPED_INPUT={} {} --root {} docker run -i --rm busybox sh -c \
         'trap \"echo onderbroken; exit 3\" INT; read regel; echo \"gelezen: $regel\"; \
         while :; do sleep 0.1; done'; echo rc=$?",
        typed.display(),
        common::binary(),
        d.root().display()
    ));
    term.type_line("hallo");
    term.wait_for("gelezen: hallo");
    term.keys(&["C-c"]);
    term.wait_for("rc=3");
    term.type_line(&format!(
        "DOKLES_TYPED_INPUT={} {} --root {} docker run -i --rm busybox cat; echo rc=$?",
        typed.display(),
        common::binary(),
        d.root().display()
    ));
    term.type_line("wereld");
    term.keys(&["C-d"]);
    term.wait_for("rc=0");
    let recorded = std::fs::read(&typed).expect("recorded");
    assert_eq!(recorded, b"hallo\n\x03wereld\n\x04");
}
