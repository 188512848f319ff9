//! The lesson file format: TOML parsed with serde into raw tables, then validated into typed
//! [`Lesson`]s whose checks cannot express a wrong combination. Every problem becomes a
//! [`LessonError`] in Dutch naming the file, the line and what is wrong.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::check::{Check, CommandLine, ContainerExpect, ContainerTarget, HostFileExpect};
use crate::engine::container::Status;

/// A parsed, validated lesson.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// Short name used on the command line (`eerste-container`), from the file name.
    pub id: String,
    /// Lesson number from the file name's leading digits (`01-…` → 1), if any.
    pub number: Option<u32>,
    pub title: String,
    pub summary: Option<String>,
    /// Images the lesson needs; `--controleer` verifies the offline cache has them.
    pub images: Vec<String>,
    /// Commands run silently when the lesson starts or is reset (e.g. `docker pull python`).
    pub setup: Vec<String>,
    pub steps: Vec<Step>,
    /// The file it was parsed from, to parse it again elsewhere (a grading world).
    pub source: LessonSource,
}

/// A lesson file's name and text: what [`parse`] takes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LessonSource {
    pub file: String,
    pub text: String,
}

impl LessonSource {
    pub fn parse(&self) -> Result<Lesson, LessonError> {
        parse(&self.file, &self.text)
    }
}

/// One step of a lesson.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    /// Line of the step's `[[stap]]` table in its file (for authors' messages).
    pub line: usize,
    pub title: String,
    pub explanation: String,
    pub task: String,
    /// Example command lines, as a student would type them.
    pub example: Vec<String>,
    /// For interactive examples: what a scripted student types once the program waits.
    pub input: Vec<String>,
    /// The scripted student starts the example without waiting for it (a second terminal).
    pub background: bool,
    pub hints: Vec<String>,
    pub checks: Vec<Check>,
    pub feedback: Vec<Feedback>,
    pub success: Option<String>,
    /// Weight of the step in a grade (default 1).
    pub weight: u32,
}

/// A message shown when the step fails and its condition holds.
#[derive(Debug, Clone)]
pub struct Feedback {
    pub when: Check,
    pub text: String,
}

/// A malformed lesson: `file`, 1-based `line` (0 when unknown) and a Dutch message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}{}: {message}", line_suffix(*line))]
pub struct LessonError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(", regel {line}")
    }
}

// ---------------------------------------------------------------------------------------
// Raw TOML tables

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLesson {
    titel: String,
    samenvatting: Option<String>,
    #[serde(default)]
    images: Vec<String>,
    #[serde(default)]
    voorbereiding: Vec<String>,
    #[serde(default)]
    stap: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    titel: String,
    uitleg: String,
    opdracht: String,
    #[serde(default)]
    voorbeeld: OneOrMany,
    #[serde(default)]
    invoer: Vec<String>,
    #[serde(default)]
    achtergrond: bool,
    #[serde(default)]
    hints: Vec<String>,
    #[serde(default)]
    controle: Vec<Spanned<RawCheck>>,
    #[serde(default)]
    feedback: Vec<Spanned<RawFeedback>>,
    gelukt: Option<String>,
    gewicht: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeedback {
    als: Spanned<RawCheck>,
    tekst: String,
}

/// A check as written: one subject key and assertion keys. Validated into [`Check`].
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    // Subjects.
    container: Option<String>,
    container_met_image: Option<String>,
    image: Option<String>,
    hostbestand: Option<String>,
    commando: Option<OneOrMany>,
    // Assertions.
    bestaat: Option<bool>,
    status: Option<String>,
    exitcode: Option<i32>,
    env: Option<String>,
    gebruiker: Option<String>,
    mount: Option<String>,
    label: Option<String>,
    proces: Option<String>,
    bestand: Option<String>,
    inhoud: Option<String>,
    tar_bevat: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Parsing

/// Parse and validate `text`, the contents of the lesson file `file` (its name gives the
/// lesson's id and number).
pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
    let at = |span: Range<usize>, message: String| LessonError {
        file: file.to_string(),
        line: line_of(text, span.start),
        message,
    };
    let raw: RawLesson = toml::from_str(text).map_err(|e| LessonError {
        file: file.to_string(),
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
        message: dutch_toml_error(e.message()),
    })?;
    let (id, number) = id_and_number(file);
    if raw.titel.trim().is_empty() {
        return Err(at(0..0, "de les heeft geen titel (`titel`)".into()));
    }
    if raw.stap.is_empty() {
        return Err(at(
            text.len()..text.len(),
            "de les heeft geen stappen (`[[stap]]`)".into(),
        ));
    }
    let mut steps: Vec<Step> = Vec::new();
    for raw_step in raw.stap {
        let span = raw_step.span();
        let s = raw_step.into_inner();
        if steps.iter().any(|o| o.id == s.id) {
            return Err(at(span, format!("stap-id `{}` komt twee keer voor", s.id)));
        }
        if s.controle.is_empty() {
            return Err(at(
                span,
                format!("stap `{}` heeft geen controles (`controle`)", s.id),
            ));
        }
        let example = s.voorbeeld.into_vec();
        for line in &example {
            if split_command(line).is_err() {
                return Err(at(
                    span.clone(),
                    format!(
                        "stap `{}`: het voorbeeld `{line}` heeft een aanhalingsteken dat niet sluit",
                        s.id
                    ),
                ));
            }
        }
        let mut checks = Vec::new();
        for c in s.controle {
            let span = c.span();
            checks.push(
                check_from_raw(c.into_inner())
                    .map_err(|m| at(span, format!("stap `{}`: {m}", s.id)))?,
            );
        }
        let mut feedback = Vec::new();
        for f in s.feedback {
            let span = f.span();
            let f = f.into_inner();
            let cspan = f.als.span();
            let when = check_from_raw(f.als.into_inner())
                .map_err(|m| at(cspan, format!("stap `{}`, feedback: {m}", s.id)))?;
            if f.tekst.trim().is_empty() {
                return Err(at(span, format!("stap `{}`: feedback zonder tekst", s.id)));
            }
            feedback.push(Feedback {
                when,
                text: f.tekst,
            });
        }
        steps.push(Step {
            id: s.id,
            line: line_of(text, span.start),
            title: s.titel,
            explanation: s.uitleg,
            task: s.opdracht,
            example,
            input: s.invoer,
            background: s.achtergrond,
            hints: s.hints,
            checks,
            feedback,
            success: s.gelukt,
            weight: s.gewicht.unwrap_or(1),
        });
    }
    Ok(Lesson {
        id,
        number,
        title: raw.titel,
        summary: raw.samenvatting,
        images: raw.images,
        setup: raw.voorbereiding,
        steps,
        source: LessonSource {
            file: file.to_string(),
            text: text.to_string(),
        },
    })
}

/// `lessons/01-eerste-container.toml` → (`eerste-container`, Some(1)).
fn id_and_number(file: &str) -> (String, Option<u32>) {
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
    let number = digits.parse().ok();
    let rest = stem[digits.len()..].trim_start_matches(['-', '_']);
    let id = if rest.is_empty() {
        stem.clone()
    } else {
        rest.to_string()
    };
    (id, number)
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The toml crate speaks English; a lesson author gets the common cases in Dutch.
fn dutch_toml_error(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (field, allowed) = rest.split_once(", expected").unwrap_or((rest, ""));
        let allowed = allowed
            .trim_start_matches(" one of ")
            .trim_start_matches(' ')
            .replace('`', "");
        return if allowed.is_empty() {
            format!("onbekend veld {field}")
        } else {
            format!("onbekend veld {field} (toegestaan: {allowed})")
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("verplicht veld {rest} ontbreekt");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let rest = rest
            .replace("expected a string", "verwacht: tekst")
            .replace("expected a boolean", "verwacht: true of false")
            .replace("expected i32", "verwacht: een geheel getal")
            .replace("expected u32", "verwacht: een positief geheel getal")
            .replace("expected a sequence", "verwacht: een lijst");
        return format!("verkeerd type: {rest}");
    }
    if message.starts_with("data did not match any variant") {
        return "verkeerd type: verwacht een tekst of een lijst van teksten".to_string();
    }
    format!("ongeldige TOML: {message}")
}

fn check_from_raw(mut r: RawCheck) -> Result<Check, String> {
    let subjects = [
        r.container.is_some(),
        r.container_met_image.is_some(),
        r.hostbestand.is_some(),
        r.commando.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if subjects > 1 {
        return Err(
            "een controle gaat over één ding: kies container, container_met_image, hostbestand of commando"
                .into(),
        );
    }
    if let Some(name) = r.container.clone() {
        return container_check(ContainerTarget::Name(name), r);
    }
    if let Some(image) = r.container_met_image.clone() {
        return container_check(ContainerTarget::FromImage(image), r);
    }
    if let Some(path) = r.hostbestand.clone() {
        return host_file_check(path, r);
    }
    if let Some(lines) = r.commando.take() {
        return command_check(lines.into_vec(), r);
    }
    if let Some(name) = r.image.clone() {
        only(&r, &["image", "bestaat"])?;
        return Ok(Check::Image {
            name,
            present: r.bestaat.unwrap_or(true),
        });
    }
    Err(
        "controle zonder onderwerp: geef container, container_met_image, image, hostbestand of commando"
            .into(),
    )
}

/// Refuse assertion keys that make no sense for the subject.
fn only(r: &RawCheck, allowed: &[&str]) -> Result<(), String> {
    let present = [
        ("image", r.image.is_some()),
        ("bestaat", r.bestaat.is_some()),
        ("status", r.status.is_some()),
        ("exitcode", r.exitcode.is_some()),
        ("env", r.env.is_some()),
        ("gebruiker", r.gebruiker.is_some()),
        ("mount", r.mount.is_some()),
        ("label", r.label.is_some()),
        ("proces", r.proces.is_some()),
        ("bestand", r.bestand.is_some()),
        ("inhoud", r.inhoud.is_some()),
        ("tar_bevat", r.tar_bevat.is_some()),
    ];
    for (key, set) in present {
        if set && !allowed.contains(&key) {
            return Err(format!(
                "`{key}` past niet bij deze controle (mogelijk: {})",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

fn container_check(target: ContainerTarget, r: RawCheck) -> Result<Check, String> {
    only(
        &r,
        &[
            "image",
            "bestaat",
            "status",
            "exitcode",
            "env",
            "gebruiker",
            "mount",
            "label",
            "proces",
            "bestand",
            "inhoud",
        ],
    )?;
    let mut expect = Vec::new();
    if let Some(b) = r.bestaat {
        expect.push(ContainerExpect::Exists(b));
        if !b && (r.status.is_some() || r.image.is_some() || r.bestand.is_some()) {
            return Err("`bestaat = false` kan niet samen met andere eisen".into());
        }
    }
    if let Some(s) = r.status {
        let status = Status::parse(&s).ok_or_else(|| {
            format!(
                "onbekende status `{s}` (mogelijk: created, running, paused, restarting, removing, exited, dead)"
            )
        })?;
        expect.push(ContainerExpect::Status(status));
    }
    if let Some(code) = r.exitcode {
        expect.push(ContainerExpect::ExitCode(code));
    }
    if let Some(image) = r.image {
        expect.push(ContainerExpect::Image(image));
    }
    if let Some(env) = r.env {
        expect.push(ContainerExpect::Env(env));
    }
    if let Some(user) = r.gebruiker {
        expect.push(ContainerExpect::User(user));
    }
    if let Some(label) = r.label {
        expect.push(ContainerExpect::Label(label));
    }
    if let Some(mount) = r.mount {
        if !mount.starts_with('/') {
            return Err(format!(
                "`mount` is een pad in de container en begint met / (niet `{mount}`)"
            ));
        }
        expect.push(ContainerExpect::Mount(mount));
    }
    if let Some(p) = r.proces {
        expect.push(ContainerExpect::Process(p));
    }
    match (r.bestand, r.inhoud) {
        (Some(path), content) => {
            if !path.starts_with('/') {
                return Err(format!(
                    "`bestand` is een pad in de container en begint met / (niet `{path}`)"
                ));
            }
            expect.push(ContainerExpect::File { path, content });
        }
        (None, Some(_)) => return Err("`inhoud` hoort bij `bestand`".into()),
        (None, None) => {}
    }
    if expect.is_empty() {
        expect.push(ContainerExpect::Exists(true));
    }
    Ok(Check::Container { target, expect })
}

fn host_file_check(path: String, r: RawCheck) -> Result<Check, String> {
    only(&r, &["bestaat", "inhoud", "tar_bevat"])?;
    let mut expect = Vec::new();
    let exists = r.bestaat.unwrap_or(true);
    expect.push(HostFileExpect::Exists(exists));
    if !exists && (r.inhoud.is_some() || r.tar_bevat.is_some()) {
        return Err("`bestaat = false` kan niet samen met `inhoud` of `tar_bevat`".into());
    }
    if let Some(c) = r.inhoud {
        expect.push(HostFileExpect::Content(c));
    }
    if let Some(p) = r.tar_bevat {
        expect.push(HostFileExpect::TarContains(p));
    }
    Ok(Check::HostFile { path, expect })
}

fn command_check(lines: Vec<String>, r: RawCheck) -> Result<Check, String> {
    only(&r, &["exitcode"])?;
    if lines.is_empty() {
        return Err("`commando` heeft minstens één docker-opdracht nodig".into());
    }
    let mut alternatives = Vec::new();
    for line in lines {
        let words = split_command(&line).map_err(|e| format!("commando `{line}`: {e}"))?;
        let Some(("docker", args)) = words.split_first().map(|(h, t)| (h.as_str(), t)) else {
            return Err(format!(
                "een commando-controle gaat over een docker-opdracht; `{line}` begint niet met docker"
            ));
        };
        crate::cli::canonical(args).map_err(|e| {
            format!(
                "commando `{line}` is geen geldige docker-opdracht: {}",
                e.text().lines().next().unwrap_or_default()
            )
        })?;
        alternatives.push(CommandLine {
            args: args.to_vec(),
            line,
        });
    }
    Ok(Check::Command {
        alternatives,
        exit_code: r.exitcode.unwrap_or(0),
    })
}

/// Split a command line into words as a POSIX shell would for simple commands: blanks
/// separate words, single and double quotes group, backslash escapes.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("enkel aanhalingsteken sluit niet".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("dubbel aanhalingsteken sluit niet".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("dubbel aanhalingsteken sluit niet".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
titel = "Proef"

[[stap]]
id = "een"
titel = "Eerste"
uitleg = "Uitleg."
opdracht = "Doe iets."
voorbeeld = "docker pull busybox"
controle = [ { image = "busybox" } ]
"#;

    #[test]
    fn a_minimal_lesson_parses_with_id_and_number_from_the_file_name() {
        let l = parse("lessons/07-proef.toml", MINIMAL).expect("valid");
        assert_eq!((l.id.as_str(), l.number), ("proef", Some(7)));
        assert_eq!(l.steps.len(), 1);
        assert_eq!(l.steps[0].example, vec!["docker pull busybox"]);
        assert!(matches!(
            &l.steps[0].checks[0],
            Check::Image { name, present: true } if name == "busybox"
        ));
    }

    fn with_check(check: &str) -> String {
        MINIMAL.replace(r#"{ image = "busybox" }"#, check)
    }

    #[test]
    fn a_container_check_can_ask_for_the_user_it_runs_as() {
        let l = parse(
            "l.toml",
            &with_check(r#"{ container = "c", gebruiker = "1000" }"#),
        )
        .expect("valid");
        assert!(matches!(
            &l.steps[0].checks[0],
            Check::Container { expect, .. } if matches!(&expect[..], [ContainerExpect::User(u)] if u == "1000")
        ));
    }

    #[test]
    fn gebruiker_belongs_to_containers_only() {
        let e = parse(
            "l.toml",
            &with_check(r#"{ hostbestand = "x", gebruiker = "1000" }"#),
        )
        .expect_err("gebruiker on a host file");
        assert!(e.message.contains("`gebruiker` past niet"), "{e}");
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_command(r#"docker run -e "A=b c" 'x y' z\ w"#).unwrap(),
            vec!["docker", "run", "-e", "A=b c", "x y", "z w"]
        );
        assert!(split_command("docker run 'x").is_err());
    }
}
