//! Collection helpers: membership (`in`, `contains`, `containsAll`...), grouping (`byTag`,
//! `byKey`, `byMeta`, `byPort`), `explode`/`explodeMap`, and `loop`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{FuncMap, Value};

use super::{add, arg_str, arity, FnResult};

pub(super) fn register(map: &mut FuncMap) {
    add(map, "in", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(member(&a[0], &a[1])?))
    });
    add(map, "contains", |a| {
        arity(a, 2)?;
        Ok(Value::Bool(member(&a[1], &a[0])?))
    });
    for (name, want_all, negate) in [
        ("containsAll", true, false),
        ("containsAny", false, false),
        ("containsNone", false, true),
        ("containsNotAll", true, true),
    ] {
        add(map, name, move |a| {
            arity(a, 2)?;
            let Value::List(needles) = &a[0] else {
                return Err(format!("{name}: the needles must be a list"));
            };
            let mut hits = needles.iter().map(|n| member(&a[1], n));
            let r = if want_all {
                hits.try_fold(true, |acc, h| h.map(|h| acc && h))?
            } else {
                hits.try_fold(false, |acc, h| h.map(|h| acc || h))?
            };
            Ok(Value::Bool(r != negate))
        });
    }
    add(map, "byTag", |a| {
        arity(a, 1)?;
        group(&a[0], |e| match e.field("Tags") {
            Some(Value::List(tags)) => tags.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        })
    });
    add(map, "byPort", |a| {
        arity(a, 1)?;
        group(&a[0], |e| {
            e.field("Port").map(|p| p.to_string()).into_iter().collect()
        })
    });
    add(map, "byMeta", |a| {
        arity(a, 2)?;
        let spec = arg_str(a, 0)?;
        let fields: Vec<(String, bool)> = spec
            .split(',')
            .map(|f| match f.trim().split_once('|') {
                Some((k, "int")) => (k.to_string(), true),
                _ => (f.trim().to_string(), false),
            })
            .collect();
        group(&a[1], |e| {
            let meta = e.field("ServiceMeta");
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, int)| {
                    let v = meta.and_then(|m| m.field(k)).map(|v| v.to_string());
                    match (v, int) {
                        (Some(v), true) => format!("{:05}", v.parse::<i64>().unwrap_or(0)),
                        (None, true) => "00000".to_string(),
                        (Some(v), false) => v
                            .chars()
                            .map(|c| {
                                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                                    c
                                } else {
                                    '_'
                                }
                            })
                            .collect(),
                        (None, false) => format!("_no_{k}_"),
                    }
                })
                .collect();
            vec![parts.join("_")]
        })
    });
    add(map, "byKey", |a| {
        arity(a, 1)?;
        let Value::List(pairs) = &a[0] else {
            return Err("byKey: expected the result of tree or ls".into());
        };
        let mut out: BTreeMap<Arc<str>, BTreeMap<Arc<str>, Value>> = BTreeMap::new();
        for p in pairs.iter() {
            let key = p.field("Key").map(|k| k.to_string()).unwrap_or_default();
            let Some((top, rest)) = key.split_once('/') else {
                continue;
            };
            if rest.is_empty() {
                continue;
            }
            out.entry(Arc::from(top))
                .or_default()
                .insert(Arc::from(rest), p.clone());
        }
        Ok(Value::Map(Arc::new(
            out.into_iter()
                .map(|(k, v)| (k, Value::Map(Arc::new(v))))
                .collect(),
        )))
    });
    add(map, "explode", |a| {
        arity(a, 1)?;
        let Value::List(pairs) = &a[0] else {
            return Err("explode: expected the result of tree or ls".into());
        };
        let mut root = BTreeMap::new();
        for p in pairs.iter() {
            let key = p.field("Key").map(|k| k.to_string()).unwrap_or_default();
            let value = p.field("Value").cloned().unwrap_or(Value::Nil);
            insert_path(&mut root, &key, value)?;
        }
        Ok(Value::Map(Arc::new(root)))
    });
    add(map, "explodeMap", |a| {
        arity(a, 1)?;
        let Value::Map(m) = &a[0] else {
            return Err("explodeMap: expected a map".into());
        };
        let mut root = BTreeMap::new();
        for (k, v) in m.iter() {
            insert_path(&mut root, k, v.clone())?;
        }
        Ok(Value::Map(Arc::new(root)))
    });
    for (name, overwrite) in [("mergeMap", false), ("mergeMapWithOverride", true)] {
        add(map, name, move |a| {
            arity(a, 2)?;
            let (Value::Map(dst), Value::Map(src)) = (&a[0], &a[1]) else {
                return Err(format!("{name}: both arguments must be maps"));
            };
            let mut out = (**dst).clone();
            merge(&mut out, src, overwrite);
            Ok(Value::Map(Arc::new(out)))
        });
    }
    add(map, "loop", |a| {
        let int = |v: &Value| match v {
            Value::String(s) => s.trim().parse::<i64>().map_err(|e| e.to_string()),
            v => v
                .as_int()
                .ok_or_else(|| "loop: expected a number".to_string()),
        };
        let (from, to) = match a {
            [n] => (0, int(n)?),
            [from, to] => (int(from)?, int(to)?),
            _ => return Err("loop: expected 1 or 2 arguments".into()),
        };
        if to.saturating_sub(from) > 10_000_000 {
            return Err("loop: more than 10,000,000 iterations".into());
        }
        Ok(Value::List((from..to).map(Value::Int).collect()))
    });
}

/// mergo's merge of `src` into `dst`: nested maps merge, other values fill gaps (or, with
/// `overwrite`, replace).
fn merge(dst: &mut BTreeMap<Arc<str>, Value>, src: &BTreeMap<Arc<str>, Value>, overwrite: bool) {
    for (k, v) in src {
        match (dst.get_mut(k), v) {
            (Some(Value::Map(d)), Value::Map(s)) => merge(Arc::make_mut(d), s, overwrite),
            (Some(_), _) if !overwrite => {}
            _ => {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

/// `in`: element equality for lists (numbers by value), substring for strings.
fn member(haystack: &Value, needle: &Value) -> Result<bool, String> {
    match haystack {
        Value::List(items) => Ok(items.iter().any(|x| same(x, needle))),
        Value::String(s) => Ok(s.contains(&*needle.to_string())),
        Value::Nil => Ok(false),
        Value::Map(m) => Ok(m.contains_key(needle.to_string().as_str())),
        other => Err(format!("cannot look in a {}", other.type_name())),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (x, y) => match (x.as_int(), y.as_int()) {
            (Some(i), Some(j)) => i == j && !matches!(x, Value::String(_) | Value::Float(_)),
            _ => false,
        },
    }
}

/// Groups a list of entries under each key `keys` gives for it (keys in sorted order).
fn group(list: &Value, keys: impl Fn(&Value) -> Vec<String>) -> FnResult {
    let items: &[Value] = match list {
        Value::List(items) => items,
        Value::Nil => &[],
        other => return Err(format!("expected a list, got {}", other.type_name())),
    };
    let mut out: BTreeMap<Arc<str>, Vec<Value>> = BTreeMap::new();
    for e in items {
        for k in keys(e) {
            out.entry(Arc::from(k.as_str()))
                .or_default()
                .push(e.clone());
        }
    }
    Ok(Value::Map(Arc::new(
        out.into_iter()
            .map(|(k, v)| (k, Value::List(v.into())))
            .collect(),
    )))
}

/// Puts `value` at the `/`-separated `path`; a key that is both a leaf and a folder is an error.
fn insert_path(
    root: &mut BTreeMap<Arc<str>, Value>,
    path: &str,
    value: Value,
) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let Some((last, dirs)) = parts.split_last() else {
        return Ok(());
    };
    let mut node = root;
    for d in dirs {
        let entry = node
            .entry(Arc::from(*d))
            .or_insert_with(|| Value::Map(Arc::new(BTreeMap::new())));
        let Value::Map(m) = entry else {
            return Err(format!(
                "cannot explode {path:?}: {d:?} is both a value and a folder"
            ));
        };
        node = Arc::make_mut(m);
    }
    if let Some(Value::Map(_)) = node.get(*last) {
        return Err(format!(
            "cannot explode {path:?}: it is both a value and a folder"
        ));
    }
    node.insert(Arc::from(*last), value);
    Ok(())
}
