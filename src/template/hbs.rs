//! Handlebars (`.hbs` sources) on the same functions and dependency tracking: every function
//! of the Go front end is registered as a handlebars helper that converts its parameters to
//! template values, calls the same closure (which records dependencies in the shared render
//! state), and hands the result back as JSON, so
//! `{{#each (service "web")}}server {{Address}}:{{Port}};{{/each}}` works. Output is not
//! HTML-escaped: these are configuration files.

use gotmpl::{FuncMap, ValueFunc};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};

use super::funcs::conv::{from_json, to_json};

/// One of our functions as a handlebars helper.
struct Bridge(ValueFunc);

impl HelperDef for Bridge {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let args: Vec<gotmpl::Value> = h.params().iter().map(|p| from_json(p.value())).collect();
        let v = (self.0)(&args).map_err(|e| RenderErrorReason::Other(e.to_string()))?;
        Ok(ScopedJson::Derived(to_json(&v)))
    }
}

/// A registry holding `src` as template `name`, with every function of `funcs` as a helper.
pub fn parse(name: &str, src: &str, funcs: FuncMap) -> Result<Handlebars<'static>, String> {
    let mut reg = Handlebars::new();
    reg.register_escape_fn(handlebars::no_escape);
    for (fname, f) in funcs {
        reg.register_helper(&fname, Box::new(Bridge(f)));
    }
    reg.register_template_string(name, src)
        .map_err(|e| format!("template: {name}: {e}"))?;
    Ok(reg)
}
