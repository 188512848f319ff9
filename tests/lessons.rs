//! The shipped lessons work: a scripted student (`dokles les --test`) replays each lesson's
//! example commands on the real runtime, through the real shell path (a pty where a step is
//! interactive), and every step's checks pass. A second scripted student makes the typical
//! mistakes (a typo in the image, a wrong name, forgetting -a or --rm) and gets the lesson's
//! Dutch feedback instead of a pass (lessons 2 to 4 here; lesson 1's mistakes are in
//! tests/lesson_mistakes.rs).
//!
//! Each replay uses its own throw-away state root, so the tests run in parallel.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::binary;

fn lesson_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("lessons")
        .join(name)
}

/// What `dokles les --test FILE` printed and how it exited.
struct Replay {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Replay {
    fn of(file: &Path) -> Self {
        let out = Command::new(binary())
            .arg("les")
            .arg("--test")
            .arg(file)
            .output()
            .expect("running dokles les --test");
        Self {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    /// The report line of step `id` and the indented lines under it (failed checks,
    /// feedback), up to the next step.
    fn step(&self, id: &str) -> String {
        let mut lines = self.stdout.lines().skip_while(|l| {
            !(l.trim_start().starts_with("stap ") && l.contains(&format!(" {id} (")))
        });
        let Some(head) = lines.next() else {
            panic!("no step {id} in the report:\n{}", self.stdout);
        };
        let mut block = vec![head.to_string()];
        block.extend(
            lines
                .take_while(|l| l.starts_with("      "))
                .map(str::to_string),
        );
        block.join("\n")
    }
}

/// The ids of the steps in a lesson file, in order.
fn step_ids(text: &str) -> Vec<String> {
    text.split("\n[[stap]]\n")
        .skip(1)
        .map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("id = \""))
                .and_then(|l| l.strip_suffix('"'))
                .expect("every step starts with its id")
                .to_string()
        })
        .collect()
}

#[track_caller]
fn every_step_passes(name: &str) {
    let file = lesson_file(name);
    let text = std::fs::read_to_string(&file).expect("reading the lesson");
    let ids = step_ids(&text);
    assert!(!ids.is_empty());
    let r = Replay::of(&file);
    assert_eq!(
        r.code, 0,
        "{name} did not pass:\n{}\n{}",
        r.stdout, r.stderr
    );
    for id in &ids {
        let step = r.step(id);
        assert!(
            step.lines()
                .next()
                .unwrap_or_default()
                .ends_with(": behaald"),
            "{name}: step {id} did not pass:\n{step}"
        );
    }
    assert!(
        r.stdout
            .contains(&format!("alle {} stappen behaald", ids.len())),
        "{}",
        r.stdout
    );
}

#[test]
fn lesson_1_first_container_replays_end_to_end() {
    every_step_passes("01-eerste-container.toml");
}

#[test]
fn lesson_2_what_is_docker_replays_end_to_end() {
    every_step_passes("02-wat-is-docker.toml");
}

#[test]
fn lesson_3_images_replays_end_to_end() {
    every_step_passes("03-images.toml");
}

#[test]
fn lesson_4_managing_containers_replays_end_to_end() {
    every_step_passes("04-containers-beheren.toml");
}

/// A copy of a shipped lesson with only the steps `keep` (in the lesson's order), where a
/// step's example is replaced: `(step id, wrong example line)`. The student's mistakes are
/// typed instead of the right commands; checks and feedback stay the lesson's own.
fn with_mistakes(
    name: &str,
    keep: &[&str],
    mistakes: &[(&str, &str)],
) -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(lesson_file(name)).expect("reading the lesson");
    let mut parts = text.split("\n[[stap]]\n");
    let mut out = parts.next().expect("a lesson header").to_string();
    for step in parts {
        let id = step_ids(&format!("\n[[stap]]\n{step}"))[0].clone();
        if !keep.contains(&id.as_str()) {
            continue;
        }
        let mut step = step.to_string();
        if let Some((_, wrong)) = mistakes.iter().find(|(m, _)| *m == id) {
            let line = step
                .lines()
                .find(|l| l.starts_with("voorbeeld = "))
                .expect("a one-line example")
                .to_string();
            step = step.replace(&line, &format!("voorbeeld = {}", toml_string(wrong)));
        }
        out.push_str("\n[[stap]]\n");
        out.push_str(&step);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(name);
    std::fs::write(&file, out).expect("writing the lesson copy");
    (dir, file)
}

fn toml_string(s: &str) -> String {
    format!("'{s}'")
}

#[test]
fn a_typo_in_the_image_a_wrong_name_and_a_forgotten_a_get_feedback_not_a_pass() {
    let (_dir, file) = with_mistakes(
        "02-wat-is-docker.toml",
        &["hello-world", "ps-a", "nog-eens"],
        &[
            ("hello-world", "docker run hello-wrld"),
            ("ps-a", "docker ps"),
            ("nog-eens", "docker run --name tweede_halo hello-world"),
        ],
    );
    let r = Replay::of(&file);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);

    let step = r.step("hello-world");
    assert!(step.contains("niet behaald"), "{step}");
    assert!(step.contains("→ Er staat geen image hello-world"), "{step}");

    let step = r.step("ps-a");
    assert!(step.contains("niet behaald"), "{step}");
    assert!(step.contains("Vergeet de optie -a niet"), "{step}");

    let step = r.step("nog-eens");
    assert!(step.contains("niet behaald"), "{step}");
    assert!(
        step.contains("→ Er is geen container tweede_hallo"),
        "{step}"
    );
}

#[test]
fn a_command_from_a_second_terminal_that_ends_just_after_the_step_still_counts() {
    // The second terminal's command ends a second after the scripted student moved on: the
    // replay re-checks a failing step for a moment, as a student would press Enter again.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("01-later.toml");
    std::fs::write(
        &file,
        r#"
titel = "Later"
voorbereiding = ["docker pull busybox"]

[[stap]]
id = "later"
titel = "Later klaar"
uitleg = "Een commando in een tweede terminal."
opdracht = "Wacht."
voorbeeld = "docker run --name later busybox sh -c 'sleep 1; exit 3'"
achtergrond = true
controle = [
  { commando = "docker run --name later busybox sh -c 'sleep 1; exit 3'", exitcode = 3 },
]
"#,
    )
    .expect("writing the lesson");
    let r = Replay::of(&file);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.step("later").ends_with(": behaald"), "{}", r.stdout);
}

#[test]
fn forgetting_rm_or_dash_a_in_lessons_3_and_4_gets_feedback_not_a_pass() {
    let (_d3, images) = with_mistakes(
        "03-images.toml",
        &["lagen", "prune-a"],
        &[("prune-a", "docker image prune")],
    );
    let (_d4, containers) = with_mistakes(
        "04-containers-beheren.toml",
        &["rm-optie"],
        &[("rm-optie", "docker run -it --name tijdelijk debian bash")],
    );

    let r = Replay::of(&images);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let step = r.step("prune-a");
    assert!(step.contains("niet behaald"), "{step}");
    assert!(
        step.contains("→ python staat er nog. Vergat je -a?"),
        "{step}"
    );

    let r = Replay::of(&containers);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let step = r.step("rm-optie");
    assert!(step.contains("niet behaald"), "{step}");
    assert!(
        step.contains("→ tijdelijk is gestopt maar niet verwijderd: vergat je --rm?"),
        "{step}"
    );
}
