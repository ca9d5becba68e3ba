use std::time::Duration;

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn parse_accepts_go_syntax() {
    let cases: &[(&str, Duration)] = &[
        ("0", Duration::ZERO),
        ("+0", Duration::ZERO),
        ("0s", Duration::ZERO),
        ("300ms", ms(300)),
        ("1.5s", ms(1500)),
        ("1m30s", Duration::from_secs(90)),
        ("1h2m3.5s", ms(3_723_500)),
        ("10us", Duration::from_micros(10)),
        ("10µs", Duration::from_micros(10)),
        ("10μs", Duration::from_micros(10)),
        ("7ns", Duration::from_nanos(7)),
        (".5s", ms(500)),
        ("1.s", Duration::from_secs(1)),
        ("1h", Duration::from_secs(3600)),
        ("87600h", Duration::from_secs(87600 * 3600)),
        ("1.0000000005s", Duration::from_nanos(1_000_000_000)),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input), Ok(*want), "{input}");
    }
}

#[test]
fn parse_rejects_non_go_syntax() {
    for input in [
        "",
        "5",
        "-1s",
        "1 s",
        " 1s",
        "1s ",
        "1m 30s",
        "abc",
        ".s",
        "1d",
        "1.5.5s",
        "s",
        "1sec",
        "100000000000h",
    ] {
        assert!(parse(input).is_err(), "{input:?} should fail");
    }
    assert_eq!(
        parse("1d").unwrap_err().to_string(),
        r#"unknown unit "d" in duration "1d""#
    );
    assert_eq!(
        parse("abc").unwrap_err().to_string(),
        r#"invalid duration "abc""#
    );
}

#[test]
fn format_matches_go() {
    let cases: &[(Duration, &str)] = &[
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(1), "1ns"),
        (Duration::from_nanos(1_100), "1.1µs"),
        (Duration::from_micros(2), "2µs"),
        (ms(500), "500ms"),
        (Duration::from_micros(1500), "1.5ms"),
        (Duration::from_secs(10), "10s"),
        (ms(1500), "1.5s"),
        (Duration::from_secs(90), "1m30s"),
        (Duration::from_secs(60), "1m0s"),
        (Duration::from_secs(3600), "1h0m0s"),
        (ms(3_723_500), "1h2m3.5s"),
        (Duration::from_secs(87600 * 3600), "87600h0m0s"),
        (Duration::from_nanos(61_000_000_001), "1m1.000000001s"),
    ];
    for (d, want) in cases {
        assert_eq!(format(*d), *want, "{d:?}");
    }
}

#[test]
fn format_round_trips() {
    for s in ["1h2m3.5s", "1.5s", "500ms", "2µs", "3ns", "10m0s"] {
        assert_eq!(format(parse(s).unwrap()), s);
    }
}

#[test]
fn lenient_reads_strings_and_nanoseconds() {
    let v = serde_json::json!("1m30s");
    assert_eq!(deserialize_lenient(&v).unwrap(), Duration::from_secs(90));
    let v = serde_json::json!(10);
    assert_eq!(deserialize_lenient(&v).unwrap(), Duration::from_nanos(10));
    assert!(deserialize_lenient(&serde_json::json!(-1)).is_err());
    assert!(deserialize_lenient(&serde_json::json!("abc")).is_err());
    assert!(deserialize_lenient(&serde_json::json!(true)).is_err());
}
