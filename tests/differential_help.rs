//! The usage texts against the real Docker CLI: `docker --help`, `docker image --help` and
//! `docker container --help` list, in Docker's sections and order and with its exact words,
//! every command dokles implements (Docker's own list is longer: `build`, `volume`, …).
//! The Docker CLI must be installed here (it is: Debian's `docker.io`); usage needs no daemon.

use std::process::Command;

fn output(program: &str, pre: &[&str], args: &[&str]) -> String {
    let o = Command::new(program)
        .args(pre)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    assert!(o.status.success(), "{program} {args:?}: {o:?}");
    String::from_utf8(o.stdout).expect("utf-8 usage")
}

/// The section titles and command lines of a usage text, in order.
fn listed(usage: &str) -> Vec<&str> {
    usage
        .lines()
        .filter(|l| l.ends_with("Commands:") || l.starts_with("  ") && !l.starts_with("   "))
        .filter(|l| !l.trim_start().starts_with('-'))
        .collect()
}

/// dokles' lines, each exactly as Docker words it and in Docker's order.
fn assert_a_faithful_subset(args: &[&str], expected_commands: &[&str]) {
    let ours = output(env!("CARGO_BIN_EXE_dokles"), &["docker"], args);
    let theirs = output("docker", &[], args);
    let (ours, theirs) = (listed(&ours), listed(&theirs));
    let mut rest = theirs.iter();
    for line in &ours {
        assert!(
            rest.any(|l| l == line),
            "docker {args:?}: {line:?} is not in Docker's usage, or out of its order:\n{theirs:#?}"
        );
    }
    for command in expected_commands {
        assert!(
            ours.iter()
                .any(|l| l.split_whitespace().next() == Some(command)),
            "docker {args:?} does not list {command}"
        );
    }
}

#[test]
fn the_top_level_usage_lists_every_command_in_dockers_sections() {
    assert_a_faithful_subset(
        &["--help"],
        &[
            "run",
            "exec",
            "ps",
            "pull",
            "images",
            "container",
            "image",
            "attach",
            "commit",
            "create",
            "history",
            "import",
            "inspect",
            "kill",
            "load",
            "logs",
            "pause",
            "rename",
            "restart",
            "rm",
            "rmi",
            "save",
            "start",
            "stats",
            "stop",
            "tag",
            "top",
            "unpause",
            "wait",
        ],
    );
}

#[test]
fn the_image_group_usage_lists_its_commands_as_docker() {
    assert_a_faithful_subset(
        &["image", "--help"],
        &[
            "history", "import", "inspect", "load", "ls", "prune", "pull", "rm", "save", "tag",
        ],
    );
}

#[test]
fn the_container_group_usage_lists_its_commands_as_docker() {
    assert_a_faithful_subset(
        &["container", "--help"],
        &[
            "attach", "commit", "create", "exec", "inspect", "kill", "logs", "ls", "pause",
            "prune", "rename", "restart", "rm", "run", "start", "stats", "stop", "top", "unpause",
            "wait",
        ],
    );
}
