//! The harness starts the stubborn binary cargo built for this test run: it
//! finds it beside the test executable (it is a crate of its own, which
//! `CARGO_BIN_EXE_stubborn` is not given to), and this holds it to cargo's.

use std::path::Path;

use stubborn_test_support::stubborn::binary;

#[test]
fn the_harness_runs_the_binary_cargo_built_for_these_tests() {
    assert_eq!(binary(), Path::new(env!("CARGO_BIN_EXE_stubborn")));
}
