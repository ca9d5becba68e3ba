//! The functions that read data (consul-template's dependencies): each parses its query,
//! records the dependency, and answers from the brain; with no data yet it answers an empty
//! value and marks the dependency missing, so the render is not written.

use std::sync::{Arc, OnceLock, Weak};

use gotmpl::{FuncMap, Value};

use super::{add, all_str, arg_str, lock, string, FnResult, Shared};
use crate::template::brain::{Data, Stored};
use crate::template::dep::Dep;
use crate::template::value;

/// How `executeTemplate` reaches the parsed template it belongs to (set once after parsing).
#[derive(Clone, Default)]
pub struct ExecuteHook(pub Weak<OnceLock<crate::template::exec::Program>>);

pub(super) fn register(map: &mut FuncMap, state: Shared, hook: ExecuteHook) {
    let st = state.clone();
    add(map, "service", move |args| service(&st, args));
    let st = state.clone();
    add(map, "services", move |args| {
        let dep = Dep::services(&all_str(args)?).map_err(|e| e.to_string())?;
        Ok(match read(&st, &dep).as_deref().map(|s| &s.data) {
            Some(Data::CatalogServices(m)) => Value::List(
                m.iter()
                    .map(|(name, tags)| {
                        let mut tags = tags.clone();
                        tags.sort();
                        tags.dedup();
                        value::map(vec![
                            ("Name", value::s(name)),
                            (
                                "Tags",
                                Value::List(tags.iter().map(|t| value::s(t)).collect()),
                            ),
                        ])
                    })
                    .collect(),
            ),
            _ => Value::List(Arc::from([])),
        })
    });
    let st = state.clone();
    add(map, "node", move |args| {
        let dep = Dep::node(&all_str(args)?).map_err(|e| e.to_string())?;
        Ok(match read(&st, &dep).as_deref().map(|s| &s.data) {
            Some(Data::Node(Some((n, services)))) => {
                let mut services = services.clone();
                services.sort_by(|a, b| a.id.cmp(&b.id));
                value::map(vec![
                    ("Node", value::node(n)),
                    (
                        "Services",
                        Value::List(services.iter().map(value::node_service).collect()),
                    ),
                ])
            }
            _ => Value::Nil,
        })
    });
    let st = state.clone();
    add(map, "nodes", move |args| {
        let dep = Dep::nodes(&all_str(args)?).map_err(|e| e.to_string())?;
        Ok(match read(&st, &dep).as_deref().map(|s| &s.data) {
            Some(Data::Nodes(nodes)) => {
                let mut nodes = nodes.clone();
                nodes.sort_by(|a, b| a.node.cmp(&b.node));
                Value::List(nodes.iter().map(value::node).collect())
            }
            _ => Value::List(Arc::from([])),
        })
    });
    let st = state.clone();
    add(map, "datacenters", move |args| {
        let ignore_failing = matches!(args.first(), Some(Value::Bool(true)));
        let dep = Dep::Datacenters { ignore_failing };
        Ok(match read(&st, &dep).as_deref().map(|s| &s.data) {
            Some(Data::Datacenters(dcs)) => Value::List(dcs.iter().map(string).collect()),
            _ => Value::List(Arc::from([])),
        })
    });
    register_kv(map, &state);
    let st = state.clone();
    add(map, "file", move |args| {
        let dep = Dep::File(arg_str(args, 0)?);
        Ok(match read(&st, &dep).as_deref().map(|s| &s.data) {
            Some(Data::File(text)) => string(text),
            _ => string(""),
        })
    });
    add(map, "executeTemplate", move |args| {
        let name = arg_str(args, 0)?;
        let data = args.get(1).cloned().unwrap_or(Value::Nil);
        let Some(cell) = hook.0.upgrade() else {
            return Err("the template is gone".into());
        };
        let Some(t) = cell.get() else {
            return Err("executeTemplate called before parsing finished".into());
        };
        t.execute_named(&name, &data).map(string)
    });
    let refused: [(&[&'static str], &'static str); 4] = [
        (
            &["connect", "caRoots", "caLeaf"],
            ": Consul Connect (service mesh) is",
        ),
        (&["secret", "secrets", "pkiCert"], ": Vault is"),
        (
            &[
                "nomadServices",
                "nomadService",
                "nomadVar",
                "nomadVarList",
                "nomadVarExists",
            ],
            ": Nomad is",
        ),
        // consul-template's side-effect and debugging functions: out of scope for now,
        // refused by name when called rather than "not defined" at parse time.
        (
            &[
                "plugin",
                "writeToFile",
                "spew_dump",
                "spew_sdump",
                "spew_printf",
                "spew_sprintf",
            ],
            " is",
        ),
    ];
    for (names, what) in refused {
        for &name in names {
            add(map, name, move |_| {
                Err(format!("{name}{what} not supported by Berth"))
            });
        }
    }
}

/// Records `dep` as used and returns its stored data, if the brain has it.
fn read(state: &Shared, dep: &Dep) -> Option<Arc<Stored>> {
    let mut st = lock(state);
    let stored = st.brain.stored(dep);
    st.touch(dep, stored.is_some());
    stored
}

/// `service "[tag.]name[@dc][|filter]"`: instances sorted by node then ID; the default filter
/// keeps instances whose checks all pass, an explicit one keeps the named aggregate states.
fn service(state: &Shared, args: &[Value]) -> FnResult {
    let dep = Dep::service(&all_str(args)?).map_err(|e| e.to_string())?;
    let Dep::Service(q) = &dep else {
        return Err("not a service query".into());
    };
    let stored = {
        let mut st = lock(state);
        let stored = st.brain.stored(&dep);
        st.touch(&dep, stored.is_some());
        stored
    };
    let Some(stored) = stored else {
        return Ok(Value::List(Arc::from([])));
    };
    let Data::Services(all) = &stored.data else {
        return Ok(Value::List(Arc::from([])));
    };
    // Entries are stored sorted by node then ID, with their values built once.
    let values = stored.service_values();
    let keep: Vec<Value> = all
        .iter()
        .zip(values.iter())
        .filter(|(e, _)| {
            let status = value::aggregate_status(&e.checks);
            if q.filter.is_empty() {
                e.checks.iter().all(|c| c.status == "passing") && status == "passing"
            } else {
                q.filter.iter().any(|f| f == "any" || f == status)
            }
        })
        .map(|(_, v)| v.clone())
        .collect();
    Ok(Value::List(keep.into()))
}

fn register_kv(map: &mut FuncMap, state: &Shared) {
    let st = state.clone();
    add(map, "key", move |args| {
        let dep = Dep::key(&arg_str(args, 0)?).map_err(|e| e.to_string())?;
        let mut s = lock(&st);
        // `key` waits for the key to exist: an absent key counts as missing data.
        let found = match s.brain.recall(&dep) {
            Some(Data::Key(Some(p))) => Some(p.value.clone()),
            _ => None,
        };
        s.touch(&dep, found.is_some());
        Ok(string(found.unwrap_or_default()))
    });
    let st = state.clone();
    add(map, "keyExists", move |args| {
        let dep = Dep::key(&arg_str(args, 0)?).map_err(|e| e.to_string())?;
        Ok(Value::Bool(matches!(
            read(&st, &dep).as_deref().map(|s| &s.data),
            Some(Data::Key(Some(_)))
        )))
    });
    let st = state.clone();
    add(map, "keyOrDefault", move |args| {
        let dep = Dep::key(&arg_str(args, 0)?).map_err(|e| e.to_string())?;
        let default = arg_str(args, 1)?;
        Ok(match read(&st, &dep).as_deref().map(|s| &s.data) {
            Some(Data::Key(Some(p))) if !p.value.is_empty() => string(&p.value),
            _ => string(default),
        })
    });
    for (name, recursive, safe) in [
        ("ls", false, false),
        ("safeLs", false, true),
        ("tree", true, false),
        ("safeTree", true, true),
    ] {
        let st = state.clone();
        add(map, name, move |args| {
            list(&st, &arg_str(args, 0)?, recursive, safe)
        });
    }
}

/// `ls`/`tree`: entries under the prefix with keys relative to it; `ls` keeps direct children
/// only, `tree` drops folder placeholders; the safe forms treat an empty result as missing.
fn list(state: &Shared, prefix_arg: &str, recursive: bool, safe: bool) -> FnResult {
    let dep = Dep::list(prefix_arg, recursive).map_err(|e| e.to_string())?;
    let Dep::List { prefix, .. } = &dep else {
        return Err("not a list query".into());
    };
    let mut s = lock(state);
    let entries = match s.brain.recall(&dep) {
        Some(Data::List(all)) => Some(all.clone()),
        _ => None,
    };
    let base = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.clone()
    } else {
        format!("{prefix}/")
    };
    let mut out = Vec::new();
    for p in entries.iter().flatten() {
        let rel = p
            .path
            .strip_prefix(base.as_str())
            .or_else(|| p.path.strip_prefix(prefix.as_str()))
            .unwrap_or(&p.path);
        let keep = if recursive {
            !rel.is_empty() && !rel.ends_with('/')
        } else {
            !rel.is_empty() && !rel.contains('/')
        };
        if keep {
            out.push(value::kv_pair(p, rel));
        }
    }
    let has_data = entries.is_some() && !(safe && out.is_empty());
    s.touch(&dep, has_data);
    Ok(Value::List(out.into()))
}
