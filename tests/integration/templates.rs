//! The real-world consul-template corpus (tests/data/ctmpl, copied from shared/testdata with
//! its README): the ones marked ok parse and render once every dependency they reach has
//! data (nested ones, like a `key` behind `keyExists`, appear on later passes); the ones
//! marked as errors fail with the error the README names. Plus the shipped nginx template,
//! byte for byte as consul-template renders it for 4 instances.

use std::path::PathBuf;
use std::sync::Arc;

use berth::template::brain::{
    Brain, CheckEntry, Data, KvPair, NodeEntry, NodeService, ServiceEntry,
};
use berth::template::dep::Dep;
use berth::template::{Options, Template};

fn corpus(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ctmpl")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    // Line 1 is the source comment the README describes; the template starts after it.
    text.split_once('\n')
        .map(|(_, rest)| rest.to_string())
        .unwrap()
}

fn instance(service: &str, i: u16, tags: Vec<String>) -> ServiceEntry {
    let node = format!("node-{i}");
    ServiceEntry {
        node: node.clone(),
        node_address: format!("10.1.0.{i}"),
        node_datacenter: "dc1".into(),
        address: format!("10.1.0.{i}"),
        id: format!("{service}-{i}"),
        name: service.into(),
        tags,
        checks: vec![CheckEntry {
            node,
            check_id: format!("service:{service}-{i}"),
            status: "passing".into(),
            ..CheckEntry::default()
        }],
        port: 8000 + i,
        weights: (1, 1),
        ..ServiceEntry::default()
    }
}

const TAGS: &[&str] = &[
    "api",
    "backend",
    "http",
    "kong",
    "nginx-route",
    "urlprefix-/web",
    // 14 and 15 keep only instances with all of these.
    "zookeeper-special-tag",
    "zookeeper",
    "service-discovery",
    "m77773-blue",
];

/// Plausible data for any dependency, so every branch of a template has something to read.
fn fixture(dep: &Dep) -> Data {
    let tags: Vec<String> = TAGS.iter().map(|t| t.to_string()).collect();
    let kv = |path: String, value: &str| KvPair {
        path,
        value: value.into(),
        ..KvPair::default()
    };
    match dep {
        Dep::Service(q) => {
            let mut t = tags.clone();
            t.extend(q.tag.clone());
            Data::Services((1..=2).map(|i| instance(&q.name, i, t.clone())).collect())
        }
        Dep::Services { .. } => Data::CatalogServices(
            ["consul", "web", "api"]
                .iter()
                .map(|s| (s.to_string(), tags.clone()))
                .collect(),
        ),
        Dep::Key { path, .. } => Data::Key(Some(kv(path.clone(), "1"))),
        Dep::List { prefix, .. } => Data::List(vec![
            kv(format!("{prefix}/a"), "1"),
            kv(format!("{prefix}/b"), "2"),
        ]),
        Dep::Nodes { .. } => Data::Nodes(vec![NodeEntry {
            node: "node-1".into(),
            address: "10.1.0.1".into(),
            ..NodeEntry::default()
        }]),
        Dep::Node { .. } => Data::Node(Some((NodeEntry::default(), vec![NodeService::default()]))),
        Dep::File(_) => Data::File("file contents".into()),
        Dep::Datacenters { .. } => Data::Datacenters(vec!["dc1".into()]),
    }
}

/// Renders until no dependency is missing (at most 10 passes), feeding fixtures.
fn render_complete(name: &str) -> Result<(String, usize), String> {
    render_source(name, &corpus(name))
}

/// `render_complete` for any template text.
fn render_source(name: &str, src: &str) -> Result<(String, usize), String> {
    let t = Template::parse(name, src, &Options::default()).map_err(|e| e.to_string())?;
    let mut brain = Brain::new();
    for pass in 1..=10 {
        let r = t
            .render(Arc::new(brain.clone()))
            .map_err(|e| e.to_string())?;
        if r.missing.is_empty() {
            return Ok((r.text, pass));
        }
        for dep in r.missing {
            brain.remember(dep.clone(), fixture(&dep));
        }
    }
    Err(format!("{name}: still missing data after 10 passes"))
}

#[test]
fn corpus_templates_marked_ok_render() {
    let ok = [
        "01_gcp_internal_lb_haproxy.ctmpl",
        "02_books_ms_haproxy_any.ctmpl",
        "03_api_gateway_haproxy.ctmpl",
        "04_haproxy_domain_tags_regex.ctmpl",
        "05_haproxy_ab_define_executeTemplate.ctmpl",
        "06_nginx_env_file.ctmpl",
        "07_nginx_upstream_else_502.ctmpl",
        "08_nginx_upstreams_services_tags.ctmpl",
        "09_nginx_if_service.ctmpl",
        "10_nginx_http_router_byTag.ctmpl",
        "11_nginx_apiproxy_lua.ctmpl",
        "13_nginx_upstreams_trim_markers.ctmpl",
        "14_containsAll_parseJSON_any.ctmpl",
        "15_containsAll_trim.ctmpl",
        "16_service_toJSON.ctmpl",
        "19_haproxy_keyExists_print.ctmpl",
    ];
    for name in ok {
        let (text, passes) = render_complete(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!text.trim().is_empty(), "{name} rendered nothing");
        assert!(!text.contains("<no value>"), "{name}: {text}");
        if name.starts_with("19_") {
            assert!(
                passes >= 3,
                "19: key is reached only after keyExists ({passes} passes)"
            );
        }
    }
}

#[test]
fn corpus_templates_marked_as_errors_fail_with_the_named_error() {
    let cases = [
        // consul-template 0.19 removed ServiceTags.Contains: Go's field error, with position.
        (
            "12_nginx_rp_ls_pipe_legacy_TagsContains.ctmpl",
            "can't evaluate field Contains in type []string",
        ),
        (
            "17_json_config_env_unquoted_INVALID.ctmpl",
            "function \"SENDGRID_USER\" not defined",
        ),
        (
            "18_json_config_nested_with_PARSE_ERROR.ctmpl",
            "template: 18_json_config_nested_with_PARSE_ERROR.ctmpl:21:49: unexpected right paren",
        ),
        (
            "20_json_appsettings_vault_secret.ctmpl",
            "Vault is not supported",
        ),
    ];
    for (name, want) in cases {
        match render_complete(name) {
            Err(e) => assert!(e.contains(want), "{name}: {e}"),
            Ok((text, _)) => panic!("{name} rendered: {text}"),
        }
    }
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("templates/{name}: {e}"))
}

/// Runs the real `nginx -t` on `server_blocks` inside a minimal http block.
fn nginx_accepts(name: &str, server_blocks: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rendered.conf"), server_blocks).unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "pid {0}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n  access_log off;\n  include {0}/rendered.conf;\n}}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    if !crate::harness::have("nginx") {
        return;
    }
    let out = std::process::Command::new("nginx")
        .args(["-t", "-q", "-p"])
        .arg(dir.path())
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nginx -t refused {name}: {}\n{server_blocks}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The seed's nginx template for 4 instances: consul-template's bytes, and nginx accepts it;
/// with no instance it still gives nginx a valid upstream.
#[test]
fn nginx_template_renders_like_consul_template() {
    let src = shipped("nginx-upstream.ctmpl");
    let t = Template::parse("nginx-upstream.ctmpl", &src, &Options::default()).unwrap();
    let render = |n: u16| {
        let mut brain = Brain::new();
        let entries = (1..=n).map(|i| instance("nginx", i, vec![])).collect();
        brain.remember(
            Dep::service(&["nginx".into()]).unwrap(),
            Data::Services(entries),
        );
        let r = t.render(Arc::new(brain)).unwrap();
        assert!(r.missing.is_empty());
        r.text
    };
    let tail = "}\n\nserver {\n  listen 1216;\n\n  location / {\n    proxy_pass http://http_backend;\n    proxy_set_header Host $host;\n    proxy_set_header X-Real-IP $remote_addr;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_set_header X-Forwarded-Proto $scheme;\n  }\n}\n";
    let four = render(4);
    let want = format!("upstream http_backend {{\n  server 10.1.0.1:8001;\n  server 10.1.0.2:8002;\n  server 10.1.0.3:8003;\n  server 10.1.0.4:8004;\n{tail}");
    assert_eq!(four, want);
    nginx_accepts("nginx-upstream.ctmpl", &four);
    let none = render(0);
    assert!(none.contains("server 127.0.0.1:1 down;"), "{none}");
    nginx_accepts("nginx-upstream.ctmpl (no instance)", &none);
}

/// Every other shipped template renders with data for all it reads, and the output is
/// what its consumer accepts: nginx -t, haproxy -c, a JSON parser, KEY=value lines.
#[test]
fn shipped_templates_render_and_their_consumers_accept_them() {
    let src = shipped("nginx-upstream-health.ctmpl");
    let t = Template::parse("health", &src, &Options::default()).unwrap();
    let mut brain = Brain::new();
    let passing = (1..=2).map(|i| instance("nginx", i, vec![])).collect();
    let mut warn = instance("nginx", 3, vec![]);
    warn.checks[0].status = "warning".into();
    brain.remember(
        Dep::service(&["nginx|passing".into()]).unwrap(),
        Data::Services(passing),
    );
    brain.remember(
        Dep::service(&["nginx|warning".into()]).unwrap(),
        Data::Services(vec![warn]),
    );
    let r = t.render(Arc::new(brain.clone())).unwrap();
    assert!(r.missing.is_empty(), "{:?}", r.missing);
    let health = r.text;
    assert!(
        health.contains("server 10.1.0.1:8001 max_fails=2 fail_timeout=5s;"),
        "{health}"
    );
    assert!(health.contains("server 10.1.0.3:8003 backup;"), "{health}");
    assert!(health.contains("server 127.0.0.1:1217 backup;"), "{health}");
    nginx_accepts("nginx-upstream-health.ctmpl", &health);

    let (haproxy, _) = render_source("haproxy", &shipped("haproxy-backends.ctmpl")).unwrap();
    for svc in ["consul", "web", "api"] {
        assert!(haproxy.contains(&format!("backend {svc}\n")), "{haproxy}");
    }
    assert!(
        haproxy.contains("server node-2-8002 10.1.0.2:8002 check inter 2s"),
        "{haproxy}"
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haproxy.cfg");
    let defaults = "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend edge\n  bind 127.0.0.1:18080\n  default_backend web\n";
    std::fs::write(&cfg, format!("{defaults}{haproxy}")).unwrap();
    if !crate::harness::have("haproxy") {
        return;
    }
    let out = std::process::Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "haproxy -c refused haproxy-backends.ctmpl: {}{}\n{haproxy}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (env, _) = render_source("env", &shipped("app.env.ctmpl")).unwrap();
    let lines: Vec<&str> = env.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        ["A=1", "B=2", "DATABASE_HOST=10.1.0.1", "DATABASE_PORT=8001"],
        "{env}"
    );

    let (json, _) = render_source("json", &shipped("app-config.json.ctmpl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("app-config.json.ctmpl: {e}\n{json}"));
    assert_eq!(
        v["settings"],
        serde_json::json!({"a": "1", "b": "2"}),
        "{json}"
    );
    assert_eq!(
        v["api_backends"][1],
        serde_json::json!({"address": "10.1.0.2", "port": 8002})
    );
}
