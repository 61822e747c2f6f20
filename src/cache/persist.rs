//! The cache snapshot (`[cache] persist`): every entry that may still be
//! served, with the wall-clock time it arrived, so that a restarted
//! stubborn — after a crash, `kill -9` or a reboot — has its stale answers
//! from the first query, when an outage is the worst time to forget.
//!
//! File layout: `STUBCACH`, format version (u32 LE), payload length (u64 LE),
//! CRC-32 of the payload (u32 LE), payload (postcard). Entries are stored as
//! the upstream's record sections (DNS wire format) and re-read through
//! [`Entry::from_reply`] on load, so a restored entry is checked like a fresh
//! reply and clamped by the current config. Written to a temporary file,
//! fsync'd and renamed over the old one: a crash mid-write leaves the old
//! snapshot. A corrupt, truncated or foreign file is reported and ignored.
//! The snapshot lists every name the host has looked up, so it is created
//! readable by its owner only (0600), and a directory stubborn creates for it
//! is 0700 ([`create_dir`]).
//!
//! Reading comes before any socket is bound, so nothing at the path may
//! stall or swamp the start: the file is opened without blocking (a FIFO
//! would wait for a writer), refused unless it is a regular file (a symlink
//! to `/dev/zero` reads without end) no larger than [`max_file_len`], and
//! its header is checked before the payload is read.
//!
//! Times: each entry's age is counted from the wall clock, which may have
//! been stepped back since the snapshot was written (a router without a
//! real-time clock before NTP, a restored VM). An entry is never dated after
//! the snapshot's write time, and when the clock is behind that time, how
//! long ago it was written is unknown: the entries are taken as expired, so
//! they are served only stale (RFC 8767) until an upstream answers, never
//! as fresh for their whole TTL.

use std::{
    fs::{self, DirBuilder, File, OpenOptions},
    io::{self, Read, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Cache, Entry, entry::rebuild_reply};
use crate::config::CacheConfig;

const MAGIC: &[u8; 8] = b"STUBCACH";
/// Bumped whenever the payload's layout changes; other versions are ignored.
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// Why a snapshot was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is not a stubborn cache snapshot")]
    Foreign(PathBuf),
    #[error("{0} is not a regular file")]
    NotRegular(PathBuf),
    #[error("{path} is {size} bytes, more than a snapshot of this cache can be ({limit})")]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("{path} is snapshot format {found}, this build reads {VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("{0} is truncated or corrupt")]
    Corrupt(PathBuf),
    #[error("cannot encode the snapshot: {0}")]
    Encode(String),
    #[error("cannot create the cache snapshot directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
}

/// Creates the directory of the snapshot file `path`, with its parents,
/// each new one mode 0700; returns the directory when it had to be created. Called at
/// start and when a reload moves the snapshot (docs/reference.md: "A missing
/// directory is created (with parents) at start").
pub fn create_dir(path: &Path) -> Result<Option<&Path>, PersistError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else { return Ok(None) };
    if dir.is_dir() {
        return Ok(None);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PersistError::CreateDir { path: dir.to_path_buf(), source })?;
    Ok(Some(dir))
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    written_unix_ms: u64,
    entries: Vec<SavedEntry>,
}

/// One entry as saved, with its key: in the snapshot, and as the fleet
/// store's value.
#[derive(Serialize, Deserialize)]
pub struct SavedEntry {
    /// The cache key: lower-cased question + DNSSEC byte.
    pub key: Vec<u8>,
    rcode: u8,
    authentic_data: bool,
    counts: [u16; 3],
    sections: Vec<u8>,
    /// When the answer arrived, wall clock.
    pub stored_unix_ms: u64,
}

impl SavedEntry {
    /// `entry` under `key`, dated by the wall clock `wall_now` at `now`.
    pub fn of(key: Vec<u8>, entry: &Entry, now: Instant, wall_now: SystemTime) -> SavedEntry {
        SavedEntry {
            key,
            rcode: entry.rcode,
            authentic_data: entry.authentic_data,
            counts: entry.counts,
            sections: entry.sections().to_vec(),
            stored_unix_ms: unix_ms(wall_now - now.saturating_duration_since(entry.stored_at)),
        }
    }

    /// The entry again, checked like a fresh reply (`Entry::from_reply`) and
    /// dated as the module doc says ("Times"), `written` being when it was
    /// saved at the latest; None if it does not check out.
    pub fn restore(&self, config: &CacheConfig, written: SystemTime) -> Option<Entry> {
        restore(self, config, &Clock { now: Instant::now(), wall_now: SystemTime::now(), written })
    }
}

/// Writes every servable entry of `cache` to `path`, atomically; returns how many.
pub fn save(cache: &Cache, path: &Path) -> Result<usize, PersistError> {
    let (now, wall_now) = (Instant::now(), SystemTime::now());
    let entries: Vec<SavedEntry> = cache
        .entries(now)
        .into_iter()
        .map(|(key, entry)| SavedEntry::of(key.into_vec(), &entry, now, wall_now))
        .collect();
    let count = entries.len();
    let file = encode(&Snapshot { written_unix_ms: unix_ms(wall_now), entries })?;
    write_atomically(path, &file).map_err(|source| PersistError::Io { path: path.to_path_buf(), source })?;
    Ok(count)
}

/// The file's bytes: header, then `snapshot` (postcard).
fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, PersistError> {
    let payload = postcard::to_stdvec(snapshot).map_err(|error| PersistError::Encode(error.to_string()))?;
    let mut file = Vec::with_capacity(HEADER_LEN + payload.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&VERSION.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    file.extend_from_slice(&payload);
    Ok(file)
}

/// The largest snapshot file a cache under `config` is read from.
///
/// A saved entry is its key and record sections plus at most 26 octets of
/// postcard framing, while the same entry counts [`Entry::bytes`] (400
/// octets of overhead, key, sections, TTL table) against `max_memory`, which
/// bounds their sum: a snapshot this cache wrote is smaller than
/// `max_memory`. Twice that leaves room for moka's eviction running behind
/// inserts and for a `max_memory` halved since the file was written. (The
/// entry count says less: `capacity` entries of up to 64 KiB each.)
pub fn max_file_len(config: &crate::config::CacheConfig) -> u64 {
    (HEADER_LEN as u64).saturating_add(config.max_memory.saturating_mul(2))
}

/// Loads the snapshot at `path` into `cache`; returns how many entries were restored.
pub fn load(cache: &Cache, path: &Path) -> Result<usize, PersistError> {
    let io_error = |source| PersistError::Io { path: path.to_path_buf(), source };
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; a regular file ignores it.
    let mut file = OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(PersistError::NotRegular(path.to_path_buf()));
    }
    let limit = max_file_len(&cache.config());
    if metadata.len() > limit {
        return Err(PersistError::TooLarge { path: path.to_path_buf(), size: metadata.len(), limit });
    }
    let mut header = [0u8; HEADER_LEN];
    match file.read_exact(&mut header) {
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(PersistError::Foreign(path.to_path_buf()));
        }
        read => read.map_err(io_error)?,
    }
    let (len, crc) = read_header(&header, path)?;
    if metadata.len().checked_sub(HEADER_LEN as u64) != Some(len) {
        return Err(PersistError::Corrupt(path.to_path_buf()));
    }
    let payload = read_payload(&mut file, len).map_err(io_error)?;
    load_payload(cache, &payload, crc, path)
}

/// `len` octets from `file`, fewer if it ends first.
fn read_payload(file: &mut File, len: u64) -> io::Result<Vec<u8>> {
    let mut payload = Vec::with_capacity(usize::try_from(len).unwrap_or(usize::MAX));
    file.take(len).read_to_end(&mut payload)?;
    Ok(payload)
}

/// Loads the snapshot `bytes`, read from `path` (named in errors), into
/// `cache`; returns how many entries were restored. [`load`] without the
/// file, for the fuzzer.
pub fn load_bytes(cache: &Cache, bytes: &[u8], path: &Path) -> Result<usize, PersistError> {
    let Some((header, payload)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(PersistError::Foreign(path.to_path_buf()));
    };
    let (len, crc) = read_header(header, path)?;
    if payload.len() as u64 != len {
        return Err(PersistError::Corrupt(path.to_path_buf()));
    }
    load_payload(cache, payload, crc, path)
}

/// The payload's length and CRC-32, from a header whose magic and version check out.
fn read_header(header: &[u8; HEADER_LEN], path: &Path) -> Result<(u64, u32), PersistError> {
    if &header[..8] != MAGIC {
        return Err(PersistError::Foreign(path.to_path_buf()));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(PersistError::Version { path: path.to_path_buf(), found: version });
    }
    let len = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(header[20..24].try_into().expect("4 bytes"));
    Ok((len, crc))
}

/// Checks `payload` against the header's `crc` and restores its entries.
fn load_payload(cache: &Cache, payload: &[u8], crc: u32, path: &Path) -> Result<usize, PersistError> {
    let corrupt = || PersistError::Corrupt(path.to_path_buf());
    if crc32fast::hash(payload) != crc {
        return Err(corrupt());
    }
    let snapshot: Snapshot = postcard::from_bytes(payload).map_err(|_| corrupt())?;

    let config = cache.config();
    let clock =
        Clock { now: Instant::now(), wall_now: SystemTime::now(), written: unix_time(snapshot.written_unix_ms) };
    let mut restored = 0;
    for saved in snapshot.entries {
        let Some(entry) = restore(&saved, &config, &clock) else { continue };
        if entry.within_max_stale(clock.now, config.policy_for(super::key_name(&saved.key)).max_stale) {
            cache.insert(saved.key.into_boxed_slice(), Arc::new(entry));
            restored += 1;
        }
    }
    Ok(restored)
}

/// The times a snapshot is read at: the monotonic and wall clocks now, and
/// when the snapshot was written.
struct Clock {
    now: Instant,
    wall_now: SystemTime,
    written: SystemTime,
}

/// Rebuilds the reply the entry came from and reads it again; None if it
/// does not check out. Dated as the module doc says ("Times").
fn restore(saved: &SavedEntry, config: &CacheConfig, clock: &Clock) -> Option<Entry> {
    let question = saved.key.get(..saved.key.len().checked_sub(1)?)?;
    let qtype = u16::from_be_bytes([*question.get(question.len().checked_sub(4)?)?, question[question.len() - 3]]);
    let reply = rebuild_reply(question, saved.rcode, saved.authentic_data, saved.counts, &saved.sections);
    let mut entry = Entry::from_reply(&reply, question.len(), qtype, config, clock.now).ok()?;
    let stored = unix_time(saved.stored_unix_ms).min(clock.written);
    let age = match clock.wall_now.duration_since(clock.written) {
        Ok(_) => clock.wall_now.duration_since(stored).unwrap_or_default(),
        // The clock is behind the write time: at least as old as then, and expired.
        Err(_) => clock.written.duration_since(stored).unwrap_or_default().max(entry.ttl),
    };
    entry.stored_at = clock.now.checked_sub(age)?;
    Some(entry)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    // The rename is durable once the directory is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The inverse of [`unix_ms`] (any u64 of milliseconds fits a `SystemTime`: 64-bit seconds).
pub fn unix_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        cache::Lookup,
        config::CacheConfig,
        test_packets::{Packet, positive_reply},
    };

    const KEY: &[u8] = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01\x00";

    fn cache_with_one_entry() -> Cache {
        let config = CacheConfig::default();
        let cache = Cache::new(&config);
        let entry = Entry::from_reply(&positive_reply(), 21, 1, &config, Instant::now()).unwrap();
        cache.insert(KEY.into(), Arc::new(entry));
        cache
    }

    #[test]
    fn a_saved_cache_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.snapshot");
        assert_eq!(save(&cache_with_one_entry(), &path).unwrap(), 1);
        let fresh = Cache::new(&CacheConfig::default());
        assert_eq!(load(&fresh, &path).unwrap(), 1);
        let Lookup::Fresh(entry) = fresh.lookup(KEY, Instant::now()) else { panic!("entry not restored fresh") };
        assert_eq!(entry.ttls().map(|t| t.1).collect::<Vec<_>>(), vec![300, 60]);
        assert!(!dir.path().join("cache.snapshot.tmp").exists());
    }

    #[test]
    fn create_dir_makes_missing_parents_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/cache.snapshot");
        assert_eq!(create_dir(&path).unwrap(), Some(dir.path().join("a/b").as_path()));
        for made in ["a", "a/b"] {
            let mode = fs::metadata(dir.path().join(made)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{made}");
        }
        assert_eq!(create_dir(&path).unwrap(), None, "already there");
        assert_eq!(create_dir(Path::new("cache.snapshot")).unwrap(), None, "the working directory");
        save(&cache_with_one_entry(), &path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        let file = dir.path().join("file");
        fs::write(&file, b"").unwrap();
        let e = create_dir(&file.join("sub/cache.snapshot")).unwrap_err();
        let message = e.to_string();
        assert!(message.starts_with(&format!("cannot create the cache snapshot directory {}/sub: ", file.display())));
        assert!(message.contains("os error"), "{message}");
    }

    #[test]
    fn corrupt_truncated_and_foreign_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.snapshot");
        save(&cache_with_one_entry(), &path).unwrap();
        let good = fs::read(&path).unwrap();
        let cache = Cache::new(&CacheConfig::default());

        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0xff;
        fs::write(&path, &flipped).unwrap();
        assert!(matches!(load(&cache, &path), Err(PersistError::Corrupt(_))));

        fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert!(matches!(load(&cache, &path), Err(PersistError::Corrupt(_))));

        let mut other_version = good.clone();
        other_version[8] = 99;
        fs::write(&path, &other_version).unwrap();
        assert!(matches!(load(&cache, &path), Err(PersistError::Version { found: 99, .. })));

        fs::write(&path, b"hello").unwrap();
        assert!(matches!(load(&cache, &path), Err(PersistError::Foreign(_))));
        assert!(cache.is_empty());
    }

    /// Rewrites the snapshot at `path` with its write time moved by
    /// `written` and each entry's time by `stored` (milliseconds).
    fn shift_times(path: &Path, written: i64, stored: i64) {
        let bytes = fs::read(path).unwrap();
        let mut snapshot: Snapshot = postcard::from_bytes(&bytes[HEADER_LEN..]).unwrap();
        snapshot.written_unix_ms = snapshot.written_unix_ms.checked_add_signed(written).unwrap();
        for saved in &mut snapshot.entries {
            saved.stored_unix_ms = saved.stored_unix_ms.checked_add_signed(stored).unwrap();
        }
        fs::write(path, encode(&snapshot).unwrap()).unwrap();
    }

    const DAY_MS: i64 = 86_400_000;

    /// The wall clock stepped back a day since the write (or the file says
    /// so): the entry is of unknown age, so expired, never fresh for its TTL.
    #[test]
    fn a_snapshot_written_ahead_of_the_clock_loads_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.snapshot");
        save(&cache_with_one_entry(), &path).unwrap();
        shift_times(&path, DAY_MS, DAY_MS);
        let cache = Cache::new(&CacheConfig::default());
        assert_eq!(load(&cache, &path).unwrap(), 1);
        assert!(matches!(cache.lookup(KEY, Instant::now()), Lookup::Stale(_)), "restored stale");
    }

    /// An entry dated after its snapshot was written counts from the write time.
    #[test]
    fn an_entry_is_never_younger_than_its_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.snapshot");
        save(&cache_with_one_entry(), &path).unwrap();
        // Written 400 s ago (past the 300 s TTL), the entry "stored" a day from now.
        shift_times(&path, -400_000, DAY_MS);
        let cache = Cache::new(&CacheConfig::default());
        assert_eq!(load(&cache, &path).unwrap(), 1);
        let Lookup::Stale(entry) = cache.lookup(KEY, Instant::now()) else { panic!("restored stale") };
        assert!(entry.age_secs(Instant::now()) >= 400);
    }

    /// Nothing at the path may block the start or be read whole first: a
    /// FIFO (opening it would wait for a writer), a device (`/dev/zero`
    /// reads without end) and a file larger than this cache could have
    /// written are refused without reading them.
    #[test]
    fn fifos_devices_and_oversized_files_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let config = CacheConfig { max_memory: 16 << 10, ..CacheConfig::default() };
        let cache = Cache::new(&config);

        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(matches!(load(&cache, &fifo), Err(PersistError::NotRegular(_))));

        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(load(&cache, &zero), Err(PersistError::NotRegular(_))));

        let large = dir.path().join("large");
        save(&cache_with_one_entry(), &large).unwrap();
        fs::OpenOptions::new().write(true).open(&large).unwrap().set_len(max_file_len(&config) + 1).unwrap();
        let error = load(&cache, &large).unwrap_err();
        assert!(matches!(error, PersistError::TooLarge { limit, .. } if limit == 24 + (32 << 10)), "{error}");
        // Within the limit, a length that disagrees with the header is corruption.
        fs::OpenOptions::new().write(true).open(&large).unwrap().set_len(max_file_len(&config)).unwrap();
        assert!(matches!(load(&cache, &large), Err(PersistError::Corrupt(_))));
        assert!(cache.is_empty());
    }

    /// A reply for `name` A: a CNAME to `edge.NAME` and two A records of
    /// it, compressed — about the size of a typical cached answer.
    fn cname_reply(name: &str) -> (Vec<u8>, usize) {
        let edge = format!("edge.{name}");
        let reply = Packet::reply(name, crate::wire::TYPE_A)
            .id(1)
            .cname(name, 3600, &edge)
            .a(&edge, 300, [192, 0, 2, 1])
            .a(&edge, 300, [192, 0, 2, 2]);
        (reply.build(), reply.question_len())
    }

    /// What a full-capacity snapshot costs: time and CPU of
    /// `save` and the file size, at 100 000 entries. Run in release:
    /// `cargo test --release --lib -- --ignored --nocapture snapshot_cost`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn snapshot_cost_at_full_capacity() {
        use nix::sys::resource::{UsageWho, getrusage};
        let config = CacheConfig::default();
        let cache = Cache::new(&config);
        let now = Instant::now();
        for i in 0..config.capacity {
            let name = format!("host{i}.service{}.example.com", i % 997);
            let (reply, question_len) = cname_reply(&name);
            let entry = Entry::from_reply(&reply, question_len, 1, &config, now).expect("a valid reply");
            let mut key = reply[12..12 + question_len].to_vec();
            key.push(0);
            cache.insert(key.into_boxed_slice(), Arc::new(entry));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.snapshot");
        let cpu = || {
            let usage = getrusage(UsageWho::RUSAGE_SELF).unwrap();
            let (user, system) = (usage.user_time(), usage.system_time());
            Duration::from_micros(
                (user.tv_sec() * 1_000_000 + user.tv_usec() + system.tv_sec() * 1_000_000 + system.tv_usec()) as u64,
            )
        };
        for round in 0..3 {
            let (wall, cpu_before) = (std::time::Instant::now(), cpu());
            let saved = save(&cache, &path).unwrap();
            let (wall, used) = (wall.elapsed(), cpu() - cpu_before);
            let size = fs::metadata(&path).unwrap().len();
            println!(
                "round {round}: {saved} entries, {wall:?} wall, {used:?} CPU, {size} bytes ({} per entry)",
                size / saved as u64
            );
        }
        let fresh = Cache::new(&config);
        let wall = std::time::Instant::now();
        let restored = load(&fresh, &path).unwrap();
        println!("load: {restored} entries in {:?}", wall.elapsed());
    }
}
