//! `dokles les --controleer FILE`: everything that can be known about a lesson without
//! running it — the format (via parsing), images the offline cache lacks, example commands
//! that are no valid docker command.

use super::format::{split_command, Lesson, LessonError};
use crate::engine::image::cache::Cache;
use crate::engine::image::Reference;

/// Problems in an already parsed lesson from file `file`; empty when it is sound.
pub fn problems(file: &str, lesson: &Lesson) -> Vec<LessonError> {
    let mut found = Vec::new();
    let at = |line: usize, message: String| LessonError {
        file: file.to_string(),
        line,
        message,
    };
    match Cache::shipped() {
        Ok(cache) => {
            for name in &lesson.images {
                let known = Reference::parse(name)
                    .ok()
                    .and_then(|r| r.with_default_tag())
                    .is_some_and(|r| cache.find(&r).is_some());
                if !known {
                    found.push(at(
                        0,
                        format!(
                            "image `{name}` zit niet in de offline cache (wel: {})",
                            cache.available().join(", ")
                        ),
                    ));
                }
            }
        }
        Err(e) => found.push(at(0, format!("de offline cache is onleesbaar: {e:#}"))),
    }
    for step in &lesson.steps {
        if !step.input.is_empty() && step.example.len() > 1 {
            found.push(at(
                step.line,
                format!(
                    "stap `{}`: `invoer` hoort bij één voorbeeldcommando, maar er zijn er {}",
                    step.id,
                    step.example.len()
                ),
            ));
        }
        if step.example.is_empty() {
            found.push(at(
                step.line,
                format!("stap `{}` heeft geen voorbeeld (`voorbeeld`)", step.id),
            ));
        }
        for line in &step.example {
            // Only plain docker commands can be checked; pipes and substitutions are the
            // shell's business.
            if line.contains(['|', '$', '`', ';', '&', '>', '<']) {
                continue;
            }
            let Ok(words) = split_command(line) else {
                continue;
            };
            if let Some(("docker", args)) = words.split_first().map(|(h, t)| (h.as_str(), t)) {
                if let Err(e) = crate::cli::canonical(args) {
                    found.push(at(
                        step.line,
                        format!(
                            "stap `{}`: voorbeeld `{line}` is geen geldige docker-opdracht: {}",
                            step.id,
                            e.text().lines().next().unwrap_or_default()
                        ),
                    ));
                }
            }
        }
    }
    found
}
