//! What a template runs with: consul-template's `-template "src:dest[:command]"` string (its
//! exact splitting rules), `-wait min[:max]`, and `template { ... }` blocks with every key of
//! consul-template's plus our own `validate`. Every error names the flag or key.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

/// consul-template's default `command_timeout`.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Quiescence: wait `min` after a change (re-armed by each change), at most `max` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wait {
    /// Quiet time after the last change.
    pub min: Duration,
    /// Longest wait after the first change of a burst.
    pub max: Duration,
}

/// A command: a shell string (`sh -c`), or an argument vector run directly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// Run through `sh -c`.
    Shell(String),
    /// Run as is.
    Argv(Vec<String>),
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Shell(s) => f.write_str(s),
            Command::Argv(v) => f.write_str(&v.join(" ")),
        }
    }
}

/// One template to keep rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSpec {
    /// Template file (read at start, on SIGHUP and whenever it changes on disk).
    pub source: Option<PathBuf>,
    /// Inline template text (instead of `source`).
    pub contents: Option<String>,
    /// Output file.
    pub destination: PathBuf,
    /// Run after the output changed.
    pub command: Option<Command>,
    /// How long the command may run.
    pub command_timeout: Duration,
    /// Checks the new file before it replaces the old one; `%s` or `{{.Path}}` is its path.
    pub validate: Option<String>,
    /// File mode; None keeps the existing file's mode (else 0644).
    pub perms: Option<u32>,
    /// Owner by name or number; None keeps the existing owner.
    pub user: Option<String>,
    /// Group by name or number; None keeps the existing group.
    pub group: Option<String>,
    /// Keep the previous file as `<destination>.bak`.
    pub backup: bool,
    /// Per-template quiescence (else the global one).
    pub wait: Option<Wait>,
    /// `left_delimiter`.
    pub left_delimiter: String,
    /// `right_delimiter`.
    pub right_delimiter: String,
    /// A missing map key is an error.
    pub error_on_missing_key: bool,
    /// Create the destination's directories (0755).
    pub create_dest_dirs: bool,
    /// Functions (globs) that fail when called.
    pub function_denylist: Vec<String>,
}

impl Default for TemplateSpec {
    fn default() -> TemplateSpec {
        TemplateSpec {
            source: None,
            contents: None,
            destination: PathBuf::new(),
            command: None,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            validate: None,
            perms: None,
            user: None,
            group: None,
            backup: false,
            wait: None,
            left_delimiter: "{{".into(),
            right_delimiter: "}}".into(),
            error_on_missing_key: false,
            create_dest_dirs: true,
            function_denylist: Vec::new(),
        }
    }
}

impl TemplateSpec {
    /// How the template is named in logs and status: its source, or `(inline)`.
    pub fn name(&self) -> String {
        match &self.source {
            Some(p) => p.display().to_string(),
            None => "(inline)".to_string(),
        }
    }
}

static PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([a-zA-Z]:)?([^:]+)").expect("static regex"));

/// consul-template's `-template` value: find-all of `([a-zA-Z]:)?([^:]+)`; one part is the
/// source, two add the destination, more make the rest (re-joined with `:`) the command.
pub fn parse_template_flag(s: &str) -> Result<TemplateSpec, String> {
    if s.trim().is_empty() {
        return Err("-template: cannot be empty".into());
    }
    let parts: Vec<&str> = PART.find_iter(s).map(|m| m.as_str()).collect();
    let mut spec = TemplateSpec::default();
    match parts.as_slice() {
        [] => return Err(format!("-template: invalid format: {s:?}")),
        [src] => spec.source = Some(PathBuf::from(src)),
        [src, dst] => {
            spec.source = Some(PathBuf::from(src));
            spec.destination = PathBuf::from(dst);
        }
        [src, dst, rest @ ..] => {
            spec.source = Some(PathBuf::from(src));
            spec.destination = PathBuf::from(dst);
            spec.command = Some(Command::Shell(rest.join(":")));
        }
    }
    Ok(spec)
}

/// `-wait` / `wait`: `min[:max]`, max defaulting to 4 × min; max below min is an error.
pub fn parse_wait(s: &str) -> Result<Wait, String> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    let dur =
        |p: &str| crate::duration::parse(p.trim()).map_err(|_| format!("invalid duration {p:?}"));
    let (min, max) = match parts.as_slice() {
        [min] => {
            let min = dur(min)?;
            (min, min * 4)
        }
        [min, max] => (dur(min)?, dur(max)?),
        _ => return Err(format!("invalid format {s:?} (want min[:max])")),
    };
    if max < min {
        return Err(format!("max ({max:?}) is less than min ({min:?})"));
    }
    Ok(Wait { min, max })
}

const KEYS: &[&str] = &[
    "source",
    "contents",
    "destination",
    "command",
    "command_timeout",
    "exec",
    "validate",
    "perms",
    "user",
    "group",
    "uid",
    "gid",
    "backup",
    "wait",
    "left_delimiter",
    "right_delimiter",
    "error_on_missing_key",
    "error_fatal",
    "create_dest_dirs",
    "function_denylist",
    "function_blacklist",
    "sandbox_path",
];

/// One `template { ... }` block (JSON value, HCL already converted); errors start with `at`.
pub fn decode_block(at: &str, v: &Value) -> Result<TemplateSpec, String> {
    let Value::Object(m) = v else {
        return Err(format!("{at}: must be an object"));
    };
    let mut t = TemplateSpec::default();
    for (k, v) in m {
        let key = format!("{at}.{k}");
        let s = || match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(format!("{key}: must be a string")),
        };
        let b = || {
            v.as_bool()
                .ok_or_else(|| format!("{key}: must be a boolean"))
        };
        match k.as_str() {
            "source" => t.source = Some(PathBuf::from(s()?)),
            "contents" => t.contents = Some(s()?),
            "destination" => t.destination = PathBuf::from(s()?),
            "command" => t.command = command(&key, v)?,
            "command_timeout" => t.command_timeout = duration(&key, v)?,
            "exec" => {
                let Value::Object(e) = v else {
                    return Err(format!("{key}: must be an object"));
                };
                for (ek, ev) in e {
                    match ek.as_str() {
                        "command" => t.command = command(&format!("{key}.command"), ev)?,
                        "timeout" => t.command_timeout = duration(&format!("{key}.timeout"), ev)?,
                        other => return Err(format!("{key}: unknown key {other:?}")),
                    }
                }
            }
            "validate" => t.validate = Some(s()?),
            "perms" => t.perms = Some(perms(&key, v)?),
            "user" | "uid" => t.user = Some(scalar(&key, v)?),
            "group" | "gid" => t.group = Some(scalar(&key, v)?),
            "backup" => t.backup = b()?,
            "wait" => t.wait = Some(wait_value(&key, v)?),
            "left_delimiter" => t.left_delimiter = s()?,
            "right_delimiter" => t.right_delimiter = s()?,
            "error_on_missing_key" => t.error_on_missing_key = b()?,
            // Berth never exits on a render error (it keeps the last good file), so this
            // consul-template key is accepted with either value.
            "error_fatal" => {
                b()?;
            }
            "create_dest_dirs" => t.create_dest_dirs = b()?,
            "function_denylist" | "function_blacklist" => t.function_denylist = list(&key, v)?,
            "sandbox_path" => {
                return Err(format!("{key}: sandbox_path is not supported by Berth yet"))
            }
            other => {
                let hint = crate::config::keys::suggest(other, KEYS)
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                return Err(format!("{at}: unknown key {other:?}{hint}"));
            }
        }
    }
    check(at, &t)?;
    Ok(t)
}

/// The rules every template must meet, however it was given.
pub fn check(at: &str, t: &TemplateSpec) -> Result<(), String> {
    match (&t.source, &t.contents) {
        (Some(_), Some(_)) | (None, None) => Err(format!(
            "{at}: must specify exactly one of 'source' or 'contents'"
        )),
        _ if t.left_delimiter.is_empty() || t.right_delimiter.is_empty() => {
            Err(format!("{at}: delimiters cannot be empty"))
        }
        _ => Ok(()),
    }
}

fn scalar(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("{key}: must be a name or a number")),
    }
}

fn command(key: &str, v: &Value) -> Result<Option<Command>, String> {
    match v {
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(Command::Shell(s.clone()))),
        Value::Array(items) => {
            let argv = list(key, v)?;
            match argv.as_slice() {
                [] => Ok(None),
                [one] if one.contains(char::is_whitespace) => Ok(Some(Command::Shell(one.clone()))),
                _ if items.is_empty() => Ok(None),
                _ => Ok(Some(Command::Argv(argv))),
            }
        }
        _ => Err(format!("{key}: must be a string or a list of strings")),
    }
}

fn list(key: &str, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(String::from)
                    .ok_or_else(|| format!("{key}: must be a list of strings"))
            })
            .collect(),
        _ => Err(format!("{key}: must be a list of strings")),
    }
}

fn duration(key: &str, v: &Value) -> Result<Duration, String> {
    match v {
        Value::String(s) => {
            crate::duration::parse(s).map_err(|_| format!("{key}: invalid duration {s:?}"))
        }
        Value::Number(n) => n
            .as_u64()
            .map(Duration::from_nanos)
            .ok_or_else(|| format!("{key}: invalid duration {n}")),
        _ => Err(format!("{key}: must be a duration such as \"30s\"")),
    }
}

/// `wait` as a string (`"2s:10s"`) or a block (`{min, max}`); errors start with `key`.
pub fn wait_value(key: &str, v: &Value) -> Result<Wait, String> {
    match v {
        // HCL may hand a block over as a one-element list.
        Value::Array(items) if items.len() == 1 => wait_value(key, &items[0]),
        Value::String(s) => parse_wait(s).map_err(|e| format!("{key}: {e}")),
        Value::Object(m) => {
            let min = match m.get("min") {
                Some(x) => duration(&format!("{key}.min"), x)?,
                None => return Err(format!("{key}: min is required")),
            };
            let max = match m.get("max") {
                Some(x) => duration(&format!("{key}.max"), x)?,
                None => min * 4,
            };
            if let Some(other) = m.keys().find(|k| *k != "min" && *k != "max") {
                return Err(format!("{key}: unknown key {other:?}"));
            }
            if max < min {
                return Err(format!("{key}: max is less than min"));
            }
            Ok(Wait { min, max })
        }
        _ => Err(format!("{key}: must be \"min[:max]\" or {{min, max}}")),
    }
}

/// A file mode: an octal string (`"0644"`), or a number (written in octal digits, such as
/// HCL's `perms = 0644`, or the mode itself).
fn perms(key: &str, v: &Value) -> Result<u32, String> {
    let bad = || format!("{key}: invalid file mode {v} (use an octal string such as \"0644\")");
    let mode = match v {
        Value::String(s) => {
            u32::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|_| bad())?
        }
        Value::Number(n) => {
            let n = n.as_u64().ok_or_else(bad)?;
            if n > 0o777 {
                u32::from_str_radix(&n.to_string(), 8).map_err(|_| bad())?
            } else {
                n as u32
            }
        }
        _ => return Err(bad()),
    };
    if mode > 0o7777 {
        return Err(bad());
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> (String, String, Option<String>) {
        let t = parse_template_flag(s).unwrap();
        (
            t.source.unwrap().display().to_string(),
            t.destination.display().to_string(),
            t.command.map(|c| c.to_string()),
        )
    }

    #[test]
    fn template_flag_splits_as_consul_template() {
        let p =
            |a: &str, b: &str, c: Option<&str>| (a.to_string(), b.to_string(), c.map(String::from));
        assert_eq!(parts("in.ctmpl:out.conf"), p("in.ctmpl", "out.conf", None));
        assert_eq!(
            parts("in.ctmpl:out.conf:nginx -s reload"),
            p("in.ctmpl", "out.conf", Some("nginx -s reload"))
        );
        assert_eq!(
            parts("a.c:out:sh -c 'x:y'"),
            p("a.c", "out", Some("sh -c 'x:y'"))
        );
        // A one-letter name before a colon reads as a drive (consul-template's gotcha).
        assert_eq!(parts("in.c:b:cmd"), p("in.c", "b:cmd", None));
        assert_eq!(parts("in::cmd"), p("in", "cmd", None));
        assert_eq!(
            parts(r"C:\abc\123:D:\xyz\789:sub:command"),
            p(r"C:\abc\123", r"D:\xyz\789", Some("sub:command"))
        );
        assert_eq!(parts("in.ctmpl").0, "in.ctmpl");
        assert!(parse_template_flag("  ").is_err());
        assert!(parse_template_flag(":::").is_err());
    }

    #[test]
    fn wait_defaults_max_to_four_times_min() {
        let s = Duration::from_secs;
        assert_eq!(
            parse_wait("5s").unwrap(),
            Wait {
                min: s(5),
                max: s(20)
            }
        );
        assert_eq!(
            parse_wait("2s:10s").unwrap(),
            Wait {
                min: s(2),
                max: s(10)
            }
        );
        assert!(parse_wait("10s:2s").unwrap_err().contains("less than min"));
        assert!(parse_wait("1s:2s:3s").is_err());
        assert!(parse_wait("soon").is_err());
    }

    #[test]
    fn blocks_take_every_key_and_name_the_bad_one() {
        let v = serde_json::json!({
            "source": "in.ctmpl", "destination": "out", "command": "nginx -s reload",
            "command_timeout": "5s", "perms": "0600", "backup": true, "wait": {"min": "1s"},
            "left_delimiter": "[[", "right_delimiter": "]]", "error_on_missing_key": true,
            "create_dest_dirs": false, "function_denylist": "plugin, sprig_*",
            "validate": "nginx -t -c %s", "error_fatal": false
        });
        let t = decode_block("template[0]", &v).unwrap();
        assert_eq!(t.perms, Some(0o600));
        assert_eq!(t.wait.unwrap().max, Duration::from_secs(4));
        assert_eq!(t.function_denylist, vec!["plugin", "sprig_*"]);
        assert_eq!(t.command, Some(Command::Shell("nginx -s reload".into())));
        let e = decode_block(
            "template[1]",
            &serde_json::json!({"source": "a", "destinaton": "b"}),
        );
        assert_eq!(
            e.unwrap_err(),
            "template[1]: unknown key \"destinaton\" (did you mean \"destination\"?)"
        );
        let e = decode_block("template[2]", &serde_json::json!({"destination": "b"}));
        assert!(e
            .unwrap_err()
            .contains("exactly one of 'source' or 'contents'"));
        let e = decode_block("t", &serde_json::json!({"contents": "x", "perms": "rw"}));
        assert!(e.unwrap_err().starts_with("t.perms: invalid file mode"));
        let t = decode_block("t", &serde_json::json!({"contents": "x", "perms": 644})).unwrap();
        assert_eq!(t.perms, Some(0o644));
    }
}
