//! dokles' own commands around lessons, in Dutch: `dokles les [NAAM|NUMMER]` (the REPL),
//! `dokles les --controleer FILE`, `dokles les --test FILE` and `dokles lessen`.

use std::path::{Path, PathBuf};

use clap::Parser;
use colored::Colorize;

use super::{CliError, CliResult};
use crate::lesson::replay::StepReport;
use crate::lesson::{catalog, validate, Catalog, Lesson};
use crate::state::StateRoot;

pub const LES_USAGE: &str = "\
Gebruik: dokles les [NAAM|NUMMER] [--lessen MAP]
         dokles les --controleer BESTAND
         dokles les --test BESTAND

  NAAM|NUMMER         de les om te starten (zonder: waar je gebleven was, of les 1)
  --lessen MAP        lessen uit deze map in plaats van de meegeleverde
  --controleer BESTAND  een lesbestand nakijken zonder het uit te voeren
  --test BESTAND      de voorbeelden van een les uitvoeren als geautomatiseerde student,
                      in een wegwerp-toestandsmap, en elke stap controleren";

#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
struct LesArgs {
    les: Option<String>,
    #[arg(long = "lessen")]
    lessen: Option<PathBuf>,
    #[arg(long = "controleer")]
    controleer: Option<PathBuf>,
    #[arg(long = "test")]
    test: Option<PathBuf>,
    #[arg(short = 'h', long = "help")]
    help: bool,
}

fn usage_error(text: String) -> CliError {
    CliError::Message {
        text: format!("dokles les: {text}\n\n{LES_USAGE}"),
        code: 2,
    }
}

fn lesson_error(e: impl std::fmt::Display) -> CliError {
    CliError::Message {
        text: format!("fout in les: {e}"),
        code: 1,
    }
}

/// `dokles les …`
pub fn les(root: Option<&Path>, args: &[String]) -> CliResult {
    let a = LesArgs::try_parse_from(std::iter::once("les".to_string()).chain(args.iter().cloned()))
        .map_err(|e| usage_error(e.kind().to_string().to_lowercase()))?;
    if a.help {
        println!("{LES_USAGE}");
        return Ok(());
    }
    if let Some(file) = &a.controleer {
        return check_file(file);
    }
    if let Some(file) = &a.test {
        return test_file(file);
    }
    let catalog = load_catalog(a.lessen.as_deref())?;
    let root = open_root(root)?;
    let lesson = match &a.les {
        Some(key) => catalog.find(key).ok_or_else(|| CliError::Message {
            text: format!(
                "dokles les: er is geen les '{key}'. Typ 'dokles lessen' voor alle lessen."
            ),
            code: 1,
        })?,
        None => resume(&catalog, &root)?,
    };
    crate::repl::run(&catalog, lesson, &root).map_err(|e| CliError::plain(format!("dokles: {e:#}")))
}

/// `dokles lessen [--lessen MAP]`
pub fn lessen(root: Option<&Path>, args: &[String]) -> CliResult {
    let dir = match args {
        [] => None,
        [flag, dir] if flag == "--lessen" => Some(PathBuf::from(dir)),
        _ => {
            return Err(CliError::Message {
                text: "Gebruik: dokles lessen [--lessen MAP]".into(),
                code: 2,
            })
        }
    };
    let catalog = load_catalog(dir.as_deref())?;
    let root = open_root(root)?;
    crate::repl::list_lessons(&catalog, &root);
    Ok(())
}

fn open_root(root: Option<&Path>) -> Result<StateRoot, CliError> {
    need_root("dokles les")?;
    StateRoot::open(StateRoot::resolve(root)).map_err(|e| CliError::plain(format!("{e:#}")))
}

/// Containers need root (namespaces, mounts, cgroups): say so in Dutch before anything
/// fails halfway.
fn need_root(what: &str) -> Result<(), CliError> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(CliError::plain(format!(
        "{what} moet als root draaien (containers hebben namespaces, mounts en cgroups nodig): \
         probeer sudo {what} …"
    )))
}

fn load_catalog(dir: Option<&Path>) -> Result<Catalog, CliError> {
    match dir {
        Some(d) => Catalog::from_dir(d),
        None => Catalog::shipped(),
    }
    .map_err(lesson_error)
}

/// The first lesson not yet finished according to saved progress.
fn resume<'c>(catalog: &'c Catalog, root: &StateRoot) -> Result<&'c Lesson, CliError> {
    let progress = crate::lesson::progress::Progress::load(root);
    catalog
        .lessons
        .iter()
        .find(|l| {
            !l.steps
                .iter()
                .all(|s| progress.get(&l.id).passed.contains(&s.id))
        })
        .or_else(|| catalog.lessons.first())
        .ok_or_else(|| CliError::plain("dokles les: er zijn geen lessen"))
}

fn parse_file(file: &Path) -> Result<Lesson, CliError> {
    catalog::load_file(file).map_err(lesson_error)
}

/// `--controleer`: report every problem; exit 1 when there is one.
fn check_file(file: &Path) -> CliResult {
    let lesson = parse_file(file)?;
    let problems = validate::problems(&file.display().to_string(), &lesson);
    if problems.is_empty() {
        println!(
            "{} {} is in orde: les '{}' met {} stappen.",
            "✔".green(),
            file.display(),
            lesson.title,
            lesson.steps.len()
        );
        return Ok(());
    }
    for p in &problems {
        eprintln!("fout in les: {p}");
    }
    Err(CliError::Message {
        text: String::new(),
        code: 1,
    })
}

/// `--test`: the scripted student replays the lesson in a throw-away state root.
fn test_file(file: &Path) -> CliResult {
    need_root("dokles les --test")?;
    let lesson = parse_file(file)?;
    let problems = validate::problems(&file.display().to_string(), &lesson);
    for p in &problems {
        eprintln!("fout in les: {p}");
    }
    if !problems.is_empty() {
        return Err(CliError::Message {
            text: String::new(),
            code: 1,
        });
    }
    // The same isolation as grading: a world of its own, on a tmpfs (fast to fill and to
    // throw away), with a cgroup and a pids limit.
    println!("Les '{}' als geautomatiseerde student:", lesson.title);
    let total = lesson.steps.len();
    let mut n = 0;
    let report = crate::grade::world::replay(&lesson, |s| {
        n += 1;
        print_step(n, total, s);
    })
    .map_err(|e| CliError::plain(format!("dokles: {e:#}")))?;
    let (got, of) = report.score();
    if report.all_passed() {
        println!("{} alle {total} stappen behaald.", "✔".green());
        Ok(())
    } else {
        println!("{} {got} van {of} punten behaald.", "✘".red());
        Err(CliError::Message {
            text: String::new(),
            code: 1,
        })
    }
}

fn print_step(n: usize, total: usize, s: &StepReport) {
    let verdict = if s.passed {
        "behaald".green()
    } else {
        "niet behaald".red()
    };
    println!("  stap {n}/{total} {} ({}): {verdict}", s.id, s.title);
    // What containers printed may be in a message: shown, not obeyed by the terminal.
    for c in s.checks.iter().filter(|c| !c.passed) {
        println!("      {}", crate::grade::report::shown(&c.message));
    }
    for f in &s.feedback {
        println!("      → {f}");
    }
}
