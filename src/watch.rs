//! Noticing that a file changed, by polling its metadata once a second.
//! The path is followed through symlinks: a Kubernetes ConfigMap volume is
//! updated by swapping a `..data` symlink, which changes the inode the path
//! leads to, and editors and DHCP clients write a new file and rename it
//! over the old one. One `stat` a second costs nothing measurable and needs
//! no inotify watch that a symlink swap or a rename could leave dangling.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::Duration,
};

/// How often a watched file is looked at.
pub const POLL: Duration = Duration::from_secs(1);

/// A file and what it looked like when last seen.
pub struct FileWatch {
    path: PathBuf,
    seen: Option<Stamp>,
}

/// What identifies a version of a file: the file itself, its size and mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

impl FileWatch {
    /// Watches `path`, taking what it looks like now as seen.
    pub fn new(path: &Path) -> FileWatch {
        FileWatch { path: path.to_path_buf(), seen: stamp(path) }
    }

    /// True when the file differs from when it was last seen (written,
    /// replaced, created or removed); it is then seen as it is now.
    pub fn changed(&mut self) -> bool {
        let now = stamp(&self.path);
        let changed = now != self.seen;
        self.seen = now;
        changed
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: metadata.dev(),
        ino: metadata.ino(),
        len: metadata.len(),
        mtime: (metadata.mtime(), metadata.mtime_nsec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_a_rename_over_and_a_symlink_swap_are_changes() {
        let dir = tempfile::tempdir().unwrap();
        let data1 = dir.path().join("data1");
        let data2 = dir.path().join("data2");
        std::fs::create_dir(&data1).unwrap();
        std::fs::create_dir(&data2).unwrap();
        std::fs::write(data1.join("f"), "one").unwrap();
        std::fs::write(data2.join("f"), "two").unwrap();
        let link = dir.path().join("..data");
        std::os::unix::fs::symlink(&data1, &link).unwrap();
        let path = link.join("f");
        let mut watch = FileWatch::new(&path);
        assert!(!watch.changed());

        // ConfigMap update: a new symlink renamed over the old one.
        let swap = dir.path().join("..data_tmp");
        std::os::unix::fs::symlink(&data2, &swap).unwrap();
        std::fs::rename(&swap, &link).unwrap();
        assert!(watch.changed());
        assert!(!watch.changed(), "seen once");

        // A new file renamed over it.
        let new = data2.join("f.new");
        std::fs::write(&new, "three").unwrap();
        std::fs::rename(&new, data2.join("f")).unwrap();
        assert!(watch.changed());

        // Rewritten in place with a different length.
        std::fs::write(data2.join("f"), "four!").unwrap();
        assert!(watch.changed());

        std::fs::remove_file(data2.join("f")).unwrap();
        assert!(watch.changed(), "removed");
    }
}
