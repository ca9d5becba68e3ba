//! Conversions: `parseBool`/`Float`/`Int`/`Uint`/`JSON`, and `toJSON` (Go's field order and
//! HTML escaping), `toJSONPretty`, the unescaped forms, `toYAML`, `toTOML`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{FuncMap, Value};

use super::{add, arg_str, string, FnResult};
use crate::template::value::struct_order;

pub(super) fn register(map: &mut FuncMap) {
    add(map, "parseBool", |a| {
        let s = arg_str(a, 0)?;
        Ok(Value::Bool(match s.as_str() {
            "" => false,
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return Err(format!("parseBool: invalid syntax: {s:?}")),
        }))
    });
    add(map, "parseInt", |a| {
        number(a, "parseInt", Value::Int(0), |s| {
            s.parse().ok().map(Value::Int)
        })
    });
    add(map, "parseUint", |a| {
        number(a, "parseUint", Value::Uint(0), |s| {
            s.parse().ok().map(Value::Uint)
        })
    });
    add(map, "parseFloat", |a| {
        number(a, "parseFloat", Value::Float(0.0), |s| {
            s.parse().ok().map(Value::Float)
        })
    });
    add(map, "parseJSON", |a| {
        let s = arg_str(a, 0)?;
        if s.trim().is_empty() {
            return Ok(Value::Map(Arc::new(BTreeMap::new())));
        }
        let v: serde_json::Value = serde_json::from_str(&s).map_err(|e| e.to_string())?;
        Ok(from_json(&v))
    });
    add(map, "parseYAML", |a| {
        let s = arg_str(a, 0)?;
        if s.trim().is_empty() {
            return Ok(Value::Map(Arc::new(BTreeMap::new())));
        }
        let v: serde_json::Value = serde_yaml::from_str(&s).map_err(|e| e.to_string())?;
        Ok(from_json(&v))
    });
    add(map, "toJSON", |a| json(a, false, true));
    add(map, "toJSONPretty", |a| json(a, true, true));
    add(map, "toUnescapedJSON", |a| json(a, false, false));
    add(map, "toUnescapedJSONPretty", |a| json(a, true, false));
    add(map, "toYAML", |a| {
        let v = to_json(a.first().unwrap_or(&Value::Nil));
        let text = serde_yaml::to_string(&v).map_err(|e| e.to_string())?;
        Ok(string(text.trim()))
    });
    add(map, "toTOML", |a| {
        let v = to_json(a.first().unwrap_or(&Value::Nil));
        let text = toml::to_string(&v).map_err(|e| e.to_string())?;
        Ok(string(text.trim()))
    });
}

/// consul-template's `parseInt`/`parseUint`/`parseFloat`: "" is zero, else strconv's rules.
fn number(a: &[Value], name: &str, zero: Value, parse: impl Fn(&str) -> Option<Value>) -> FnResult {
    let s = arg_str(a, 0)?;
    if s.is_empty() {
        return Ok(zero);
    }
    parse(&s).ok_or_else(|| format!("{name}: invalid syntax: {s:?}"))
}

/// JSON (objects → maps, arrays → lists, integral numbers → ints) as template values.
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            // Go's encoding/json decodes every number as float64; it prints like an int
            // when integral, which is what templates see.
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => string(s),
        serde_json::Value::Array(a) => Value::List(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(Arc::new(
            o.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), from_json(v)))
                .collect(),
        )),
    }
}

/// A template value as JSON (maps sorted by key; `toJSON` keeps struct order itself).
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => (*i).into(),
        Value::Uint(u) => (*u).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
        }
        other => serde_json::Value::String(other.to_string()),
    }
}

fn json(a: &[Value], pretty: bool, escape: bool) -> FnResult {
    let mut text = String::new();
    write_json(a.first().unwrap_or(&Value::Nil), pretty, 0, &mut text);
    let text = if escape { go_html_escape(&text) } else { text };
    Ok(string(text.trim()))
}

/// Go's `json.Marshal` / `MarshalIndent(v, "", "  ")` layout, with struct fields in their
/// declared order (serde_json's maps would sort them).
fn write_json(v: &Value, pretty: bool, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    };
    match v {
        Value::List(l) if !l.is_empty() => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(x, pretty, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Map(m) if !m.is_empty() => {
            out.push('{');
            let keys: Vec<&str> = match struct_order(m) {
                Some(order) => order.to_vec(),
                None => m.keys().map(|k| &**k).collect(),
            };
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                out.push_str(&serde_json::Value::String(k.to_string()).to_string());
                out.push_str(if pretty { ": " } else { ":" });
                write_json(&m[*k], pretty, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
        Value::List(_) => out.push_str("[]"),
        Value::Map(_) => out.push_str("{}"),
        other => out.push_str(&to_json(other).to_string()),
    }
}

/// Go's `json.Marshal` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings.
fn go_html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}
