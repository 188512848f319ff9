//! A second scripted student who makes the typical mistakes — a typo in the image, a wrong
//! container name, forgetting `-a`, removing a container that still runs — gets the lesson's
//! Dutch feedback and never a false pass; the right command afterwards passes.
//! Everything runs through the real shell path on the real runtime, in a throw-away root.

use std::time::Duration;

use dokles::lesson::replay::Sandbox;
use dokles::lesson::session::{Evaluation, Session};
use dokles::lesson::shell::Shell;
use dokles::lesson::Catalog;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A student in lesson 1, in a sandbox of their own.
struct Student {
    sandbox: Sandbox,
    shell: Shell,
}

impl Student {
    fn new() -> Self {
        let sandbox = Sandbox::new().expect("sandbox");
        let shell = Shell::new(
            sandbox.root(),
            &sandbox.work(),
            std::path::Path::new(env!("CARGO_BIN_EXE_dokles")),
        )
        .expect("shell");
        Self { sandbox, shell }
    }

    /// Type a line that needs no terminal.
    fn types(&self, line: &str) -> String {
        let ran = self.shell.run_captured(line, TIMEOUT).expect("run line");
        assert!(!ran.timed_out, "{line} timed out");
        ran.output
    }
}

/// Run `line`, then evaluate `session`'s current step.
fn after(student: &Student, session: &mut Session, line: &str) -> Evaluation {
    student.types(line);
    session.poll().expect("journal");
    session.evaluate().expect("a current step")
}

fn step_index(session: &Session, id: &str) -> usize {
    session
        .lesson()
        .steps
        .iter()
        .position(|s| s.id == id)
        .unwrap_or_else(|| panic!("lesson 1 has no step {id}"))
}

/// Go to step `id`, with commands run so far not counting.
fn go_to(session: &mut Session, id: &str) {
    session.poll().expect("journal");
    let i = step_index(session, id);
    session.go_to(i);
}

fn assert_fails_with(eval: &Evaluation, words: &str) {
    assert!(!eval.passed, "false pass: {eval:?}");
    let all = eval
        .outcomes
        .iter()
        .map(|o| o.message())
        .chain(eval.feedback.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains(words), "expected {words:?} in:\n{all}");
}

fn lesson_one() -> dokles::lesson::Lesson {
    Catalog::shipped()
        .expect("shipped lessons")
        .find("1")
        .expect("lesson 1")
        .clone()
}

#[test]
fn a_typo_in_the_image_name_does_not_pass_and_says_what_is_missing() {
    let lesson = lesson_one();
    let s = Student::new();
    let mut session = Session::new(&lesson, s.sandbox.root(), &s.sandbox.work(), 0).unwrap();
    go_to(&mut session, "pull");

    let eval = after(&s, &mut session, "docker pull pyhton");
    assert_fails_with(
        &eval,
        "verwacht: image python staat lokaal; gevonden: geen image met die naam",
    );

    assert!(after(&s, &mut session, "docker pull python").passed);
}

#[test]
fn a_wrong_container_name_gets_the_name_feedback() {
    let lesson = lesson_one();
    let s = Student::new();
    s.types("docker pull -q python");
    let mut session = Session::new(&lesson, s.sandbox.root(), &s.sandbox.work(), 0).unwrap();
    go_to(&mut session, "run");

    // Started detached with a tty (as -it then Ctrl+P Ctrl+Q leaves it), but misspelled.
    let eval = after(
        &s,
        &mut session,
        "docker run -dit --name mijn_pyton_container python",
    );
    assert_fails_with(
        &eval,
        "Er is geen container met de naam mijn_python_container",
    );

    let eval = after(
        &s,
        &mut session,
        "docker run -dit --name mijn_python_container python",
    );
    assert!(eval.passed, "{eval:?}");
}

#[test]
fn forgetting_dash_a_is_pointed_out() {
    let lesson = lesson_one();
    let s = Student::new();
    s.types("docker run -dit --name mijn_python_container python && docker stop -t 1 mijn_python_container");
    let mut session = Session::new(&lesson, s.sandbox.root(), &s.sandbox.work(), 0).unwrap();
    go_to(&mut session, "ps-a");

    let eval = after(&s, &mut session, "docker ps");
    assert_fails_with(&eval, "Vergeet de optie -a niet");

    // Any spelling of the same command counts.
    assert!(after(&s, &mut session, "docker container ls --all").passed);
}

#[test]
fn removing_a_running_container_is_refused_and_explained() {
    let lesson = lesson_one();
    let s = Student::new();
    s.types("docker run -dit --name mijn_python_container python");
    let mut session = Session::new(&lesson, s.sandbox.root(), &s.sandbox.work(), 0).unwrap();
    go_to(&mut session, "rm");

    let out = s.types("docker rm mijn_python_container");
    assert!(
        out.contains("You cannot remove a running container"),
        "{out}"
    );
    session.poll().unwrap();
    let eval = session.evaluate().unwrap();
    assert_fails_with(&eval, "De container draait nog");

    let eval = after(
        &s,
        &mut session,
        "docker stop -t 1 mijn_python_container && docker rm mijn_python_container",
    );
    assert!(eval.passed, "{eval:?}");
}

#[test]
fn removing_the_image_while_a_container_uses_it_does_not_pass() {
    let lesson = lesson_one();
    let s = Student::new();
    s.types("docker create --name oud python");
    let mut session = Session::new(&lesson, s.sandbox.root(), &s.sandbox.work(), 0).unwrap();
    go_to(&mut session, "rmi");

    let eval = after(&s, &mut session, "docker rmi python");
    assert_fails_with(&eval, "Er bestaat nog een container van de image python");

    assert!(after(&s, &mut session, "docker rm oud && docker rmi python").passed);
}
