//! Where an execution error happened, as Go's `text/template` says it:
//! `<name>:<line>:<col>` (col is the byte offset within the line, as Go counts it) and the
//! offending node's source form, cut to 20 bytes (`at <service "web|bad...>`).

use gotmpl::parse::{CommandNode, Expr, Number, PipeNode, Pos};

use super::fmt::quote;

/// `name:line:col` for a node at `pos` in `src`.
pub fn location(name: &str, src: &str, pos: Pos) -> String {
    let end = floor_boundary(src, pos.offset.min(src.len()));
    let before = &src[..end];
    let line = 1 + before.matches('\n').count();
    let col = match before.rfind('\n') {
        Some(nl) => end - nl - 1,
        None => end,
    };
    format!("{name}:{line}:{col}")
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Go's error context: the node's text, at most 20 bytes then `...`.
pub fn context(text: String) -> String {
    if text.len() <= 20 {
        return text;
    }
    let cut = floor_boundary(&text, 20);
    format!("{}...", &text[..cut])
}

/// A pipeline as source text.
pub fn pipe(p: &PipeNode) -> String {
    let mut s = String::new();
    if !p.decl.is_empty() {
        let names: Vec<&str> = p.decl.iter().map(|d| d.as_str()).collect();
        s.push_str(&names.join(", "));
        s.push_str(if p.is_assign { " = " } else { " := " });
    }
    let cmds: Vec<String> = p.commands.iter().map(command).collect();
    s.push_str(&cmds.join(" | "));
    s
}

/// A command as source text.
pub fn command(c: &CommandNode) -> String {
    let args: Vec<String> = c.args.iter().map(expr).collect();
    args.join(" ")
}

/// An expression as source text.
pub fn expr(e: &Expr) -> String {
    let fields =
        |f: &[gotmpl::parse::SmolStr]| -> String { f.iter().map(|x| format!(".{x}")).collect() };
    match e {
        Expr::Dot(_) => ".".into(),
        Expr::Field(_, f) => fields(f),
        Expr::Variable(_, v, f) => format!("{v}{}", fields(f)),
        Expr::Identifier(_, n) => n.to_string(),
        Expr::String(_, s) => quote(s),
        Expr::Number(_, Number::Int(i)) => i.to_string(),
        Expr::Number(_, Number::Uint(u)) => u.to_string(),
        Expr::Number(_, Number::Float(f)) => super::fmt::format_g(*f, None, false),
        Expr::Bool(_, b) => b.to_string(),
        Expr::Nil(_) => "nil".into(),
        Expr::Pipe(_, p) => format!("({})", pipe(p)),
        Expr::Chain(_, inner, f) => format!("{}{}", expr(inner), fields(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_bytes_within_the_line() {
        assert_eq!(location("t", "{{.X}}", Pos::new(2, 1)), "t:1:2");
        assert_eq!(location("t", "a\nbc{{.X}}", Pos::new(6, 2)), "t:2:4");
        assert_eq!(
            context("service \"web|passing,warning\"".into()),
            "service \"web|passing..."
        );
    }
}
