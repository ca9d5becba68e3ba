//! The tree walk, following Go's `text/template/exec.go` rule by rule: a pipeline's value is
//! passed to the next command as its last argument; a field chain's final element receives
//! the command's arguments (a method is called with them, a map key with arguments is an
//! error); variables live in a stack popped at the end of each control structure; `range`
//! walks lists in order, maps in sorted key order and integers from zero.

use std::fmt::Display;

use gotmpl::parse::{BranchNode, CommandNode, Expr, ListNode, Node, Number, PipeNode, SmolStr};
use gotmpl::Value;

use super::builtins::{self, truth, BuiltinError};
use super::fmt::{display, type_name};
use super::node_text::{self, context, location};
use super::{func_message, Program};

use super::MAX_DEPTH;
/// Range iterations allowed within one execution (a runaway `range 1000000000`).
const MAX_ITERS: u64 = 50_000_000;

/// What a walked list asks of the enclosing `range`.
#[derive(PartialEq)]
enum Flow {
    Next,
    Break,
    Continue,
}

/// An execution error, already in Go's words.
struct Fail(String);

type R<T> = Result<T, Fail>;

/// Where an error points: a whole command, or one expression.
#[derive(Clone, Copy)]
enum At<'a> {
    Cmd(&'a CommandNode),
    Expr(&'a Expr),
}

/// One execution's state.
pub(super) struct State<'p> {
    prog: &'p Program,
    tmpl: String,
    out: String,
    vars: Vec<(SmolStr, Value)>,
    iters: u64,
}

impl<'p> State<'p> {
    pub(super) fn new(prog: &'p Program, tmpl: &str, data: &Value) -> State<'p> {
        State {
            prog,
            tmpl: tmpl.to_string(),
            out: String::new(),
            vars: vec![(SmolStr::new("$"), data.clone())],
            iters: 0,
        }
    }

    pub(super) fn run(mut self, body: &ListNode) -> Result<String, String> {
        let dot = self.vars[0].1.clone();
        match self.list(body, &dot) {
            Ok(_) => Ok(self.out),
            Err(Fail(m)) => Err(m),
        }
    }

    fn fail(&self, at: At<'_>, msg: impl Display) -> Fail {
        let (pos, text) = match at {
            At::Cmd(c) => (c.pos, node_text::command(c)),
            At::Expr(e) => (e.pos(), node_text::expr(e)),
        };
        Fail(format!(
            "template: {}: executing {:?} at <{}>: {msg}",
            location(&self.prog.name, self.prog.src(), pos),
            self.tmpl,
            context(text)
        ))
    }

    fn list(&mut self, list: &ListNode, dot: &Value) -> R<Flow> {
        for node in &list.nodes {
            let flow = self.node(node, dot)?;
            if flow != Flow::Next {
                return Ok(flow);
            }
        }
        Ok(Flow::Next)
    }

    fn node(&mut self, node: &Node, dot: &Value) -> R<Flow> {
        match node {
            Node::Text(t) => self.out.push_str(&t.text),
            Node::Action(a) => {
                let v = self.pipeline(dot, &a.pipe)?;
                if a.pipe.decl.is_empty() {
                    match v {
                        Value::Nil => self.out.push_str("<no value>"),
                        Value::String(s) => self.out.push_str(&s),
                        v => self.out.push_str(&display(&v)),
                    }
                }
            }
            Node::If(b) => return self.if_with(b, dot, false),
            Node::With(b) => return self.if_with(b, dot, true),
            Node::Range(b) => return self.range(b, dot),
            Node::Template(t) => {
                let arg = match &t.pipe {
                    Some(p) => self.pipeline(dot, p)?,
                    None => Value::Nil,
                };
                let Some(body) = self.prog.defines.get(t.name.as_str()).cloned() else {
                    return Err(self
                        .template_fail(t, format!("template {:?} not defined", t.name.as_str())));
                };
                if !self.prog.enter() {
                    return Err(self.template_fail(
                        t,
                        format!("exceeded maximum template depth ({MAX_DEPTH})"),
                    ));
                }
                let vars =
                    std::mem::replace(&mut self.vars, vec![(SmolStr::new("$"), arg.clone())]);
                let tmpl = std::mem::replace(&mut self.tmpl, t.name.to_string());
                let r = self.list(&body, &arg);
                self.prog.leave();
                self.vars = vars;
                self.tmpl = tmpl;
                r?;
            }
            Node::List(l) => return self.list(l, dot),
            Node::Define(_) => {}
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Next)
    }

    fn template_fail(&self, t: &gotmpl::parse::TemplateNode, msg: String) -> Fail {
        let text = format!("{{{{template {:?}}}}}", t.name.as_str());
        Fail(format!(
            "template: {}: executing {:?} at <{}>: {msg}",
            location(&self.prog.name, self.prog.src(), t.pos),
            self.tmpl,
            context(text)
        ))
    }

    fn if_with(&mut self, b: &BranchNode, dot: &Value, with: bool) -> R<Flow> {
        let mark = self.vars.len();
        let v = self.pipeline(dot, &b.pipe)?;
        let flow = if truth(&v) {
            self.list(&b.body, if with { &v } else { dot })?
        } else if let Some(e) = &b.else_body {
            self.list(e, dot)?
        } else {
            Flow::Next
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn range(&mut self, b: &BranchNode, dot: &Value) -> R<Flow> {
        let mark = self.vars.len();
        let v = self.pipeline(dot, &b.pipe)?;
        let first = b.pipe.commands.first().and_then(|c| c.args.first());
        let items: Vec<(Value, Value)> = match &v {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, e)| (Value::String(k.clone()), e.clone()))
                .collect(),
            Value::Int(_) | Value::Uint(_) => {
                let n = match v {
                    Value::Int(i) => i.max(0) as u64,
                    Value::Uint(u) => u,
                    _ => 0,
                };
                if b.pipe.decl.len() > 1 {
                    let at = first.map_or(At::Cmd(&b.pipe.commands[0]), At::Expr);
                    return Err(self.fail(
                        at,
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                if n > MAX_ITERS {
                    return Err(self.range_budget(b));
                }
                (0..n)
                    .map(|i| (Value::Int(i as i64), Value::Int(i as i64)))
                    .collect()
            }
            Value::Nil => Vec::new(),
            other => {
                let at = first.map_or(At::Cmd(&b.pipe.commands[0]), At::Expr);
                return Err(self.fail(at, format!("range can't iterate over {}", display(other))));
            }
        };
        let mut flow = Flow::Next;
        if items.is_empty() {
            if let Some(e) = &b.else_body {
                flow = self.list(e, dot)?;
            }
        }
        let top = self.vars.len();
        for (index, elem) in items {
            self.iters += 1;
            if self.iters > MAX_ITERS {
                return Err(self.range_budget(b));
            }
            let decl = &b.pipe.decl;
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone(), b)?;
                    self.set_var(&decl[1], elem.clone(), b)?;
                } else if let Some(d) = decl.first() {
                    self.set_var(d, elem.clone(), b)?;
                }
            } else if !decl.is_empty() {
                self.vars[top - 1].1 = elem.clone();
                if decl.len() > 1 {
                    self.vars[top - 2].1 = index;
                }
            }
            let f = self.list(&b.body, &elem)?;
            self.vars.truncate(top);
            if f == Flow::Break {
                break;
            }
        }
        self.vars.truncate(mark);
        if flow != Flow::Next {
            return Ok(flow);
        }
        Ok(Flow::Next)
    }

    fn range_budget(&self, b: &BranchNode) -> Fail {
        self.fail(
            At::Cmd(&b.pipe.commands[0]),
            format!("range iteration limit ({MAX_ITERS}) exceeded"),
        )
    }

    fn set_var(&mut self, name: &str, v: Value, b: &BranchNode) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.fail(
                At::Cmd(&b.pipe.commands[0]),
                format!("undefined variable: {name}"),
            )),
        }
    }

    fn pipeline(&mut self, dot: &Value, pipe: &PipeNode) -> R<Value> {
        let mut val: Option<Value> = None;
        for cmd in &pipe.commands {
            val = Some(self.command(dot, cmd, val)?);
        }
        let v = val.unwrap_or(Value::Nil);
        for d in &pipe.decl {
            if pipe.is_assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == d) {
                    Some(slot) => slot.1 = v.clone(),
                    None => {
                        return Err(self.fail(
                            At::Cmd(&pipe.commands[0]),
                            format!("undefined variable: {d}"),
                        ))
                    }
                }
            } else {
                self.vars.push((d.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command(&mut self, dot: &Value, cmd: &CommandNode, fin: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Expr::Field(_, fields) => self.chain(dot, dot.clone(), fields, cmd, fin, first),
            Expr::Chain(_, inner, fields) => {
                if matches!(**inner, Expr::Nil(_)) {
                    return Err(self.fail(At::Expr(first), "indirection through explicit nil"));
                }
                let recv = self.arg(dot, inner)?;
                self.chain(dot, recv, fields, cmd, fin, first)
            }
            Expr::Identifier(_, name) => {
                self.function(dot, name, &cmd.args[1..], fin, At::Cmd(cmd))
            }
            Expr::Variable(_, name, fields) => {
                let v = self.var(name, first)?;
                if fields.is_empty() {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                self.chain(dot, v, fields, cmd, fin, first)
            }
            Expr::Nil(_) => Err(self.fail(At::Expr(first), "nil is not a command")),
            _ => {
                self.not_a_function(cmd, &fin)?;
                self.arg(dot, first)
            }
        }
    }

    fn not_a_function(&self, cmd: &CommandNode, fin: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            let first = &cmd.args[0];
            return Err(self.fail(
                At::Expr(first),
                format!(
                    "can't give argument to non-function {}",
                    node_text::expr(first)
                ),
            ));
        }
        Ok(())
    }

    fn var(&self, name: &str, at: &Expr) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.fail(At::Expr(at), format!("undefined variable: {name}"))),
        }
    }

    /// An argument's value (a function named alone is called with no arguments).
    fn arg(&mut self, dot: &Value, e: &Expr) -> R<Value> {
        Ok(match e {
            Expr::Dot(_) => dot.clone(),
            Expr::Nil(_) => Value::Nil,
            Expr::Bool(_, b) => Value::Bool(*b),
            Expr::String(_, s) => Value::String(s.clone()),
            Expr::Number(_, Number::Int(i)) => Value::Int(*i),
            Expr::Number(_, Number::Uint(u)) => Value::Uint(*u),
            Expr::Number(_, Number::Float(f)) => Value::Float(*f),
            Expr::Pipe(_, p) => self.pipeline(dot, p)?,
            Expr::Identifier(_, name) => self.function(dot, name, &[], None, At::Expr(e))?,
            Expr::Field(_, fields) => self.fields(dot, dot.clone(), fields, &[], None, e)?,
            Expr::Variable(_, name, fields) => {
                let v = self.var(name, e)?;
                self.fields(dot, v, fields, &[], None, e)?
            }
            Expr::Chain(_, inner, fields) => {
                let recv = self.arg(dot, inner)?;
                self.fields(dot, recv, fields, &[], None, e)?
            }
        })
    }

    fn chain(
        &mut self,
        dot: &Value,
        recv: Value,
        fields: &[SmolStr],
        cmd: &CommandNode,
        fin: Option<Value>,
        at: &Expr,
    ) -> R<Value> {
        self.fields(dot, recv, fields, &cmd.args[1..], fin, at)
    }

    /// Walks `fields` from `recv`; the last one receives `args` and the piped `fin`.
    fn fields(
        &mut self,
        dot: &Value,
        mut recv: Value,
        fields: &[SmolStr],
        args: &[Expr],
        fin: Option<Value>,
        at: &Expr,
    ) -> R<Value> {
        let Some((last, middle)) = fields.split_last() else {
            if !args.is_empty() || fin.is_some() {
                return Err(self.fail(
                    At::Expr(at),
                    format!(
                        "can't give argument to non-function {}",
                        node_text::expr(at)
                    ),
                ));
            }
            return Ok(recv);
        };
        for f in middle {
            recv = self.field(dot, recv, f, &[], None, at)?;
        }
        self.field(dot, recv, last, args, fin, at)
    }

    fn field(
        &mut self,
        dot: &Value,
        recv: Value,
        name: &str,
        args: &[Expr],
        fin: Option<Value>,
        at: &Expr,
    ) -> R<Value> {
        let has_args = !args.is_empty() || fin.is_some();
        match &recv {
            Value::Map(m) => match m.get(name) {
                Some(Value::Function(f)) => {
                    let f = f.clone();
                    let mut argv = Vec::with_capacity(args.len() + 1);
                    for a in args {
                        argv.push(self.arg(dot, a)?);
                    }
                    argv.extend(fin);
                    f(&argv).map_err(|e| self.fail(At::Expr(at), func_message(&e)))
                }
                Some(_) if has_args => Err(self.fail(
                    At::Expr(at),
                    format!("{name} is not a method but has arguments"),
                )),
                Some(v) => Ok(v.clone()),
                None => {
                    if let Some(ty) = crate::template::value::struct_type(m) {
                        Err(self.fail(
                            At::Expr(at),
                            format!("can't evaluate field {name} in type {ty}"),
                        ))
                    } else if has_args {
                        Err(self.fail(
                            At::Expr(at),
                            format!("{name} is not a method but has arguments"),
                        ))
                    } else if self.prog.missing_error {
                        Err(self.fail(At::Expr(at), format!("map has no entry for key {name:?}")))
                    } else {
                        Ok(Value::Nil)
                    }
                }
            },
            Value::Nil if self.prog.missing_error => {
                Err(self.fail(At::Expr(at), format!("nil data; no entry for key {name:?}")))
            }
            Value::Nil => Ok(Value::Nil),
            other => Err(self.fail(
                At::Expr(at),
                format!("can't evaluate field {name} in type {}", type_name(other)),
            )),
        }
    }

    fn function(
        &mut self,
        dot: &Value,
        name: &str,
        args: &[Expr],
        fin: Option<Value>,
        at: At<'_>,
    ) -> R<Value> {
        if name == "and" || name == "or" {
            return self.and_or(dot, name == "and", args, fin, at);
        }
        let mut argv = Vec::with_capacity(args.len() + 1);
        for a in args {
            argv.push(self.arg(dot, a)?);
        }
        argv.extend(fin);
        if let Some(f) = self.prog.funcs.get(name) {
            return f(&argv).map_err(|e| self.fail(at, func_message(&e)));
        }
        match builtins::call(name, &argv) {
            Some(Ok(v)) => Ok(v),
            Some(Err(BuiltinError::Arity(m) | BuiltinError::Call(m))) => Err(self.fail(at, m)),
            None => Err(self.fail(at, format!("{name:?} is not a defined function"))),
        }
    }

    /// `and` / `or`: arguments evaluated in order until one decides; the deciding value (or
    /// the last) is the result.
    fn and_or(
        &mut self,
        dot: &Value,
        and: bool,
        args: &[Expr],
        fin: Option<Value>,
        at: At<'_>,
    ) -> R<Value> {
        let name = if and { "and" } else { "or" };
        if args.is_empty() && fin.is_none() {
            return Err(self.fail(
                at,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut last = Value::Nil;
        for a in args {
            last = self.arg(dot, a)?;
            if truth(&last) != and {
                return Ok(last);
            }
        }
        Ok(fin.unwrap_or(last))
    }
}
