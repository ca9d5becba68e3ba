//! The evaluator against Go's behaviour: output, and error texts with line, column and node.

use std::sync::Arc;

use gotmpl::{FuncMap, Value};

use super::Program;

fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    // A value with methods, as consul-template's `scratch` returns.
    m.insert(
        "obj".into(),
        Arc::new(|_: &[Value]| {
            let mut fields = std::collections::BTreeMap::new();
            fields.insert(
                Arc::from("Join"),
                Value::Function(Arc::new(|a: &[Value]| {
                    let parts: Vec<String> = a.iter().map(super::fmt::display).collect();
                    Ok(Value::String(parts.join("+").into()))
                })),
            );
            fields.insert(Arc::from("Name"), Value::String("o".into()));
            Ok(Value::Map(Arc::new(fields)))
        }),
    );
    m.insert(
        "fail".into(),
        Arc::new(|_: &[Value]| {
            Err(gotmpl::TemplateError::Exec(
                "error calling fail: boom".into(),
            ))
        }),
    );
    m
}

fn run(src: &str, data: Value, missing_error: bool) -> Result<String, String> {
    Program::parse("t", src, ("{{", "}}"), funcs(), missing_error)?.execute(&data)
}

fn data() -> Value {
    let v: serde_json::Value = serde_json::json!({
        "A": 1, "S": "str", "L": ["x", "y", "z"], "M": {"b": 2, "a": 1}, "E": [], "F": 2.5,
        "N": null, "T": true
    });
    crate::template::funcs::conv::from_json(&v)
}

fn ok(src: &str, want: &str) {
    assert_eq!(
        run(src, data(), false).unwrap_or_else(|e| panic!("{src}: {e}")),
        want,
        "{src}"
    );
}

fn err(src: &str, want: &str) {
    match run(src, data(), false) {
        Err(e) => assert_eq!(e, want, "{src}"),
        Ok(out) => panic!("{src} rendered {out:?}"),
    }
}

#[test]
fn walks_like_go() {
    ok(
        "{{.A}} {{.S}} {{.Missing}} {{.Missing.Deeper}}",
        "1 str <no value> <no value>",
    );
    ok(
        "{{range $i, $e := .L}}{{$i}}={{$e}},{{end}}",
        "0=x,1=y,2=z,",
    );
    ok(
        "{{range .M}}{{.}}{{end}}|{{range $k, $v := .M}}{{$k}}{{$v}}{{end}}",
        "12|a1b2",
    );
    ok(
        "{{range .E}}x{{else}}empty{{end}}{{range .Nope}}x{{else}}nil{{end}}",
        "emptynil",
    );
    ok("{{range 3}}{{.}}{{end}}", "012");
    ok(
        "{{range .L}}{{if eq . \"y\"}}{{break}}{{end}}{{.}}{{end}}",
        "x",
    );
    ok(
        "{{range .L}}{{if eq . \"y\"}}{{continue}}{{end}}{{.}}{{end}}",
        "xz",
    );
    ok(
        "{{$x := 1}}{{if .T}}{{$x = 2}}{{$y := 3}}{{end}}{{$x}}",
        "2",
    );
    ok(
        "{{with .S}}{{.}}{{end}}{{with .E}}no{{else with .A}}{{.}}{{end}}",
        "str1",
    );
    ok("{{if .E}}a{{else if .A}}b{{else}}c{{end}}", "b");
    ok(
        "{{define \"d\"}}[{{.}}]{{end}}{{template \"d\" .S}}{{block \"b\" 5}}<{{.}}>{{end}}",
        "[str]<5>",
    );
    ok("{{.A | printf \"%s-%d\" \"a\" | len}}", "3");
    ok(
        "{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{and 1 2}} {{or 0 .N}}",
        "0 x 2 <no value>",
    );
    ok(
        "{{obj.Join \"a\" 2}} {{obj.Name}} {{(obj).Join}} {{\"p\" | obj.Join \"q\"}}",
        "a+2 o  q+p",
    );
    ok(
        "{{index .M \"a\"}} {{index .L 1}} {{slice .L 1}} {{len .M}}",
        "1 y [y z] 2",
    );
    ok(
        "{{.F}} {{print 1 2 \"s\" 3}} {{println \"a\" 1}}",
        "2.5 1 2s3 a 1\n",
    );
    ok(
        "{{html \"<a&b>\"}} {{urlquery \"a b&c\"}} {{js \"'x'\"}}",
        "&lt;a&amp;b&gt; a+b%26c \\'x\\'",
    );
    ok("{{- /* c */ -}} a {{- \" b \" -}} c", "a b c");
    ok("{{`raw\\n`}}", "raw\\n");
}

#[test]
fn errors_name_line_column_and_node() {
    err(
        "x\n  {{fail 1}}",
        "template: t:2:4: executing \"t\" at <fail 1>: error calling fail: boom",
    );
    err(
        "{{.S.X}}",
        "template: t:1:2: executing \"t\" at <.S.X>: can't evaluate field X in type string",
    );
    err("{{index .L 7}}", "template: t:1:2: executing \"t\" at <index .L 7>: error calling index: index out of range: 7");
    err(
        "{{.S 1}}",
        "template: t:1:2: executing \"t\" at <.S>: S is not a method but has arguments",
    );
    err(
        "{{1 | .A}}",
        "template: t:1:6: executing \"t\" at <.A>: A is not a method but has arguments",
    );
    err(
        "{{\"a\" 2}}",
        "template: t:1:2: executing \"t\" at <\"a\">: can't give argument to non-function \"a\"",
    );
    err(
        "{{range .S}}{{end}}",
        "template: t:1:8: executing \"t\" at <.S>: range can't iterate over str",
    );
    err("{{template \"nope\"}}", "template: t:1:2: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined");
    err(
        "{{define \"d\"}}{{fail}}{{end}}{{template \"d\"}}",
        "template: t:1:16: executing \"d\" at <fail>: error calling fail: boom",
    );
    err("{{lt 1 \"a\"}}", "template: t:1:2: executing \"t\" at <lt 1 \"a\">: error calling lt: incompatible types for comparison");
    err(
        "{{not}}",
        "template: t:1:2: executing \"t\" at <not>: wrong number of args for not: want 1 got 0",
    );
    err("{{define \"r\"}}{{template \"r\"}}{{end}}{{template \"r\"}}", "template: t:1:16: executing \"r\" at <{{template \"r\"}}>: exceeded maximum template depth (300)");
    assert_eq!(
        run("{{.Missing}}", data(), true).unwrap_err(),
        "template: t:1:2: executing \"t\" at <.Missing>: map has no entry for key \"Missing\""
    );
}

#[test]
fn parse_errors_use_go_words() {
    let e = Program::parse("t", "{{ len .L) }}", ("{{", "}}"), funcs(), false)
        .err()
        .unwrap();
    assert!(
        e.contains("t:1:") && e.contains("unexpected right paren"),
        "{e}"
    );
    let e = Program::parse(
        "t",
        "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
        ("{{", "}}"),
        funcs(),
        false,
    )
    .err()
    .unwrap();
    assert_eq!(e, "template: multiple definition of template \"a\"");
}

#[test]
fn never_panics_on_odd_input() {
    for src in [
        "{{range -1}}x{{end}}",
        "{{slice \"héllo\" 1 2}}",
        "{{printf \"%[9]d %*d\" 1}}",
        "{{index .N 1}}",
        "{{.N.X}}",
        "{{call .S}}",
        "{{len .N}}",
    ] {
        let _ = run(src, data(), false);
        let _ = run(src, data(), true);
    }
}
