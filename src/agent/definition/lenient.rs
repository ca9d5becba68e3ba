//! A JSON object read the way Consul's HTTP decoder reads it: keys match whatever their case
//! or underscores, `null` means absent, and every type error names the field path.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::DefinitionError;

/// Lower-cases and drops `_`, so `EnableTagOverride`, `enable_tag_override` and
/// `enabletagoverride` are the same key.
pub(crate) fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// JSON's name for a value's type, for "expected X, got Y" messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One JSON object plus the path it sits at (`""`, `Check`, `Checks[1]`).
pub(crate) struct Obj<'a> {
    /// Where this object is, for error messages.
    path: String,
    /// Keys as written, with their values.
    map: &'a serde_json::Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// Views `v` as an object; `path` is where it sits (empty at the root).
    pub(crate) fn new(v: &'a Value, path: &str) -> Result<Self, DefinitionError> {
        match v {
            Value::Object(map) => Ok(Obj {
                path: path.to_string(),
                map,
            }),
            other => Err(DefinitionError::field(
                if path.is_empty() { "body" } else { path },
                format!("expected an object, got {}", type_name(other)),
            )),
        }
    }

    /// True when every value is `null` (Go's "empty struct").
    pub(crate) fn is_empty(&self) -> bool {
        self.map.values().all(Value::is_null)
    }

    /// The path of one of this object's keys, as the user wrote it.
    pub(crate) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The first non-null value whose normalized key is one of `names` (already normalized),
    /// trying the names in order.
    pub(crate) fn get(&self, names: &[&str]) -> Option<(String, &'a Value)> {
        names.iter().find_map(|name| {
            self.map
                .iter()
                .rev()
                .find(|(k, v)| !v.is_null() && normalize(k) == *name)
                .map(|(k, v)| (self.path_of(k), v))
        })
    }

    /// A nested object.
    pub(crate) fn obj(&self, names: &[&str]) -> Result<Option<Obj<'a>>, DefinitionError> {
        self.get(names).map(|(p, v)| Obj::new(v, &p)).transpose()
    }

    /// A list of objects; a lone object counts as a one-item list, `null` items are skipped.
    pub(crate) fn objs(&self, names: &[&str]) -> Result<Vec<Obj<'a>>, DefinitionError> {
        match self.get(names) {
            None => Ok(Vec::new()),
            Some((p, Value::Array(items))) => items
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| Obj::new(v, &format!("{p}[{i}]")))
                .collect(),
            Some((p, v)) => Ok(vec![Obj::new(v, &p)?]),
        }
    }

    /// A string field.
    pub(crate) fn string(&self, names: &[&str]) -> Result<Option<String>, DefinitionError> {
        self.get(names).map(|(p, v)| as_string(&p, v)).transpose()
    }

    /// A boolean field.
    pub(crate) fn bool(&self, names: &[&str]) -> Result<Option<bool>, DefinitionError> {
        self.get(names)
            .map(|(p, v)| v.as_bool().ok_or_else(|| expected(&p, "a boolean", v)))
            .transpose()
    }

    /// A non-negative integer field no larger than `max`.
    pub(crate) fn uint(&self, names: &[&str], max: u64) -> Result<Option<u64>, DefinitionError> {
        self.get(names)
            .map(|(p, v)| as_uint(&p, v, max))
            .transpose()
    }

    /// A duration: a Go string or a number of nanoseconds. Zero counts as absent, as in Go.
    pub(crate) fn duration(&self, names: &[&str]) -> Result<Option<Duration>, DefinitionError> {
        let Some((p, v)) = self.get(names) else {
            return Ok(None);
        };
        let d = match v {
            Value::String(s) => crate::duration::parse(s)
                .map_err(|_| DefinitionError::field(&p, format!("invalid duration {s:?}")))?,
            Value::Number(_) => Duration::from_nanos(as_uint(&p, v, i64::MAX as u64)?),
            other => return Err(expected(&p, "a duration", other)),
        };
        Ok((!d.is_zero()).then_some(d))
    }

    /// A list of strings; a lone string counts as a one-item list.
    pub(crate) fn strings(&self, names: &[&str]) -> Result<Vec<String>, DefinitionError> {
        let Some((p, v)) = self.get(names) else {
            return Ok(Vec::new());
        };
        string_list(&p, v)
    }

    /// A map of user-chosen keys (kept verbatim) to strings.
    pub(crate) fn string_map(
        &self,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, DefinitionError> {
        let Some((p, v)) = self.get(names) else {
            return Ok(BTreeMap::new());
        };
        let Value::Object(m) = v else {
            return Err(expected(&p, "an object", v));
        };
        m.iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| Ok((k.clone(), as_string(&format!("{p}.{k}"), v)?)))
            .collect()
    }

    /// A map of user-chosen keys (kept verbatim) to lists of strings (HTTP headers).
    pub(crate) fn string_list_map(
        &self,
        names: &[&str],
    ) -> Result<BTreeMap<String, Vec<String>>, DefinitionError> {
        let Some((p, v)) = self.get(names) else {
            return Ok(BTreeMap::new());
        };
        let Value::Object(m) = v else {
            return Err(expected(&p, "an object", v));
        };
        m.iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| Ok((k.clone(), string_list(&format!("{p}.{k}"), v)?)))
            .collect()
    }
}

/// "`path`: expected `what`, got `type`".
pub(crate) fn expected(path: &str, what: &str, got: &Value) -> DefinitionError {
    DefinitionError::field(path, format!("expected {what}, got {}", type_name(got)))
}

/// A JSON string.
fn as_string(path: &str, v: &Value) -> Result<String, DefinitionError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| expected(path, "a string", v))
}

/// A JSON integer in `0..=max` (integral floats allowed: HCL and JS clients send them).
pub(crate) fn as_uint(path: &str, v: &Value, max: u64) -> Result<u64, DefinitionError> {
    let Value::Number(n) = v else {
        return Err(expected(path, "a number", v));
    };
    let out_of_range = || DefinitionError::field(path, format!("{n} is out of range 0..={max}"));
    if let Some(u) = n.as_u64() {
        return if u <= max { Ok(u) } else { Err(out_of_range()) };
    }
    if n.as_i64().is_some() {
        return Err(out_of_range());
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f >= 0.0 && f <= max as f64 => Ok(f as u64),
        Some(f) if f.fract() == 0.0 => Err(out_of_range()),
        _ => Err(DefinitionError::field(
            path,
            format!("expected an integer, got {n}"),
        )),
    }
}

/// A list of strings, or one string.
fn string_list(path: &str, v: &Value) -> Result<Vec<String>, DefinitionError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_null())
            .map(|(i, v)| as_string(&format!("{path}[{i}]"), v))
            .collect(),
        other => Err(expected(path, "a list of strings", other)),
    }
}
