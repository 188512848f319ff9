//! `docker <command> --help`: the real Docker CLI's help text of the command, captured from
//! the reference client by `scripts/capture-usage` into `src/cli/usage/`, with the usage line
//! as typed (`docker container ls` or `docker ps`) and only the flags dokles accepts.

use include_dir::{include_dir, Dir};

use super::commands;

static TEXTS: Dir = include_dir!("$CARGO_MANIFEST_DIR/src/cli/usage");

/// The help of the command typed as `path` (`docker image ls`), whose usage line is
/// `usage` and whose parser is `parser`; `None` for a command without a captured text.
pub fn help(path: &str, usage: &str, parser: &clap::Command) -> Option<String> {
    let words: Vec<String> = path
        .strip_prefix("docker ")?
        .split(' ')
        .map(str::to_string)
        .collect();
    let name = commands::resolve(&words).ok()?.command.name();
    let text = TEXTS
        .get_file(format!("{}.txt", name.replace(' ', "-")))?
        .contents_utf8()?;
    let accepted: Vec<&str> = parser
        .get_arguments()
        .filter_map(|a| a.get_long())
        .collect();
    Some(render(text, usage, &accepted))
}

/// `text` with its first line replaced by `usage` and the option entries whose long flag is
/// not in `accepted` left out (with their continuation lines; the heading too if none stay).
fn render(text: &str, usage: &str, accepted: &[&str]) -> String {
    let mut out = vec![format!("Usage:  {usage}")];
    let mut lines = text.lines().skip(1).peekable();
    while let Some(line) = lines.next() {
        if line != "Options:" {
            out.push(line.to_string());
            continue;
        }
        let mut kept = Vec::new();
        let mut keep = false;
        while let Some(entry) = lines.next_if(|l| l.starts_with(' ')) {
            if let Some(long) = long_flag(entry) {
                keep = accepted.contains(&long);
            }
            if keep {
                kept.push(entry.to_string());
            }
        }
        if !kept.is_empty() {
            out.push(line.to_string());
            out.extend(kept);
        } else if out.last().is_some_and(|l| l.is_empty()) {
            out.pop();
        }
    }
    out.join("\n")
}

/// The long flag an option entry starts with (`  -a, --all  …`, `      --format string …`);
/// `None` for a continuation line.
fn long_flag(line: &str) -> Option<&str> {
    let rest = line.trim_start();
    let rest = match rest.strip_prefix('-') {
        Some(short) if !short.starts_with('-') => short.get(1..)?.strip_prefix(", ")?,
        _ => rest,
    };
    let name = rest.strip_prefix("--")?;
    Some(name.split(' ').next().unwrap_or(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRUNE: &str = "Usage:  docker image prune [OPTIONS]

Remove unused images

Options:
  -a, --all             Remove all unused images, not just dangling ones
      --filter filter   Provide filter values (e.g. \"until=<timestamp>\")
                        second line
  -f, --force           Do not prompt for confirmation";

    #[test]
    fn flags_not_accepted_go_with_their_continuation_lines() {
        assert_eq!(
            render(PRUNE, "docker image prune [OPTIONS]", &["all", "force"]),
            "Usage:  docker image prune [OPTIONS]

Remove unused images

Options:
  -a, --all             Remove all unused images, not just dangling ones
  -f, --force           Do not prompt for confirmation"
        );
    }

    #[test]
    fn no_accepted_flag_means_no_options_heading() {
        assert_eq!(
            render(PRUNE, "docker image prune", &[]),
            "Usage:  docker image prune\n\nRemove unused images"
        );
    }

    #[test]
    fn long_flags_are_read_with_or_without_a_shorthand() {
        assert_eq!(long_flag("  -a, --all    x"), Some("all"));
        assert_eq!(long_flag("      --filter filter   x"), Some("filter"));
        assert_eq!(long_flag("                        second line"), None);
    }
}
