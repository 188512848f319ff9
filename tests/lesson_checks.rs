//! Lesson checks look at real state: processes and files inside a running container (a
//! symlink planted by the container cannot make a check read a host file), what is mounted
//! inside it, its env, labels and user, and host files and tar archives — each with a Dutch
//! "verwacht …; gevonden …" when it does not hold.

use std::path::Path;
use std::time::Duration;

use dokles::lesson::check::{Outcome, World};
use dokles::lesson::format;
use dokles::lesson::replay::Sandbox;
use dokles::lesson::shell::Shell;

struct Lab {
    sandbox: Sandbox,
    shell: Shell,
}

impl Lab {
    fn new() -> Self {
        let sandbox = Sandbox::new().expect("sandbox");
        let shell = Shell::new(
            sandbox.root(),
            &sandbox.work(),
            Path::new(env!("CARGO_BIN_EXE_dokles")),
        )
        .expect("shell");
        Self { sandbox, shell }
    }

    fn run(&self, line: &str) -> String {
        let ran = self
            .shell
            .run_captured(line, Duration::from_secs(60))
            .expect("run");
        assert_eq!(ran.exit_code, 0, "{line}: {}", ran.output);
        ran.output
    }

    /// Evaluate one check written as in a lesson file.
    fn check(&self, table: &str) -> Outcome {
        let text = format!(
            "titel = \"t\"\n[[stap]]\nid = \"s\"\ntitel = \"s\"\nuitleg = \"u\"\nopdracht = \"o\"\ncontrole = [ {table} ]\n"
        );
        let lesson = format::parse("t.toml", &text).expect("valid check");
        let work = self.sandbox.work();
        let world = World {
            root: self.sandbox.root(),
            cwd: &work,
            commands: &[],
        };
        lesson.steps[0].checks[0].evaluate(&world)
    }

    fn holds(&self, table: &str) {
        let o = self.check(table);
        assert!(o.passed, "{table}: {}", o.message());
    }

    fn fails_with(&self, table: &str, found: &str) {
        let o = self.check(table);
        assert!(!o.passed, "{table} passed");
        assert!(o.message().contains(found), "{table}: {}", o.message());
    }
}

#[test]
fn processes_files_and_mounts_inside_a_running_container() {
    let lab = Lab::new();
    lab.run("docker run -d --name web -e MODE=test -l tier=web -u nobody busybox sleep 1000");
    lab.run("docker exec -d web sleep 777");

    // exec'd processes count: they live in the container's PID namespace.
    lab.holds(r#"{ container = "web", proces = "sleep 777" }"#);
    lab.fails_with(
        r#"{ container = "web", proces = "nginx" }"#,
        "gevonden: in web draaien: sleep 1000",
    );

    lab.holds(r#"{ container = "web", env = "MODE=test" }"#);
    lab.holds(r#"{ container = "web", env = "MODE" }"#);
    lab.fails_with(
        r#"{ container = "web", env = "MODE=prod" }"#,
        "web heeft MODE=test",
    );
    lab.holds(r#"{ container = "web", label = "tier=web" }"#);
    lab.fails_with(
        r#"{ container = "web", label = "team" }"#,
        "web heeft geen label team",
    );
    lab.holds(r#"{ container = "web", gebruiker = "nobody" }"#);

    // Docker bind-mounts /etc/hostname into every container; nothing is mounted on /data.
    lab.holds(r#"{ container = "web", mount = "/etc/hostname" }"#);
    lab.fails_with(
        r#"{ container = "web", mount = "/data" }"#,
        "in web is niets gekoppeld op /data",
    );

    lab.run("docker exec web sh -c 'echo hallo daar > /tmp/groet'");
    lab.holds(r#"{ container = "web", bestand = "/tmp/groet", inhoud = "hallo" }"#);
    lab.fails_with(
        r#"{ container = "web", bestand = "/tmp/groet", inhoud = "dag" }"#,
        "/tmp/groet in web bevat: hallo daar",
    );
}

#[test]
fn a_symlink_in_the_container_cannot_point_a_check_at_a_host_file() {
    let lab = Lab::new();
    std::fs::write(lab.sandbox.work().join("geheim"), "host secret").expect("write");
    let host_file = lab.sandbox.work().join("geheim");
    lab.run("docker run -d --name evil busybox sleep 1000");
    lab.run(&format!(
        "docker exec evil ln -s {} /tmp/link",
        host_file.display()
    ));
    // Resolved inside the container's root, the link leads nowhere.
    lab.fails_with(
        r#"{ container = "evil", bestand = "/tmp/link", inhoud = "host secret" }"#,
        "geen bestand /tmp/link in evil",
    );
}

#[test]
fn a_stopped_container_is_reported_as_not_running_for_inside_checks() {
    let lab = Lab::new();
    lab.run("docker run --name done busybox true");
    lab.holds(r#"{ container = "done", status = "exited", exitcode = 0 }"#);
    lab.fails_with(
        r#"{ container = "done", proces = "sh" }"#,
        "done draait niet (status exited)",
    );
    lab.fails_with(
        r#"{ container = "done", status = "running" }"#,
        "done heeft status exited (exitcode 0)",
    );
    lab.holds(r#"{ container_met_image = "busybox", exitcode = 0 }"#);
    lab.fails_with(r#"{ container = "nooit" }"#, "geen container met die naam");
    lab.holds(r#"{ container = "nooit", bestaat = false }"#);
}

#[test]
fn host_files_and_tar_archives() {
    let lab = Lab::new();
    lab.run("docker pull -q busybox && docker save -o bb.tar busybox");
    lab.holds(r#"{ hostbestand = "bb.tar", tar_bevat = "manifest.json" }"#);
    lab.fails_with(
        r#"{ hostbestand = "bb.tar", tar_bevat = "etc/passwd" }"#,
        "maar niet etc/passwd",
    );
    lab.run("echo hallo > notitie.txt");
    lab.holds(r#"{ hostbestand = "notitie.txt", inhoud = "hallo" }"#);
    lab.fails_with(r#"{ hostbestand = "weg.txt" }"#, "geen bestand weg.txt");
    lab.holds(r#"{ hostbestand = "weg.txt", bestaat = false }"#);
}

#[test]
fn detach_keys_of_a_scripted_student_wait_for_the_client_to_take_the_terminal() {
    let lab = Lab::new();
    // A client that is silent for a second before it puts the terminal in raw mode (as
    // `docker run -it` while it unpacks a large image): typed any earlier, Ctrl+Q would be
    // taken as flow control by the line discipline and the keys never arrive.
    let ran = lab
        .shell
        .run_on_pty(
            "sleep 1; stty raw -echo; head -c 2 | od -An -c; stty sane",
            &["\u{10}\u{11}".to_string()],
            Duration::from_secs(30),
        )
        .expect("run on a pty");
    assert!(!ran.timed_out, "{}", ran.output);
    assert!(ran.output.contains("020 021"), "{:?}", ran.output);
}
