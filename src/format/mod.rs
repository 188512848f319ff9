//! Go `text/template` rendering with Docker's template functions, for `--format` and `inspect -f`.
//!
//! dokles has its own engine (lexer → parser → AST → evaluator) rather than a Go-template crate:
//! it must keep Docker's JSON field order for `{{json .}}`, print values exactly like Go's `fmt`
//! (`[a b]`, `map[k:v]`, `<no value>`, `<nil>`) and fail with Go's error texts.
//!
//! Data is a `serde_json::Value`: objects act like Go maps (sorted when printed or ranged over,
//! key order kept by `json`), arrays like slices, integers like `int`, other numbers like
//! `float64`, and `null` prints as `<nil>` — except where Docker's typed data differs: a `null`
//! field Docker declares as a slice or map (`Cmd`, `Env`, `Labels`, `Volumes`, ...) prints `[]`
//! or `map[]`, and `State.Health`/`Config.Healthcheck` print `<nil>` even when the JSON omits them.
//!
//! Docker's CLI glue lives here too: the `table` directive ([`strip_table`]), the literal `\t`
//! and `\n` un-escaping ([`normalize_format`]), header rows ([`Template::render_header`]) and the
//! aligned table writer ([`TabWriter`]); [`render_list`] puts them together as Docker does.
//!
//! ```
//! use dokles::format::{render_list, row_type, RenderOptions, Template};
//! use serde_json::json;
//!
//! // docker images --format 'table {{.Repository}}\t{{.Tag}}'
//! let headers = json!({"Repository": "REPOSITORY", "Tag": "TAG"});
//! let rows = [json!({"Repository": "busybox", "Tag": "latest"})];
//! let format = r"table {{.Repository}}\t{{.Tag}}";
//! let table = render_list(format, row_type::IMAGE, &headers, &rows).unwrap();
//! assert_eq!(table, "REPOSITORY   TAG\nbusybox      latest\n");
//!
//! // docker inspect -f '{{.Config.Cmd}}'
//! let image = json!({"Config": {"Cmd": ["sh"], "Entrypoint": null}});
//! let tmpl = Template::parse("{{.Config.Cmd}} {{.Config.Entrypoint}}").unwrap();
//! assert_eq!(tmpl.render_with(&image, &RenderOptions::inspect()).unwrap(), "[sh] []");
//! ```

mod ast;
mod exec;
mod funcs;
mod gofmt;
mod json;
mod lex;
mod parse;
mod tabwriter;
mod typed;
mod value;

pub use funcs::FunctionSet;
pub use tabwriter::{TabFlags, TabWriter};

use serde_json::Value as Json;

/// A template error, displayed exactly as Go's `text/template` reports it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The template text is malformed, e.g. `template: :1: function "foo" not defined`.
    #[error("template: :{line}: {message}")]
    Parse { line: usize, message: String },
    /// Execution failed at a node, e.g.
    /// `template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"`.
    /// `template` is the executing template: empty for the main one, else a `define`d name.
    #[error(
        "template: :{line}:{column}: executing {} at <{context}>: {message}",
        gofmt::quote(template)
    )]
    Exec {
        template: String,
        line: usize,
        column: usize,
        context: String,
        message: String,
    },
}

/// What a field lookup does when the map has no such key (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// Go's default: the action prints `<no value>`.
    #[default]
    NoValue,
    /// `missingkey=error`, which `docker inspect -f` uses:
    /// `map has no entry for key "Foo"`.
    Error,
}

/// How JSON objects print when an action outputs them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ObjectStyle {
    /// As Go maps: `map[k1:v1 k2:v2]`, keys sorted.
    #[default]
    Maps,
    /// As Docker's typed inspect data prints: objects are Go structs printing their values in
    /// field order (`{{.State}}` → `{running true false ...}`), except Docker's map-typed fields
    /// (`Labels`, `Ports`, `Networks`, ...) which print as maps. For `inspect -f`.
    DockerStructs,
    /// As `Maps`, for the raw JSON `docker inspect -f` falls back to (Go's
    /// `map[string]interface{}`): a `null` entry is a nil interface, `<no value>` when printed.
    RawJson,
}

/// How a template is executed. The default is Go's, which `docker ps/images/... --format` rows
/// get (through [`render_list`]); [`RenderOptions::inspect`] is what `docker inspect -f` gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub missing_key: MissingKey,
    pub functions: FunctionSet,
    /// The data is a row of a Docker list command (`ps`, `images`, `history`, ...), formatted by
    /// Docker as the Go type named here (see [`row_type`]). The row's fields are that type's
    /// methods: unknown names fail with `can't evaluate field Foo in type *formatter.imageContext`
    /// and arguments with `wrong number of args`. Docker marshals the row as a Go map, so
    /// `{{json .}}` sorts its keys and escapes `<`, `>` and `&` (`"\u003cnone\u003e"`). A row with
    /// a `Labels` string (`k=v,k=v`, as Docker joins them) also has `{{.Label "k"}}`.
    pub list_row: Option<&'static str>,
    pub objects: ObjectStyle,
}

impl RenderOptions {
    /// `docker inspect -f`: unknown keys are errors and objects print as Go structs.
    pub fn inspect() -> Self {
        RenderOptions {
            missing_key: MissingKey::Error,
            objects: ObjectStyle::DockerStructs,
            ..RenderOptions::default()
        }
    }
}

/// A parsed Go template.
#[derive(Debug)]
pub struct Template {
    src: String,
    parsed: parse::Parsed,
}

impl Template {
    /// Parses `src` with Docker's function set.
    pub fn parse(src: &str) -> Result<Template, FormatError> {
        let parsed = parse::parse(src, &|name| funcs::lookup(name).is_some())?;
        Ok(Template {
            src: src.to_owned(),
            parsed,
        })
    }

    /// Renders with Go's defaults (`<no value>` for missing keys) and Docker's functions.
    pub fn render(&self, data: &Json) -> Result<String, FormatError> {
        self.render_with(data, &RenderOptions::default())
    }

    /// Renders with explicit options. Output written before an error is discarded, as Docker
    /// does for rows and for `inspect`.
    pub fn render_with(&self, data: &Json, options: &RenderOptions) -> Result<String, FormatError> {
        match exec::execute(&self.src, &self.parsed, data, None, options) {
            (out, None) => Ok(out),
            (_, Some(error)) => Err(error),
        }
    }

    /// Render against the view of a Go struct: `data` is what its fields read (Go names,
    /// values as a template prints them), `json_twin` what `json.Marshal` makes of it (json
    /// tags, omitempty, RFC 3339 times). The `json` function of any value inside `data`
    /// encodes its counterpart in `json_twin`.
    pub fn render_typed(
        &self,
        data: &Json,
        json_twin: &Json,
        options: &RenderOptions,
    ) -> Result<String, FormatError> {
        match exec::execute(&self.src, &self.parsed, data, Some(json_twin), options) {
            (out, None) => Ok(out),
            (_, Some(error)) => Err(error),
        }
    }

    /// Docker's table header: the same template rendered against a map of column titles with
    /// `HeaderFunctions`, keeping whatever was written before an error (Docker ignores it).
    pub fn render_header(&self, headers: &Json) -> String {
        let options = RenderOptions {
            functions: FunctionSet::Header,
            ..RenderOptions::default()
        };
        exec::execute(&self.src, &self.parsed, headers, None, &options).0
    }
}

const TABLE_KEY: &str = "table";
/// `--format json`: every row as `{{json .}}`, for every list command (docker/cli's
/// `Context.preFormat`).
const JSON_KEY: &str = "json";

/// Docker's `table` directive: `Some(rest)` when the format starts with `table`
/// (`"table {{.ID}}\t{{.Name}}"` → `"{{.ID}}\t{{.Name}}"`, leading spaces dropped as Docker's
/// [`normalize_format`] would), `None` otherwise. Like Docker, only the prefix counts:
/// `"tablex"` is a table whose rows start with `x`. A bare `table` leaves an empty rest;
/// commands then use their default table format.
pub fn strip_table(format: &str) -> Option<&str> {
    format
        .strip_prefix(TABLE_KEY)
        .map(|rest| rest.trim_start_matches(' '))
}

/// Docker's `preFormat` clean-up of a list command's format (after `table` is stripped): trims
/// ASCII spaces at both ends and turns the two-character sequences `\t` and `\n` into a tab and
/// a newline, so `--format "{{.ID}}\t{{.Size}}"` works from any shell. `docker inspect -f` does
/// not do this: it parses the format as given.
pub fn normalize_format(format: &str) -> String {
    format
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n")
}

/// The Go types Docker formats list rows as, which its error messages name.
pub mod row_type {
    /// `docker ps`
    pub const CONTAINER: &str = "*formatter.ContainerContext";
    /// `docker images`
    pub const IMAGE: &str = "*formatter.imageContext";
    /// `docker history`
    pub const HISTORY: &str = "*image.historyContext";
    /// `docker network ls`
    pub const NETWORK: &str = "*network.networkContext";
}

/// Docker's `formatter.Context.Write` for a list: renders every row followed by a newline
/// (`json` is `{{json .}}`); for a `table` format, prepends the header row (rendered from `headers`) and aligns all lines
/// with [`TabWriter::docker`]. `format` is the user's raw `--format` value and `row_type` the
/// Go type Docker formats the rows as (a [`row_type`] constant).
pub fn render_list(
    format: &str,
    row_type: &'static str,
    headers: &Json,
    rows: &[Json],
) -> Result<String, FormatError> {
    let (is_table, body) = match strip_table(format) {
        Some(rest) => (true, rest),
        None if format == JSON_KEY => (false, "{{json .}}"),
        None => (false, format),
    };
    let template = Template::parse(&normalize_format(body))?;
    let options = RenderOptions {
        list_row: Some(row_type),
        ..RenderOptions::default()
    };
    let mut out = String::new();
    for row in rows {
        out.push_str(&template.render_with(row, &options)?);
        out.push('\n');
    }
    if !is_table {
        return Ok(out);
    }
    let mut table = TabWriter::docker();
    table.write_str(&template.render_header(headers));
    table.write_str("\n");
    table.write_str(&out);
    Ok(table.finish())
}
