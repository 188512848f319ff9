//! Lessons: the lesson file format, checks against the engine's real state, a lesson in
//! progress (steps, journal, verdicts), the shell lines run in, the scripted student and
//! saved progress. The REPL (`crate::repl`) and grading drive these.

pub mod catalog;
pub mod check;
pub mod format;
pub mod keys;
pub mod progress;
pub mod replay;
pub mod session;
pub mod shell;
pub mod validate;

pub use catalog::Catalog;
pub use format::{Lesson, LessonError, Step};
