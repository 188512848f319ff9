//! Tab completion in the lesson REPL: meta commands, docker subcommands and their flags
//! (from the CLI's own definitions), and container and image names from the live state.

use std::borrow::Cow;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::engine::container::ContainerStore;
use crate::engine::image::ImageStore;
use crate::state::StateRoot;

/// The meta commands the REPL understands (besides shell lines).
pub const META: &[&str] = &[
    "hint",
    "uitleg",
    "overslaan",
    "terug",
    "opnieuw",
    "status",
    "motorkap",
    "lessen",
    "stop",
    "hulp",
];

pub struct LessonHelper {
    root: StateRoot,
    /// The prompt with colours (rustyline measures the plain one).
    pub colored_prompt: String,
}

impl LessonHelper {
    pub fn new(root: &StateRoot) -> Self {
        Self {
            root: root.clone(),
            colored_prompt: String::new(),
        }
    }

    /// Container names and image names, as a student would type them.
    fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if let Ok(list) = ContainerStore::open(&self.root).list() {
            names.extend(list.into_iter().map(|c| c.config.name));
        }
        if let Ok(images) = ImageStore::open(&self.root).list() {
            for i in images {
                names.extend(i.tags.iter().map(|t| t.familiar()));
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

/// What could follow `words` (the complete words before the cursor) when the word being
/// typed is `partial`.
pub fn candidates(
    words: &[&str],
    partial: &str,
    names: impl FnOnce() -> Vec<String>,
) -> Vec<String> {
    let all: Vec<String> = match words {
        [] => META
            .iter()
            .chain(std::iter::once(&"docker"))
            .map(|s| s.to_string())
            .collect(),
        ["motorkap"] => vec!["aan".into(), "uit".into()],
        ["docker", rest @ ..] => {
            let args: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            if partial.starts_with('-') {
                crate::cli::flags(&args)
            } else if rest.is_empty() {
                crate::cli::subcommands()
                    .into_iter()
                    .filter(|s| !s.contains(' '))
                    .map(String::from)
                    .collect()
            } else if let [group @ ("image" | "container")] = rest {
                let prefix = format!("{group} ");
                crate::cli::subcommands()
                    .into_iter()
                    .filter_map(|s| s.strip_prefix(prefix.as_str()).map(String::from))
                    .collect()
            } else {
                names()
            }
        }
        _ => Vec::new(),
    };
    all.into_iter().filter(|c| c.starts_with(partial)).collect()
}

impl Completer for LessonHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind([' ', '\t']).map_or(0, |i| i + 1);
        let words: Vec<&str> = before[..start].split_whitespace().collect();
        let found = candidates(&words, &before[start..], || self.names());
        Ok((
            start,
            found
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for LessonHelper {
    type Hint = String;
}

impl Highlighter for LessonHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        default: bool,
    ) -> Cow<'b, str> {
        if default && !self.colored_prompt.is_empty() {
            Cow::Borrowed(&self.colored_prompt)
        } else {
            Cow::Borrowed(prompt)
        }
    }
}

impl Validator for LessonHelper {}

impl Helper for LessonHelper {}

#[cfg(test)]
mod tests {
    use super::candidates;

    fn none() -> Vec<String> {
        vec!["mijn_python_container".into(), "python:latest".into()]
    }

    #[test]
    fn first_word_completes_meta_commands_and_docker() {
        assert_eq!(candidates(&[], "mo", none), vec!["motorkap"]);
        assert_eq!(candidates(&[], "do", none), vec!["docker"]);
    }

    #[test]
    fn docker_words_complete_subcommands_flags_and_names() {
        assert!(candidates(&["docker"], "pu", none).contains(&"pull".to_string()));
        assert!(candidates(&["docker", "ps"], "--a", none).contains(&"--all".to_string()));
        assert!(candidates(&["docker", "image"], "pr", none).contains(&"prune".to_string()));
        assert_eq!(
            candidates(&["docker", "stop"], "mijn", none),
            vec!["mijn_python_container"]
        );
    }
}
