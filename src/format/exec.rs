//! The evaluator: walks a parsed template over JSON data with Go's `text/template` semantics
//! (`exec.go`), producing Go's exact error texts (`executing "" at <.X>: ...`).

use std::fmt::Display;

use serde_json::Value as Json;

use super::ast::{Arg, Branch, List, Node, Number, Pipe, TemplateCall};
use super::funcs::{self, Func, FunctionSet, Param};
use super::parse::Parsed;
use super::typed::{docker_nil_kind, docker_omitted_nil, docker_shape, write_docker_v, Shape};
use super::value::{print_value, NilKind, Value};
use super::{FormatError, MissingKey, ObjectStyle, RenderOptions};

/// Nested `{{template}}` calls allowed before execution gives up.
const MAX_TEMPLATE_DEPTH: usize = 100;

/// Why a walk stopped early.
enum Flow {
    Error(FormatError),
    Break,
    Continue,
}

type EResult<T> = Result<T, Flow>;

/// Runs `parsed` over `data`. Returns the output written so far and the error, if any.
/// `json_twin`, when given, is what Go's `json.Marshal` makes of `data` (see
/// [`super::Template::render_typed`]).
pub(crate) fn execute<'d>(
    src: &str,
    parsed: &Parsed,
    data: &'d Json,
    json_twin: Option<&'d Json>,
    options: &RenderOptions,
) -> (String, Option<FormatError>) {
    let root = Value::Json {
        json: data,
        boxed: false,
    };
    let mut state = State {
        src,
        parsed,
        options,
        root: data,
        json_twin,
        template: "",
        out: String::new(),
        vars: vec![("$".to_owned(), root.clone())],
        depth: 0,
    };
    let result = state.walk_list(&root, &parsed.root);
    let error = match result {
        Ok(()) => None,
        Err(Flow::Error(e)) => Some(e),
        // The parser rejects break/continue outside range.
        Err(Flow::Break | Flow::Continue) => None,
    };
    (state.out, error)
}

struct State<'t, 'd> {
    src: &'t str,
    parsed: &'t Parsed,
    options: &'t RenderOptions,
    root: &'d Json,
    json_twin: Option<&'d Json>,
    /// Name of the executing template: "" or a `define`d name.
    template: &'t str,
    out: String,
    vars: Vec<(String, Value<'d>)>,
    depth: usize,
}

impl<'t, 'd> State<'t, 'd> {
    /// Go's `state.errorf` with the node's location and text.
    fn fail<T>(&self, pos: usize, context: &dyn Display, message: impl Into<String>) -> EResult<T> {
        let before = self.src.get(..pos).unwrap_or(self.src);
        let line = 1 + before.matches('\n').count();
        let column = match before.rfind('\n') {
            Some(newline) => pos - (newline + 1),
            None => pos,
        };
        Err(Flow::Error(FormatError::Exec {
            template: self.template.to_owned(),
            line,
            column,
            context: context.to_string(),
            message: message.into(),
        }))
    }

    fn walk_list(&mut self, dot: &Value<'d>, list: &'t List) -> EResult<()> {
        for node in list {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value<'d>, node: &'t Node) -> EResult<()> {
        match node {
            Node::Text(text) => self.out.push_str(text),
            Node::Action(pipe) => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let text = match (&value, self.options.objects) {
                        (Value::Json { json, .. }, ObjectStyle::DockerStructs) => {
                            let mut text = String::new();
                            write_docker_v(&mut text, json, printed_shape(pipe, json));
                            text
                        }
                        _ => print_value(&value),
                    };
                    self.out.push_str(&text);
                }
            }
            Node::If(branch) => self.walk_if_or_with(dot, branch, false)?,
            Node::With(branch) => self.walk_if_or_with(dot, branch, true)?,
            Node::Range(branch) => self.walk_range(dot, branch)?,
            Node::Break => return Err(Flow::Break),
            Node::Continue => return Err(Flow::Continue),
            Node::Template(call) => self.walk_template(dot, call)?,
        }
        Ok(())
    }

    fn walk_if_or_with(
        &mut self,
        dot: &Value<'d>,
        branch: &'t Branch,
        is_with: bool,
    ) -> EResult<()> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let result = if value.truth() {
            let new_dot = if is_with { &value } else { dot };
            self.walk_list(new_dot, &branch.list)
        } else if let Some(else_list) = &branch.else_list {
            self.walk_list(dot, else_list)
        } else {
            Ok(())
        };
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Value<'d>, branch: &'t Branch) -> EResult<()> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let items: Vec<(Value<'d>, Value<'d>)> = match &value {
            Value::Json { json, .. } => match json {
                Json::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Value::Int(i as i64), Value::boxed(v)))
                    .collect(),
                Json::Object(map) => funcs::map_entries(map),
                Json::Null => Vec::new(),
                Json::Number(n) if n.as_i64().is_some() => {
                    self.int_range(branch, &value, n.as_i64().unwrap_or(0))?
                }
                _ => return self.range_error(branch, &value),
            },
            Value::StrList(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), Value::Str(v.clone())))
                .collect(),
            Value::Int(n) => self.int_range(branch, &value, *n)?,
            Value::Invalid | Value::NilOf(_) => Vec::new(),
            _ => return self.range_error(branch, &value),
        };
        let after_decl = self.vars.len();
        let decl = &branch.pipe.decl;
        let mut result = Ok(());
        for (index, elem) in &items {
            match decl.len() {
                0 => {}
                1 => self.set_top_var(1, elem.clone()),
                _ => {
                    self.set_top_var(1, elem.clone());
                    self.set_top_var(2, index.clone());
                }
            }
            let step = self.walk_list(elem, &branch.list);
            self.vars.truncate(after_decl);
            match step {
                Ok(()) | Err(Flow::Continue) => {}
                Err(Flow::Break) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_ok() && items.is_empty() {
            if let Some(else_list) = &branch.else_list {
                result = self.walk_list(dot, else_list);
            }
        }
        self.vars.truncate(mark);
        result
    }

    /// Go 1.22's `range N`: 0 to N-1, as both index and element.
    fn int_range(
        &self,
        branch: &Branch,
        value: &Value<'d>,
        n: i64,
    ) -> EResult<Vec<(Value<'d>, Value<'d>)>> {
        if branch.pipe.decl.len() > 1 {
            let message = format!(
                "can't use {} to iterate over more than one variable",
                print_value(value)
            );
            return self.fail_at_pipe_end(branch, message);
        }
        Ok((0..n.max(0))
            .map(|i| (Value::Int(i), Value::Int(i)))
            .collect())
    }

    fn range_error<T>(&self, branch: &Branch, value: &Value<'d>) -> EResult<T> {
        let message = format!("range can't iterate over {}", print_value(value));
        self.fail_at_pipe_end(branch, message)
    }

    /// Fails at the node Go's executor visited last in a control pipeline: the first operand
    /// of its last command.
    fn fail_at_pipe_end<T>(&self, branch: &Branch, message: String) -> EResult<T> {
        match branch.pipe.cmds.last().and_then(|cmd| cmd.args.first()) {
            Some(arg) => self.fail(arg.pos(), arg, message),
            None => self.fail(branch.pos, &branch.pipe, message),
        }
    }

    fn walk_template(&mut self, dot: &Value<'d>, call: &'t TemplateCall) -> EResult<()> {
        let Some(body) = self.parsed.defines.get(&call.name) else {
            return self.fail(
                call.pos,
                call,
                format!("template {} not defined", super::gofmt::quote(&call.name)),
            );
        };
        if self.depth == MAX_TEMPLATE_DEPTH {
            return self.fail(
                call.pos,
                call,
                format!("exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"),
            );
        }
        let new_dot = match &call.pipe {
            Some(pipe) => self.eval_pipeline(dot, pipe)?,
            None => Value::Invalid,
        };
        let saved = std::mem::replace(&mut self.vars, vec![("$".to_owned(), new_dot.clone())]);
        let saved_template = std::mem::replace(&mut self.template, &call.name);
        self.depth += 1;
        let result = self.walk_list(&new_dot, body);
        self.depth -= 1;
        self.template = saved_template;
        self.vars = saved;
        result
    }

    fn set_top_var(&mut self, n: usize, value: Value<'d>) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = value;
        }
    }

    fn var_value(&self, name: &str, pos: usize, context: &dyn Display) -> EResult<Value<'d>> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, value)) => Ok(value.clone()),
            None => self.fail(pos, context, format!("undefined variable: {name}")),
        }
    }

    fn eval_pipeline(&mut self, dot: &Value<'d>, pipe: &'t Pipe) -> EResult<Value<'d>> {
        let mut value: Option<Value<'d>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?.unboxed());
        }
        let value = value.unwrap_or(Value::Invalid);
        for name in &pipe.decl {
            if pipe.is_assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => {
                        return self.fail(pipe.pos, pipe, format!("undefined variable: {name}"))
                    }
                }
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &[Arg], has_final: bool) -> EResult<()> {
        if cmd.len() > 1 || has_final {
            let first = &cmd[0];
            // Go names a parenthesized pipeline without its parentheses here.
            let name = match first {
                Arg::Pipe(pipe) => pipe.to_string(),
                other => other.to_string(),
            };
            return self.fail(
                first.pos(),
                first,
                format!("can't give argument to non-function {name}"),
            );
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value<'d>,
        cmd: &'t super::ast::Command,
        last: Option<Value<'d>>,
    ) -> EResult<Value<'d>> {
        let first = &cmd.args[0];
        let arg_count = cmd.args.len() - 1 + usize::from(last.is_some());
        match first {
            Arg::Field { pos, idents } if self.row_labels(dot, idents).is_some() => {
                return self.label_method(dot, *pos, first, &cmd.args[1..], last);
            }
            Arg::Field { pos, idents } => {
                return self.eval_field_chain(dot.clone(), *pos, first, idents, arg_count);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, arg_count),
            Arg::Variable { .. } => return self.eval_variable(first, arg_count),
            Arg::Identifier { pos, name } => {
                let site = CallSite {
                    name,
                    ident_pos: *pos,
                    call_pos: cmd.pos,
                    call_node: cmd,
                };
                return self.eval_function(dot, site, &cmd.args[1..], last);
            }
            Arg::Pipe(pipe) => {
                self.not_a_function(&cmd.args, last.is_some())?;
                return self.eval_pipeline(dot, pipe);
            }
            _ => {}
        }
        self.not_a_function(&cmd.args, last.is_some())?;
        match first {
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { pos } => self.fail(*pos, first, "nil is not a command"),
            Arg::Number(n) => self.ideal_constant(n, first),
            Arg::String { text, .. } => Ok(Value::Str(text.clone())),
            _ => self.fail(
                first.pos(),
                first,
                format!("can't evaluate command {first}"),
            ),
        }
    }

    /// The `Labels` text of a list row when `idents` is its `.Label` method: Docker's container,
    /// volume and network rows have `Label(name string) string` besides the joined `Labels`.
    fn row_labels(&self, dot: &Value<'d>, idents: &[String]) -> Option<&'d str> {
        let row = self.as_list_row(dot)?;
        if idents != ["Label"] || row.get("Label").is_some() {
            return None;
        }
        row.get("Labels").and_then(Json::as_str)
    }

    /// `{{.Label "name"}}`: the value of one label of a list row, or "".
    fn label_method(
        &mut self,
        dot: &Value<'d>,
        pos: usize,
        node: &'t Arg,
        args: &'t [Arg],
        last: Option<Value<'d>>,
    ) -> EResult<Value<'d>> {
        let given = args.len() + usize::from(last.is_some());
        if given != 1 {
            return self.fail(
                pos,
                node,
                format!("wrong number of args for Label: want 1 got {given}"),
            );
        }
        let name = match (args.first(), last) {
            (Some(arg), _) => self.eval_arg(dot, Param::Str, arg)?,
            (None, Some(last)) => self.validate(last, Param::Str, pos, node)?,
            (None, None) => Value::Invalid,
        };
        let labels = self
            .row_labels(dot, &["Label".to_owned()])
            .unwrap_or_default();
        Ok(Value::Str(
            label_value(labels, name.as_str().unwrap_or_default()).unwrap_or_default(),
        ))
    }

    fn ideal_constant(&self, n: &Number, node: &Arg) -> EResult<Value<'d>> {
        if n.is_float_syntax() {
            if let Some(f) = n.float {
                return Ok(Value::Float(f));
            }
        }
        match n.int {
            Some(i) => Ok(Value::Int(i)),
            None => self.fail(n.pos, node, format!("{} overflows int", n.text)),
        }
    }

    fn eval_chain(
        &mut self,
        dot: &Value<'d>,
        chain: &'t Arg,
        arg_count: usize,
    ) -> EResult<Value<'d>> {
        let Arg::Chain { pos, node, fields } = chain else {
            return self.fail(chain.pos(), chain, "internal error: not a chain");
        };
        if let Arg::Nil { .. } = node.as_ref() {
            return self.fail(
                *pos,
                chain,
                format!("indirection through explicit nil in {chain}"),
            );
        }
        let receiver = self.eval_arg(dot, Param::Any, node)?;
        self.eval_field_chain(receiver, *pos, chain, fields, arg_count)
    }

    fn eval_variable(&mut self, variable: &'t Arg, arg_count: usize) -> EResult<Value<'d>> {
        let Arg::Variable { pos, idents } = variable else {
            return self.fail(variable.pos(), variable, "internal error: not a variable");
        };
        let value = self.var_value(&idents[0], *pos, variable)?;
        if idents.len() == 1 {
            if arg_count > 0 {
                return self.fail(
                    *pos,
                    variable,
                    format!("can't give argument to non-function {variable}"),
                );
            }
            return Ok(value);
        }
        self.eval_field_chain(value, *pos, variable, &idents[1..], arg_count)
    }

    /// `.A.B.C` from `receiver`; only the last field may receive arguments.
    fn eval_field_chain(
        &self,
        receiver: Value<'d>,
        pos: usize,
        node: &dyn Display,
        idents: &[String],
        arg_count: usize,
    ) -> EResult<Value<'d>> {
        let mut receiver = receiver;
        let last = idents.len().saturating_sub(1);
        for (i, ident) in idents.iter().enumerate() {
            let step = FieldStep {
                name: ident,
                is_last: i == last,
                arg_count: if i == last { arg_count } else { 0 },
            };
            receiver = self.eval_field(receiver, step, pos, node)?;
        }
        Ok(receiver)
    }

    /// A field of a Docker list row, which in Docker is a method of the row's Go type: it takes
    /// no arguments, returns a concrete value, and unknown names are errors.
    fn row_method(
        &self,
        row: &'d Json,
        row_type: &str,
        name: &str,
        arg_count: usize,
        pos: usize,
        node: &dyn Display,
    ) -> EResult<Value<'d>> {
        match row.get(name) {
            Some(_) if arg_count > 0 => self.fail(
                pos,
                node,
                format!("wrong number of args for {name}: want 0 got {arg_count}"),
            ),
            Some(value) => Ok(Value::Json {
                json: value,
                boxed: false,
            }),
            None => self.fail(
                pos,
                node,
                format!("can't evaluate field {name} in type {row_type}"),
            ),
        }
    }

    fn eval_field(
        &self,
        receiver: Value<'d>,
        step: FieldStep<'_>,
        pos: usize,
        node: &dyn Display,
    ) -> EResult<Value<'d>> {
        let FieldStep {
            name,
            is_last,
            arg_count,
        } = step;
        let error_on_missing = self.options.missing_key == MissingKey::Error;
        if let (Some(row_type), Value::Json { json, .. }) = (self.options.list_row, &receiver) {
            if std::ptr::eq(*json, self.root) {
                return self.row_method(json, row_type, name, arg_count, pos, node);
            }
        }
        match receiver {
            Value::Invalid if error_on_missing => self.fail(
                pos,
                node,
                format!("nil data; no entry for key {}", super::gofmt::quote(name)),
            ),
            Value::Invalid => Ok(Value::Invalid),
            // A nil Go map has no entries; Docker's typed data yields `<no value>` even for
            // `inspect -f`, whose missingkey=error applies only to its raw-JSON fallback.
            Value::NilOf(NilKind::Map) => Ok(Value::Invalid),
            // Docker's raw-JSON fallback sees the nil slice as an untyped nil.
            Value::NilOf(NilKind::Slice) => self.fail(
                pos,
                node,
                format!("nil pointer evaluating interface {{}}.{name}"),
            ),
            Value::Json {
                json: object @ Json::Object(map),
                ..
            } => {
                if arg_count > 0 {
                    return self.fail(
                        pos,
                        node,
                        format!("{name} is not a method but has arguments"),
                    );
                }
                match map.get(name) {
                    Some(Json::Null) if self.options.objects == ObjectStyle::RawJson => {
                        Ok(Value::Invalid)
                    }
                    Some(Json::Null) => Ok(match docker_nil_kind(name) {
                        Some(kind) => Value::NilOf(kind),
                        None => Value::boxed(&Json::Null),
                    }),
                    Some(value) => Ok(Value::boxed(value)),
                    // Docker's typed data has these nil pointers even when JSON omits them.
                    None if is_last && docker_omitted_nil(name) => Ok(Value::boxed(&Json::Null)),
                    // A Go map of Docker's typed data (`.Config.Labels.nope`) has no entry:
                    // the zero value, `<no value>`, not an error.
                    None if self.is_docker_map(object) => Ok(Value::Invalid),
                    None if error_on_missing => self.fail(
                        pos,
                        node,
                        format!("map has no entry for key {}", super::gofmt::quote(name)),
                    ),
                    None => Ok(Value::Invalid),
                }
            }
            Value::Json {
                json: Json::Null, ..
            } => self.fail(
                pos,
                node,
                format!("nil pointer evaluating interface {{}}.{name}"),
            ),
            other => self.fail(
                pos,
                node,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            ),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value<'d>,
        site: CallSite<'_>,
        args: &'t [Arg],
        last: Option<Value<'d>>,
    ) -> EResult<Value<'d>> {
        let Some(func) = funcs::lookup(site.name) else {
            let message = format!(
                "{} is not a defined function",
                super::gofmt::quote(site.name)
            );
            return self.fail(site.ident_pos, &site.name, message);
        };
        let set = self.options.functions;
        let signature = funcs::signature(func, set);
        self.check_arity(&site, &signature, args.len(), last.is_some())?;
        if matches!(func, Func::And | Func::Or) {
            return self.short_circuit(dot, func == Func::Or, args, last);
        }

        let param_at = |i: usize| {
            signature
                .fixed
                .get(i)
                .copied()
                .or(signature.variadic)
                .unwrap_or(Param::Any)
        };
        let mut argv = Vec::with_capacity(args.len() + 1);
        for (i, arg) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, param_at(i), arg)?);
        }
        if let Some(last) = last {
            let param = param_at(argv.len());
            argv.push(self.validate(last, param, site.ident_pos, &site.name)?);
        }
        if func == Func::Json && set == FunctionSet::Docker {
            if let Some(row) = argv.first().and_then(|arg| self.as_list_row(arg)) {
                return Ok(Value::Str(super::json::encode_row(row)));
            }
            if let (Some(twin), Some(Value::Json { json, boxed })) = (self.json_twin, argv.first())
            {
                if let Some(marshalled) = twin_of(self.root, twin, json) {
                    argv[0] = Value::Json {
                        json: marshalled,
                        boxed: *boxed,
                    };
                }
            }
        }
        funcs::call(func, set, argv).or_else(|message| {
            let message = format!("error calling {}: {message}", site.name);
            self.fail(site.call_pos, site.call_node, message)
        })
    }

    /// Go's argument count check: `wrong number of args for upper: want 1 got 0`.
    fn check_arity(
        &self,
        site: &CallSite<'_>,
        signature: &funcs::Signature,
        given: usize,
        has_final: bool,
    ) -> EResult<()> {
        let name = site.name;
        let num_in = given + usize::from(has_final);
        let num_fixed = signature.fixed.len();
        let message = match signature.variadic {
            Some(_) if num_in < num_fixed => {
                format!("wrong number of args for {name}: want at least {num_fixed} got {given}")
            }
            None if num_in != num_fixed => {
                format!("wrong number of args for {name}: want {num_fixed} got {num_in}")
            }
            _ => return Ok(()),
        };
        self.fail(site.ident_pos, &name, message)
    }

    /// `and` (`want` false) and `or` (`want` true): the first argument whose truth is `want`,
    /// else the last; later arguments are not evaluated.
    fn short_circuit(
        &mut self,
        dot: &Value<'d>,
        want: bool,
        args: &'t [Arg],
        last: Option<Value<'d>>,
    ) -> EResult<Value<'d>> {
        let mut value = Value::Invalid;
        for arg in args {
            value = self.eval_arg(dot, Param::Any, arg)?;
            if value.truth() == want {
                return Ok(value);
            }
        }
        Ok(last.unwrap_or(value))
    }

    /// The row itself, when `value` is the data of a list row (whose `{{json .}}` is special).
    fn as_list_row(&self, value: &Value<'d>) -> Option<&'d Json> {
        match value {
            Value::Json { json, .. }
                if self.options.list_row.is_some() && std::ptr::eq(*json, self.root) =>
            {
                Some(json)
            }
            _ => None,
        }
    }

    /// Go's `validateType`: checks an evaluated value against a parameter type.
    fn validate(
        &self,
        value: Value<'d>,
        param: Param,
        pos: usize,
        node: &dyn Display,
    ) -> EResult<Value<'d>> {
        if value.is_invalid() {
            return match param {
                Param::Any => Ok(Value::Invalid),
                Param::StrList => Ok(Value::StrList(Vec::new())),
                Param::Str | Param::Int => self.fail(
                    pos,
                    node,
                    format!("invalid value; expected {}", param.go_name()),
                ),
            };
        }
        let ok = match param {
            Param::Any => return Ok(value),
            Param::Str => value.as_str().map(|s| Value::Str(s.to_owned())),
            Param::Int => value.as_int().map(Value::Int),
            Param::StrList => value.as_str_list().map(Value::StrList),
        };
        match ok {
            Some(v) => Ok(v),
            None => {
                let got = if value.is_nil() {
                    "interface {}"
                } else {
                    value.concrete_type_name()
                };
                self.fail(
                    pos,
                    node,
                    format!(
                        "wrong type for value; expected {}; got {got}",
                        param.go_name()
                    ),
                )
            }
        }
    }

    fn eval_arg(&mut self, dot: &Value<'d>, param: Param, arg: &'t Arg) -> EResult<Value<'d>> {
        let pos = arg.pos();
        let value = match arg {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match param {
                    Param::Any => Ok(Value::Invalid),
                    Param::StrList => Ok(Value::StrList(Vec::new())),
                    Param::Str | Param::Int => self.fail(
                        pos,
                        arg,
                        format!("cannot assign nil to {}", param.go_name()),
                    ),
                }
            }
            Arg::Field { idents, .. } => self.eval_field_chain(dot.clone(), pos, arg, idents, 0)?,
            Arg::Variable { .. } => self.eval_variable(arg, 0)?,
            Arg::Pipe(pipe) => self.eval_pipeline(dot, pipe)?,
            Arg::Identifier { name, .. } => {
                let site = CallSite {
                    name,
                    ident_pos: pos,
                    call_pos: pos,
                    call_node: arg,
                };
                self.eval_function(dot, site, &[], None)?
            }
            Arg::Chain { .. } => self.eval_chain(dot, arg, 0)?,
            Arg::Bool { value, .. } => {
                return match param {
                    Param::Any => Ok(Value::Bool(*value)),
                    _ => self.literal_mismatch(param, arg),
                }
            }
            Arg::Number(n) => {
                return match (param, n.int) {
                    (Param::Any, _) => self.ideal_constant(n, arg),
                    (Param::Int, Some(i)) => Ok(Value::Int(i)),
                    _ => self.literal_mismatch(param, arg),
                }
            }
            Arg::String { text, .. } => {
                return match param {
                    Param::Any | Param::Str => Ok(Value::Str(text.clone())),
                    _ => self.literal_mismatch(param, arg),
                }
            }
        };
        self.validate(value, param, pos, arg)
    }

    fn literal_mismatch<T>(&self, param: Param, arg: &Arg) -> EResult<T> {
        let message = match param {
            Param::Str => format!("expected string; found {arg}"),
            Param::Int => format!("expected integer; found {arg}"),
            other => format!("can't handle {arg} for arg of type {}", other.go_name()),
        };
        self.fail(arg.pos(), arg, message)
    }
}

/// The shape of an object printed by an action: named by the last field the pipeline read
/// (`{{.Config.Labels}}` is a map, `{{.State}}` a struct); the root and index results are
/// structs.
fn printed_shape(pipe: &Pipe, json: &Json) -> Shape {
    let last_field = pipe.cmds.last().and_then(|cmd| match cmd.args.first() {
        Some(Arg::Field { idents, .. }) => idents.last(),
        Some(Arg::Variable { idents, .. }) if idents.len() > 1 => idents.last(),
        Some(Arg::Chain { fields, .. }) => fields.last(),
        _ => None,
    });
    last_field.map_or(Shape::Struct, |name| docker_shape(name, json))
}

/// One label's value from Docker's joined `k=v,k=v` form. A segment without `=` continues the
/// previous value, so values containing commas survive.
fn label_value(joined: &str, name: &str) -> Option<String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for segment in joined.split(',').filter(|s| !s.is_empty()) {
        match (segment.split_once('='), pairs.last_mut()) {
            (Some((key, value)), _) => pairs.push((key.to_owned(), value.to_owned())),
            (None, Some((_, value))) => {
                value.push(',');
                value.push_str(segment);
            }
            (None, None) => pairs.push((segment.to_owned(), String::new())),
        }
    }
    pairs
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// Where a function is called: its name and position, and the node that "error calling"
/// messages quote (the whole command, or the bare identifier used as an argument).
#[derive(Clone, Copy)]
struct CallSite<'n> {
    name: &'n str,
    ident_pos: usize,
    call_pos: usize,
    call_node: &'n dyn Display,
}

/// One `.Name` step of a field chain.
#[derive(Clone, Copy)]
struct FieldStep<'n> {
    name: &'n str,
    is_last: bool,
    /// Number of arguments given to the field (only the last step can have any).
    arg_count: usize,
}

/// The value of `twin` at the place `target` (a value inside `tree`) has in `tree`. Object
/// entries pair up by key, else case-insensitively as Go's JSON field names do (`ID` and
/// `Id`); `None` when `target` is not in `tree` or its place is absent from `twin`.
fn twin_of<'w>(tree: &Json, twin: &'w Json, target: &Json) -> Option<&'w Json> {
    if std::ptr::eq(tree, target) {
        return Some(twin);
    }
    match (tree, twin) {
        (Json::Object(t), Json::Object(w)) => t.iter().find_map(|(k, v)| {
            let wv = w.get(k).or_else(|| {
                w.iter()
                    .find(|(wk, _)| wk.eq_ignore_ascii_case(k))
                    .map(|(_, wv)| wv)
            })?;
            twin_of(v, wv, target)
        }),
        (Json::Array(t), Json::Array(w)) => {
            t.iter().zip(w).find_map(|(v, wv)| twin_of(v, wv, target))
        }
        _ => None,
    }
}

impl State<'_, '_> {
    /// Whether `object`, a value inside the data, is a Go map in Docker's typed data: found
    /// under a map-typed field name (`Labels`, `ExposedPorts`, ...).
    fn is_docker_map(&self, object: &Json) -> bool {
        self.options.objects == ObjectStyle::DockerStructs
            && field_of(self.root, object).is_some_and(|f| docker_shape(f, object) == Shape::Map)
    }
}

/// The field name `target` (a value inside `tree`) is found under, if it is in an object.
fn field_of<'t>(tree: &'t Json, target: &Json) -> Option<&'t str> {
    match tree {
        Json::Object(map) => map.iter().find_map(|(k, v)| {
            if std::ptr::eq(v, target) {
                Some(k.as_str())
            } else {
                field_of(v, target)
            }
        }),
        Json::Array(items) => items.iter().find_map(|v| field_of(v, target)),
        _ => None,
    }
}
