//! Go `flag`-style parsing for the one-shot commands (`-flag=value`, `-flag value`, `--flag`,
//! bare booleans), plus the HTTP client flags every one of them shares.

use std::collections::BTreeMap;

/// What a command accepts: value flags and boolean flags, by name without dashes.
pub struct Spec {
    /// Flags that take a value.
    pub values: &'static [&'static str],
    /// Flags that are booleans.
    pub bools: &'static [&'static str],
}

/// Parsed flags and positional arguments.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Value flags (last wins).
    pub values: BTreeMap<String, String>,
    /// Boolean flags that were set true.
    pub bools: Vec<String>,
    /// Arguments after the flags.
    pub args: Vec<String>,
    /// Every value flag in command-line order (for repeatable flags).
    pub all: Vec<(String, String)>,
}

impl Parsed {
    /// A value flag.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every value of a repeatable flag, in order.
    pub fn values_of(&self, name: &str) -> Vec<&str> {
        self.all
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a boolean flag is set.
    pub fn bool(&self, name: &str) -> bool {
        self.bools.iter().any(|b| b == name)
    }
}

/// Flags every HTTP-client command takes (Consul's names; only `-http-addr` acts for now).
pub const CLIENT_VALUES: &[&str] = &[
    "http-addr",
    "token",
    "token-file",
    "ca-file",
    "ca-path",
    "client-cert",
    "client-key",
    "tls-server-name",
    "datacenter",
];

/// Parses `args` against `spec` (plus the client flags); errors name the flag as Go does.
pub fn parse(args: &[String], spec: &Spec) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            out.args.extend(args[i + 1..].iter().cloned());
            break;
        }
        let Some(body) = a
            .strip_prefix("--")
            .or_else(|| a.strip_prefix('-'))
            .filter(|b| !b.is_empty())
        else {
            out.args.extend(args[i..].iter().cloned());
            break;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if spec.bools.contains(&name) {
            let on = match inline.as_deref() {
                None | Some("true") | Some("1") | Some("t") | Some("T") | Some("TRUE")
                | Some("True") => true,
                Some("false") | Some("0") | Some("f") | Some("F") | Some("FALSE")
                | Some("False") => false,
                Some(v) => {
                    return Err(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    ))
                }
            };
            if on {
                out.bools.push(name.to_string());
            }
        } else if spec.values.contains(&name) || CLIENT_VALUES.contains(&name) {
            let v = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("flag needs an argument: -{name}"))?
                }
            };
            out.all.push((name.to_string(), v.clone()));
            out.values.insert(name.to_string(), v);
        } else {
            return Err(format!("flag provided but not defined: -{name}"));
        }
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        values: &["status"],
        bools: &["detailed", "prune"],
    };

    fn p(s: &str) -> Result<Parsed, String> {
        parse(
            &s.split_whitespace().map(String::from).collect::<Vec<_>>(),
            &SPEC,
        )
    }

    #[test]
    fn go_flag_forms() {
        let a = p("-detailed --status=alive -http-addr http://127.0.0.1:1 node1 -x").unwrap();
        assert!(a.bool("detailed"));
        assert_eq!(a.value("status"), Some("alive"));
        assert_eq!(a.value("http-addr"), Some("http://127.0.0.1:1"));
        assert_eq!(a.args, ["node1", "-x"]);
        assert!(!p("-prune=false").unwrap().bool("prune"));
        assert_eq!(
            p("-bogus").unwrap_err(),
            "flag provided but not defined: -bogus"
        );
        assert!(p("-status").unwrap_err().contains("needs an argument"));
        assert!(p("-prune=maybe").unwrap_err().contains("-prune"));
    }
}
