//! Arithmetic in consul-template's argument order, written for pipes: the piped value is the
//! left operand (`{{ 10 | divide 2 }}` = 5, `{{ subtract 2 5 }}` = 3). Integers stay
//! integers (division truncates); a float on either side makes a float.

use gotmpl::{FuncMap, Value};

use super::{add, arity, FnResult};

#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(v: &Value, name: &str) -> Result<Num, String> {
    match v {
        Value::Int(i) => Ok(Num::Int(*i)),
        Value::Uint(u) => i64::try_from(*u)
            .map(Num::Int)
            .map_err(|_| format!("{name}: {u} is too large")),
        Value::Float(f) => Ok(Num::Float(*f)),
        other => Err(format!("{name}: unknown type for {other:?}")),
    }
}

fn apply(
    a: &[Value],
    name: &'static str,
    int: impl Fn(i64, i64) -> Result<i64, String>,
    float: impl Fn(f64, f64) -> Result<f64, String>,
) -> FnResult {
    arity(a, 2)?;
    // (b, a): the operation is a OP b.
    let (b, x) = (num(&a[0], name)?, num(&a[1], name)?);
    Ok(match (x, b) {
        (Num::Int(x), Num::Int(b)) => Value::Int(int(x, b)?),
        (Num::Int(x), Num::Float(b)) => Value::Float(float(x as f64, b)?),
        (Num::Float(x), Num::Int(b)) => Value::Float(float(x, b as f64)?),
        (Num::Float(x), Num::Float(b)) => Value::Float(float(x, b)?),
    })
}

pub(super) fn register(map: &mut FuncMap) {
    add(map, "add", |a| {
        apply(
            a,
            "add",
            |x, b| x.checked_add(b).ok_or("overflow".into()),
            |x, b| Ok(x + b),
        )
    });
    add(map, "subtract", |a| {
        apply(
            a,
            "subtract",
            |x, b| x.checked_sub(b).ok_or("overflow".into()),
            |x, b| Ok(x - b),
        )
    });
    add(map, "multiply", |a| {
        apply(
            a,
            "multiply",
            |x, b| x.checked_mul(b).ok_or("overflow".into()),
            |x, b| Ok(x * b),
        )
    });
    add(map, "divide", |a| {
        apply(
            a,
            "divide",
            |x, b| x.checked_div(b).ok_or("divide by zero".into()),
            |x, b| Ok(x / b),
        )
    });
    add(map, "modulo", |a| {
        apply(
            a,
            "modulo",
            |x, b| x.checked_rem(b).ok_or("divide by zero".into()),
            |_, _| Err("modulo: only integers".into()),
        )
    });
    add(map, "minimum", |a| {
        apply(a, "minimum", |x, b| Ok(x.min(b)), |x, b| Ok(x.min(b)))
    });
    add(map, "maximum", |a| {
        apply(a, "maximum", |x, b| Ok(x.max(b)), |x, b| Ok(x.max(b)))
    });
}
