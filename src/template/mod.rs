//! consul-template's template language: Go `text/template` (gotmpl's parser, pinned, and our
//! own evaluator in `exec/`, behind this facade) with consul-template's functions, and
//! dependency tracking. A render reads only a
//! `Brain` (the data of each dependency fetched so far) and reports the text, the
//! dependencies it used and which of them still lack data; the runner (next issue) fetches,
//! watches and writes.
//!
//! - `dep.rs`: `Dep` and consul-template's query grammar.
//! - `brain.rs`: fetched data by dependency.
//! - `value.rs`: data as template values with Go's field names and JSON field order.
//! - `funcs/`: the function map (API functions record dependencies; helpers are pure).
//! - `exec/`: the evaluator (Go's execution rules, errors with line and column, `fmt`).
//! - `check.rs`: Go's parse-time "function not defined" check.
//! - `hbs.rs`: the handlebars front end for `.hbs` sources, on the same functions.

pub mod brain;
pub mod check;
pub mod dep;
pub mod exec;
pub mod funcs;
pub mod hbs;
pub mod value;

use std::sync::{Arc, Mutex, OnceLock};

use gotmpl::Value;

use brain::Brain;
use dep::Dep;
use funcs::{lock, ExecuteHook, RenderState, Shared};

/// How a template is parsed and run (consul-template's `template` block keys).
#[derive(Debug, Clone)]
pub struct Options {
    /// `left_delimiter` (default `{{`).
    pub left_delim: String,
    /// `right_delimiter` (default `}}`).
    pub right_delim: String,
    /// `error_on_missing_key`: a missing map key is an error instead of `<no value>`.
    pub error_on_missing_key: bool,
    /// `function_denylist`: names or globs (`sprig_*`) that error when called.
    pub function_denylist: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            left_delim: "{{".into(),
            right_delim: "}}".into(),
            error_on_missing_key: false,
            function_denylist: Vec::new(),
        }
    }
}

/// Why a template could not be parsed or rendered; the text names the template, and for
/// parse errors the line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The source does not parse (Go's message: `template: <name>:<line>:<col>: ...`).
    #[error("{0}")]
    Parse(String),
    /// Execution failed (a function error, a bad index, a missing key with
    /// `error_on_missing_key`); the message is Go's, with name, line, column and node:
    /// `template: t:3:7: executing "t" at <key "x">: ...`.
    #[error("{message}")]
    Exec {
        /// Template name (its source path).
        name: String,
        /// What failed.
        message: String,
    },
}

/// The result of one render.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The output (meaningful only when `missing` is empty).
    pub text: String,
    /// Every dependency the render touched, in first-use order.
    pub used: Vec<Dep>,
    /// Used dependencies without data yet: the output must not be written.
    pub missing: Vec<Dep>,
}

/// The parsed form: Go text/template, or handlebars for `.hbs` sources.
enum Engine {
    Go(Arc<OnceLock<exec::Program>>),
    Hbs(Box<handlebars::Handlebars<'static>>),
}

/// A parsed template, ready to render against any brain.
pub struct Template {
    name: String,
    engine: Engine,
    state: Shared,
    /// One render at a time: the function closures share `state`.
    rendering: Mutex<()>,
}

impl Template {
    /// Parses `src` (named `name` in errors) with consul-template's functions; a name ending
    /// in `.hbs` is a handlebars template on the same functions.
    pub fn parse(name: &str, src: &str, opts: &Options) -> Result<Template, TemplateError> {
        let state: Shared = Arc::new(Mutex::new(RenderState::default()));
        let parsed = Arc::new(OnceLock::new());
        let mut map = funcs::func_map(state.clone(), ExecuteHook(Arc::downgrade(&parsed)));
        for (fname, f) in map.iter_mut() {
            if opts.function_denylist.iter().any(|g| glob(g, fname)) {
                let fname = fname.clone();
                *f = Arc::new(move |_: &[Value]| {
                    Err(gotmpl::TemplateError::Exec(format!(
                        "error calling {fname}: function is disabled"
                    )))
                });
            }
        }
        if name.ends_with(".hbs") {
            let reg = hbs::parse(name, src, map).map_err(TemplateError::Parse)?;
            return Ok(Template {
                name: name.to_string(),
                engine: Engine::Hbs(Box::new(reg)),
                state,
                rendering: Mutex::new(()),
            });
        }
        let known = funcs::names(&map);
        let t = exec::Program::parse(
            name,
            src,
            (&opts.left_delim, &opts.right_delim),
            map,
            opts.error_on_missing_key,
        )
        .map_err(TemplateError::Parse)?;
        if let Some(e) = check::undefined_function(name, &t, &known) {
            return Err(TemplateError::Parse(e));
        }
        let _ = parsed.set(t);
        Ok(Template {
            name: name.to_string(),
            engine: Engine::Go(parsed),
            state,
            rendering: Mutex::new(()),
        })
    }

    /// Renders against `brain`. With data missing the text is still produced (like
    /// consul-template, the caller must not write it).
    pub fn render(&self, brain: Arc<Brain>) -> Result<Rendered, TemplateError> {
        let (result, used, missing) = self.render_tracked(brain);
        result.map(|text| Rendered {
            text,
            used,
            missing,
        })
    }

    /// Renders against `brain` and reports the dependencies touched even when the render
    /// failed, so the runner can watch them (a first pass often fails on missing data:
    /// `index (service "x") 0`).
    pub fn render_tracked(
        &self,
        brain: Arc<Brain>,
    ) -> (Result<String, TemplateError>, Vec<Dep>, Vec<Dep>) {
        let _one = self.rendering.lock().unwrap_or_else(|p| p.into_inner());
        *lock(&self.state) = RenderState {
            brain,
            ..RenderState::default()
        };
        let result = match &self.engine {
            Engine::Go(parsed) => match parsed.get() {
                Some(t) => t.execute(&Value::Nil),
                None => Err("not parsed".to_string()),
            },
            Engine::Hbs(reg) => reg
                .render(&self.name, &serde_json::Value::Null)
                .map_err(|e| format!("template: {}: {e}", self.name)),
        };
        let st = std::mem::take(&mut *lock(&self.state));
        let result = result.map_err(|message| TemplateError::Exec {
            name: self.name.clone(),
            message,
        });
        (result, st.used, st.missing)
    }
}

/// `*` matches any run of characters (consul-template's denylist globs).
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(at) = rest.find(part) {
            rest = &rest[at + part.len()..];
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
