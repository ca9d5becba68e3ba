//! Table tests: every construct and function through one `check(template, brain, expected)`.

use std::sync::Arc;

use super::brain::{Brain, CheckEntry, Data, KvPair, NodeEntry, ServiceEntry};
use super::dep::Dep;
use super::{Options, Template, TemplateError};

fn render(src: &str, brain: &Brain) -> Result<super::Rendered, TemplateError> {
    Template::parse("t", src, &Options::default())?.render(Arc::new(brain.clone()))
}

/// Renders `src` against `brain` and compares the text; every dependency must have data.
fn check(src: &str, brain: &Brain, want: &str) {
    let r = render(src, brain).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    assert!(r.missing.is_empty(), "{src:?}: missing {:?}", r.missing);
    assert_eq!(r.text, want, "{src:?}");
}

fn check_err(src: &str, brain: &Brain, want: &str) {
    match render(src, brain) {
        Err(e) => assert!(e.to_string().contains(want), "{src:?}: {e}"),
        Ok(r) => panic!("{src:?} rendered {:?}", r.text),
    }
}

fn passing(node: &str, id: &str) -> CheckEntry {
    CheckEntry {
        node: node.into(),
        check_id: format!("service:{id}"),
        status: "passing".into(),
        service_id: id.into(),
        ..CheckEntry::default()
    }
}

fn entry(node: &str, id: &str, addr: &str, port: u16, tags: &[&str]) -> ServiceEntry {
    ServiceEntry {
        node: node.into(),
        node_address: "10.0.0.1".into(),
        address: addr.into(),
        id: id.into(),
        name: "web".into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        checks: vec![passing(node, id)],
        port,
        weights: (1, 1),
        ..ServiceEntry::default()
    }
}

fn kv(path: &str, value: &str) -> KvPair {
    KvPair {
        path: path.into(),
        value: value.into(),
        ..KvPair::default()
    }
}

/// A brain with `web` (3 instances, one warning), `services`, KV under `app/` and a node.
fn brain() -> Brain {
    let mut b = Brain::new();
    let mut warn = entry("n3", "web-3", "10.0.0.3", 8003, &["v2"]);
    warn.checks[0].status = "warning".into();
    let all = vec![
        entry("n2", "web-2", "10.0.0.2", 8002, &["v1", "blue"]),
        entry("n1", "web-1", "10.0.0.1", 8001, &["v1"]),
        warn,
    ];
    for q in ["web", "web|any", "web|passing,warning"] {
        b.remember(
            Dep::service(&[q.into()]).unwrap(),
            Data::Services(all.clone()),
        );
    }
    b.remember(
        Dep::service(&["v1.web".into()]).unwrap(),
        Data::Services(all[..2].to_vec()),
    );
    b.remember(
        Dep::services(&[]).unwrap(),
        Data::CatalogServices(
            [
                ("web".to_string(), vec!["v1".into(), "blue".into()]),
                ("consul".to_string(), vec![]),
            ]
            .into(),
        ),
    );
    b.remember(
        Dep::key("app/name").unwrap(),
        Data::Key(Some(kv("app/name", "berth"))),
    );
    b.remember(
        Dep::key("app/empty").unwrap(),
        Data::Key(Some(kv("app/empty", ""))),
    );
    b.remember(Dep::key("app/none").unwrap(), Data::Key(None));
    let list = vec![
        kv("app/", ""),
        kv("app/name", "berth"),
        kv("app/db/host", "db1"),
        kv("app/db/port", "5432"),
    ];
    b.remember(Dep::list("app", false).unwrap(), Data::List(list.clone()));
    b.remember(Dep::list("app", true).unwrap(), Data::List(list));
    b.remember(Dep::list("empty", false).unwrap(), Data::List(vec![]));
    b.remember(
        Dep::nodes(&[]).unwrap(),
        Data::Nodes(vec![NodeEntry {
            node: "n1".into(),
            address: "10.0.0.1".into(),
            datacenter: "dc1".into(),
            ..NodeEntry::default()
        }]),
    );
    b
}

#[test]
fn go_template_constructs() {
    let b = Brain::new();
    check("a {{- \" b \" -}} c", &b, "a b c");
    check("{{/* comment */}}x{{- /* c */ -}} y", &b, "xy");
    check("{{if 0}}a{{else if \"\"}}b{{else}}c{{end}}", &b, "c");
    check(
        "{{range $i, $e := split \",\" \"a,b\"}}{{$i}}={{$e}};{{end}}",
        &b,
        "0=a;1=b;",
    );
    check(
        "{{range split \",\" \"\"}}x{{else}}empty{{end}}",
        &b,
        "empty",
    );
    check("{{with $x := \"v\"}}{{$x}}{{end}}", &b, "v");
    check("{{$x := 1}}{{$x = 2}}{{$x}}", &b, "2");
    check(
        "{{define \"n\"}}[{{.}}]{{end}}{{template \"n\" \"a\"}}",
        &b,
        "[a]",
    );
    check("{{block \"b\" 1}}<{{.}}>{{end}}", &b, "<1>");
    check(
        "{{or \"\" \"default\"}} {{and 1 0}} {{not true}}",
        &b,
        "default 0 false",
    );
    check(
        "{{eq 2 1 2}} {{ne 1 2}} {{lt 1 2}} {{ge 2 3}}",
        &b,
        "true true true false",
    );
    check(
        "{{len \"abc\"}} {{index (split \",\" \"a,b\") 1}}",
        &b,
        "3 b",
    );
    check("{{printf \"%s-%d-%q\" \"a\" 5 \"q\"}}", &b, "a-5-\"q\"");
    check("{{print 1 2}}{{println}}", &b, "1 2\n");
    check("{{`raw \\n`}}", &b, "raw \\n");
    check("{{\"x\" | printf \"%s%s\" \"y\"}}", &b, "yx");
    check(
        "{{html \"<a>\"}} {{urlquery \"a b\"}} {{js \"'\"}}",
        &b,
        "&lt;a&gt; a+b \\'",
    );
    check(
        "{{range $k, $v := parseJSON `{\"b\":1,\"a\":2}`}}{{$k}}{{$v}}{{end}}",
        &b,
        "a2b1",
    );
    let custom = Options {
        left_delim: "<<".into(),
        right_delim: ">>".into(),
        ..Options::default()
    };
    let t = Template::parse("t", "<< \"x\" >>{{y}}", &custom).unwrap();
    assert_eq!(t.render(Arc::new(Brain::new())).unwrap().text, "x{{y}}");
}

#[test]
fn service_functions_filter_and_sort() {
    let b = brain();
    check(
        "{{range service \"web\"}}{{.Node}} {{.Address}}:{{.Port}} {{.Status}};{{end}}",
        &b,
        "n1 10.0.0.1:8001 passing;n2 10.0.0.2:8002 passing;",
    );
    check(
        "{{range service \"web\" \"any\"}}{{.ID}} {{end}}",
        &b,
        "web-1 web-2 web-3 ",
    );
    check(
        "{{range service \"web|passing,warning\"}}{{.ID}} {{end}}",
        &b,
        "web-1 web-2 web-3 ",
    );
    check(
        "{{range service \"v1.web\"}}{{.ID}} {{end}}",
        &b,
        "web-1 web-2 ",
    );
    check(
        "{{range $t, $s := service \"web\" | byTag}}{{$t}}:{{len $s}} {{end}}",
        &b,
        "blue:1 v1:2 ",
    );
    check(
        "{{range services}}{{.Name}}{{.Tags}} {{end}}",
        &b,
        "consul[] web[blue v1] ",
    );
    check("{{if service \"web\"}}yes{{end}}", &b, "yes");
    check(
        "{{range nodes}}{{.Node}}@{{.Datacenter}}{{end}}",
        &b,
        "n1@dc1",
    );
    check(
        "{{with index (service \"web\") 0}}{{.Tags | contains \"v1\"}} {{in .Tags \"v2\"}}{{end}}",
        &b,
        "true false",
    );
    check_err(
        "{{service \"bad name\"}}",
        &b,
        "health.service: invalid format",
    );
    check_err(
        "{{connect \"web\"}}",
        &b,
        "Connect (service mesh) is not supported",
    );
    check_err("{{secret \"kv/x\"}}", &b, "Vault is not supported");
}

#[test]
fn kv_functions() {
    let b = brain();
    check("{{key \"app/name\"}}|{{key \"/app/empty\"}}", &b, "berth|");
    check(
        "{{keyExists \"app/name\"}} {{keyExists \"app/none\"}}",
        &b,
        "true false",
    );
    check(
        "{{keyOrDefault \"app/empty\" \"d\"}} {{keyOrDefault \"app/none\" \"d\"}}",
        &b,
        "d d",
    );
    check(
        "{{range ls \"app\"}}{{.Key}}={{.Value}};{{end}}",
        &b,
        "name=berth;",
    );
    check(
        "{{range tree \"app\"}}{{.Key}};{{end}}",
        &b,
        "name;db/host;db/port;",
    );
    check("{{(explode (tree \"app\")).db.port}}", &b, "5432");
    check(
        "{{range $k, $v := tree \"app\" | byKey}}{{$k}}:{{len $v}}{{end}}",
        &b,
        "db:2",
    );
    // key waits for the key to exist; safeLs for entries.
    let r = render("{{key \"app/none\"}}", &b).unwrap();
    assert_eq!(r.missing, vec![Dep::key("app/none").unwrap()]);
    let r = render("{{safeLs \"empty\"}}{{ls \"empty\"}}", &b).unwrap();
    assert_eq!(r.missing, vec![Dep::list("empty", false).unwrap()]);
}

#[test]
fn missing_data_is_reported_and_later_passes_find_nested_deps() {
    let mut b = Brain::new();
    let src = "{{if keyExists \"f\"}}{{key \"v\"}}{{end}}";
    let r = render(src, &b).unwrap();
    assert_eq!(r.used, vec![Dep::key("f").unwrap()]);
    assert_eq!(r.missing, r.used);
    b.remember(Dep::key("f").unwrap(), Data::Key(Some(kv("f", "1"))));
    let r = render(src, &b).unwrap();
    assert_eq!(r.used, vec![Dep::key("f").unwrap(), Dep::key("v").unwrap()]);
    assert_eq!(r.missing, vec![Dep::key("v").unwrap()]);
    b.remember(Dep::key("v").unwrap(), Data::Key(Some(kv("v", "ok"))));
    check(src, &b, "ok");
}

#[test]
fn helpers() {
    let b = Brain::new();
    check(
        "{{toUpper \"ab\"}}{{toLower \"CD\"}}{{toTitle \"hello wor-ld\"}}",
        &b,
        "ABcdHello Wor-Ld",
    );
    check("{{\"a,b\" | split \",\" | join \"-\"}}", &b, "a-b");
    check(
        "{{\" x \" | trimSpace}}{{trimPrefix \"a\" \"abc\"}}{{trimSuffix \"c\" \"abc\"}}",
        &b,
        "xbcab",
    );
    check(
        "{{replaceAll \"a\" \"b\" \"aXa\"}} {{regexReplaceAll \"(a)(\\\\d)\" \"$2$1\" \"a1\"}}",
        &b,
        "bXb 1a",
    );
    check("{{regexMatch \"^w.b$\" \"web\"}}", &b, "true");
    check("{{indent 2 \"a\\n\\nb\"}}", &b, "  a\n\n  b");
    check(
        "{{base64Encode \"hi\"}} {{base64Decode \"aGk=\"}} {{base64URLEncode \"??>\"}}",
        &b,
        "aGk= hi Pz8-",
    );
    check(
        "{{sha256Hex \"abc\"}}",
        &b,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    check("{{md5sum \"abc\"}}", &b, "900150983cd24fb0d6963f7d28e17f72");
    check(
        "{{hmacSHA256Hex \"The quick brown fox jumps over the lazy dog\" \"key\"}}",
        &b,
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
    );
    check(
        "{{parseBool \"true\"}} {{parseInt \"-3\"}} {{parseFloat \"1.5\"}} {{parseUint \"\"}}",
        &b,
        "true -3 1.5 0",
    );
    check(
        "{{10 | divide 2}} {{subtract 2 5}} {{add 1 2}} {{multiply 2 1.5}} {{7 | modulo 4}}",
        &b,
        "5 3 3 3 3",
    );
    check("{{minimum 2 5}} {{maximum 2 5}}", &b, "2 5");
    check("{{containsAll (parseJSON `[\"a\",\"b\"]`) (split \",\" \"a,b,c\")}} {{containsAny (parseJSON `[\"x\"]`) (split \",\" \"a\")}}", &b, "true false");
    check("{{containsNone (parseJSON `[\"x\"]`) (split \",\" \"a\")}} {{containsNotAll (parseJSON `[\"a\",\"x\"]`) (split \",\" \"a\")}}", &b, "true true");
    check(
        "{{toJSON (parseJSON `{\"b\":[1,\"<x>\"],\"a\":{}}`)}}",
        &b,
        "{\"a\":{},\"b\":[1,\"\\u003cx\\u003e\"]}",
    );
    check(
        "{{toJSONPretty (parseJSON `{\"a\":[1]}`)}}",
        &b,
        "{\n  \"a\": [\n    1\n  ]\n}",
    );
    check(
        "{{toYAML (parseJSON `{\"a\":1}`)}}|{{toTOML (parseJSON `{\"a\":1}`)}}",
        &b,
        "a: 1|a = 1",
    );
    check(
        "{{range loop 3}}{{.}}{{end}} {{range loop 1 3}}{{.}}{{end}}",
        &b,
        "012 12",
    );
    check(
        "{{range $k, $v := explodeMap (parseJSON `{\"a/b\":1}`)}}{{$k}}{{$v.b}}{{end}}",
        &b,
        "a1",
    );
    check(
        "{{(parseYAML \"a:\\n  b: 1\").a.b}} {{toJSON (mergeMap (parseJSON `{\"a\":1,\"m\":{\"x\":1}}`) (parseJSON `{\"a\":2,\"b\":3,\"m\":{\"y\":2}}`))}}",
        &b,
        "1 {\"a\":1,\"b\":3,\"m\":{\"x\":1,\"y\":2}}",
    );
    check(
        "{{toJSON (mergeMapWithOverride (parseJSON `{\"a\":1}`) (parseJSON `{\"a\":2}`))}}",
        &b,
        "{\"a\":2}",
    );
    check_err("{{indent -1 \"x\"}}", &b, "positive integer");
    check_err("{{parseInt \"x\"}}", &b, "error calling parseInt");
}

#[test]
fn service_to_json_uses_go_field_order() {
    let b = brain();
    let r = render("{{service \"v1.web\" | toJSON}}", &b).unwrap();
    let first = r.text.find("\"Node\"").unwrap();
    let addr = r.text.find("\"Address\"").unwrap();
    let weights = r.text.find("\"Weights\"").unwrap();
    assert!(first < addr && addr < weights, "{}", r.text);
    assert!(
        r.text
            .starts_with("[{\"Node\":\"n1\",\"NodeID\":\"\",\"Kind\":\"\""),
        "{}",
        r.text
    );
}

#[test]
fn errors_name_the_template_line_and_column() {
    let b = Brain::new();
    let e = render("ok\n{{ env SENDGRID_USER }}", &b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: t:2:8: function \"SENDGRID_USER\" not defined"
    );
    let e = render("{{ service \"x\") }}", &b).unwrap_err();
    assert!(matches!(e, TemplateError::Parse(_)), "{e}");
    assert!(e.to_string().starts_with("template: t:1:"), "{e}");
    let denied = Options {
        function_denylist: vec!["env*".into()],
        ..Options::default()
    };
    let t = Template::parse("t", "{{env \"HOME\"}}", &denied).unwrap();
    let e = t.render(Arc::new(Brain::new())).unwrap_err();
    assert!(e.to_string().contains("function is disabled"), "{e}");
    let strict = Options {
        error_on_missing_key: true,
        ..Options::default()
    };
    let t = Template::parse("t", "{{(parseJSON `{}`).nope}}", &strict).unwrap();
    assert!(t.render(Arc::new(Brain::new())).is_err());
    check("{{(parseJSON `{}`).nope}}", &b, "<no value>");
    // Execution errors: Go's full form, with line, column and the offending node.
    check_err(
        "a\n  {{ secret \"kv/x\" }}",
        &b,
        "template: t:2:5: executing \"t\" at <secret \"kv/x\">: error calling secret:",
    );
    check_err(
        "{{ range service \"web\" }}{{ .Adress }}{{ end }}",
        &brain(),
        "template: t:1:28: executing \"t\" at <.Adress>: can't evaluate field Adress in type *dependency.HealthService",
    );
    let e = render("{{ executeTemplate \"nope\" }}", &b).unwrap_err();
    assert!(e.to_string().contains("no template \"nope\""), "{e}");
}

#[test]
fn functions_out_of_scope_say_so() {
    let b = Brain::new();
    check_err("{{ plugin \"x\" }}", &b, "plugin is not supported by Berth");
    check_err(
        "{{ \"v\" | writeToFile \"/tmp/x\" \"\" \"\" \"0644\" }}",
        &b,
        "writeToFile is not supported by Berth",
    );
    check_err(
        "x{{ sprig_upper \"a\" }}",
        &b,
        "template: t:1:5: function \"sprig_upper\": sprig functions are not supported by Berth",
    );
}

#[test]
fn scratch_is_a_per_render_store_with_methods() {
    let b = Brain::new();
    check(
        "{{ scratch.Set \"a\" \"1\" }}{{ scratch.SetX \"a\" \"2\" }}{{ scratch.Get \"a\" }}\
         {{ scratch.Key \"a\" }}{{ scratch.Key \"b\" }}",
        &b,
        "1truefalse",
    );
    check(
        "{{ scratch.MapSet \"m\" \"z\" 1 }}{{ scratch.MapSet \"m\" \"a\" 2 }}\
         {{ scratch.MapSetX \"m\" \"a\" 3 }}{{ range scratch.MapValues \"m\" }}{{ . }}{{ end }}",
        &b,
        "21",
    );
    check(
        "{{ if scratch.Key \"a\" }}kept{{ else }}fresh{{ end }}",
        &b,
        "fresh",
    );
    check_err(
        "{{ scratch.Set \"s\" 1 }}{{ scratch.MapSet \"s\" \"k\" 1 }}",
        &b,
        "error calling MapSet: \"s\" is not a map",
    );
    let t = Template::parse(
        "t",
        "{{ scratch.Get \"a\" }}{{ scratch.Set \"a\" \"x\" }}",
        &Options::default(),
    )
    .unwrap();
    let first = t.render(Arc::new(Brain::new())).unwrap().text;
    let second = t.render(Arc::new(Brain::new())).unwrap().text;
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("<no value>", "<no value>")
    );
}

#[test]
fn handlebars_sources_use_the_same_functions_and_tracking() {
    let b = brain();
    let t = Template::parse(
        "up.hbs",
        "{{#each (service \"web\")}}server {{Address}}:{{Port}};{{/each}} {{toUpper \"a&b\"}} {{key \"app/name\"}}",
        &Options::default(),
    )
    .unwrap();
    let r = t.render(Arc::new(b)).unwrap();
    assert_eq!(
        r.text,
        "server 10.0.0.1:8001;server 10.0.0.2:8002; A&B berth"
    );
    assert!(r.missing.is_empty());
    assert_eq!(r.used.len(), 2);
    let r = t.render(Arc::new(Brain::new())).unwrap();
    assert_eq!(r.missing.len(), 2, "nothing fetched yet: {:?}", r.missing);
    let e = Template::parse("bad.hbs", "{{#each x}}", &Options::default()).err();
    assert!(matches!(e, Some(TemplateError::Parse(m)) if m.starts_with("template: bad.hbs")));
}
