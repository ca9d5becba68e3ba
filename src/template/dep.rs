//! What a template reads: one `Dep` per distinct query, parsed from the function's string by
//! consul-template's grammar (reference §2.1). The runner keeps one watch per unique `Dep`,
//! shared by every template that uses it.

use std::sync::LazyLock;

use regex::Regex;

/// A dependency of a template: one query against the catalog, KV, a file or the datacenters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dep {
    /// `service`: instances of a service with their health.
    Service(ServiceQuery),
    /// `services`: every service name with its tags.
    Services {
        /// Datacenter (`@dc`).
        dc: Option<String>,
    },
    /// `node`: one node and its services; an empty name means the agent's own node.
    Node {
        /// Node name.
        name: String,
        /// Datacenter.
        dc: Option<String>,
    },
    /// `nodes`: every node.
    Nodes {
        /// Datacenter.
        dc: Option<String>,
        /// `~near` (sorting by RTT; Berth keeps name order).
        near: Option<String>,
    },
    /// `key`, `keyExists`, `keyOrDefault`: one KV entry.
    Key {
        /// Key path (no leading `/`).
        path: String,
        /// Datacenter.
        dc: Option<String>,
    },
    /// `ls`/`safeLs` (`recursive: false`) and `tree`/`safeTree` (`true`): a KV prefix.
    List {
        /// Prefix (no leading `/`).
        prefix: String,
        /// Datacenter.
        dc: Option<String>,
        /// All descendants rather than direct children.
        recursive: bool,
    },
    /// `file`: a file's contents.
    File(String),
    /// `datacenters`.
    Datacenters {
        /// Leave out datacenters without a leader.
        ignore_failing: bool,
    },
}

/// `[tag.]name[?query][@dc][~near][|filter]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceQuery {
    /// Service name.
    pub name: String,
    /// Tag filter.
    pub tag: Option<String>,
    /// Datacenter.
    pub dc: Option<String>,
    /// `~near` node.
    pub near: Option<String>,
    /// Health states to keep, sorted; empty = the default (every check passing).
    pub filter: Vec<String>,
}

/// Why a query string was refused (consul-template's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepError {
    /// The string does not match the function's grammar.
    #[error("{func}: invalid format: {input:?}")]
    Format {
        /// consul-template's dependency name (`health.service`, `kv.get`, ...).
        func: &'static str,
        /// The string given.
        input: String,
    },
    /// A health filter other than any, passing, warning, critical, maintenance.
    #[error("health.service: invalid filter: {0:?} in {1:?}")]
    Filter(String, String),
}

const STATES: &[&str] = &["any", "passing", "warning", "critical", "maintenance"];

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}"))
}

static SERVICE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:(?P<tag>[A-Za-z0-9_=:.\-]+)\.)?(?P<name>[A-Za-z0-9_\-]+)(?:\?(?P<query>[A-Za-z0-9_\-=&]+))?(?:@(?P<dc>[A-Za-z0-9_.\-]+))?(?:~(?P<near>[A-Za-z0-9_.\-]+))?(?:\|(?P<filter>[A-Za-z0-9_,]+))?$",
    )
});
static KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^/?(?P<key>[^@?]+)(?:\?(?P<query>[A-Za-z0-9_\-=&]+))?(?:@(?P<dc>[A-Za-z0-9_.\-]+))?$")
});
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^/?(?P<prefix>[^@?]*)(?:\?(?P<query>[A-Za-z0-9_\-=&]+))?(?:@(?P<dc>[A-Za-z0-9_.\-]+))?$")
});
static SERVICES: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:\?(?P<query>[A-Za-z0-9_\-=&]+))?(?:@(?P<dc>[A-Za-z0-9_.\-]+))?$"));
static NODES: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:\?(?P<query>[A-Za-z0-9_\-=&]+))?(?:@(?P<dc>[A-Za-z0-9_.\-]+))?(?:~(?P<near>[A-Za-z0-9_.\-]+))?$",
    )
});
static NODE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?P<name>[A-Za-z0-9_.\-]+)?(?:\?(?P<query>[A-Za-z0-9_\-=&]+))?(?:@(?P<dc>[A-Za-z0-9_.\-]+))?$",
    )
});

/// Matches `s` against `re`; the result looks up named groups.
fn captures(
    re: &Regex,
    func: &'static str,
    s: &str,
) -> Result<impl Fn(&str) -> Option<String>, DepError> {
    let c = re.captures(s).ok_or_else(|| DepError::Format {
        func,
        input: s.to_string(),
    })?;
    let groups: Vec<(String, String)> = re
        .capture_names()
        .flatten()
        .filter_map(|n| c.name(n).map(|m| (n.to_string(), m.as_str().to_string())))
        .collect();
    Ok(move |name: &str| {
        groups
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    })
}

impl Dep {
    /// `service "a.b.web@dc1|passing,warning"`; several arguments are joined with `|`
    /// (the legacy `service "web" "any"` form).
    pub fn service(args: &[String]) -> Result<Dep, DepError> {
        let s = args.join("|");
        let c = captures(&SERVICE, "health.service", &s)?;
        let mut filter: Vec<String> = Vec::new();
        if let Some(f) = c("filter") {
            for part in f.split(',') {
                if !STATES.contains(&part) {
                    return Err(DepError::Filter(part.to_string(), s.clone()));
                }
                if !filter.iter().any(|x| x == part) {
                    filter.push(part.to_string());
                }
            }
            filter.sort();
        }
        Ok(Dep::Service(ServiceQuery {
            name: c("name").unwrap_or_default(),
            tag: c("tag"),
            dc: c("dc"),
            near: c("near"),
            filter,
        }))
    }

    /// `key`, `keyExists`, `keyOrDefault`: `[/]path[?query][@dc]`.
    pub fn key(s: &str) -> Result<Dep, DepError> {
        let c = captures(&KEY, "kv.get", s)?;
        Ok(Dep::Key {
            path: c("key").unwrap_or_default(),
            dc: c("dc"),
        })
    }

    /// `ls`/`tree` (and the safe forms): `[/]prefix[?query][@dc]`.
    pub fn list(s: &str, recursive: bool) -> Result<Dep, DepError> {
        let c = captures(&PREFIX, "kv.list", s)?;
        Ok(Dep::List {
            prefix: c("prefix").unwrap_or_default(),
            dc: c("dc"),
            recursive,
        })
    }

    /// `services "[?query][@dc]"` (arguments joined).
    pub fn services(args: &[String]) -> Result<Dep, DepError> {
        let c = captures(&SERVICES, "catalog.services", &args.concat())?;
        Ok(Dep::Services { dc: c("dc") })
    }

    /// `nodes "[?query][@dc][~near]"` (arguments joined).
    pub fn nodes(args: &[String]) -> Result<Dep, DepError> {
        let c = captures(&NODES, "catalog.nodes", &args.concat())?;
        Ok(Dep::Nodes {
            dc: c("dc"),
            near: c("near"),
        })
    }

    /// `node "[name][?query][@dc]"` (arguments joined; no name = the agent's node).
    pub fn node(args: &[String]) -> Result<Dep, DepError> {
        let c = captures(&NODE, "catalog.node", &args.concat())?;
        Ok(Dep::Node {
            name: c("name").unwrap_or_default(),
            dc: c("dc"),
        })
    }

    /// How consul-template names the dependency in logs and in `-once` errors.
    pub fn describe(&self) -> String {
        let at = |dc: &Option<String>| dc.as_ref().map(|d| format!("@{d}")).unwrap_or_default();
        match self {
            Dep::Service(q) => {
                let tag = q.tag.as_ref().map(|t| format!("{t}.")).unwrap_or_default();
                let filter = if q.filter.is_empty() {
                    String::new()
                } else {
                    format!("|{}", q.filter.join(","))
                };
                let near = q.near.as_ref().map(|n| format!("~{n}")).unwrap_or_default();
                format!("health.service({tag}{}{}{near}{filter})", q.name, at(&q.dc))
            }
            Dep::Services { dc } => format!("catalog.services({})", at(dc)),
            Dep::Node { name, dc } => format!("catalog.node({name}{})", at(dc)),
            Dep::Nodes { dc, .. } => format!("catalog.nodes({})", at(dc)),
            Dep::Key { path, dc } => format!("kv.get({path}{})", at(dc)),
            Dep::List { prefix, dc, .. } => format!("kv.list({prefix}{})", at(dc)),
            Dep::File(p) => format!("file({p})"),
            Dep::Datacenters { .. } => "catalog.datacenters".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(s: &str) -> ServiceQuery {
        match Dep::service(&[s.to_string()]).unwrap() {
            Dep::Service(q) => q,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn service_grammar() {
        let q = svc("a.b.web?ns=x@dc1~n1|warning,passing");
        assert_eq!(q.name, "web");
        assert_eq!(q.tag.as_deref(), Some("a.b"));
        assert_eq!(q.dc.as_deref(), Some("dc1"));
        assert_eq!(q.near.as_deref(), Some("n1"));
        assert_eq!(q.filter, ["passing", "warning"]);
        assert_eq!(svc("web").filter, Vec::<String>::new());
        let legacy = Dep::service(&["web".into(), "any".into()]).unwrap();
        assert_eq!(legacy, Dep::service(&["web|any".into()]).unwrap());
        assert!(matches!(
            Dep::service(&["web.svc name".into()]),
            Err(DepError::Format { .. })
        ));
        let e = Dep::service(&["web|bogus".into()]).unwrap_err();
        assert!(e.to_string().contains("invalid filter"), "{e}");
    }

    #[test]
    fn kv_and_catalog_grammar() {
        assert_eq!(
            Dep::key("/app/config@dc2").unwrap(),
            Dep::Key {
                path: "app/config".into(),
                dc: Some("dc2".into())
            }
        );
        assert_eq!(
            Dep::list("", true).unwrap(),
            Dep::List {
                prefix: String::new(),
                dc: None,
                recursive: true
            }
        );
        assert!(Dep::key("").is_err());
        assert_eq!(
            Dep::node(&[]).unwrap(),
            Dep::Node {
                name: String::new(),
                dc: None
            }
        );
        assert_eq!(
            Dep::services(&["@dc1".into()]).unwrap(),
            Dep::Services {
                dc: Some("dc1".into())
            }
        );
        assert!(Dep::nodes(&["nope!".into()]).is_err());
    }
}
