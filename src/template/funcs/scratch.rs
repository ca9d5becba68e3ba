//! consul-template's `scratch`: a per-render key/value store reached through methods
//! (`{{ scratch.Set "k" "v" }}`, `.Get`, `.Key`, `.SetX`, `.MapSet`, `.MapSetX`, `.MapValues`).
//! `scratch` returns a value whose fields are those methods; the evaluator calls a function
//! field with the command's arguments, as Go calls a method. The store lives in the render
//! state, so every render starts empty, as consul-template's does.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{FuncMap, TemplateError, Value};

use super::{arg_str, lock, string, Shared};

type Method = fn(&mut BTreeMap<String, Value>, &[Value]) -> Result<Value, String>;

pub(super) fn register(map: &mut FuncMap, state: Shared) {
    let methods: [(&str, Method); 7] = [
        ("Key", key),
        ("Get", get),
        ("Set", |m, a| set(m, a, true)),
        ("SetX", |m, a| set(m, a, false)),
        ("MapSet", |m, a| map_set(m, a, true)),
        ("MapSetX", |m, a| map_set(m, a, false)),
        ("MapValues", map_values),
    ];
    let mut fields: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    for (name, f) in methods {
        let st = state.clone();
        let call = move |args: &[Value]| {
            let mut guard = lock(&st);
            f(&mut guard.scratch, args)
                .map_err(|e| TemplateError::Exec(format!("error calling {name}: {e}")))
        };
        fields.insert(Arc::from(name), Value::Function(Arc::new(call)));
    }
    let scratch = Value::Map(Arc::new(fields));
    map.insert(
        "scratch".into(),
        Arc::new(move |_: &[Value]| Ok(scratch.clone())),
    );
}

fn want(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("wrong number of args: want {n} got {}", args.len()))
    }
}

fn key(m: &mut BTreeMap<String, Value>, args: &[Value]) -> Result<Value, String> {
    want(args, 1)?;
    Ok(Value::Bool(m.contains_key(&arg_str(args, 0)?)))
}

fn get(m: &mut BTreeMap<String, Value>, args: &[Value]) -> Result<Value, String> {
    want(args, 1)?;
    Ok(m.get(&arg_str(args, 0)?).cloned().unwrap_or(Value::Nil))
}

fn set(m: &mut BTreeMap<String, Value>, args: &[Value], overwrite: bool) -> Result<Value, String> {
    want(args, 2)?;
    let k = arg_str(args, 0)?;
    if overwrite || !m.contains_key(&k) {
        m.insert(k, args[1].clone());
    }
    Ok(string(""))
}

fn map_set(
    m: &mut BTreeMap<String, Value>,
    args: &[Value],
    overwrite: bool,
) -> Result<Value, String> {
    want(args, 3)?;
    let k = arg_str(args, 0)?;
    let mk = arg_str(args, 1)?;
    let slot = m
        .entry(k.clone())
        .or_insert_with(|| Value::Map(Arc::new(BTreeMap::new())));
    let Value::Map(inner) = slot else {
        return Err(format!("{k:?} is not a map"));
    };
    let inner = Arc::make_mut(inner);
    if overwrite || !inner.contains_key(mk.as_str()) {
        inner.insert(Arc::from(mk.as_str()), args[2].clone());
    }
    Ok(string(""))
}

fn map_values(m: &mut BTreeMap<String, Value>, args: &[Value]) -> Result<Value, String> {
    want(args, 1)?;
    Ok(match m.get(&arg_str(args, 0)?) {
        // Sorted by key, as consul-template sorts them.
        Some(Value::Map(inner)) => Value::List(inner.values().cloned().collect()),
        _ => Value::Nil,
    })
}
