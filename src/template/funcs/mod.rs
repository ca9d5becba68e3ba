//! consul-template's function map (reference §2.2–§2.4), as gotmpl closures. API functions
//! (`api.rs`) read the render's brain and record the dependencies they touch in the shared
//! `RenderState`; helpers are pure (`text.rs`, `coll.rs`, `conv.rs`, `math.rs`); `host.rs`
//! reads the environment and the host's addresses.
//!
//! Argument order follows consul-template exactly, because pipelines pass the piped value as
//! the last argument: `{{ .Tags | contains "x" }}` is `contains "x" .Tags`.

mod api;
mod coll;
pub(crate) mod conv;
mod host;
mod math;
mod scratch;
mod text;

use std::sync::{Arc, Mutex, MutexGuard};

use gotmpl::{FuncMap, TemplateError, Value};

pub use api::ExecuteHook;

use super::brain::Brain;
use super::dep::Dep;

/// What one render reads and what it touched; shared by the API closures.
#[derive(Debug, Default)]
pub struct RenderState {
    /// The data this render reads.
    pub brain: Arc<Brain>,
    /// Dependencies used, in first-use order, without repeats.
    pub used: Vec<Dep>,
    /// Used dependencies that have no data yet (the output must not be written).
    pub missing: Vec<Dep>,
    /// `scratch`'s store, empty at the start of every render.
    pub scratch: std::collections::BTreeMap<String, Value>,
}

impl RenderState {
    /// Notes that the render used `dep`; `has_data` says whether the brain could answer it.
    pub fn touch(&mut self, dep: &Dep, has_data: bool) {
        if !self.used.contains(dep) {
            self.used.push(dep.clone());
        }
        if !has_data && !self.missing.contains(dep) {
            self.missing.push(dep.clone());
        }
    }
}

/// The state shared by one template's closures.
pub type Shared = Arc<Mutex<RenderState>>;

/// Locks the render state (a panicked render leaves nothing worth protecting).
pub fn lock(state: &Shared) -> MutexGuard<'_, RenderState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A helper's result: a value, or the reason it failed (reported as Go does:
/// `error calling <name>: <reason>`).
pub type FnResult = Result<Value, String>;

/// Adds `f` under `name`, wrapping its errors in Go's `error calling` form.
fn add(
    map: &mut FuncMap,
    name: &'static str,
    f: impl Fn(&[Value]) -> FnResult + Send + Sync + 'static,
) {
    map.insert(
        name.to_string(),
        Arc::new(move |args: &[Value]| {
            f(args).map_err(|e| TemplateError::Exec(format!("error calling {name}: {e}")))
        }),
    );
}

/// Every function a template may call, reading through `state`; `hook` runs `define`d
/// templates for `executeTemplate`.
pub fn func_map(state: Shared, hook: ExecuteHook) -> FuncMap {
    let mut map = FuncMap::new();
    api::register(&mut map, state.clone(), hook);
    scratch::register(&mut map, state);
    text::register(&mut map);
    coll::register(&mut map);
    conv::register(&mut map);
    host::register(&mut map);
    math::register(&mut map);
    map
}

/// The names a template with function map `map` may call: those plus Go's built-ins.
pub fn names(map: &FuncMap) -> Vec<String> {
    let mut v: Vec<String> = map.keys().cloned().collect();
    v.extend(super::exec::BUILTINS.iter().map(|s| s.to_string()));
    v
}

/// Argument `i` as a string (Go would refuse other types; numbers are printed).
fn arg_str(args: &[Value], i: usize) -> Result<String, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(Value::Nil) | None => Err(format!("missing argument {}", i + 1)),
        Some(v @ (Value::Int(_) | Value::Uint(_) | Value::Float(_) | Value::Bool(_))) => {
            Ok(v.to_string())
        }
        Some(v) => Err(format!(
            "wrong type for value; expected string; got {}",
            v.type_name()
        )),
    }
}

/// Every argument as a string.
fn all_str(args: &[Value]) -> Result<Vec<String>, String> {
    (0..args.len()).map(|i| arg_str(args, i)).collect()
}

/// Checks the argument count.
fn arity(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("wrong number of args: want {n} got {}", args.len()))
    }
}

/// A string value.
fn string(s: impl AsRef<str>) -> Value {
    Value::String(Arc::from(s.as_ref()))
}
