//! The temp dirs the harness's processes keep their configs, data and logs
//! in (`stubborn-WHAT-XXXXXX`), one each, removed with their owner; or,
//! after [`keep_under`], made in one directory and left there for a person
//! to read (the drill's `--keep`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::TempDir;

static KEPT_IN: Mutex<Option<PathBuf>> = Mutex::new(None);

/// From now on every temp dir is made in `dir` and kept when its owner is dropped.
pub fn keep_under(dir: &Path) {
    *KEPT_IN.lock().expect("scratch lock") = Some(dir.to_path_buf());
}

/// A new temp dir named for `what` (`"knot"`, `"redis"`, ...).
pub fn temp_dir(what: &str) -> TempDir {
    let kept_in = KEPT_IN.lock().expect("scratch lock").clone();
    let prefix = format!("stubborn-{what}-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    let dir = match &kept_in {
        Some(parent) => builder.disable_cleanup(true).tempdir_in(parent),
        None => builder.tempdir(),
    };
    dir.unwrap_or_else(|e| panic!("cannot create a temp dir for {what}: {e}"))
}
