//! Which docker command lines mean the same thing (`dokles::cli::canonical`), and what the
//! REPL completes (`subcommands`, `flags`). Nothing here runs a command: canonicalising only
//! parses.

use dokles::cli::{canonical, flags, subcommands, Canonical, CliError, Command};

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn canon(line: &str) -> Canonical {
    match canonical(&words(line)) {
        Ok(c) => c,
        Err(e) => panic!("`docker {line}` should parse, got {e:?}"),
    }
}

/// Every line in `lines` means the same as the first.
fn assert_equivalent(lines: &[&str]) {
    let first = canon(lines[0]);
    for line in &lines[1..] {
        assert_eq!(
            canon(line),
            first,
            "`docker {line}` should mean `docker {}`",
            lines[0]
        );
    }
}

fn assert_different(a: &str, b: &str) {
    assert_ne!(
        canon(a),
        canon(b),
        "`docker {a}` should differ from `docker {b}`"
    );
}

/// The error `docker <line>` gives, as (exit code, text).
fn error(line: &str) -> (u8, String) {
    match canonical(&words(line)) {
        Ok(c) => panic!("`docker {line}` should fail, got {c:?}"),
        Err(CliError::Message { text, code }) => (code, text),
        Err(other) => panic!("`docker {line}`: a client-side error expected, got {other:?}"),
    }
}

#[test]
fn ps_all_is_the_same_by_every_alias_and_flag_spelling() {
    assert_equivalent(&[
        "ps -a",
        "ps --all",
        "container ls -a",
        "container list --all",
        "container ps -a",
    ]);
    assert_eq!(canon("container ls").command, Command::Ps);
    assert_eq!(Command::Ps.name(), "ps");
}

#[test]
fn a_flag_changes_the_meaning() {
    assert_different("ps", "ps -a");
    assert_different("run python", "run -d python");
    assert_different("images", "images -a");
}

#[test]
fn run_flags_compare_whatever_their_order_and_spelling() {
    assert_equivalent(&[
        "run -it --name x python",
        "run --name x -ti python",
        "container run -i -t --name=x python",
        "run --interactive --tty --name x python",
    ]);
    // The container's own command line is positional: its order counts.
    assert_different("run python echo a b", "run python echo b a");
    // A flag after the image belongs to the container's command, not to run.
    assert_different("run -d python", "run python -d");
}

#[test]
fn image_commands_by_their_group_names() {
    assert_equivalent(&["images", "image ls", "image list"]);
    assert_equivalent(&["rmi x", "image rm x", "image remove x"]);
    assert_equivalent(&["history python", "image history python"]);
    assert_equivalent(&["pull python", "image pull python"]);
    assert_equivalent(&["tag a b", "image tag a b"]);
    assert_eq!(Command::Rmi.name(), "rmi");
    assert_eq!(Command::ImagePrune.name(), "image prune");
}

#[test]
fn positional_arguments_compare_in_order() {
    assert_different("rm a b", "rm b a");
    assert_different("tag a b", "tag b a");
    assert_equivalent(&["wait a b", "container wait a b"]);
    assert_different("rmi python", "rmi python:latest");
}

#[test]
fn short_and_long_flags_are_one_flag() {
    assert_equivalent(&[
        "exec -it c sh",
        "exec -i -t c sh",
        "container exec -ti c sh",
    ]);
    assert_equivalent(&["logs -f c", "logs --follow c", "container logs -f c"]);
    assert_equivalent(&[
        "save -o f.tar python",
        "save --output=f.tar python",
        "image save --output f.tar python",
    ]);
    assert_equivalent(&[
        "image prune -a -f",
        "image prune --all --force",
        "image prune -af",
    ]);
    assert_equivalent(&["rm -f c", "container rm --force c", "container remove -f c"]);
    assert_different("rm c", "rm -f c");
}

#[test]
fn a_repeated_flag_counts_once_and_the_last_value_wins() {
    assert_equivalent(&["ps -a", "ps -a -a", "ps -aa"]);
    assert_equivalent(&["run --name y python", "run --name x --name y python"]);
    // A list flag keeps every value, in order.
    assert_different("run -e A=1 -e B=2 python", "run -e B=2 -e A=1 python");
}

#[test]
fn spelling_out_a_default_changes_nothing() {
    // A boolean flag takes a value only after `=` (pflag's rule): `python` is the image.
    assert_equivalent(&[
        "history python",
        "history -H python",
        "history --human=true python",
    ]);
    assert_different("history python", "history --human=false python");
    assert_equivalent(&["history -H=false python", "history --human=false python"]);
    assert_equivalent(&["commit c", "commit -p c", "commit --pause=true c"]);
    assert_equivalent(&["kill c", "kill -s KILL c"]);
}

#[test]
fn the_three_inspects_are_different_commands() {
    let plain = canon("inspect x");
    let image = canon("image inspect x");
    let container = canon("container inspect x");
    assert_eq!(plain.command, Command::Inspect);
    assert_eq!(image.command, Command::ImageInspect);
    assert_eq!(container.command, Command::ContainerInspect);
    assert_ne!(plain, image);
    assert_ne!(plain, container);
    assert_ne!(image, container);
    assert_different("inspect --type image x", "image inspect x");
}

#[test]
fn the_usages_are_one_command_each() {
    assert_equivalent(&["", "--help", "-h", "help"]);
    assert_equivalent(&["image", "image --help"]);
    assert_eq!(canon("").command, Command::Usage);
    assert_different("image", "container");
}

#[test]
fn unknown_commands_fail_as_the_dispatcher_does() {
    assert_eq!(
        error("bogus"),
        (
            1,
            "docker: unknown command: docker bogus\n\nRun 'docker --help' for more information"
                .to_string()
        )
    );
    assert_eq!(
        error("image bogus").1,
        "docker: unknown command: docker image bogus\n\nUsage:  docker image\n\nRun 'docker image --help' for more information"
    );
    assert_eq!(
        error("container bogus").1,
        "docker: unknown command: docker container bogus\n\nUsage:  docker container\n\nRun 'docker container --help' for more information"
    );
}

#[test]
fn bad_flags_and_arguments_fail_as_the_command_does() {
    let (code, text) = error("ps --bogus");
    assert_eq!(code, 125);
    assert_eq!(text.lines().next(), Some("unknown flag: --bogus"));
    // The image commands name the path they were typed by, as cobra does.
    let (code, text) = error("image ls -x");
    assert_eq!(code, 125);
    assert_eq!(
        text,
        "unknown shorthand flag: 'x' in -x\n\nUsage:  docker image ls [OPTIONS] [REPOSITORY[:TAG]]\n\nRun 'docker image ls --help' for more information"
    );
    let (code, text) = error("rmi");
    assert_eq!(code, 1);
    assert_eq!(
        text.lines().next(),
        Some("docker: 'docker rmi' requires at least 1 argument")
    );
    assert_eq!(
        error("image remove").1.lines().next(),
        Some("docker: 'docker image rm' requires at least 1 argument")
    );
    // --help is not a command line to compare: it is the help text, exit 0.
    match canonical(&words("container ls --help")) {
        Err(help @ CliError::Help(_)) => {
            assert_eq!(help.code(), 0);
            assert!(help
                .text()
                .starts_with("Usage:  docker container ls [OPTIONS]"));
        }
        other => panic!("`docker container ls --help`: its help expected, got {other:?}"),
    }
}

#[test]
fn subcommands_lists_every_typed_form() {
    let all = subcommands();
    for name in [
        "ps",
        "images",
        "run",
        "image",
        "container",
        "image ls",
        "image list",
        "image remove",
        "container ls",
        "container ps",
        "container remove",
        "container inspect",
    ] {
        assert!(all.contains(&name), "{name} missing from {all:?}");
    }
    // Every listed name is a command (some want arguments, but none is unknown).
    for name in &all {
        assert!(
            !matches!(canonical(&words(name)), Err(CliError::Message { ref text, .. }) if text.contains("unknown command")),
            "{name} is listed but unknown"
        );
    }
}

#[test]
fn flags_completes_the_resolved_commands_options() {
    let ps = flags(&words("ps"));
    for f in [
        "--all", "-a", "--quiet", "-q", "--filter", "--format", "--help",
    ] {
        assert!(ps.contains(&f.to_string()), "{f} missing from {ps:?}");
    }
    // Aliases complete alike, and the words typed after the command do not matter.
    assert_eq!(flags(&words("container ls")), ps);
    assert_eq!(flags(&words("ps -a")), ps);
    let run = flags(&words("run"));
    for f in [
        "-i",
        "-t",
        "--interactive",
        "--tty",
        "--name",
        "-d",
        "--rm",
        "-h",
        "--hostname",
    ] {
        assert!(run.contains(&f.to_string()), "{f} missing from {run:?}");
    }
    // No positional shows up as a flag, and nothing completes before a command is named.
    assert!(ps.iter().all(|f| f.starts_with('-')));
    assert!(flags(&words("image")).is_empty());
    assert!(flags(&words("bogus")).is_empty());
}
