//! The lesson REPL (`dokles les`): shows a step, runs what the student types through the
//! lesson's shell, narrates what the engine did (from the journal, so a second terminal
//! counts too), evaluates the step and moves on or says why not. Meta commands in Dutch.

mod complete;
mod transcript;
mod watch;

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use colored::Colorize;
use rustyline::error::ReadlineError;
use rustyline::{Config, Editor};

use crate::events::narrate;
use crate::lesson::progress::{LessonProgress, Progress};
use crate::lesson::replay;
use crate::lesson::session::Session;
use crate::lesson::shell::Shell;
use crate::lesson::{Catalog, Lesson};
use crate::state::StateRoot;

use complete::LessonHelper;
pub use complete::{candidates, META};
use transcript::Transcript;
use watch::Watch;

const HELP: &str = "\
Opdrachten in de les (naast gewone shell- en docker-opdrachten):
  hint            een tip voor deze stap (nog eens: de volgende tip, tot het voorbeeld)
  uitleg          de uitleg van deze stap opnieuw
  overslaan       naar de volgende stap zonder deze te halen
  terug           naar de vorige stap
  opnieuw         de les herbeginnen: alle containers en images in deze toestandsmap weg
  status          welke stappen je al haalde en wat er nu nog ontbreekt
  motorkap aan    ook tonen wat er onder de motorkap gebeurt (namespaces, overlay, cgroups)
  motorkap uit    alleen de gewone uitleg
  lessen          alle lessen
  stop            de les verlaten (je voortgang blijft bewaard)
  (Enter op een lege regel controleert de stap opnieuw, bv. na werk in een andere terminal.)";

/// Run lesson `lesson` from `catalog` interactively on `root`.
pub fn run(catalog: &Catalog, lesson: &Lesson, root: &StateRoot) -> Result<()> {
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let typed = transcript::typed_input_file(root, std::process::id());
    let shell = Shell::for_this_binary(root, &cwd)?
        .with_env(crate::cli::TYPED_INPUT_ENV, &typed.to_string_lossy());
    let mut progress = Progress::load(root).get(&lesson.id);
    let fresh = progress.step == 0 && progress.passed.is_empty();

    println!(
        "{}",
        format!("━━ Les {}: {} ━━", number(lesson), lesson.title)
            .bold()
            .blue()
    );
    if let Some(s) = &lesson.summary {
        println!("{}", s.trim_end());
    }
    println!(
        "{}",
        format!(
            "Toestandsmap: {}. In een andere terminal: {}",
            root.path().display(),
            other_terminal(root)
        )
        .dimmed()
    );
    if fresh && !lesson.setup.is_empty() {
        println!("{}", "De les wordt voorbereid…".dimmed());
        replay::setup(lesson, &shell, Instant::now() + replay::COMMAND_TIMEOUT)?;
    } else if !fresh {
        println!(
            "{}",
            format!(
                "Je gaat verder bij stap {} (typ 'opnieuw' om van voren af aan te beginnen).",
                progress.step + 1
            )
            .dimmed()
        );
    }

    let mut session = Session::new(lesson, root, &cwd, progress.step)?;
    let mut transcript = Transcript::start(root, lesson)?;
    println!(
        "{}",
        format!(
            "Wat je typt wordt bewaard in {} (om in te leveren).",
            transcript.path().display()
        )
        .dimmed()
    );
    let mut editor: Editor<LessonHelper, rustyline::history::DefaultHistory> =
        Editor::with_config(Config::builder().auto_add_history(true).build())?;
    editor.set_helper(Some(LessonHelper::new(root)));
    let history = root.join("les/geschiedenis");
    let _ = editor.load_history(&history);
    // Without a terminal there is no external printer: narration then waits for a line.
    let watch = editor
        .create_external_printer()
        .ok()
        .map(|printer| Watch::start(root, printer));
    let mut hints_shown = 0usize;
    let mut failures = 0usize;
    show_step(&session);

    loop {
        if session.finished() {
            println!(
                "{}",
                format!(
                    "🎉 Les {} is af! Typ 'lessen' voor de volgende.",
                    number(lesson)
                )
                .bold()
                .green()
            );
        }
        let prompt = prompt(&session);
        if let Some(h) = editor.helper_mut() {
            h.colored_prompt = prompt.bold().cyan().to_string();
        }
        if let Some(w) = &watch {
            w.waiting(session.journal_offset(), progress.motorkap);
        }
        let read = editor.readline(&prompt);
        if let Some(w) = &watch {
            w.busy();
        }
        let line = match read {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                println!("(typ 'stop' om de les te verlaten)");
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["stop"] | ["exit"] | ["quit"] => break,
            ["hulp"] | ["help"] => println!("{HELP}"),
            ["hint"] => {
                show_hint(&session, hints_shown);
                hints_shown += 1;
                continue;
            }
            ["uitleg"] => {
                show_step(&session);
                continue;
            }
            ["overslaan"] => {
                session.poll()?;
                session.advance();
                hints_shown = 0;
                failures = 0;
                save(root, lesson, &session, &mut progress)?;
                show_step(&session);
                continue;
            }
            ["terug"] => {
                session.poll()?;
                session.go_to(session.index().saturating_sub(1));
                hints_shown = 0;
                failures = 0;
                save(root, lesson, &session, &mut progress)?;
                show_step(&session);
                continue;
            }
            ["opnieuw"] => {
                if confirm_reset(&mut editor, root)? {
                    reset(lesson, &shell)?;
                    session.poll()?;
                    session.go_to(0);
                    progress.passed.clear();
                    hints_shown = 0;
                    failures = 0;
                    save(root, lesson, &session, &mut progress)?;
                    show_step(&session);
                }
                continue;
            }
            ["status"] => {
                session.poll()?;
                show_status(&session, &progress);
                continue;
            }
            ["motorkap", "aan"] | ["motorkap", "uit"] => {
                progress.motorkap = words[1] == "aan";
                save(root, lesson, &session, &mut progress)?;
                println!(
                    "Onder de motorkap: {}.",
                    if progress.motorkap { "aan" } else { "uit" }
                );
                continue;
            }
            ["motorkap"] => {
                println!("Typ 'motorkap aan' of 'motorkap uit'.");
                continue;
            }
            ["lessen"] => {
                list(catalog, root);
                continue;
            }
            _ => {
                transcript.record(trimmed);
                if let Err(e) = run_line(&shell, trimmed) {
                    println!("{}", format!("dokles: {e:#}").red());
                }
                transcript.record_typed(&typed);
            }
        }
        // After a line (or an empty one): narrate and evaluate.
        let entries = session.poll()?;
        let unseen = entries
            .iter()
            .filter(|e| !watch.as_ref().is_some_and(|w| w.narrated(e)));
        for e in unseen {
            for sentence in narrate(e, progress.motorkap) {
                println!("  {} {}", "▸".cyan(), sentence);
            }
        }
        let Some(eval) = session.evaluate() else {
            continue;
        };
        if eval.passed {
            if let Some(step) = session.current() {
                let text = step.success.as_deref().unwrap_or("Gelukt!");
                println!("{} {}", "✔".green().bold(), text.trim_end().green());
                progress.passed.insert(step.id.clone());
            }
            session.advance();
            hints_shown = 0;
            failures = 0;
            save(root, lesson, &session, &mut progress)?;
            show_step(&session);
        } else if !session.commands().is_empty() && entries.iter().any(is_command) {
            failures += 1;
            if let Some(f) = eval.first_failure() {
                println!("{} {}", "✘ Nog niet:".yellow().bold(), f.message());
            }
            for text in &eval.feedback {
                println!("  {} {}", "→".yellow(), text.trim_end());
            }
            if failures >= 2 && hints_shown == 0 {
                println!("{}", "(typ 'hint' voor een tip)".dimmed());
            }
        }
    }
    let _ = std::fs::remove_file(&typed);
    let _ = editor.save_history(&history);
    save(root, lesson, &session, &mut progress)?;
    println!("Tot de volgende keer! Je voortgang is bewaard.");
    Ok(())
}

fn is_command(e: &crate::events::Entry) -> bool {
    matches!(e.event, crate::events::Event::Command { .. })
}

/// Run a student's line on this terminal. The REPL itself survives Ctrl+C meant for the
/// program: while the line runs, SIGINT gets a handler that does nothing (a handler, not
/// SIG_IGN, because an ignored signal stays ignored across exec in the child).
fn run_line(shell: &Shell, line: &str) -> Result<i32> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    extern "C" fn nothing(_: libc::c_int) {}
    let quiet = SigAction::new(
        SigHandler::Handler(nothing),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing, which is async-signal-safe.
    let old = unsafe { sigaction(Signal::SIGINT, &quiet) }.context("installing SIGINT handler")?;
    let _ = std::io::stdout().flush();
    let result = shell.run_attached(line);
    // SAFETY: restoring the disposition rustyline had.
    unsafe { sigaction(Signal::SIGINT, &old) }.context("restoring SIGINT handler")?;
    result
}

fn number(lesson: &Lesson) -> String {
    lesson
        .number
        .map(|n| n.to_string())
        .unwrap_or_else(|| lesson.id.clone())
}

fn prompt(session: &Session) -> String {
    let lesson = session.lesson();
    if session.finished() {
        format!("les {} · klaar $ ", number(lesson))
    } else {
        format!(
            "les {} · stap {}/{} $ ",
            number(lesson),
            session.index() + 1,
            lesson.steps.len()
        )
    }
}

fn other_terminal(root: &StateRoot) -> String {
    if root.path() == StateRoot::resolve(None) {
        "sudo dokles docker …".to_string()
    } else {
        format!("sudo dokles --root {} docker …", root.path().display())
    }
}

fn show_step(session: &Session) {
    let Some(step) = session.current() else {
        return;
    };
    println!();
    println!(
        "{}",
        format!(
            "Stap {}/{} · {}",
            session.index() + 1,
            session.lesson().steps.len(),
            step.title
        )
        .bold()
        .blue()
    );
    println!("{}", step.explanation.trim_end());
    println!("{} {}", "Opdracht:".bold(), step.task.trim_end());
}

fn show_hint(session: &Session, shown: usize) {
    let Some(step) = session.current() else {
        println!("Deze les is af; er zijn geen tips meer.");
        return;
    };
    match step.hints.get(shown) {
        Some(h) => println!("{} {}", "Tip:".bold().yellow(), h.trim_end()),
        None if !step.example.is_empty() => {
            println!("{}", "Zo kan het bijvoorbeeld:".bold().yellow());
            for line in &step.example {
                println!("  {line}");
            }
        }
        None => println!("Geen tips meer voor deze stap."),
    }
}

fn show_status(session: &Session, progress: &LessonProgress) {
    let lesson = session.lesson();
    for (i, step) in lesson.steps.iter().enumerate() {
        let mark = if progress.passed.contains(&step.id) {
            "✔".green().to_string()
        } else if i == session.index() {
            "→".cyan().to_string()
        } else {
            "·".dimmed().to_string()
        };
        println!("  {mark} {}. {}", i + 1, step.title);
    }
    if let Some(eval) = session.evaluate() {
        println!("Deze stap:");
        for o in &eval.outcomes {
            let mark = if o.passed {
                "✔".green()
            } else {
                "✘".yellow()
            };
            println!("  {mark} {}", o.message());
        }
    }
}

fn list(catalog: &Catalog, root: &StateRoot) {
    let progress = Progress::load(root);
    for l in &catalog.lessons {
        let p = progress.get(&l.id);
        let done = l.steps.iter().filter(|s| p.passed.contains(&s.id)).count();
        println!(
            "  {:>3}  {:<28} {}  ({done}/{} stappen)",
            number(l),
            l.id,
            l.title,
            l.steps.len()
        );
    }
    println!("Start een les met: dokles les NUMMER (of NAAM)");
}

/// `dokles lessen`.
pub fn list_lessons(catalog: &Catalog, root: &StateRoot) {
    list(catalog, root)
}

fn save(
    root: &StateRoot,
    lesson: &Lesson,
    session: &Session,
    progress: &mut LessonProgress,
) -> Result<()> {
    progress.step = session.index();
    Progress::save(root, &lesson.id, progress)
}

fn confirm_reset(
    editor: &mut Editor<LessonHelper, rustyline::history::DefaultHistory>,
    root: &StateRoot,
) -> Result<bool> {
    println!(
        "Dit verwijdert alle containers en images in {} en begint de les opnieuw.",
        root.path().display()
    );
    let answer = match editor.readline("Zeker? (j/n) ") {
        Ok(a) => a,
        Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    Ok(matches!(answer.trim(), "j" | "ja" | "y" | "yes"))
}

/// Back to the lesson's starting state: no containers, no images, setup run again.
fn reset(lesson: &Lesson, shell: &Shell) -> Result<()> {
    for line in [
        "docker ps -aq | xargs -r docker rm -f >/dev/null",
        "docker images -aq | sort -u | xargs -r docker rmi -f >/dev/null",
    ] {
        let ran = shell.run_captured(line, replay::COMMAND_TIMEOUT)?;
        if ran.exit_code != 0 {
            anyhow::bail!("opruimen mislukte:\n{}", ran.output.trim_end());
        }
    }
    replay::setup(lesson, shell, Instant::now() + replay::COMMAND_TIMEOUT)
}
