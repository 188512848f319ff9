//! Malformed lessons: `dokles les --controleer FILE` names the file, the line and what is
//! wrong, in Dutch, and exits 1; a sound lesson passes with exit 0.

mod common;

use std::process::Command;

/// Write `text` as `dir/name` and run `dokles les --controleer` on it: (exit code, stdout,
/// stderr).
fn controleer(name: &str, text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(name);
    std::fs::write(&file, text).expect("write lesson");
    let out = Command::new(common::binary())
        .args(["les", "--controleer"])
        .arg(&file)
        .env("DOKLES_ROOT", dir.path().join("root"))
        .output()
        .expect("run dokles");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const HEAD: &str = "titel = \"Proef\"\n";

fn step(extra: &str) -> String {
    format!(
        "{HEAD}
[[stap]]
id = \"een\"
titel = \"Eerste\"
uitleg = \"Uitleg.\"
opdracht = \"Doe iets.\"
voorbeeld = \"docker pull busybox\"
{extra}"
    )
}

/// Assert the lesson is refused with a message naming `line` and containing `words`.
fn refused(text: &str, line: usize, words: &str) {
    let (code, _, err) = controleer("09-proef.toml", text);
    assert_eq!(code, 1, "expected refusal, stderr: {err}");
    assert!(err.contains("09-proef.toml"), "file not named: {err}");
    if line > 0 {
        assert!(
            err.contains(&format!("regel {line}:")),
            "line {line} not named: {err}"
        );
    }
    assert!(err.contains(words), "expected {words:?} in: {err}");
}

#[test]
fn a_sound_lesson_passes() {
    let (code, out, err) = controleer(
        "09-proef.toml",
        &step("controle = [ { image = \"busybox\" }, { commando = \"docker ps -a\" } ]\n"),
    );
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("is in orde"), "{out}");
}

#[test]
fn toml_syntax_errors_name_the_line() {
    refused(
        &format!("{HEAD}\n[[stap]]\nid = \"een\ntitel = \"x\"\n"),
        4,
        "ongeldige TOML",
    );
}

#[test]
fn unknown_check_keys_name_the_line_and_the_allowed_keys() {
    refused(
        &step("controle = [\n  { contianer = \"web\" },\n]\n"),
        10,
        "onbekend veld `contianer` (toegestaan: container,",
    );
}

#[test]
fn unknown_step_fields_are_refused() {
    refused(
        &step("opdrach = \"x\"\ncontrole = [ { image = \"busybox\" } ]\n"),
        0,
        "onbekend veld `opdrach`",
    );
}

#[test]
fn missing_required_fields_are_named() {
    refused(
        &format!("{HEAD}\n[[stap]]\nid = \"een\"\ntitel = \"x\"\nuitleg = \"y\"\ncontrole = [ {{ image = \"busybox\" }} ]\n"),
        3,
        "verplicht veld `opdracht` ontbreekt",
    );
}

#[test]
fn a_step_needs_checks() {
    refused(&step(""), 3, "heeft geen controles");
}

#[test]
fn a_lesson_needs_steps() {
    refused(HEAD, 0, "heeft geen stappen");
}

#[test]
fn unknown_statuses_are_refused() {
    refused(
        &step("controle = [ { container = \"web\", status = \"gestopt\" } ]\n"),
        9,
        "onbekende status `gestopt`",
    );
}

#[test]
fn assertions_must_fit_their_subject() {
    refused(
        &step("controle = [ { image = \"busybox\", status = \"running\" } ]\n"),
        9,
        "`status` past niet bij deze controle",
    );
    refused(
        &step("controle = [ { container = \"web\", inhoud = \"x\" } ]\n"),
        9,
        "`inhoud` hoort bij `bestand`",
    );
    refused(
        &step("controle = [ { container = \"web\", image = \"busybox\", hostbestand = \"x\" } ]\n"),
        9,
        "een controle gaat over één ding",
    );
}

#[test]
fn checks_need_a_subject() {
    refused(
        &step("controle = [ { bestaat = true } ]\n"),
        9,
        "controle zonder onderwerp",
    );
}

#[test]
fn command_checks_must_be_valid_docker_commands() {
    refused(
        &step("controle = [ { commando = \"ls -l\" } ]\n"),
        9,
        "begint niet met docker",
    );
    refused(
        &step("controle = [ { commando = \"docker ps --bogus\" } ]\n"),
        9,
        "unknown flag: --bogus",
    );
}

#[test]
fn duplicate_step_ids_are_refused() {
    let one = step("controle = [ { image = \"busybox\" } ]\n");
    let text = format!(
        "{one}\n[[stap]]\nid = \"een\"\ntitel = \"T\"\nuitleg = \"U\"\nopdracht = \"O\"\nvoorbeeld = \"docker images\"\ncontrole = [ {{ image = \"busybox\" }} ]\n"
    );
    refused(&text, 11, "stap-id `een` komt twee keer voor");
}

#[test]
fn images_missing_from_the_offline_cache_are_named() {
    let text = step("controle = [ { image = \"busybox\" } ]\n")
        .replace(HEAD, "titel = \"Proef\"\nimages = [\"ubuntu:22.04\"]\n");
    refused(
        &text,
        0,
        "image `ubuntu:22.04` zit niet in de offline cache",
    );
}

#[test]
fn invalid_example_commands_are_named() {
    let text = step("controle = [ { image = \"busybox\" } ]\n")
        .replace("docker pull busybox", "docker run --nmae web busybox");
    refused(&text, 3, "unknown flag: --nmae");
}

#[test]
fn wrong_value_types_are_explained() {
    refused(
        &step("controle = [ { container = \"web\", exitcode = \"nul\" } ]\n"),
        9,
        "verkeerd type",
    );
}

#[test]
fn an_instructors_own_lesson_directory_replaces_the_shipped_lessons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lessons = dir.path().join("lessen");
    std::fs::create_dir(&lessons).expect("mkdir");
    std::fs::write(
        lessons.join("05-eigen.toml"),
        step("controle = [ { image = \"busybox\" } ]\n"),
    )
    .expect("write lesson");
    let out = Command::new(common::binary())
        .args(["--root"])
        .arg(dir.path().join("root"))
        .args(["lessen", "--lessen"])
        .arg(&lessons)
        .output()
        .expect("run dokles");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("5  eigen"), "{stdout}");
    assert!(stdout.contains("Proef  (0/1 stappen)"), "{stdout}");
    assert!(!stdout.contains("eerste-container"), "{stdout}");

    // A broken lesson in the directory is reported with its file and line.
    std::fs::write(lessons.join("06-kapot.toml"), "titel = \n").expect("write lesson");
    let out = Command::new(common::binary())
        .args(["lessen", "--lessen"])
        .arg(&lessons)
        .env("DOKLES_ROOT", dir.path().join("root"))
        .output()
        .expect("run dokles");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("06-kapot.toml, regel 1:"), "{stderr}");
}

#[test]
fn typed_input_belongs_to_a_single_example_command() {
    let text = step("invoer = [\"exit\"]\ncontrole = [ { image = \"busybox\" } ]\n").replace(
        "voorbeeld = \"docker pull busybox\"",
        "voorbeeld = [\"docker pull busybox\", \"docker run -it busybox sh\"]",
    );
    refused(
        &text,
        3,
        "`invoer` hoort bij één voorbeeldcommando, maar er zijn er 2",
    );
}

#[test]
fn a_lesson_without_root_says_so_in_dutch_but_checking_a_file_needs_no_root() {
    use std::os::unix::fs::PermissionsExt;
    // A copy of the binary and a lesson where an unprivileged user can reach them, wherever
    // the checkout is.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let exe = dir.path().join("dokles");
    std::fs::copy(common::binary(), &exe).expect("copy dokles");
    let lesson = dir.path().join("02-wat-is-docker.toml");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/lessons/02-wat-is-docker.toml"),
        &lesson,
    )
    .expect("copy lesson");
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .args(args)
            .env("DOKLES_ROOT", "/nonexistent/dokles")
            .output()
            .expect("run setpriv")
    };
    let out = as_nobody(&["les", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("dokles les moet als root draaien"),
        "{out:?}"
    );
    let out = as_nobody(&["les", "--controleer", lesson.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{out:?}");
}
