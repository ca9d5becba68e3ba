//! Go's `fmt` for template values: `print`/`println` (`fmt.Sprint`'s spacing rule),
//! `printf` with Go's verbs, flags, width and precision, and Go's complaint forms
//! (`%!d(string=x)`, `%!v(MISSING)`, `%!(EXTRA ...)`), so output matches consul-template's
//! byte for byte.

use gotmpl::Value;

/// Go's type name of a value, as `%T` and error messages print it.
pub fn type_name(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".into(),
        Value::Bool(_) => "bool".into(),
        Value::Int(_) => "int".into(),
        Value::Uint(_) => "uint".into(),
        Value::Float(_) => "float64".into(),
        Value::String(_) => "string".into(),
        Value::List(items) if !items.is_empty() && items.iter().all(|i| i.as_str().is_some()) => {
            "[]string".into()
        }
        Value::List(_) => "[]interface {}".into(),
        Value::Map(m) => match crate::template::value::struct_type(m) {
            Some(t) => t.into(),
            None => "map[string]interface {}".into(),
        },
        _ => "func".into(),
    }
}

/// `fmt.Sprint`: operands joined with a space when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::String(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&display(a));
    }
    out
}

/// `fmt.Sprintln`: operands always joined with a space, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(display).collect();
    let mut out = parts.join(" ");
    out.push('\n');
    out
}

/// A value as `%v` prints it.
pub fn display(v: &Value) -> String {
    let mut out = String::new();
    format_one(&mut out, 'v', Spec::default(), v);
    out
}

/// One `%` directive's flags, width and precision.
#[derive(Default, Clone, Copy)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf` over template values.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    // Go checks for unused arguments only when no `%[n]` reordered them.
    let mut reordered = false;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '+' => spec.plus = true,
                '-' => spec.minus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = number_or_star(&mut chars, args, &mut next);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number_or_star(&mut chars, args, &mut next).unwrap_or(0));
        }
        let mut bad_index = false;
        if chars.peek() == Some(&'[') {
            let rest: String = chars.clone().take_while(|c| *c != ']').collect();
            reordered = true;
            match rest[1..].parse::<usize>() {
                Ok(n) if n >= 1 && n <= args.len() => next = n - 1,
                _ => bad_index = true,
            }
            for _ in 0..=rest.chars().count() {
                chars.next();
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            continue;
        }
        match args.get(next) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(a) => {
                next += 1;
                format_one(&mut out, verb, spec, a);
            }
        }
    }
    if !reordered && next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", type_name(a), display(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn number_or_star(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    args: &[Value],
    next: &mut usize,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        let n = args.get(*next).and_then(Value::as_int);
        *next += 1;
        return n.map(|n| n.clamp(0, 1_000_000) as usize);
    }
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(1_000_000));
        chars.next();
    }
    n
}

fn format_one(out: &mut String, verb: char, spec: Spec, a: &Value) {
    if verb == 'T' {
        pad(out, &type_name(a), spec, false);
        return;
    }
    match (a, verb) {
        (Value::List(items), _) if verb != 'T' => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_one(out, verb, spec, it);
            }
            out.push(']');
        }
        (Value::Map(m), 'v') => {
            out.push_str("map[");
            for (i, (k, it)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                format_one(out, verb, spec, it);
            }
            out.push(']');
        }
        (Value::Nil, 'v') => pad(out, "<nil>", spec, false),
        (Value::Function(_), 'v') => pad(out, "<func>", spec, false),
        (Value::Bool(b), 'v' | 't') => pad(out, if *b { "true" } else { "false" }, spec, false),
        (Value::String(s), 'v' | 's') => {
            let s: String = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            pad(out, &s, spec, false);
        }
        (Value::String(s), 'q') => pad(out, &quote(s), spec, false),
        (Value::String(s), 'x' | 'X') => {
            pad(out, &hex_bytes(s.as_bytes(), verb, spec), spec, false)
        }
        (Value::Int(i), _) if is_int_verb(verb) => int(out, i.unsigned_abs(), *i < 0, verb, spec),
        (Value::Uint(u), _) if is_int_verb(verb) => int(out, *u, false, verb, spec),
        (Value::Float(f), _) if "vgGeEfF".contains(verb) => float(out, *f, verb, spec),
        _ => {
            out.push_str(&format!("%!{verb}("));
            match a {
                Value::Nil => out.push_str("<nil>"),
                _ => out.push_str(&format!("{}={}", type_name(a), display(a))),
            }
            out.push(')');
        }
    }
}

fn is_int_verb(v: char) -> bool {
    "vdbocqxXU".contains(v)
}

/// Pads `s` to the width: spaces (left, or right with `-`), or zeros after any sign.
fn pad(out: &mut String, s: &str, spec: Spec, numeric: bool) {
    let len = s.chars().count();
    let Some(w) = spec.width.filter(|w| *w > len) else {
        out.push_str(s);
        return;
    };
    let fill = w - len;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && (!numeric || spec.prec.is_none()) {
        let sign_len = if numeric && s.starts_with(['+', '-', ' ']) {
            1
        } else {
            0
        };
        out.push_str(&s[..sign_len]);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(&s[sign_len..]);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

fn int(out: &mut String, mag: u64, neg: bool, verb: char, spec: Spec) {
    let body = match verb {
        'c' => {
            let c = char::from_u32(mag as u32).unwrap_or('\u{FFFD}');
            return pad(out, &c.to_string(), spec, false);
        }
        'q' => {
            let c = char::from_u32(mag as u32).unwrap_or('\u{FFFD}');
            return pad(out, &quote_rune(c), spec, false);
        }
        'U' => {
            let s = format!("U+{mag:04X}");
            return pad(out, &s, spec, false);
        }
        'b' => format!("{mag:b}"),
        'o' => format!("{mag:o}"),
        'x' => format!("{mag:x}"),
        'X' => format!("{mag:X}"),
        _ => mag.to_string(),
    };
    let mut digits = body;
    if let Some(p) = spec.prec {
        if p == 0 && mag == 0 {
            digits.clear();
        }
        if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    let prefix = match (spec.sharp, verb) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, 'o') if !digits.starts_with('0') => "0",
        (true, 'b') => "0b",
        _ => "",
    };
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let s = format!("{sign}{prefix}{digits}");
    pad(out, &s, spec, true);
}

fn float(out: &mut String, f: f64, verb: char, spec: Spec) {
    let mut s = if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        match verb {
            'e' | 'E' => exp_form(&format!("{:.*e}", spec.prec.unwrap_or(6), f)),
            'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), f),
            _ => format_g(f, spec.prec, spec.sharp),
        }
    };
    if verb == 'E' || verb == 'G' {
        s = s.to_uppercase();
    }
    if f.is_infinite() && !spec.plus && f > 0.0 {
        s.remove(0);
    }
    if !s.starts_with(['-', '+']) {
        if spec.plus {
            s.insert(0, '+');
        } else if spec.space {
            s.insert(0, ' ');
        }
    }
    let numeric = f.is_finite();
    let spec = Spec {
        prec: None,
        zero: spec.zero && numeric,
        ..spec
    };
    pad(out, &s, spec, true);
}

/// Rust's `1.5e3` exponent as Go's `1.5e+03`.
fn exp_form(rust: &str) -> String {
    let Some((mant, exp)) = rust.split_once('e') else {
        return rust.to_string();
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mant}e{sign}{digits:0>2}")
}

/// strconv's `'g'` format: shortest digits (`prec` None) or `prec` significant digits, `%e`
/// form when the exponent is below -4 or at least the precision (6 when shortest).
pub fn format_g(f: f64, prec: Option<usize>, sharp: bool) -> String {
    if !f.is_finite() {
        return display(&Value::Float(f));
    }
    let neg = f.is_sign_negative() && f != 0.0;
    let sci = match prec {
        None => format!("{:e}", f.abs()),
        Some(p) => format!("{:.*e}", p.max(1) - 1, f.abs()),
    };
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| *c != '.').collect();
    if !sharp {
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    let nd = digits.len() as i64;
    let dp = exp + 1;
    let shortest = prec.is_none();
    let mut p = match prec {
        None => nd,
        Some(p) => p.max(1) as i64,
    };
    let mut eprec = p;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let body = if exp < -4 || exp >= eprec {
        if p > nd {
            p = nd;
        }
        let mut s = digits[..1].to_string();
        if p > 1 {
            s.push('.');
            s.push_str(&digits[1..p as usize]);
        }
        exp_form(&format!("{s}e{exp}"))
    } else {
        if p > dp {
            p = nd;
        }
        let decimals = (p - dp).max(0);
        let digit = |i: i64| -> char {
            if i >= 0 && i < nd {
                digits.as_bytes()[i as usize] as char
            } else {
                '0'
            }
        };
        let mut s = String::new();
        if dp <= 0 {
            s.push('0');
        } else {
            (0..dp).for_each(|i| s.push(digit(i)));
        }
        if decimals > 0 {
            s.push('.');
            (0..decimals).for_each(|i| s.push(digit(dp + i)));
        }
        s
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

fn hex_bytes(b: &[u8], verb: char, spec: Spec) -> String {
    let parts: Vec<String> = b
        .iter()
        .map(|x| {
            let h = if verb == 'x' {
                format!("{x:02x}")
            } else {
                format!("{x:02X}")
            };
            if spec.sharp && spec.space {
                format!("0{verb}{h}")
            } else {
                h
            }
        })
        .collect();
    let joined = parts.join(if spec.space { " " } else { "" });
    if spec.sharp && !spec.space && !b.is_empty() {
        format!("0{verb}{joined}")
    } else {
        joined
    }
}

/// strconv.QuoteRune: single quotes, Go's escapes.
fn quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        c => {
            let q = quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

/// strconv.Quote: Go's escapes, printable characters kept.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn printf_matches_go() {
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            (
                "%d|%5d|%-5d|%05d",
                vec![Value::Int(7); 4],
                "7|    7|7    |00007",
            ),
            (
                "%+d %x %X %o %b %#x",
                vec![Value::Int(255); 6],
                "+255 ff FF 377 11111111 0xff",
            ),
            (
                "%s|%10s|%-4s|%.2s|%q",
                vec![s("abc"); 5],
                "abc|       abc|abc |ab|\"abc\"",
            ),
            (
                "%v %v %v",
                vec![Value::Float(1.5), Value::Float(1e6), Value::Float(123456.0)],
                "1.5 1e+06 123456",
            ),
            (
                "%f %.2f %e %g %.3g",
                vec![Value::Float(4.56789); 5],
                "4.567890 4.57 4.567890e+00 4.56789 4.57",
            ),
            (
                "%g %g",
                vec![Value::Float(100.0), Value::Float(0.00001)],
                "100 1e-05",
            ),
            ("%t %v", vec![Value::Bool(true), Value::Nil], "true <nil>"),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%s %s", vec![s("a")], "a %!s(MISSING)"),
            ("%s", vec![s("a"), Value::Int(1)], "a%!(EXTRA int=1)"),
            (
                "%v",
                vec![Value::List(vec![s("a"), Value::Int(2)].into())],
                "[a 2]",
            ),
            ("%x", vec![s("hi")], "6869"),
            ("%c %U %q", vec![Value::Int(65); 3], "A U+0041 'A'"),
            (
                "%T %T %T",
                vec![s("a"), Value::Int(1), Value::Float(1.0)],
                "string int float64",
            ),
            ("100%%", vec![], "100%"),
            ("%[2]s %[1]s", vec![s("a"), s("b")], "b a"),
            ("%[3]d", vec![Value::Int(1)], "%!d(BADINDEX)"),
            ("%.5d", vec![Value::Int(42)], "00042"),
            (
                "%6.2f|%-8.3e|",
                vec![Value::Float(-2.5), Value::Float(1234.5)],
                " -2.50|1.234e+03|",
            ),
        ];
        for (f, args, want) in cases {
            assert_eq!(sprintf(f, &args), want, "{f}");
        }
    }

    #[test]
    fn sprint_spacing_and_floats() {
        assert_eq!(
            sprint(&[s("a"), Value::Int(1), Value::Int(2), s("b")]),
            "a1 2b"
        );
        assert_eq!(sprintln(&[s("a"), Value::Int(1)]), "a 1\n");
        assert_eq!(format_g(1234567.0, None, false), "1.234567e+06");
        assert_eq!(format_g(0.0001, None, false), "0.0001");
        assert_eq!(format_g(-0.5, None, false), "-0.5");
        assert_eq!(format_g(0.0, None, false), "0");
        assert_eq!(quote("a\"b\n\x01"), "\"a\\\"b\\n\\x01\"");
    }
}
