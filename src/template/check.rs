//! Parse-time checks Go's `text/template` makes and gotmpl leaves to execution: every function
//! a template names must exist (`function "SENDGRID_USER" not defined`), so a typo fails when
//! the template is loaded, not on the first render with data.

use gotmpl::parse::{CommandNode, Expr, ListNode, Node, PipeNode, Pos};

use super::exec::Program;

/// The first call (in source order) of a function not in `known`, as Go reports it:
/// `template: <name>:<line>:<col>: function "x" not defined`.
pub fn undefined_function(name: &str, prog: &Program, known: &[String]) -> Option<String> {
    let mut first: Found = None;
    for tree in prog.trees() {
        let mut found = None;
        walk_list(tree, known, &mut found);
        if let Some((pos, f)) = found {
            if first.as_ref().is_none_or(|(p, _)| pos.offset < p.offset) {
                first = Some((pos, f));
            }
        }
    }
    let (pos, func) = first?;
    let (line, col) = line_col(prog.src(), pos);
    if func.starts_with("sprig_") {
        return Some(format!(
            "template: {name}:{line}:{col}: function {func:?}: sprig functions are not supported by Berth"
        ));
    }
    Some(format!(
        "template: {name}:{line}:{col}: function {func:?} not defined"
    ))
}

fn line_col(src: &str, pos: Pos) -> (usize, usize) {
    let end = pos.offset.min(src.len());
    let end = (0..=end)
        .rev()
        .find(|i| src.is_char_boundary(*i))
        .unwrap_or(0);
    let line_start = src[..end].rfind('\n').map_or(0, |i| i + 1);
    (pos.line, src[line_start..end].chars().count() + 1)
}

type Found = Option<(Pos, String)>;

fn walk_list(list: &ListNode, known: &[String], found: &mut Found) {
    for node in &list.nodes {
        if found.is_some() {
            return;
        }
        match node {
            Node::List(l) => walk_list(l, known, found),
            Node::Action(a) => walk_pipe(&a.pipe, known, found),
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                walk_pipe(&b.pipe, known, found);
                walk_list(&b.body, known, found);
                if let Some(e) = &b.else_body {
                    walk_list(e, known, found);
                }
            }
            Node::Template(t) => {
                if let Some(p) = &t.pipe {
                    walk_pipe(p, known, found);
                }
            }
            Node::Define(d) => walk_list(&d.body, known, found),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }
}

fn walk_pipe(pipe: &PipeNode, known: &[String], found: &mut Found) {
    for cmd in &pipe.commands {
        walk_command(cmd, known, found);
    }
}

fn walk_command(cmd: &CommandNode, known: &[String], found: &mut Found) {
    for e in &cmd.args {
        walk_expr(e, known, found);
    }
}

fn walk_expr(e: &Expr, known: &[String], found: &mut Found) {
    if found.is_some() {
        return;
    }
    match e {
        Expr::Identifier(pos, name) if !known.iter().any(|k| k == name.as_str()) => {
            *found = Some((*pos, name.to_string()));
        }
        Expr::Pipe(_, p) => walk_pipe(p, known, found),
        Expr::Chain(_, inner, _) => walk_expr(inner, known, found),
        _ => {}
    }
}
