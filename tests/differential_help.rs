//! The usage texts against the real Docker CLI: `docker --help`, `docker image --help` and
//! `docker container --help` list, in Docker's sections and order and with its exact words,
//! every command dokles implements (Docker's own list is longer: `build`, `volume`, …).
//! The Docker CLI must be installed here (it is: Debian's `docker.io`); usage needs no daemon.

use std::process::Command;

fn output(program: &str, pre: &[&str], args: &[&str]) -> String {
    // No daemon to ask: the client shows every flag, as it does against an engine of its own
    // version (a daemon with an older API, like Debian's, would hide the newer flags).
    let o = Command::new(program)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
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

/// Every command path dokles lists: the top-level commands and each group's subcommands.
fn every_command() -> Vec<String> {
    let names = |args: &[&str]| -> Vec<String> {
        listed(&output(env!("CARGO_BIN_EXE_dokles"), &["docker"], args))
            .into_iter()
            .filter(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    let mut paths: Vec<String> = names(&["--help"])
        .into_iter()
        .filter(|n| n != "image" && n != "container")
        .collect();
    for group in ["image", "container"] {
        paths.extend(
            names(&[group, "--help"])
                .into_iter()
                .map(|sub| format!("{group} {sub}")),
        );
    }
    paths
}

/// The long flags of a help text's option entries.
fn flags(usage: &str) -> Vec<String> {
    usage
        .lines()
        .skip_while(|l| *l != "Options:")
        .filter_map(|l| {
            let entry = l.trim_start();
            let entry = match entry.strip_prefix('-') {
                Some(short) if !short.starts_with('-') => short.get(3..)?,
                _ => entry,
            };
            entry
                .strip_prefix("--")
                .and_then(|f| f.split_whitespace().next())
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn each_commands_help_is_dockers_for_exactly_the_flags_dokles_accepts() {
    let paths = every_command();
    assert!(paths.len() > 50, "{paths:?}");
    for path in paths {
        let args: Vec<&str> = path.split(' ').chain(["--help"]).collect();
        let ours = output(env!("CARGO_BIN_EXE_dokles"), &["docker"], &args);
        let theirs = output("docker", &[], &args);
        assert_eq!(
            ours.lines().next(),
            theirs.lines().next(),
            "docker {path} --help: the usage line"
        );
        let mut rest = theirs.lines();
        for line in ours.lines() {
            assert!(
                rest.any(|l| l == line),
                "docker {path} --help: {line:?} is not Docker's, or out of its order"
            );
        }
        // A flag is left out of the help exactly when dokles refuses it as unknown. An unknown
        // probe flag after it makes every command stop at parsing, so nothing runs or streams
        // (the flag's value is given with `=`, so the probe cannot become its value).
        let shown = flags(&ours);
        for flag in flags(&theirs).into_iter().filter(|f| f != "help") {
            let mut typed: Vec<&str> = path.split(' ').collect();
            let long = format!("--{flag}=");
            typed.extend([long.as_str(), "--dokles-probe"]);
            let o = Command::new(env!("CARGO_BIN_EXE_dokles"))
                .arg("--root")
                .arg("/nonexistent/dokles-help-test")
                .arg("docker")
                .args(&typed)
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run dokles");
            let unknown =
                String::from_utf8_lossy(&o.stderr).starts_with(&format!("unknown flag: --{flag}"));
            assert_eq!(
                unknown,
                !shown.contains(&flag),
                "docker {path} --{flag}: shown in the help {}, refused as unknown {unknown}",
                shown.contains(&flag)
            );
        }
    }
}
