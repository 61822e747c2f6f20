//! Docs stay honest: every ```toml block in the README and the guides of
//! `docs/` passes `stubborn check` (in the spirit of CoreDNS's readme_test.go). A block that is only
//! a fragment still has to be a valid config on its own, upstreams added
//! (unless it has its own `[upstream]` table).
//! So does the example config of the reference, `docs/reference.md`, whole.

use stubborn_test_support::stubborn::check;

#[test]
fn every_toml_block_in_the_readme_and_guides_passes_check() {
    let docs = ["README.md", "docs/install.md", "docs/guide.md", "docs/operations.md", "docs/design.md"];
    let text: String = docs
        .iter()
        .map(|doc| std::fs::read_to_string(format!("{}/{doc}", env!("CARGO_MANIFEST_DIR"))).expect("read a doc"))
        .collect();
    let blocks: Vec<&str> = text.split("```toml\n").skip(1).filter_map(|rest| rest.split("\n```").next()).collect();
    assert!(blocks.len() >= 4, "only {} toml blocks", blocks.len());
    for block in blocks {
        if !cfg!(feature = "encrypted") && (block.contains("tls://") || block.contains("https://dns")) {
            continue; // built without encrypted upstreams: check rejects them, as it should
        }
        if !cfg!(feature = "fleet") && block.lines().any(|line| line.trim() == "[fleet]") {
            continue; // built without the fleet store: check rejects [fleet], as it should
        }
        let config = if block.lines().any(|line| line.trim() == "[upstream]") {
            format!("{block}\n")
        } else {
            format!("[upstream]\nservers = [\"127.0.0.1:53\"]\n\n{block}\n")
        };
        let out = check(&config);
        assert_eq!(out.code, Some(0), "a toml block of the docs fails `stubborn check`:\n{block}\n{}", out.stderr);
    }
}

#[test]
fn the_reference_example_config_passes_check() {
    let reference =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md")).expect("docs/reference.md");
    let block = reference.split("```toml\n").nth(1).and_then(|rest| rest.split("\n```").next());
    let block = block.expect("docs/reference.md has a toml block");
    let out = check(block);
    assert_eq!(out.code, Some(0), "the docs/reference.md example fails `stubborn check`:\n{}", out.stderr);
}
