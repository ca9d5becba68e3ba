//! Our evaluator for Go's `text/template`, over gotmpl's parser (its AST carries a position
//! on every node) and gotmpl's `Value`. It is ours because consul-template parity needs what
//! gotmpl's executor does not give: execution errors with `name:line:col` and the offending
//! node (`template: t:3:7: executing "t" at <key "x">: ...`), method calls on returned
//! values (`scratch.Set "k" "v"` calls `scratch` with no arguments, then `Set` with two), and
//! Go's "can't evaluate field X in type *dependency.HealthService" for struct-shaped data.
//!
//! - `walk.rs`: the tree walk (actions, if/with/range, variables, pipelines, fields, calls).
//! - `builtins.rs`: Go's predefined functions; `fmt.rs`: Go's `fmt` (print, printf).
//! - `node_text.rs`: error locations and node text.

mod builtins;
pub mod fmt;
mod node_text;
mod walk;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gotmpl::parse::{ListNode, Parser};
use gotmpl::{FuncMap, Value};

pub use builtins::{truth, NAMES as BUILTINS};

/// How deep `{{template}}` and `executeTemplate` calls may nest, together, in one render (a
/// define calling itself forever must fail, not overflow a 2 MiB worker stack).
pub(crate) const MAX_DEPTH: usize = 300;

/// A parsed template with its `define`s and functions, ready to execute.
pub struct Program {
    name: String,
    src: Arc<str>,
    root: Arc<ListNode>,
    defines: HashMap<String, Arc<ListNode>>,
    funcs: FuncMap,
    missing_error: bool,
    /// Template calls in progress (shared by `{{template}}` and `executeTemplate`).
    depth: AtomicUsize,
}

impl Program {
    /// Parses `src` (named `name` in errors) with `delims`; `missing_error` makes a missing
    /// map key an error (`error_on_missing_key`). The error is Go's text with line and column.
    pub fn parse(
        name: &str,
        src: &str,
        delims: (&str, &str),
        funcs: FuncMap,
        missing_error: bool,
    ) -> Result<Program, String> {
        let (root, defs) = Parser::with_name(Some(name), src, delims.0, delims.1)
            .and_then(|p| p.parse())
            .map_err(|e| go_wording(&e.to_string()))?;
        let mut defines: HashMap<String, Arc<ListNode>> = HashMap::new();
        if !root.is_empty_tree() {
            defines.insert(name.to_string(), Arc::new(root.clone()));
        }
        let mut seen = std::collections::HashSet::new();
        for d in defs {
            let empty = d.body.is_empty_tree();
            if !empty && !seen.insert(d.name.to_string()) {
                return Err(format!(
                    "template: multiple definition of template {:?}",
                    d.name.as_str()
                ));
            }
            if empty && defines.contains_key(d.name.as_str()) {
                continue;
            }
            defines.insert(d.name.to_string(), Arc::new(d.body));
        }
        Ok(Program {
            name: name.to_string(),
            src: Arc::from(src),
            root: Arc::new(root),
            defines,
            funcs,
            missing_error,
            depth: AtomicUsize::new(0),
        })
    }

    /// The top-level tree and every `define` body (for parse-time checks).
    pub fn trees(&self) -> impl Iterator<Item = &ListNode> {
        std::iter::once(&*self.root).chain(self.defines.values().map(|d| &**d))
    }

    /// The source, for positions.
    pub fn src(&self) -> &str {
        &self.src
    }

    /// Runs the top-level template with `data` as dot.
    pub fn execute(&self, data: &Value) -> Result<String, String> {
        self.run(&self.name, self.root.clone(), data)
    }

    /// Runs the template defined as `name` (`executeTemplate`).
    pub fn execute_named(&self, name: &str, data: &Value) -> Result<String, String> {
        let Some(body) = self.defines.get(name).cloned() else {
            return Err(format!(
                "template: no template {name:?} associated with template {:?}",
                self.name
            ));
        };
        self.run(name, body, data)
    }

    fn run(&self, tmpl: &str, body: Arc<ListNode>, data: &Value) -> Result<String, String> {
        if !self.enter() {
            return Err(format!(
                "template: {}: exceeded maximum template depth ({MAX_DEPTH})",
                self.name
            ));
        }
        let r = walk::State::new(self, tmpl, data).run(&body);
        self.leave();
        r
    }

    /// Counts one more template call; false (and nothing counted) past `MAX_DEPTH`.
    fn enter(&self) -> bool {
        if self.depth.fetch_add(1, Ordering::SeqCst) >= MAX_DEPTH {
            self.depth.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn leave(&self) {
        self.depth.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A function's error as text (gotmpl's `Exec` display adds a prefix we do not want).
pub fn func_message(e: &gotmpl::TemplateError) -> String {
    match e {
        gotmpl::TemplateError::Exec(m) => m.clone(),
        other => other.to_string(),
    }
}

/// gotmpl's parse messages in Go's words where they differ.
fn go_wording(msg: &str) -> String {
    msg.replace(
        "expected closing delimiter, got RightParen",
        "unexpected right paren",
    )
}

#[cfg(test)]
mod tests;
