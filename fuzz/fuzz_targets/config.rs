//! Any text as a config file: a valid config or a list of problems, each
//! with its position — never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stubborn::config::Config;

fuzz_target!(|text: &str| {
    if let Err(error) = Config::parse(Path::new("fuzz.toml"), text, Some(b"nameserver 192.0.2.53\n")) {
        assert!(!error.problems.is_empty());
        assert!(error.problems.iter().all(|p| p.starts_with("fuzz.toml:")), "{error}");
    }
});
