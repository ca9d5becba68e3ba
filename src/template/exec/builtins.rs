//! Go `text/template`'s predefined functions (other than `and`/`or`, which short-circuit
//! in the evaluator): their argument counts, results and error texts.

use std::sync::Arc;

use gotmpl::Value;

use super::fmt::{display, sprint, sprintf, sprintln, type_name};

/// The names Go predefines.
pub const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
    "urlquery", "call", "eq", "ne", "lt", "le", "gt", "ge",
];

/// Why a built-in call failed: Go reports arity with `wrong number of args`, everything
/// else as `error calling <name>: ...`.
pub enum BuiltinError {
    /// Wrong argument count (Go's own message).
    Arity(String),
    /// The function's error.
    Call(String),
}

type R = Result<Value, BuiltinError>;

fn want(name: &str, args: &[Value], n: usize, at_least: bool) -> Result<(), BuiltinError> {
    let ok = if at_least {
        args.len() >= n
    } else {
        args.len() == n
    };
    if ok {
        return Ok(());
    }
    let least = if at_least { "at least " } else { "" };
    Err(BuiltinError::Arity(format!(
        "wrong number of args for {name}: want {least}{n} got {}",
        args.len()
    )))
}

fn call_err(name: &str, e: impl std::fmt::Display) -> BuiltinError {
    BuiltinError::Call(format!("error calling {name}: {e}"))
}

/// Go's truth: false, 0, nil, and empty strings, lists and maps are false.
pub fn truth(v: &Value) -> bool {
    match v {
        Value::Nil => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Uint(u) => *u != 0,
        Value::Float(f) => *f != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::List(l) => !l.is_empty(),
        Value::Map(m) => !m.is_empty(),
        _ => true,
    }
}

/// Runs built-in `name` (not `and`/`or`) on evaluated arguments; None if `name` is not one.
pub fn call(name: &str, args: &[Value]) -> Option<R> {
    let r = match name {
        "not" => want(name, args, 1, false).map(|_| Value::Bool(!truth(&args[0]))),
        "len" => want(name, args, 1, false).and_then(|_| len(&args[0])),
        "index" => want(name, args, 1, true).and_then(|_| index(args)),
        "slice" => want(name, args, 1, true).and_then(|_| slice(args)),
        "print" => Ok(string(sprint(args))),
        "println" => Ok(string(sprintln(args))),
        "printf" => want(name, args, 1, true).and_then(|_| match &args[0] {
            Value::String(f) => Ok(string(sprintf(f, &args[1..]))),
            other => Err(BuiltinError::Arity(format!(
                "wrong type for value; expected string; got {}",
                type_name(other)
            ))),
        }),
        "html" => Ok(string(gotmpl::html_escape(&joined(args)))),
        "js" => Ok(string(gotmpl::js_escape(&joined(args)))),
        "urlquery" => Ok(string(gotmpl::url_encode(&joined(args)))),
        "call" => want(name, args, 1, true).and_then(|_| match &args[0] {
            Value::Function(f) => {
                f(&args[1..]).map_err(|e| call_err(name, super::func_message(&e)))
            }
            Value::Nil => Err(call_err(name, "call of nil")),
            other => Err(call_err(
                name,
                format!("non-function of type {}", type_name(other)),
            )),
        }),
        "eq" => want(name, args, 1, true)
            .and_then(|_| eq(&args[0], &args[1..]).map_err(|e| call_err(name, e)))
            .map(Value::Bool),
        "ne" => want(name, args, 2, false)
            .and_then(|_| eq(&args[0], &args[1..]).map_err(|e| call_err(name, e)))
            .map(|b| Value::Bool(!b)),
        "lt" | "le" | "gt" | "ge" => want(name, args, 2, false).and_then(|_| {
            let (a, b) = (&args[0], &args[1]);
            let r = match name {
                "lt" => lt(a, b),
                "le" => le(a, b),
                "gt" => le(a, b).map(|x| !x),
                _ => lt(a, b).map(|x| !x),
            };
            r.map(Value::Bool).map_err(|e| call_err(name, e))
        }),
        _ => return None,
    };
    Some(r)
}

fn string(s: String) -> Value {
    Value::String(Arc::from(s))
}

/// What `html`, `js` and `urlquery` escape: a lone string as is, else `fmt.Sprint`.
fn joined(args: &[Value]) -> String {
    match args {
        [Value::String(s)] => s.to_string(),
        _ => sprint(args),
    }
}

fn len(v: &Value) -> R {
    let n = match v {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        Value::Nil => return Err(call_err("len", "len of nil pointer")),
        other => return Err(call_err("len", format!("len of type {}", type_name(other)))),
    };
    Ok(Value::Int(n as i64))
}

fn int_arg(v: &Value, what: &str) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| format!("{what} out of range: {u}")),
        Value::Nil => Err("cannot index slice/array with nil".to_string()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            type_name(other)
        )),
    }
}

fn index(args: &[Value]) -> R {
    let mut item = args[0].clone();
    for idx in &args[1..] {
        item = match &item {
            Value::List(l) => {
                let i = int_arg(idx, "index").map_err(|e| call_err("index", e))?;
                if i < 0 || i as usize >= l.len() {
                    return Err(call_err("index", format!("index out of range: {i}")));
                }
                l[i as usize].clone()
            }
            Value::String(s) => {
                let i = int_arg(idx, "index").map_err(|e| call_err("index", e))?;
                if i < 0 || i as usize >= s.len() {
                    return Err(call_err("index", format!("index out of range: {i}")));
                }
                Value::Uint(u64::from(s.as_bytes()[i as usize]))
            }
            Value::Map(m) => match idx {
                Value::String(k) => m.get(&**k).cloned().unwrap_or(Value::Nil),
                other => {
                    return Err(call_err(
                        "index",
                        format!("value has type {}; should be string", type_name(other)),
                    ))
                }
            },
            Value::Nil => return Err(call_err("index", "index of untyped nil")),
            other => {
                return Err(call_err(
                    "index",
                    format!("can't index item of type {}", type_name(other)),
                ))
            }
        };
    }
    Ok(item)
}

fn slice(args: &[Value]) -> R {
    let item = &args[0];
    let idx: Vec<i64> = args[1..]
        .iter()
        .map(|v| int_arg(v, "index"))
        .collect::<Result<_, _>>()
        .map_err(|e| call_err("slice", e))?;
    if idx.len() > 3 {
        return Err(call_err(
            "slice",
            format!("too many slice indexes: {}", idx.len()),
        ));
    }
    let cap = match item {
        Value::String(s) => {
            if idx.len() == 3 {
                return Err(call_err("slice", "cannot 3-index slice a string"));
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Nil => return Err(call_err("slice", "slice of untyped nil")),
        other => {
            return Err(call_err(
                "slice",
                format!("can't slice item of type {}", type_name(other)),
            ))
        }
    };
    let mut bounds = [0usize, cap, cap];
    for (i, x) in idx.iter().enumerate() {
        if *x < 0 || *x as usize > cap {
            return Err(call_err("slice", format!("index out of range: {x}")));
        }
        bounds[i] = *x as usize;
    }
    if bounds[0] > bounds[1] {
        return Err(call_err(
            "slice",
            format!("invalid slice index: {} > {}", bounds[0], bounds[1]),
        ));
    }
    if idx.len() == 3 && bounds[1] > bounds[2] {
        return Err(call_err(
            "slice",
            format!("invalid slice index: {} > {}", bounds[1], bounds[2]),
        ));
    }
    Ok(match item {
        Value::String(s) => match s.get(bounds[0]..bounds[1]) {
            Some(sub) => string(sub.to_string()),
            None => {
                string(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned())
            }
        },
        Value::List(l) => Value::List(l[bounds[0]..bounds[1]].to_vec().into()),
        _ => Value::Nil,
    })
}

#[derive(PartialEq)]
enum Kind {
    Bool,
    Int,
    Uint,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Uint(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// Go's `eq arg1 arg2...`: true if arg1 equals any of the others.
fn eq(a: &Value, rest: &[Value]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    for b in rest {
        let truth = match (a, b) {
            (Value::Int(x), Value::Uint(y)) | (Value::Uint(y), Value::Int(x)) => {
                *x >= 0 && *x as u64 == *y
            }
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Uint(x), Value::Uint(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::String(x), Value::String(y)) => x == y,
            (Value::Nil, Value::Nil) => true,
            (Value::Nil, _) | (_, Value::Nil) => false,
            _ if kind(a) != Kind::Other && kind(b) != Kind::Other => {
                return Err("incompatible types for comparison".into())
            }
            _ if kind(a) == Kind::Other && kind(b) == Kind::Other => {
                return Err(format!(
                    "non-comparable types {}: {}, {}: {}",
                    display(a),
                    type_name(a),
                    type_name(b),
                    display(b)
                ))
            }
            _ => return Err("incompatible types for comparison".into()),
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Uint(x), Value::Uint(y)) => Ok(x < y),
        (Value::Int(x), Value::Uint(y)) => Ok(*x < 0 || (*x as u64) < *y),
        (Value::Uint(x), Value::Int(y)) => Ok(*y >= 0 && *x < *y as u64),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::String(x), Value::String(y)) => Ok(x < y),
        _ if matches!(kind(a), Kind::Bool | Kind::Other)
            || matches!(kind(b), Kind::Bool | Kind::Other) =>
        {
            Err("invalid type for comparison".into())
        }
        _ => Err("incompatible types for comparison".into()),
    }
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(lt(a, b)? || eq(a, std::slice::from_ref(b))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, args: &[Value]) -> Value {
        match call(name, args) {
            Some(Ok(v)) => v,
            _ => panic!("{name} failed"),
        }
    }

    fn err(name: &str, args: &[Value]) -> String {
        match call(name, args) {
            Some(Err(BuiltinError::Call(m) | BuiltinError::Arity(m))) => m,
            _ => panic!("{name} did not fail"),
        }
    }

    #[test]
    fn comparisons_follow_go() {
        let s = |x: &str| Value::String(x.into());
        assert!(matches!(
            ok("eq", &[s("a"), s("b"), s("a")]),
            Value::Bool(true)
        ));
        assert!(matches!(
            ok("eq", &[Value::Int(1), Value::Uint(1)]),
            Value::Bool(true)
        ));
        assert_eq!(
            err("eq", &[Value::Int(1), s("1")]),
            "error calling eq: incompatible types for comparison"
        );
        assert_eq!(
            err("lt", &[Value::Bool(true), Value::Bool(false)]),
            "error calling lt: invalid type for comparison"
        );
        assert!(matches!(
            ok("ge", &[Value::Int(2), Value::Int(2)]),
            Value::Bool(true)
        ));
        assert_eq!(
            err("not", &[]),
            "wrong number of args for not: want 1 got 0"
        );
        assert_eq!(
            err("index", &[Value::List(vec![s("a")].into()), Value::Int(3)]),
            "error calling index: index out of range: 3"
        );
        assert!(
            matches!(ok("slice", &[s("hello"), Value::Int(1), Value::Int(3)]), Value::String(x) if &*x == "el")
        );
        assert_eq!(
            err("len", &[Value::Int(3)]),
            "error calling len: len of type int"
        );
    }
}
