//! `Config::parse` on arbitrary text: the configuration file is read by root at start and
//! on SIGHUP, so a typo or a truncated write must give an error naming the problem, never a
//! panic. An accepted file must satisfy every range SPEC §3 sets.
//!
//! A second pass writes the numeric settings straight from the input bytes, so that every
//! integer (not only those a mutator happens to spell) meets the range checks, and
//! compares the verdict with the ranges as SPEC §3 states them.

#![no_main]

use apitokend::config::{Config, ConfigError};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// The numeric settings as four integers from the input, against the SPEC's ranges.
fn check_numbers(data: &[u8]) {
    let Some(bytes) = data.get(..20) else { return };
    let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    let (memory, iterations, parallelism) = (word(0), word(4), word(8));
    let max_entries = i64::from_le_bytes(bytes[12..20].try_into().unwrap());
    let text = format!(
        "[argon2]\nmemory_kib = {memory}\niterations = {iterations}\n\
         parallelism = {parallelism}\n[cache]\nmax_entries = {max_entries}\n"
    );
    // Computed in u64, where 8 × parallelism cannot overflow.
    let violated: Vec<&str> = [
        (
            "argon2.memory_kib",
            !(8..=4_194_304).contains(&memory) || u64::from(memory) < 8 * u64::from(parallelism),
        ),
        ("argon2.iterations", !(1..=100).contains(&iterations)),
        ("argon2.parallelism", !(1..=16).contains(&parallelism)),
        (
            "cache.max_entries",
            !(0..=10_000_000).contains(&max_entries),
        ),
    ]
    .into_iter()
    .filter_map(|(key, bad)| bad.then_some(key))
    .collect();
    match Config::parse(&text, Path::new("fuzz.toml")) {
        Ok(_) => assert!(
            violated.is_empty(),
            "{text:?} accepted despite {violated:?}"
        ),
        Err(ConfigError::Value { key, .. }) => {
            assert!(
                violated.contains(&key),
                "{text:?} refused for {key}, expected one of {violated:?}"
            )
        }
        // A negative count is not a usize: refused by the TOML layer, naming the key.
        Err(e @ ConfigError::Parse { .. }) => {
            assert!(max_entries < 0, "{text:?}: {e}");
            assert!(e.to_string().contains("max_entries"), "{e}");
        }
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    check_numbers(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    match Config::parse(text, path) {
        Ok(config) => {
            let a = config.argon2;
            assert!((1..=16).contains(&a.parallelism), "{a:?}");
            assert!((1..=100).contains(&a.iterations), "{a:?}");
            assert!(
                (8 * a.parallelism..=4 * 1024 * 1024).contains(&a.memory_kib),
                "{a:?}"
            );
            assert!(config.cache.max_entries <= 10_000_000);
            // The facility and listen addresses are typed: parsed once, or refused.
            assert!(config.syslog.facility.code() <= 23);
            assert!(!config.realm.contains('"'));
            assert!(!config.realm.chars().any(char::is_control));
            assert!(!config.password.pam_service.is_empty());
            assert!(config.http.listen.len() <= text.len());
            // Parsing is a pure function of the text (the environment is fixed here).
            assert_eq!(Config::parse(text, path).unwrap(), config);
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.toml: "), "{shown}");
            if let ConfigError::Value { key, .. } = e {
                assert!(shown.contains(key), "{shown}");
            }
        }
    }
});
