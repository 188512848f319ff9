//! Recursive-descent parser for Go templates, following `text/template/parse/parse.go`
//! closely enough that parse errors read exactly like Go's (`template: :1: ...`).

use std::collections::HashMap;

use super::ast::{Arg, Branch, Command, List, Node, Number, Pipe, TemplateCall};
use super::lex::{lex, Item, ItemType};
use super::FormatError;

/// Deepest nesting of parentheses and control structures (Go allows 10000 parentheses; dokles
/// keeps its recursive descent well inside the main thread's stack).
const MAX_DEPTH: usize = 100;

/// A parsed template: its body and the templates it `define`s or `block`s.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub root: List,
    pub defines: HashMap<String, List>,
}

/// Parses `src`; `is_function` says which identifiers name functions.
pub(crate) fn parse(src: &str, is_function: &dyn Fn(&str) -> bool) -> Result<Parsed, FormatError> {
    let mut parser = Parser {
        items: lex(src),
        next: 0,
        furthest: 0,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        depth: 0,
        action_line: 0,
        defines: HashMap::new(),
        is_function,
    };
    let root = parser.parse_root()?;
    Ok(Parsed {
        root,
        defines: parser.defines,
    })
}

/// What ends an item list.
enum Terminator {
    End,
    Else,
}

enum Parsed1 {
    Node(Node),
    End,
    Else,
}

type PResult<T> = Result<T, FormatError>;

struct Parser<'f> {
    items: Vec<Item>,
    next: usize,
    furthest: usize,
    vars: Vec<String>,
    range_depth: usize,
    /// Nesting of parentheses and control structures, bounded to keep recursion shallow.
    depth: usize,
    action_line: usize,
    defines: HashMap<String, List>,
    is_function: &'f dyn Fn(&str) -> bool,
}

impl Parser<'_> {
    fn next(&mut self) -> Item {
        let index = self.next.min(self.items.len().saturating_sub(1));
        self.next += 1;
        self.furthest = self.furthest.max(index);
        self.items.get(index).cloned().unwrap_or(Item {
            typ: ItemType::Eof,
            pos: 0,
            val: String::new(),
            line: 1,
        })
    }

    fn backup(&mut self) {
        self.next -= 1;
    }

    fn peek(&mut self) -> Item {
        let item = self.next();
        self.backup();
        item
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let item = self.next();
            if item.typ != ItemType::Space {
                return item;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let item = self.next_non_space();
        self.backup();
        item
    }

    fn error<T>(&self, message: impl Into<String>) -> PResult<T> {
        let line = self.items.get(self.furthest).map_or(1, |item| item.line);
        Err(FormatError::Parse {
            line,
            message: message.into(),
        })
    }

    fn unexpected<T>(&self, token: &Item, context: &str) -> PResult<T> {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at :{}", self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.error(format!("{}{extra}", token.val));
        }
        self.error(format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, typ: ItemType, context: &str) -> PResult<Item> {
        let token = self.next_non_space();
        if token.typ != typ {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn parse_root(&mut self) -> PResult<List> {
        let mut root = List::new();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let save = self.next;
                self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.next = save;
            }
            match self.text_or_action()? {
                Parsed1::Node(node) => root.push(node),
                Parsed1::End => return self.error("unexpected {{end}}"),
                Parsed1::Else => return self.error("unexpected {{else}}"),
            }
        }
        Ok(root)
    }

    /// Parses a nested template body with its own variable scope.
    fn sub_template(&mut self, context: &str) -> PResult<List> {
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        match end {
            Terminator::End => Ok(list),
            Terminator::Else => self.error(format!("unexpected {{{{else}}}} in {context}")),
        }
    }

    fn add_define(&mut self, name: String, list: List) -> PResult<()> {
        let is_empty = |l: &List| {
            l.iter()
                .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
        };
        if let Some(existing) = self.defines.get(&name) {
            if !is_empty(existing) && !is_empty(&list) {
                return self.error(format!(
                    "template: multiple definition of template {}",
                    super::gofmt::quote(&name)
                ));
            }
            if is_empty(&list) {
                return Ok(());
            }
        }
        self.defines.insert(name, list);
        Ok(())
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space();
        if !matches!(token.typ, ItemType::String | ItemType::RawString) {
            return self.unexpected(&token, CONTEXT);
        }
        let name = self.unquote(&token.val)?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let list = self.sub_template(CONTEXT)?;
        self.add_define(name, list)
    }

    fn item_list(&mut self) -> PResult<(List, Terminator)> {
        let mut list = List::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed1::Node(node) => list.push(node),
                Parsed1::End => return Ok((list, Terminator::End)),
                Parsed1::Else => return Ok((list, Terminator::Else)),
            }
        }
        self.error("unexpected EOF")
    }

    fn text_or_action(&mut self) -> PResult<Parsed1> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => Ok(Parsed1::Node(Node::Text(token.val))),
            ItemType::LeftDelim => {
                self.action_line = token.line;
                let result = self.action();
                self.action_line = 0;
                result
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> PResult<Parsed1> {
        let token = self.next_non_space();
        let node = match token.typ {
            ItemType::Block => self.block_control()?,
            ItemType::Break | ItemType::Continue => {
                let name = if token.typ == ItemType::Break {
                    "break"
                } else {
                    "continue"
                };
                let after = self.next_non_space();
                if after.typ != ItemType::RightDelim {
                    return self.unexpected(&after, &format!("{{{{{name}}}}}"));
                }
                if self.range_depth == 0 {
                    return self.error(format!("{{{{{name}}}}} outside {{{{range}}}}"));
                }
                if token.typ == ItemType::Break {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
            ItemType::Else => {
                let peek = self.peek_non_space();
                if !matches!(peek.typ, ItemType::If | ItemType::With) {
                    self.expect(ItemType::RightDelim, "else")?;
                }
                return Ok(Parsed1::Else);
            }
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed1::End);
            }
            ItemType::If => Node::If(self.parse_control("if")?),
            ItemType::Range => Node::Range(self.parse_control("range")?),
            ItemType::With => Node::With(self.parse_control("with")?),
            ItemType::Template => self.template_control()?,
            _ => {
                self.backup();
                Node::Action(self.pipeline("command", ItemType::RightDelim)?)
            }
        };
        Ok(Parsed1::Node(node))
    }

    /// Runs `parse` one nesting level deeper, failing like Go beyond [`MAX_DEPTH`].
    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            return self.error("max expression depth exceeded");
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        self.nested(|p| p.parse_control_body(context))
    }

    fn parse_control_body(&mut self, context: &str) -> PResult<Branch> {
        let vars_len = self.vars.len();
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Terminator::Else = end {
            let peek = self.peek();
            if context == "if" && peek.typ == ItemType::If {
                self.next();
                else_list = Some(vec![Node::If(self.parse_control("if")?)]);
            } else if context == "with" && peek.typ == ItemType::With {
                self.next();
                else_list = Some(vec![Node::With(self.parse_control("with")?)]);
            } else {
                let (list, end) = self.item_list()?;
                if let Terminator::Else = end {
                    return self.error("expected end; found {{else}}");
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(vars_len);
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, token: &Item, context: &str) -> PResult<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => self.unquote(&token.val),
            _ => self.unexpected(token, context),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            Some(self.pipeline(CONTEXT, ItemType::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template(TemplateCall {
            pos: token.pos,
            name,
            pipe,
        }))
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let list = self.sub_template(CONTEXT)?;
        self.add_define(name.clone(), list)?;
        Ok(Node::Template(TemplateCall {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        }))
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            if self.peek_non_space().typ != ItemType::Variable {
                break;
            }
            let at_variable = self.next;
            let variable = self.next();
            let following = self.peek_non_space();
            match following.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = following.typ == ItemType::Assign;
                    self.next_non_space();
                    pipe.decl.push(variable.val.clone());
                    self.vars.push(variable.val);
                    break;
                }
                ItemType::Char if following.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(variable.val.clone());
                    self.vars.push(variable.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue
                            }
                            _ => return self.error("range can only initialize variables"),
                        }
                    }
                    return self.error(format!("too many declarations in {context}"));
                }
                _ => {
                    self.next = at_variable;
                    break;
                }
            }
        }
        loop {
            let token = self.next_non_space();
            match token.typ {
                t if t == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.error(format!("missing value for {context}"));
        }
        for (i, cmd) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                cmd.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number(_)
                        | Arg::String { .. }
                )
            ) {
                return self.error(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                args.push(operand);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.error("empty command");
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            let item = self.next();
            fields.push(item.val[1..].to_owned());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number(_)
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return self.error(format!(
                    "unexpected . after term {}",
                    super::gofmt::quote(&node.to_string())
                ));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        let arg = match token.typ {
            ItemType::Identifier => {
                if !(self.is_function)(&token.val) {
                    return self.error(format!(
                        "function {} not defined",
                        super::gofmt::quote(&token.val)
                    ));
                }
                Arg::Identifier {
                    pos,
                    name: token.val,
                }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                if !self.vars.contains(&token.val) {
                    return self.error(format!(
                        "undefined variable {}",
                        super::gofmt::quote(&token.val)
                    ));
                }
                Arg::Variable {
                    pos,
                    idents: vec![token.val],
                }
            }
            ItemType::Field => Arg::Field {
                pos,
                idents: token.val[1..].split('.').map(str::to_owned).collect(),
            },
            ItemType::Bool => Arg::Bool {
                pos,
                value: token.val == "true",
            },
            ItemType::CharConstant | ItemType::Number => Arg::Number(self.number(&token)?),
            ItemType::LeftParen => {
                Arg::Pipe(Box::new(self.nested(|p| {
                    p.pipeline("parenthesized pipeline", ItemType::RightParen)
                })?))
            }
            ItemType::String | ItemType::RawString => {
                let text = self.unquote(&token.val)?;
                Arg::String {
                    pos,
                    quoted: token.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(arg))
    }

    fn number(&self, token: &Item) -> PResult<Number> {
        let text = token.val.clone();
        if token.typ == ItemType::CharConstant {
            let inner = self.unquote_char(&text)?;
            return Ok(Number {
                pos: token.pos,
                text,
                int: Some(i64::from(u32::from(inner))),
                float: Some(f64::from(u32::from(inner))),
            });
        }
        let quoted = super::gofmt::quote(&text);
        let (int, float) = match parse_go_int(&text) {
            Some(i) => match i64::try_from(i) {
                Ok(int) => (Some(int), Some(int as f64)),
                // A uint64 constant: execution reports that it overflows int.
                Err(_) if u64::try_from(i).is_ok() => (None, Some(i as f64)),
                Err(_) => return self.error(format!("integer overflow: {quoted}")),
            },
            None => match valid_underscores(&text)
                .then(|| text.replace('_', "").parse::<f64>().ok())
                .flatten()
                .filter(|f| f.is_finite())
            {
                // Digits alone that do not parse as an integer (`08`) are not a float either.
                Some(_) if !text.contains(['.', 'e', 'E', 'p', 'P']) => {
                    return self.error(format!("integer overflow: {quoted}"));
                }
                Some(f) => {
                    let int = (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64);
                    (int, Some(f))
                }
                None => return self.error(format!("illegal number syntax: {quoted}")),
            },
        };
        Ok(Number {
            pos: token.pos,
            text,
            int,
            float,
        })
    }

    fn unquote(&self, quoted: &str) -> PResult<String> {
        match unquote_go(quoted) {
            Some(s) => Ok(s),
            None => self.error("invalid syntax"),
        }
    }

    fn unquote_char(&self, quoted: &str) -> PResult<char> {
        let inner = quoted
            .strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .filter(|s| !s.is_empty() && *s != "'");
        let decoded = inner.and_then(|s| unescape(s, '\''));
        match decoded.as_deref().map(|s| {
            let mut chars = s.chars();
            (chars.next(), chars.next())
        }) {
            Some((Some(c), None)) => Ok(c),
            _ => self.error(format!("malformed character constant: {quoted}")),
        }
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)`: sign, `0x`/`0o`/`0b`/leading-zero octal, underscores.
fn parse_go_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest.to_owned())
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest.to_owned())
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned())
    } else {
        (10, lower.clone())
    };
    if !valid_underscores(text) {
        return None;
    }
    let body = body.replace('_', "");
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(&body, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// Go's rule for `_` in number literals: only between digits, or after a base prefix.
fn valid_underscores(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        if b != b'_' {
            return true;
        }
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + 1);
        let prefix = i == 2 && matches!(bytes[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B');
        (before.is_some_and(|c| c.is_ascii_hexdigit()) || prefix)
            && after.is_some_and(|c| c.is_ascii_hexdigit())
    })
}

/// Go's `strconv.Unquote` for `"..."` and `` `...` `` strings.
fn unquote_go(quoted: &str) -> Option<String> {
    if let Some(raw) = quoted.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        return Some(raw.replace('\r', ""));
    }
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    unescape(inner, '"')
}

fn unescape(s: &str, quote: char) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == quote || c == '\n' {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let esc = chars.next()?;
        match esc {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            c if c == quote => out.push(c),
            'x' | 'u' | 'U' => {
                let len = match esc {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(len).collect();
                if hex.len() != len {
                    return None;
                }
                let code = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(code)?);
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let code = u32::from_str_radix(&format!("{esc}{rest}"), 8).ok()?;
                if rest.len() != 2 || code > 255 {
                    return None;
                }
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
    }
    Some(out)
}
