//! Any text as a template, both as Go text/template (gotmpl's parser, our function check and
//! our evaluator) and as handlebars: when it parses, one render against an empty brain and
//! one against a brain with data for everything the first found missing. Nothing may panic.
#![no_main]

use std::sync::Arc;

use berth::template::brain::{Brain, Data, KvPair};
use berth::template::{Options, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    for name in ["fuzz", "fuzz.hbs"] {
        run(name, src);
    }
});

fn run(name: &str, src: &str) {
    let Ok(t) = Template::parse(name, src, &Options::default()) else { return };
    let Ok(first) = t.render(Arc::new(Brain::new())) else { return };
    let mut brain = Brain::new();
    for dep in first.missing {
        let data = match &dep {
            berth::template::dep::Dep::Key { path, .. } => Data::Key(Some(KvPair {
                path: path.clone(),
                value: "v".into(),
                ..KvPair::default()
            })),
            _ => Data::List(Vec::new()),
        };
        brain.remember(dep, data);
    }
    let _ = t.render(Arc::new(brain));
}
