//! One cached answer: the upstream reply's record sections in wire form,
//! where each TTL sits in them, and the deadlines of the answer (fresh
//! until, stale until). Deadlines are made absolute once at insert and
//! turned back into remaining TTLs at lookup, as Unbound's `msgreply` does;
//! a reply to a client is then a copy with its ID, question and TTLs patched.
//!
//! An entry is one allocation of its own besides the struct (for
//! memory): the record sections followed by the TTL table, six octets a
//! record; the rarely written failure times are atomics rather than a
//! mutex. A one-record answer went from 136 + 2 × 16 heap bytes in three
//! allocations to 96 + 22 in two.

use std::{
    ops::Range,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use tokio::time::Instant;

use hickory_proto::{op::Message, rr::Record};

use crate::{
    config::{CacheConfig, ZonePolicy},
    moment::AtomicMoment,
    wire::{
        self, AD, HEADER_LEN, Malformed, QR, RA, RCODE_MASK, RD, Records, TYPE_ANY, TYPE_OPT, TYPE_SOA, u16_at,
        write_header,
    },
};

/// What an entry costs beside its key and record bytes, counted against
/// `[cache] max_memory`: moka's bookkeeping (hash-table bucket, entry
/// info, access-order and timer-wheel nodes, the key's `Arc`), this struct
/// in its `Arc`, and allocator rounding. Measured (docs/design.md "Memory"): the
/// benchmark's entries (27-octet key, 68 octets of records and TTL table)
/// cost 515 bytes of RSS each in the server (mimalloc), a one-A-record
/// entry 403 in `memory_per_entry` (the cache tests; glibc, one thread).
pub const ENTRY_OVERHEAD: u64 = 400;

/// A cached answer.
#[derive(Debug)]
pub struct Entry {
    /// NOERROR or NXDOMAIN.
    pub rcode: u8,
    /// The upstream's AD bit (DNSSEC-validated data).
    pub authentic_data: bool,
    /// Answer, authority and additional record counts.
    pub counts: [u16; 3],
    /// The three record sections, as they follow a question of the cached
    /// question's length (compression pointers stay valid because a client's
    /// question differs from the cached one only in letter case); then, for
    /// each record, the offset of its TTL in the sections (u16) and the TTL
    /// it was stored with (u32), little-endian. See [`Entry::sections`],
    /// [`Entry::ttls`].
    data: Box<[u8]>,
    /// When the answer arrived.
    pub stored_at: Instant,
    /// How long it is fresh: the smallest record TTL, or the negative TTL (RFC 2308 §5).
    pub ttl: Duration,
    /// Whether the answer holds records of the asked type (false: NXDOMAIN or NODATA).
    pub has_records: bool,
    /// Seconds the key had been cached before this answer arrived (0 for a
    /// new name; a refresh carries it on): with `stored_at`, when the name
    /// was first cached, which decides whether it has earned protection
    /// from floods (`cache/mod.rs`). Fits in the struct's padding.
    cached_before: AtomicU32,
    /// The last refresh that failed (RFC 8767 §5 failure recheck), after `stored_at`.
    refresh_failed_at: AtomicMoment,
    /// When upstream answers first came back empty for this positive entry, after `stored_at`.
    empty_since: AtomicMoment,
}

/// The TTL bounds of an entry's zone, in seconds.
struct Clamps {
    min: u32,
    max: u32,
    negative_max: u32,
}

impl Clamps {
    /// A record's TTL as stored, `min_ttl` to `max_ttl`.
    fn record(&self, ttl: u32) -> u32 {
        ttl.clamp(self.min, self.max)
    }

    /// RFC 2308 §5: a negative answer's TTL is min(SOA TTL, SOA MINIMUM), to `negative_max_ttl`.
    fn negative(&self, ttl: u32, minimum: u32) -> u32 {
        ttl.min(minimum).clamp(self.min, self.negative_max.max(self.min))
    }
}

/// What a walk of an upstream reply's records found: where each TTL sits
/// and what it is stored as, how many records each section keeps, and the
/// TTL of the answer.
struct Walked {
    /// (offset in the sections, stored TTL), in order.
    ttls: Vec<(usize, u32)>,
    kept: [u16; 3],
    /// Where the kept records end in the reply.
    end: usize,
    answer_ttl: Option<u32>,
    negative_ttl: Option<u32>,
    has_records: bool,
}

impl Walked {
    /// Walks the records of `reply` from `start` (past the question), each
    /// checked to read the same in any reply ([`wire::Record::points_back_to`]),
    /// its TTL clamped as `clamps` say.
    fn of(reply: &[u8], start: usize, qtype: u16, clamps: &Clamps) -> Result<Walked, Malformed> {
        let [ancount, nscount, arcount] = [6, 8, 10].map(|at| usize::from(u16_at(reply, at)));
        // Counts come from the wire: sum them wide, and never reserve more records than the bytes could hold.
        let records = ancount + nscount + arcount;
        let mut walked = Walked {
            ttls: Vec::with_capacity(records.min(reply.len() / 11)),
            kept: [0; 3],
            // Bytes after the last counted record are not DNS (hickory-proto
            // ignores them), and would sit between the records and our OPT.
            end: start,
            answer_ttl: None,
            negative_ttl: None,
            has_records: false,
        };
        for (index, record) in Records::new(reply, start, records).enumerate() {
            let record = record?;
            if record.rtype == TYPE_OPT {
                // The OPT record is per hop, never cached; what follows it is dropped too
                // so that no compression pointer can point past a gap.
                break;
            }
            if !record.points_back_to(reply, &|read| walked.outside_ttls(start, &record, read)) {
                return Err(Malformed);
            }
            let section = if index < ancount {
                0
            } else if index < ancount + nscount {
                1
            } else {
                2
            };
            let stored = walked.stored_ttl(reply, &record, section, qtype, clamps)?;
            walked.kept[section] += 1;
            walked.ttls.push((record.ttl_at - start, stored));
            walked.end = record.rdata.end;
        }
        Ok(walked)
    }

    /// The entry is sent after other headers and with other TTLs: a name
    /// read from the header or from a TTL (through a pointer; or forward,
    /// which hickory-proto rejects first) would read differently there. TTL
    /// fields come in order: the first one ending past a stretch's start is
    /// the only one that can overlap it.
    fn outside_ttls(&self, start: usize, record: &wire::Record, read: Range<usize>) -> bool {
        let overlaps = |ttl_at: usize| ttl_at < read.end && read.start < ttl_at + 4;
        let next = self.ttls.partition_point(|&(at, _)| start + at + 4 <= read.start);
        !overlaps(record.ttl_at) && !self.ttls.get(next).is_some_and(|&(at, _)| overlaps(start + at))
    }

    /// The TTL `record` (in `section`) is stored with; notes what it says of the answer.
    fn stored_ttl(
        &mut self,
        reply: &[u8],
        record: &wire::Record,
        section: usize,
        qtype: u16,
        clamps: &Clamps,
    ) -> Result<u32, Malformed> {
        // RFC 2181 §8: a TTL with the top bit set counts as zero.
        let ttl = if record.ttl > i32::MAX as u32 { 0 } else { record.ttl };
        Ok(match section {
            0 => {
                self.has_records |= record.rtype == qtype || qtype == TYPE_ANY;
                let t = clamps.record(ttl);
                self.answer_ttl = Some(self.answer_ttl.map_or(t, |a| a.min(t)));
                t
            }
            1 if record.rtype == TYPE_SOA => {
                // MINIMUM ends the SOA's RDATA.
                let minimum = record.rdata.end.checked_sub(4).filter(|&at| at >= record.rdata.start);
                let minimum = minimum.map(|at| &reply[at..at + 4]).ok_or(Malformed)?;
                let t = clamps.negative(ttl, u32::from_be_bytes([minimum[0], minimum[1], minimum[2], minimum[3]]));
                self.negative_ttl = Some(self.negative_ttl.map_or(t, |n| n.min(t)));
                t
            }
            _ => clamps.record(ttl),
        })
    }

    /// How long the answer is fresh.
    fn ttl(&self) -> u32 {
        match (self.has_records, self.negative_ttl) {
            (true, _) => self.answer_ttl.unwrap_or(0),
            // A CNAME chain ending in NXDOMAIN/NODATA: the shorter of the two.
            (false, Some(negative)) => self.answer_ttl.map_or(negative, |a| a.min(negative)),
            // RFC 2308 §5: a negative answer without an SOA is not cached.
            (false, None) => 0,
        }
    }

    /// The entry's one allocation: the kept record sections, then the TTL table.
    fn pack(&self, reply: &[u8], start: usize) -> Result<Box<[u8]>, Malformed> {
        let mut data = Vec::with_capacity(self.end - start + self.ttls.len() * TTL_ROW);
        data.extend_from_slice(&reply[start..self.end]);
        for &(at, stored) in &self.ttls {
            // A TTL lies within the sections, which fit in a 64 KiB message.
            data.extend_from_slice(&u16::try_from(at).map_err(|_| Malformed)?.to_le_bytes());
            data.extend_from_slice(&stored.to_le_bytes());
        }
        Ok(data.into_boxed_slice())
    }
}

/// Octets of one TTL table row: offset (u16) and stored TTL (u32).
const TTL_ROW: usize = 6;

impl Entry {
    /// Builds an entry from an upstream reply (already checked to be a
    /// well-formed answer to our question of `question_len` octets with rcode
    /// NOERROR or NXDOMAIN), clamping TTLs as `config` says.
    pub fn from_reply(
        reply: &[u8],
        question_len: usize,
        qtype: u16,
        config: &CacheConfig,
        now: Instant,
    ) -> Result<Entry, Malformed> {
        if reply.len() < HEADER_LEN + question_len {
            return Err(Malformed);
        }
        let start = HEADER_LEN + question_len;
        let policy = config.policy_for(&reply[HEADER_LEN..HEADER_LEN + question_len.saturating_sub(4)]);
        let clamps = Clamps {
            min: secs(policy.min_ttl),
            max: secs(policy.max_ttl),
            negative_max: secs(config.negative_max_ttl),
        };
        let walked = Walked::of(reply, start, qtype, &clamps)?;
        Ok(Entry {
            rcode: reply[3] & RCODE_MASK,
            authentic_data: reply[3] & AD != 0,
            counts: walked.kept,
            data: walked.pack(reply, start)?,
            stored_at: now,
            ttl: Duration::from_secs(u64::from(walked.ttl())),
            has_records: walked.has_records,
            cached_before: AtomicU32::new(0),
            refresh_failed_at: AtomicMoment::default(),
            empty_since: AtomicMoment::default(),
        })
    }

    /// The record sections (answer, authority, additional) in wire form.
    pub fn sections(&self) -> &[u8] {
        &self.data[..self.sections_len()]
    }

    /// Each record's TTL: its offset in [`Entry::sections`] and the TTL it was stored with.
    pub fn ttls(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.data[self.sections_len()..].chunks_exact(TTL_ROW).map(|row| {
            let at = u16::from_le_bytes([row[0], row[1]]);
            (usize::from(at), u32::from_le_bytes([row[2], row[3], row[4], row[5]]))
        })
    }

    /// The sections, to corrupt them in tests of what a reply does with bad bytes.
    #[cfg(test)]
    pub(crate) fn sections_mut(&mut self) -> &mut [u8] {
        let len = self.sections_len();
        &mut self.data[..len]
    }

    fn sections_len(&self) -> usize {
        let records: usize = self.counts.iter().map(|&n| usize::from(n)).sum();
        self.data.len() - records * TTL_ROW
    }

    /// The bytes this entry, stored under a key of `key_len` octets, counts
    /// for against `[cache] max_memory`: [`ENTRY_OVERHEAD`], the key, the
    /// record sections and the TTL table.
    pub fn bytes(&self, key_len: usize) -> u64 {
        ENTRY_OVERHEAD + (key_len + self.data.len()) as u64
    }

    /// True until the answer's TTL has run out.
    pub fn is_fresh(&self, now: Instant) -> bool {
        now < self.stored_at + self.ttl
    }

    /// True while an expired answer may still be served stale.
    pub fn within_max_stale(&self, now: Instant, max_stale: Duration) -> bool {
        now < self.stored_at + self.ttl + max_stale
    }

    /// Whole seconds since the answer arrived: what its TTLs have counted down by.
    pub fn age_secs(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.stored_at).as_secs()).unwrap_or(u32::MAX)
    }

    /// When this key was first cached: `stored_at`, or earlier for a refresh.
    pub fn first_cached(&self) -> Instant {
        self.stored_at - Duration::from_secs(u64::from(self.cached_before.load(Ordering::Relaxed)))
    }

    /// Takes on the history of `older`, the entry this one replaces.
    pub fn succeed(&self, older: &Entry) {
        let before = self.stored_at.saturating_duration_since(older.first_cached()).as_secs();
        self.cached_before.store(u32::try_from(before).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Notes that a refresh failed at `now`.
    pub fn refresh_failed(&self, now: Instant) {
        self.refresh_failed_at.store(self.stored_at, now);
    }

    /// True when a refresh failed less than `recheck` ago and no upstream
    /// has come back up since (`recovered`): serve stale at once.
    pub fn refresh_failed_within(&self, now: Instant, recheck: Duration, recovered: Option<Instant>) -> bool {
        self.refresh_failed_at
            .load(self.stored_at)
            .is_some_and(|at| now.saturating_duration_since(at) < recheck && recovered.is_none_or(|up| up < at))
    }

    /// Notes an empty upstream answer for this positive entry; returns when
    /// empty answers began and whether this is the first.
    pub fn empty_seen(&self, now: Instant) -> (Instant, bool) {
        self.empty_since.store_first(self.stored_at, now)
    }

    /// Notes that the fleet saw empty answers for this entry's key from
    /// `at` (fleet store); returns when they began, the earlier of that and
    /// what this node saw.
    pub fn empty_seen_since(&self, at: Instant) -> Instant {
        self.empty_since.store_earliest(self.stored_at, at)
    }

    /// When upstream answers began to come back empty for this positive
    /// entry (last-known-good), if they have.
    pub fn empty_since(&self) -> Option<Instant> {
        self.empty_since.load(self.stored_at)
    }

    /// The entry's records (answer, authority, additional) with the TTLs a
    /// fresh reply gives `age` seconds after the answer arrived (the stored
    /// TTLs, clamped as they were at store time, counted down; 0 at least),
    /// read by hickory: for operators (`/cache/lookup`, `/cache/dump`),
    /// never on the query path. `question` is the cached question (the key
    /// without its DO byte).
    pub fn records(&self, question: &[u8], age: u32) -> Vec<Record> {
        let mut reply = rebuild_reply(question, self.rcode, self.authentic_data, self.counts, self.sections());
        let base = HEADER_LEN + question.len();
        for (at, stored) in self.ttls() {
            reply[base + at..base + at + 4].copy_from_slice(&stored.saturating_sub(age).to_be_bytes());
        }
        Message::from_vec(&reply)
            .map(|message| message.answers.into_iter().chain(message.authorities).chain(message.additionals).collect())
            .unwrap_or_default()
    }

    /// How long moka keeps the entry under its zone's `policy`: fresh time plus the stale window.
    pub fn lifetime(&self, policy: &ZonePolicy) -> Duration {
        let stale = if policy.keep_expired() { policy.max_stale } else { Duration::ZERO };
        self.ttl + stale
    }
}

/// The reply an entry was made from: a header with these fields, the
/// question, then the record sections (whose compression pointers count
/// from the start of this reply).
pub fn rebuild_reply(question: &[u8], rcode: u8, authentic_data: bool, counts: [u16; 3], sections: &[u8]) -> Vec<u8> {
    let [an, ns, ar] = counts;
    let mut reply = Vec::with_capacity(HEADER_LEN + question.len() + sections.len());
    let ad = if authentic_data { AD } else { 0 };
    write_header(&mut reply, 0, [QR | RD, RA | ad | (rcode & RCODE_MASK)], [1, an, ns, ar]);
    reply.extend_from_slice(question);
    reply.extend_from_slice(sections);
    reply
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_packets::{negative_reply, positive_reply};
    use crate::wire::{NOERROR, NXDOMAIN, tests::mutated};

    const QUESTION_LEN: usize = 21;

    #[test]
    fn positive_ttl_is_the_smallest_and_opt_is_dropped() {
        let now = Instant::now();
        let e = Entry::from_reply(&positive_reply(), QUESTION_LEN, 1, &CacheConfig::default(), now).unwrap();
        assert_eq!(e.ttl, Duration::from_secs(60));
        assert_eq!(e.counts, [2, 0, 0]);
        assert!(e.has_records);
        assert_eq!(e.ttls().map(|t| t.1).collect::<Vec<_>>(), vec![300, 60]);
        assert_eq!(e.sections().len(), 2 * 16);
        assert_eq!(e.rcode, NOERROR);
    }

    /// Found by fuzzing (fuzz/fuzz_targets/upstream_reply.rs): bytes after the
    /// last record were cached, and landed between the records and the OPT
    /// record of every reply rendered from the entry, so that EDNS clients got
    /// a reply that does not parse.
    #[test]
    fn bytes_after_the_last_record_are_not_cached() {
        let mut reply = positive_reply();
        reply[11] = 0; // ARCOUNT 0: the OPT record's bytes are now trailing junk.
        let e = Entry::from_reply(&reply, QUESTION_LEN, 1, &CacheConfig::default(), Instant::now()).unwrap();
        assert_eq!(e.counts, [2, 0, 0]);
        assert_eq!(e.sections().len(), 2 * 16);

        let query = crate::query::Query::parse(&crate::query::tests::query_bytes(Some((1232, false)))).unwrap();
        let out = crate::reply::answer(&query, &e, crate::reply::Ttl::CountDown { age: 0 }, None, 1232);
        let parsed = hickory_proto::op::Message::from_vec(&out).expect("the reply parses");
        assert_eq!(parsed.answers.len(), 2);
        assert!(parsed.edns.is_some());
    }

    /// Found by fuzzing (fuzz/fuzz_targets/upstream_reply.rs): a name that
    /// points into the upstream's header (hickory-proto accepts it: the
    /// pointer is backwards) was cached, and read as another name — or as no
    /// name — after the client's header, whose ID differs.
    #[test]
    fn a_name_pointing_into_the_header_is_malformed() {
        let mut reply = positive_reply();
        reply[0] = 0; // ID 0x00cd: at offset 0, the root name as far as hickory-proto can tell.
        let second_owner = 12 + QUESTION_LEN + 16;
        assert_eq!(reply[second_owner..second_owner + 2], [0xc0, 12]);
        reply[second_owner + 1] = 0;
        assert!(hickory_proto::op::Message::from_vec(&reply).is_ok());
        let e = Entry::from_reply(&reply, QUESTION_LEN, 1, &CacheConfig::default(), Instant::now());
        assert_eq!(e.unwrap_err(), Malformed);
    }

    /// Found by fuzzing too: a name read through a pointer from an earlier
    /// record's TTL, or from a label that runs into it (hickory-proto accepts
    /// both), reads differently once the TTL counts down.
    #[test]
    fn a_name_read_from_a_ttl_is_malformed() {
        let (first_ttl, second_owner) = (12 + QUESTION_LEN + 6, 12 + QUESTION_LEN + 16);
        assert_eq!(positive_reply()[first_ttl..first_ttl + 4], 300u32.to_be_bytes());
        // At the TTL: its first octet, 0, is the root name. Before it: the CLASS's low octet,
        // 1, is a label of the TTL's first octet, then the root name (its second octet).
        for target in [first_ttl, first_ttl - 1] {
            let mut reply = positive_reply();
            reply[second_owner + 1] = target as u8;
            assert!(hickory_proto::op::Message::from_vec(&reply).is_ok(), "{target}");
            let e = Entry::from_reply(&reply, QUESTION_LEN, 1, &CacheConfig::default(), Instant::now());
            assert_eq!(e.unwrap_err(), Malformed, "{target}");
        }
    }

    #[test]
    fn ttls_are_clamped() {
        let policy =
            ZonePolicy { min_ttl: Duration::from_secs(100), max_ttl: Duration::from_secs(200), ..Default::default() };
        let config = CacheConfig { policy, ..CacheConfig::default() };
        let e = Entry::from_reply(&positive_reply(), QUESTION_LEN, 1, &config, Instant::now()).unwrap();
        assert_eq!(e.ttls().map(|t| t.1).collect::<Vec<_>>(), vec![200, 100]);
        assert_eq!(e.ttl, Duration::from_secs(100));
    }

    #[test]
    fn negative_ttl_is_soa_minimum_capped() {
        let now = Instant::now();
        let e = Entry::from_reply(&negative_reply(), QUESTION_LEN, 1, &CacheConfig::default(), now).unwrap();
        assert_eq!((e.rcode, e.has_records), (NXDOMAIN, false));
        assert_eq!(e.ttl, Duration::from_secs(120));
        assert_eq!(e.ttls().next().unwrap().1, 120, "the SOA's own TTL is the negative TTL");
        let capped = CacheConfig { negative_max_ttl: Duration::from_secs(30), ..CacheConfig::default() };
        let e = Entry::from_reply(&negative_reply(), QUESTION_LEN, 1, &capped, now).unwrap();
        assert_eq!(e.ttl, Duration::from_secs(30));
    }

    #[test]
    fn nodata_answer_for_another_type_has_no_records() {
        let e =
            Entry::from_reply(&positive_reply(), QUESTION_LEN, 28, &CacheConfig::default(), Instant::now()).unwrap();
        assert!(!e.has_records);
    }

    #[test]
    fn truncated_reply_is_malformed() {
        let reply = positive_reply();
        assert_eq!(
            Entry::from_reply(&reply[..40], QUESTION_LEN, 1, &CacheConfig::default(), Instant::now()).unwrap_err(),
            Malformed
        );
    }

    /// Mutated upstream replies (already past hickory's check in real use,
    /// but the walker must not trust that): an entry or Malformed, never a
    /// panic, and a reply rendered from any entry fits in the limit.
    #[test]
    fn mutated_replies_never_panic() {
        let query = crate::query::Query::parse(&crate::query::tests::query_bytes(Some((1232, false)))).unwrap();
        for original in [positive_reply(), negative_reply()] {
            for _ in 0..50_000 {
                let reply = mutated(&original, 12);
                if let Ok(entry) = Entry::from_reply(&reply, QUESTION_LEN, 1, &CacheConfig::default(), Instant::now()) {
                    let bytes = crate::reply::answer(&query, &entry, crate::reply::Ttl::Stale(30), None, 512);
                    assert!(bytes.len() <= 512);
                }
            }
        }
    }

    #[test]
    fn records_are_read_back_for_operators() {
        let e = Entry::from_reply(&positive_reply(), QUESTION_LEN, 1, &CacheConfig::default(), Instant::now()).unwrap();
        let question = &positive_reply()[HEADER_LEN..HEADER_LEN + QUESTION_LEN];
        let lines: Vec<String> = e.records(question, 0).iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["www.example.com. 300 IN A 192.0.2.1", "www.example.com. 60 IN A 192.0.2.2"]);
        let lines: Vec<String> = e.records(question, 100).iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["www.example.com. 200 IN A 192.0.2.1", "www.example.com. 0 IN A 192.0.2.2"]);
        // The SOA of a negative answer as a client gets it: its TTL capped
        // at store time by negative_max_ttl, as the reply writes it.
        let config = CacheConfig { negative_max_ttl: Duration::from_secs(20), ..CacheConfig::default() };
        let n = Entry::from_reply(&negative_reply(), QUESTION_LEN, 1, &config, Instant::now()).unwrap();
        let soa = n.records(question, 5);
        assert_eq!(soa.len(), 1);
        assert_eq!(soa[0].record_type(), hickory_proto::rr::RecordType::SOA);
        let query = crate::query::Query::parse(&crate::query::tests::query_bytes(None)).unwrap();
        let reply = crate::reply::answer(&query, &n, crate::reply::Ttl::CountDown { age: 5 }, None, 512);
        let client = Message::from_vec(&reply).unwrap();
        assert_eq!(soa[0].ttl, client.authorities[0].ttl, "what the operator sees is what a client gets");
        assert!(soa[0].ttl <= 15, "{}", soa[0]);
    }

    #[tokio::test(start_paused = true)]
    async fn freshness_and_stale_window_follow_the_clock() {
        let start = Instant::now();
        let e = Entry::from_reply(&positive_reply(), QUESTION_LEN, 1, &CacheConfig::default(), start).unwrap();
        let max_stale = Duration::from_secs(600);
        assert!(e.is_fresh(Instant::now()));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(e.is_fresh(Instant::now()));
        assert_eq!(e.age_secs(Instant::now()), 59);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!e.is_fresh(Instant::now()));
        assert!(e.within_max_stale(Instant::now(), max_stale));
        tokio::time::advance(Duration::from_secs(600)).await;
        assert!(!e.within_max_stale(Instant::now(), max_stale));
    }

    #[tokio::test(start_paused = true)]
    async fn failure_recheck_and_empty_since() {
        let e = Entry::from_reply(&positive_reply(), QUESTION_LEN, 1, &CacheConfig::default(), Instant::now()).unwrap();
        let recheck = Duration::from_secs(30);
        assert!(!e.refresh_failed_within(Instant::now(), recheck, None));
        let failed = Instant::now();
        e.refresh_failed(failed);
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(e.refresh_failed_within(Instant::now(), recheck, None));
        assert!(e.refresh_failed_within(Instant::now(), recheck, Some(failed - Duration::from_secs(1))));
        assert!(!e.refresh_failed_within(Instant::now(), recheck, Some(Instant::now())), "an upstream came back");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!e.refresh_failed_within(Instant::now(), recheck, None));
        let (since, first) = e.empty_seen(Instant::now());
        assert!(first);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(e.empty_seen(Instant::now()), (since, false));
    }
}
