//! Grading (`dokles nakijken`): a student's submission — a transcript of the REPL or a shell
//! script — replayed non-interactively against the real runtime in a world of its own
//! (own namespaces, a read-only view of the host, a size-limited filesystem, own cgroups
//! with a pids limit, own state root), every lesson step
//! judged as the REPL judges it; or the live state of a state root. Reports for people
//! (Dutch summary), machines (`--json`) and CI (`--junit`). The docker CLI and the REPL know
//! nothing of grading; the lesson machinery (`crate::lesson`) does the judging.

pub mod isolation;
pub mod junit;
pub mod live;
pub mod report;
pub mod run;
pub mod submission;
pub mod world;

pub use report::{GradeReport, Status, SubmissionReport};
pub use run::{grade, grade_all, Options};
pub use submission::Submission;
