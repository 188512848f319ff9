//! `dokles nakijken`, in Dutch: grade students' submissions (transcripts or scripts) for a
//! lesson, or the live state of a state root; print the summary, `--json` or `--junit`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

use super::{CliError, CliResult};
use crate::grade::isolation::Limits;
use crate::grade::{self, junit, live, report, GradeReport, Options, Submission};
use crate::lesson::{catalog, Catalog, Lesson};
use crate::state::StateRoot;

pub const USAGE: &str = "\
Gebruik: dokles nakijken --les LES INZENDING... [opties]
         dokles nakijken --live --les LES [--lessen MAP]

Kijkt het werk van studenten na. Een inzending is een transcript uit 'dokles les'
(les/transcripten/…) of een shellscript: elke inzending draait in een eigen afgeschermde
omgeving, daarna wordt elke stap van de les gecontroleerd zoals in de les zelf.

  --les LES            de les: nummer, naam, of een .toml-bestand
  --lessen MAP         lessen uit deze map in plaats van de meegeleverde
  --live               de huidige toestand van deze machine nakijken (--root of
                       $DOKLES_ROOT): een stap telt als de les hem als behaald bewaarde
                       of als de controles nu kloppen
  --json               het rapport als JSON (velden: zie docs/GRADING.md)
  --junit BESTAND      ook een JUnit-XML-rapport schrijven (voor CI)
  --parallel N         N inzendingen tegelijk (standaard 1)
  --timeout SECONDEN   tijdslimiet per inzending (standaard 300)
  --ruimte MB          schijfruimte per inzending (standaard 2048)

Exitcode 0 als elke inzending elke stap haalde, anders 1.";

#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
struct Args {
    inzendingen: Vec<PathBuf>,
    #[arg(long = "les")]
    les: Option<String>,
    #[arg(long = "lessen")]
    lessen: Option<PathBuf>,
    #[arg(long = "live")]
    live: bool,
    #[arg(long = "json")]
    json: bool,
    #[arg(long = "junit")]
    junit: Option<PathBuf>,
    #[arg(long = "parallel", default_value_t = 1)]
    parallel: usize,
    #[arg(long = "timeout", default_value_t = 300)]
    timeout: u64,
    #[arg(long = "ruimte", default_value_t = 2048)]
    ruimte: u64,
    #[arg(short = 'h', long = "help")]
    help: bool,
}

fn usage_error(text: impl std::fmt::Display) -> CliError {
    CliError::Message {
        text: format!("dokles nakijken: {text}\n\n{USAGE}"),
        code: 2,
    }
}

/// `dokles nakijken …`
pub fn nakijken(root: Option<&Path>, args: &[String]) -> CliResult {
    let a =
        Args::try_parse_from(std::iter::once("nakijken".to_string()).chain(args.iter().cloned()))
            .map_err(|e| usage_error(e.kind().to_string().to_lowercase()))?;
    if a.help {
        println!("{USAGE}");
        return Ok(());
    }
    let Some(key) = &a.les else {
        return Err(usage_error("welke les? Geef --les LES"));
    };
    if a.parallel == 0 || a.timeout == 0 || a.ruimte == 0 {
        return Err(usage_error(
            "--parallel, --timeout en --ruimte moeten groter dan 0 zijn",
        ));
    }
    let lesson = find_lesson(key, a.lessen.as_deref())?;
    let report = if a.live {
        if !a.inzendingen.is_empty() {
            return Err(usage_error(
                "--live kijkt deze machine na, zonder inzendingen",
            ));
        }
        let root = StateRoot::open(StateRoot::resolve(root))
            .map_err(|e| CliError::plain(format!("{e:#}")))?;
        let cwd = std::env::current_dir()
            .map_err(|e| CliError::plain(format!("dokles nakijken: werkmap: {e}")))?;
        let s = live::grade_live(&lesson, &root, &cwd)
            .map_err(|e| CliError::plain(format!("dokles nakijken: {e:#}")))?;
        GradeReport {
            lesson: lesson.id.clone(),
            title: lesson.title.clone(),
            submissions: vec![s],
        }
    } else {
        if a.inzendingen.is_empty() {
            return Err(usage_error("geen inzendingen om na te kijken"));
        }
        let submissions = a
            .inzendingen
            .iter()
            .map(|p| {
                Submission::read(p).map_err(|e| CliError::plain(format!("dokles nakijken: {e:#}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let opts = Options {
            timeout: Duration::from_secs(a.timeout),
            limits: Limits {
                disk_bytes: a.ruimte.saturating_mul(1 << 20),
                ..Limits::default()
            },
        };
        let total = submissions.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let progress = |s: &grade::SubmissionReport| {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            eprintln!(
                "[{n}/{total}] {}: {}/{} punten",
                report::shown(&s.submission),
                s.points,
                s.max_points
            );
        };
        let reports = grade::grade_all(&lesson, &submissions, &opts, a.parallel, &progress);
        GradeReport {
            lesson: lesson.id.clone(),
            title: lesson.title.clone(),
            submissions: reports,
        }
    };
    if let Some(file) = &a.junit {
        std::fs::write(file, junit::render(&report)).map_err(|e| {
            CliError::plain(format!(
                "dokles nakijken: kan {} niet schrijven: {e}",
                file.display()
            ))
        })?;
    }
    if a.json {
        let text = report::to_json(&report)
            .map_err(|e| CliError::plain(format!("dokles nakijken: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", report::summary(&report));
    }
    if report.all_passed() {
        Ok(())
    } else {
        Err(CliError::Message {
            text: String::new(),
            code: 1,
        })
    }
}

/// A lesson by number or name from the catalog, or a lesson file.
fn find_lesson(key: &str, dir: Option<&Path>) -> Result<Lesson, CliError> {
    let as_file = Path::new(key);
    if key.ends_with(".toml") || key.contains('/') {
        return catalog::load_file(as_file)
            .map_err(|e| CliError::plain(format!("fout in les: {e}")));
    }
    let catalog = match dir {
        Some(d) => Catalog::from_dir(d),
        None => Catalog::shipped(),
    }
    .map_err(|e| CliError::plain(format!("fout in les: {e}")))?;
    catalog.find(key).cloned().ok_or_else(|| {
        CliError::plain(format!(
            "dokles nakijken: er is geen les '{key}'. Typ 'dokles lessen' voor alle lessen."
        ))
    })
}
