//! Any bytes as a cache snapshot (`persist::load_bytes`, what `persist::load`
//! does with the file): loaded, or refused with an error — never a panic —
//! and every restored entry renders into a client's reply within its limit.
//! The bytes are tried as a whole file and as the payload of a file with a
//! good header (magic, version, length, CRC-32), so that mutations reach the
//! postcard decoder and the entry checks instead of dying at the CRC.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stubborn::{
    cache::{Cache, persist},
    config::CacheConfig,
};
use tokio::time::Instant;

fuzz_target!(|bytes: &[u8]| {
    let mut framed = Vec::with_capacity(24 + bytes.len());
    framed.extend_from_slice(b"STUBCACH");
    framed.extend_from_slice(&persist::VERSION.to_le_bytes());
    framed.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    framed.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
    framed.extend_from_slice(bytes);
    let config = CacheConfig { capacity: 64, ..CacheConfig::default() };
    for file in [bytes, &framed[..]] {
        let cache = Cache::new(&config);
        let Ok(restored) = persist::load_bytes(&cache, file, Path::new("fuzz.snapshot")) else { continue };
        let now = Instant::now();
        let entries = cache.entries(now);
        assert!(entries.len() <= restored);
        for (key, entry) in entries {
            // The key is the lower-cased question and the DO byte.
            let (question, dnssec_ok) = key.split_at(key.len() - 1);
            for edns in [None, Some((1232, dnssec_ok[0] != 0))] {
                if let Some(query) = common::client_query(7, question, edns) {
                    common::render_all(&query, &entry, entry.age_secs(now), false);
                }
            }
        }
    }
});
