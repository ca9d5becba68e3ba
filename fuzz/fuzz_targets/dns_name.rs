//! Any string as a query name: the parser must not panic, and a service it returns is made of
//! the name's own characters.
#![no_main]

use berth::dns::name::{parse, Lookup, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|name: &str| {
    let domains = ["consul.".to_string(), "alt.test.".to_string()];
    if let Parsed::Inside(Some(Lookup::Service { service, .. }), _) = parse(name, &domains) {
        assert!(name.to_ascii_lowercase().contains(&service));
    }
});
