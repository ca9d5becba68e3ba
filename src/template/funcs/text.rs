//! String helpers: case, trimming, split/join, replace and regex, indent, encodings, hashes,
//! timestamp.

use std::sync::Arc;

use base64::Engine;
use gotmpl::{FuncMap, Value};
use sha2::Digest;

use super::{add, arg_str, arity, string, FnResult};

pub(super) fn register(map: &mut FuncMap) {
    add(map, "toLower", |a| {
        Ok(string(arg_str(a, 0)?.to_lowercase()))
    });
    add(map, "toUpper", |a| {
        Ok(string(arg_str(a, 0)?.to_uppercase()))
    });
    add(map, "toTitle", |a| Ok(string(title(&arg_str(a, 0)?))));
    add(map, "trimSpace", |a| Ok(string(arg_str(a, 0)?.trim())));
    add(map, "trim", |a| {
        arity(a, 2)?;
        let cut = arg_str(a, 0)?;
        Ok(string(arg_str(a, 1)?.trim_matches(|c| cut.contains(c))))
    });
    add(map, "trimPrefix", |a| {
        arity(a, 2)?;
        let (p, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(string(s.strip_prefix(p.as_str()).unwrap_or(&s)))
    });
    add(map, "trimSuffix", |a| {
        arity(a, 2)?;
        let (p, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(string(s.strip_suffix(p.as_str()).unwrap_or(&s)))
    });
    add(map, "split", |a| {
        arity(a, 2)?;
        let (sep, s) = (arg_str(a, 0)?, arg_str(a, 1)?);
        Ok(split(&sep, s.trim()))
    });
    add(map, "splitToMap", |a| {
        arity(a, 3)?;
        let (sep, kv, s) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
        let mut m = std::collections::BTreeMap::new();
        for item in s.trim().split(sep.as_str()) {
            if let Some((k, v)) = item.split_once(kv.as_str()) {
                m.insert(Arc::from(k), string(v));
            }
        }
        Ok(Value::Map(Arc::new(m)))
    });
    add(map, "join", |a| {
        arity(a, 2)?;
        let sep = arg_str(a, 0)?;
        let Value::List(items) = &a[1] else {
            return Err(format!("join: expected a list, got {}", a[1].type_name()));
        };
        let parts: Result<Vec<String>, String> = items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.to_string()),
                other => Err(format!(
                    "join: list holds a {}, not strings",
                    other.type_name()
                )),
            })
            .collect();
        Ok(string(parts?.join(&sep)))
    });
    add(map, "replaceAll", |a| {
        arity(a, 3)?;
        let (old, new, s) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
        Ok(string(s.replace(old.as_str(), &new)))
    });
    add(map, "regexMatch", |a| {
        arity(a, 2)?;
        let re = regex(&arg_str(a, 0)?)?;
        Ok(Value::Bool(re.is_match(&arg_str(a, 1)?)))
    });
    add(map, "regexReplaceAll", |a| {
        arity(a, 3)?;
        let re = regex(&arg_str(a, 0)?)?;
        let (repl, s) = (arg_str(a, 1)?, arg_str(a, 2)?);
        Ok(string(re.replace_all(&s, repl.as_str())))
    });
    add(map, "indent", |a| {
        arity(a, 2)?;
        let n = a[0].as_int().ok_or("indent: the width must be a number")?;
        if n < 0 {
            return Err("indent value must be a positive integer".into());
        }
        let pad = " ".repeat(n as usize);
        let s = arg_str(a, 1)?;
        let out: Vec<String> = s
            .split('\n')
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{pad}{l}")
                }
            })
            .collect();
        Ok(string(out.join("\n")))
    });
    add(map, "base64Encode", |a| {
        Ok(string(
            base64::engine::general_purpose::STANDARD.encode(arg_str(a, 0)?),
        ))
    });
    add(map, "base64URLEncode", |a| {
        Ok(string(
            base64::engine::general_purpose::URL_SAFE.encode(arg_str(a, 0)?),
        ))
    });
    add(map, "base64Decode", |a| {
        decode(&base64::engine::general_purpose::STANDARD, &arg_str(a, 0)?)
    });
    add(map, "base64URLDecode", |a| {
        decode(&base64::engine::general_purpose::URL_SAFE, &arg_str(a, 0)?)
    });
    add(map, "sha256Hex", |a| {
        let digest = sha2::Sha256::digest(arg_str(a, 0)?.as_bytes());
        Ok(string(
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        ))
    });
    add(map, "md5sum", |a| {
        Ok(string(hex(&md5::Md5::digest(arg_str(a, 0)?.as_bytes()))))
    });
    add(map, "hmacSHA256Hex", |a| {
        arity(a, 2)?;
        let (message, key) = (arg_str(a, 0)?, arg_str(a, 1)?);
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key.as_bytes())
            .map_err(|e| e.to_string())?;
        hmac::Mac::update(&mut mac, message.as_bytes());
        Ok(string(hex(&hmac::Mac::finalize(mac).into_bytes())))
    });
    add(map, "timestamp", |a| {
        let now = std::time::SystemTime::now();
        match a.first() {
            None => Ok(string(humantime::format_rfc3339_seconds(now).to_string())),
            Some(Value::String(f)) if &**f == "unix" => Ok(string(
                now.duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    .to_string(),
            )),
            Some(_) => Err("timestamp: only the default (RFC 3339) and \"unix\" layouts are supported by Berth".into()),
        }
    });
}

/// Lower-case hex of a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's `strings.Title`: upper-cases the first letter of each word, leaves the rest.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// consul-template's `split`: an empty input is an empty list.
fn split(sep: &str, s: &str) -> Value {
    if s.is_empty() {
        return Value::List(Arc::from([]));
    }
    Value::List(s.split(sep).map(string).collect())
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| e.to_string())
}

fn decode(engine: &base64::engine::GeneralPurpose, s: &str) -> FnResult {
    let bytes = engine.decode(s).map_err(|e| e.to_string())?;
    Ok(string(String::from_utf8_lossy(&bytes)))
}
