//! Go-style durations (`10s`, `1m30s`, `500ms`): parsing and formatting.
//!
//! Consul users write Go's `time.ParseDuration` syntax in config files and API bodies, and
//! Consul shows durations with `time.Duration.String()`. humantime is close but more lenient
//! (`1m 30s`, `2days`) and formats differently, so this module mirrors Go exactly.

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// Why a duration string was rejected. The Display is Go-like and shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not Go duration syntax (empty, bare number, spaces, negative, ...).
    #[error("invalid duration {0:?}")]
    Invalid(String),
    /// A unit outside ns, us, µs, ms, s, m, h.
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// Larger than Go's `time.Duration` (about 292 years).
    #[error("invalid duration {0:?}: overflow")]
    Overflow(String),
}

/// Nanoseconds per unit, for the units Go accepts (both micro signs included).
fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses Go's duration syntax: `300ms`, `1.5s`, `1h2m3.5s`, `0`. Negative values are rejected
/// because no Consul setting accepts them.
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(s.to_string());
    let rest = s.strip_prefix('+').unwrap_or(s);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let mut chars = rest;
    while !chars.is_empty() {
        let int_len = chars.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = chars.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(invalid());
        }
        let per = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
            unit: unit.to_string(),
            input: s.to_string(),
        })?;
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse()
                .map_err(|_| DurationError::Overflow(s.to_string()))?
        };
        let mut nanos = int
            .checked_mul(per)
            .ok_or_else(|| DurationError::Overflow(s.to_string()))?;
        // Fraction: digits beyond nanosecond precision are truncated, as in Go.
        let mut scale = per;
        for d in frac_part.bytes().take(30) {
            scale /= 10;
            nanos += u128::from(d - b'0') * scale;
        }
        total += nanos;
        if total > i64::MAX as u128 {
            return Err(DurationError::Overflow(s.to_string()));
        }
        chars = after;
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Formats like Go's `time.Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `2µs`, `0s`.
pub fn format(d: Duration) -> String {
    let n = d.as_nanos();
    if n == 0 {
        return "0s".to_string();
    }
    if n < 1_000 {
        return format!("{n}ns");
    }
    if n < 1_000_000 {
        return format!("{}µs", frac(n, 3));
    }
    if n < 1_000_000_000 {
        return format!("{}ms", frac(n, 6));
    }
    let secs = n / 1_000_000_000;
    let sec_str = frac(n % 60_000_000_000, 9);
    let mins = secs / 60;
    if mins == 0 {
        return format!("{sec_str}s");
    }
    let hours = mins / 60;
    if hours == 0 {
        return format!("{mins}m{sec_str}s");
    }
    format!("{hours}h{}m{sec_str}s", mins % 60)
}

/// `v / 10^digits` with the fraction's trailing zeros (and a bare dot) removed.
fn frac(v: u128, digits: u32) -> String {
    let p = 10u128.pow(digits);
    let (int, rem) = (v / p, v % p);
    if rem == 0 {
        return int.to_string();
    }
    let f = format!("{rem:0width$}", width = digits as usize);
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// Reads a duration the way Consul's HTTP bodies allow: a JSON string is a Go duration, a
/// JSON number is nanoseconds. Works with `#[serde(deserialize_with)]` and on a
/// `serde_json::Value` directly (`deserialize_lenient(&value)`).
pub fn deserialize_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(LenientVisitor)
}

/// Accepts strings (Go syntax) and non-negative integers (nanoseconds).
struct LenientVisitor;

impl Visitor<'_> for LenientVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Go duration string or a number of nanoseconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_nanos(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_nanos)
            .map_err(|_| E::custom(format!("invalid duration {v}: negative")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        if v >= 0.0 && v.fract() == 0.0 && v < i64::MAX as f64 {
            Ok(Duration::from_nanos(v as u64))
        } else {
            Err(E::custom(format!("invalid duration {v}")))
        }
    }
}

#[cfg(test)]
mod tests;
