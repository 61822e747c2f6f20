//! Docs stay honest: every ```toml block in the README passes `stubborn
//! check` (in the spirit of CoreDNS's readme_test.go). A block that is only
//! a fragment still has to be a valid config on its own, upstreams added.

use crate::harness::stubborn::check;

#[test]
fn every_toml_block_in_the_readme_passes_check() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("read README.md");
    let blocks: Vec<&str> = readme.split("```toml\n").skip(1).filter_map(|rest| rest.split("\n```").next()).collect();
    assert!(!blocks.is_empty(), "the README has no toml block");
    for block in blocks {
        let config = format!("[upstream]\nservers = [\"127.0.0.1:53\"]\n\n{block}\n");
        let out = check(&config);
        assert_eq!(out.code, Some(0), "README block fails `stubborn check`:\n{block}\n{}", out.stderr);
    }
}
