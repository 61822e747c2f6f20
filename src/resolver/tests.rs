//! The answer rules, each on paused time against scripted upstreams
//! ([`crate::upstream::scripted`]): the cache, the pools with their order,
//! hedging, health, probes and rechecks all run as in production; only the
//! network is a script, and the clock moves only when every task waits. A
//! test that waits out `stale_answer_after` or a `probe_interval` takes
//! microseconds of wall time.

use std::{net::Ipv4Addr, sync::Arc, time::Duration};

use hickory_proto::{
    op::{Message, ResponseCode},
    rr::{RData, rdata::opt::EdnsOption},
};
use tokio::time::Instant;

use super::*;
use crate::{
    config::{Config, UpstreamAddr},
    test_packets::Packet,
    upstream::scripted::{Act, Script},
    wire::{self, CD, RD, TYPE_A, TYPE_AAAA},
};

/// A resolver in front of `servers`, in this order, with the config's
/// defaults changed by `extra` (TOML, e.g. `"[cache]\nprefetch = false\n"`;
/// `[upstream]` keys, if any, first).
fn resolver(servers: &[&UpstreamAddr], extra: &str) -> Arc<Resolver> {
    let extra = extra.strip_prefix("[upstream]\n").unwrap_or(extra);
    let text = format!("[upstream]\nservers = [\"192.0.2.53\"]\n{extra}");
    let mut config = Config::parse(std::path::Path::new("t.toml"), &text, None).expect("a valid config");
    config.upstream.servers = servers.iter().map(|addr| (*addr).clone()).collect();
    let metrics = Arc::new(Metrics::new());
    let upstreams = Upstreams::new(&config.upstream, &metrics, None);
    Arc::new(Resolver::new(Cache::new(&config.cache), config.answers.clone(), upstreams, metrics))
}

/// A client's query for `name` of `qtype` with EDNS, RD, and CD if asked.
fn query(name: &str, qtype: u16, checking_disabled: bool) -> Query {
    let mut packet = Vec::new();
    wire::write_header(&mut packet, 0x4242, [RD, if checking_disabled { CD } else { 0 }], [1, 0, 0, 1]);
    packet.extend_from_slice(&wire::question(name, qtype));
    wire::write_opt(&mut packet, 1232, false, 0, None);
    Query::parse(&packet).expect("a valid query")
}

fn a(name: &str) -> Query {
    query(name, TYPE_A, false)
}

/// What a client sees of a reply: RCODE, the A addresses with their TTLs, the EDE code.
#[derive(Debug, PartialEq)]
struct Seen {
    rcode: ResponseCode,
    addresses: Vec<(Ipv4Addr, u32)>,
    ede: Option<u16>,
}

fn seen(reply: &[u8]) -> Seen {
    let message = Message::from_vec(reply).expect("a reply that parses");
    let addresses = message
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some((a.0, record.ttl)),
            _ => None,
        })
        .collect();
    let ede = message.edns.as_ref().and_then(|edns| {
        edns.options().as_ref().iter().find_map(|(_, option)| match option {
            EdnsOption::Unknown(15, data) => Some(u16::from_be_bytes([data[0], data[1]])),
            _ => None,
        })
    });
    Seen { rcode: message.metadata.response_code, addresses, ede }
}

/// Asks `resolver` as a client would; the reply as seen, and how long it took.
async fn ask(resolver: &Arc<Resolver>, query: &Query) -> (Seen, Duration) {
    let started = Instant::now();
    let reply = resolver.answer(query, 4096).await;
    (seen(&reply.reply), started.elapsed())
}

const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const OTHER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);

fn fresh(ip: Ipv4Addr, ttl: u32) -> Seen {
    Seen { rcode: ResponseCode::NoError, addresses: vec![(ip, ttl)], ede: None }
}

fn stale(ip: Ipv4Addr) -> Seen {
    Seen { rcode: ResponseCode::NoError, addresses: vec![(ip, 30)], ede: Some(3) }
}

fn servfail() -> Seen {
    Seen { rcode: ResponseCode::ServFail, addresses: vec![], ede: Some(22) }
}

/// Lets the background tasks (fetches, probes) run to their next wait.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

// --- fresh answers

#[tokio::test(start_paused = true)]
async fn a_fresh_answer_is_cached_and_its_ttl_counts_down() {
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 300 });
    let resolver = resolver(&[&server], "");
    assert_eq!(ask(&resolver, &a("www.test")).await.0, fresh(IP, 300));
    tokio::time::advance(Duration::from_secs(100)).await;
    assert_eq!(ask(&resolver, &a("www.test")).await.0, fresh(IP, 200));
    assert_eq!(script.asked(), 1, "the second answer came from the cache");
}

#[tokio::test(start_paused = true)]
async fn negative_answers_are_cached_for_the_soa_minimum() {
    let (script, server) = Script::always(Act::NxDomain(60));
    let resolver = resolver(&[&server], "");
    assert_eq!(ask(&resolver, &a("gone.test")).await.0.rcode, ResponseCode::NXDomain);
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(ask(&resolver, &a("gone.test")).await.0.rcode, ResponseCode::NXDomain);
    assert_eq!(script.asked(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    ask(&resolver, &a("gone.test")).await;
    assert_eq!(script.asked(), 2, "asked again once the negative TTL ran out");
}

#[tokio::test(start_paused = true)]
async fn an_answer_with_ttl_zero_is_not_kept() {
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 0 });
    let resolver = resolver(&[&server], "");
    assert_eq!(ask(&resolver, &a("zero.test")).await.0, fresh(IP, 0));
    assert_eq!(ask(&resolver, &a("zero.test")).await.0, fresh(IP, 0));
    assert_eq!(script.asked(), 2);
}

#[tokio::test(start_paused = true)]
async fn max_ttl_clamps_what_is_cached() {
    let (_, server) = Script::always(Act::Answer { ip: IP, ttl: 90_000 });
    let resolver = resolver(&[&server], "[cache]\nmax_ttl = \"1h\"\n");
    assert_eq!(ask(&resolver, &a("long.test")).await.0, fresh(IP, 3600));
}

// --- coalescing and prefetch

#[tokio::test(start_paused = true)]
async fn identical_queries_in_flight_share_one_fetch() {
    let (script, server) =
        Script::always(Act::After(Duration::from_millis(50), Box::new(Act::Answer { ip: IP, ttl: 60 })));
    let resolver = resolver(&[&server], "");
    let asks: Vec<_> = (0..10)
        .map(|_| {
            let resolver = Arc::clone(&resolver);
            tokio::spawn(async move { ask(&resolver, &a("busy.test")).await.0 })
        })
        .collect();
    for asked in asks {
        assert_eq!(asked.await.unwrap(), fresh(IP, 60));
    }
    assert_eq!(script.asked(), 1);
}

#[tokio::test(start_paused = true)]
async fn cd_and_plain_queries_do_not_share_a_fetch_or_an_entry() {
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 60 });
    let resolver = resolver(&[&server], "");
    ask(&resolver, &query("v.test", TYPE_A, true)).await;
    ask(&resolver, &a("v.test")).await;
    assert_eq!(script.asked(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_entry_asked_for_in_the_last_tenth_of_its_ttl_is_refreshed_in_the_background() {
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 100 });
    let resolver = resolver(&[&server], "");
    ask(&resolver, &a("hot.test")).await;
    tokio::time::advance(Duration::from_secs(95)).await;
    assert_eq!(ask(&resolver, &a("hot.test")).await.0, fresh(IP, 5), "answered from the cache at once");
    settle().await;
    assert_eq!(script.asked(), 2, "refreshed in the background");
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(ask(&resolver, &a("hot.test")).await.0, fresh(IP, 90), "never expired for its clients");
}

#[tokio::test(start_paused = true)]
async fn without_prefetch_an_entry_is_refreshed_only_once_it_expires() {
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 100 });
    let resolver = resolver(&[&server], "[cache]\nprefetch = false\n");
    ask(&resolver, &a("hot.test")).await;
    tokio::time::advance(Duration::from_secs(95)).await;
    ask(&resolver, &a("hot.test")).await;
    settle().await;
    assert_eq!(script.asked(), 1);
}

// --- stale answers (RFC 8767)

/// A resolver whose one server answered `name` with TTL 10, 11 s ago, and now does `then`.
async fn expired(name: &str, then: Act, extra: &str) -> (Arc<Script>, Arc<Resolver>) {
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 10 });
    let resolver = resolver(&[&server], extra);
    ask(&resolver, &a(name)).await;
    tokio::time::advance(Duration::from_secs(11)).await;
    script.set(then);
    (script, resolver)
}

#[tokio::test(start_paused = true)]
async fn a_slow_upstream_gets_a_stale_answer_at_stale_answer_after() {
    let slow = Act::After(Duration::from_secs(3), Box::new(Act::Answer { ip: OTHER, ttl: 60 }));
    let (_, resolver) = expired("slow.test", slow, "[upstream]\ntimeout = \"5s\"\n").await;
    let (seen, took) = ask(&resolver, &a("slow.test")).await;
    assert_eq!(seen, stale(IP));
    assert_eq!(took, Duration::from_millis(1_800), "the client timer, exactly");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ask(&resolver, &a("slow.test")).await.0, fresh(OTHER, 60), "the late answer refreshed the cache");
}

#[tokio::test(start_paused = true)]
async fn failing_upstreams_get_a_stale_answer_as_soon_as_they_fail() {
    let (_, resolver) = expired("down.test", Act::ServFail, "").await;
    let (seen, took) = ask(&resolver, &a("down.test")).await;
    assert_eq!(seen, stale(IP));
    assert!(took < Duration::from_millis(10), "took {took:?}");
}

#[tokio::test(start_paused = true)]
async fn after_a_failed_refresh_stale_answers_come_at_once_without_asking() {
    let (script, resolver) = expired("recheck.test", Act::Silent, "").await;
    let (_, took) = ask(&resolver, &a("recheck.test")).await;
    assert_eq!(took, Duration::from_millis(500), "stale once the attempt times out");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let asked = script.asked();
    let (seen, took) = ask(&resolver, &a("recheck.test")).await;
    assert_eq!((seen, took), (stale(IP), Duration::ZERO), "RFC 8767 failure recheck");
    assert_eq!(script.asked(), asked, "no new query for the name");
}

#[tokio::test(start_paused = true)]
async fn fresh_answers_resume_within_a_probe_interval_of_the_upstream_answering_again() {
    let (script, resolver) = expired("back.test", Act::Silent, "[upstream]\nprobe_interval = \"2s\"\n").await;
    ask(&resolver, &a("back.test")).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    script.set(Act::Answer { ip: OTHER, ttl: 60 });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ask(&resolver, &a("back.test")).await.0, fresh(OTHER, 60), "the recheck saw it back");
}

/// Checks are not queued behind each other: with a timeout ten times the
/// interval, a server back while an earlier check waits out its timeout
/// is heard from by the next interval's check.
#[tokio::test(start_paused = true)]
async fn a_recheck_hears_a_server_back_within_an_interval_however_long_the_timeout() {
    let config = "[upstream]\ntimeout = \"3s\"\nprobe_interval = \"300ms\"\n";
    let (script, resolver) = expired("slowcheck.test", Act::Silent, config).await;
    let (_, took) = ask(&resolver, &a("slowcheck.test")).await;
    assert_eq!(took, Duration::from_millis(1_800), "stale at stale_answer_after");
    tokio::time::sleep(Duration::from_millis(1_200 + 500)).await;
    // The attempt failed at 3 s; the recheck's first check (at 3.3 s) waits until 6.3 s.
    script.set(Act::Answer { ip: OTHER, ttl: 60 });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(ask(&resolver, &a("slowcheck.test")).await.0, fresh(OTHER, 60), "heard from by the 3.9 s check");
}

#[tokio::test(start_paused = true)]
async fn a_pool_counted_down_gets_stale_answers_at_once() {
    let (script, resolver) = expired("silent.test", Act::Silent, "[upstream]\nfail_after = 1\n").await;
    let (_, first) = ask(&resolver, &a("silent.test")).await;
    assert_eq!(first, Duration::from_millis(500), "stale once the attempt times out");
    tokio::time::sleep(Duration::from_secs(31)).await;
    // Past the failure recheck; the server is still counted down.
    let (seen, took) = ask(&resolver, &a("silent.test")).await;
    assert_eq!((seen, took), (stale(IP), Duration::ZERO));
    assert!(script.asked() >= 2, "the refresh still goes out in the background");
}

#[tokio::test(start_paused = true)]
async fn a_stale_answer_past_max_stale_is_not_served() {
    let (_, resolver) = expired("old.test", Act::ServFail, "[cache]\nmax_stale = \"1m\"\n").await;
    assert_eq!(ask(&resolver, &a("old.test")).await.0, stale(IP));
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(ask(&resolver, &a("old.test")).await.0, servfail());
}

#[tokio::test(start_paused = true)]
async fn without_serve_stale_an_outage_is_servfail() {
    let (_, resolver) = expired("strict.test", Act::ServFail, "[cache]\nserve_stale = false\n").await;
    assert_eq!(ask(&resolver, &a("strict.test")).await.0, servfail());
}

#[tokio::test(start_paused = true)]
async fn a_cache_rule_takes_stale_answers_from_its_zone_only() {
    let rule = "[[cache.rule]]\nzone = \"login.test\"\nserve_stale = false\n";
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 10 });
    let resolver = resolver(&[&server], rule);
    ask(&resolver, &a("a.login.test")).await;
    ask(&resolver, &a("www.test")).await;
    tokio::time::advance(Duration::from_secs(11)).await;
    script.set(Act::ServFail);
    assert_eq!(ask(&resolver, &a("a.login.test")).await.0, servfail());
    assert_eq!(ask(&resolver, &a("www.test")).await.0, stale(IP));
}

#[tokio::test(start_paused = true)]
async fn a_stale_nxdomain_is_marked_ede_19() {
    let (script, server) = Script::always(Act::NxDomain(10));
    let resolver = resolver(&[&server], "");
    ask(&resolver, &a("nx.test")).await;
    tokio::time::advance(Duration::from_secs(11)).await;
    script.set(Act::ServFail);
    let (seen, _) = ask(&resolver, &a("nx.test")).await;
    assert_eq!((seen.rcode, seen.ede), (ResponseCode::NXDomain, Some(19)));
}

// --- nothing to answer with

#[tokio::test(start_paused = true)]
async fn a_miss_that_fails_everywhere_is_servfail_with_ede_22() {
    let (_, server) = Script::always(Act::ServFail);
    let resolver = resolver(&[&server], "");
    assert_eq!(ask(&resolver, &a("none.test")).await.0, servfail());
}

#[tokio::test(start_paused = true)]
async fn a_miss_behind_a_pool_counted_down_is_servfail_within_tens_of_milliseconds() {
    let (_, server) = Script::always(Act::Silent);
    let resolver = resolver(&[&server], "[upstream]\nfail_after = 1\ntimeout = \"2s\"\n");
    let (_, first) = ask(&resolver, &a("first.test")).await;
    assert!(first >= Duration::from_secs(2), "the first waits the timeout: {first:?}");
    let (seen, took) = ask(&resolver, &a("second.test")).await;
    assert_eq!(seen, servfail());
    assert!(took <= Duration::from_millis(50), "took {took:?}");
}

// --- last-known-good

#[tokio::test(start_paused = true)]
async fn an_empty_answer_over_records_is_kept_until_keep_positive() {
    let (_, resolver) = expired("dynamo.test", Act::NxDomain(60), "[cache]\nkeep_positive = \"1h\"\n").await;
    assert_eq!(ask(&resolver, &a("dynamo.test")).await.0, stale(IP), "the last good records");
    tokio::time::advance(Duration::from_secs(30 * 60)).await;
    assert_eq!(ask(&resolver, &a("dynamo.test")).await.0, stale(IP), "still within keep_positive");
    tokio::time::advance(Duration::from_secs(31 * 60)).await;
    assert_eq!(ask(&resolver, &a("dynamo.test")).await.0.rcode, ResponseCode::NXDomain, "accepted at last");
}

#[tokio::test(start_paused = true)]
async fn keep_positive_zero_accepts_an_empty_answer_at_once() {
    let (_, resolver) = expired("gone.test", Act::NoData(60), "[cache]\nkeep_positive = \"0s\"\n").await;
    let (seen, _) = ask(&resolver, &a("gone.test")).await;
    assert_eq!((seen.rcode, seen.addresses.len()), (ResponseCode::NoError, 0));
}

// --- the pool: order, hedging, health

#[tokio::test(start_paused = true)]
async fn the_first_server_that_answers_is_the_only_one_asked() {
    let (first, one) = Script::always(Act::Answer { ip: IP, ttl: 60 });
    let (second, two) = Script::always(Act::Answer { ip: OTHER, ttl: 60 });
    let resolver = resolver(&[&one, &two], "");
    assert_eq!(ask(&resolver, &a("order.test")).await.0, fresh(IP, 60));
    assert_eq!((first.asked(), second.asked()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_failing_first_server_moves_on_to_the_second_at_once() {
    let (_, one) = Script::always(Act::ServFail);
    let (_, two) = Script::always(Act::Answer { ip: OTHER, ttl: 60 });
    let resolver = resolver(&[&one, &two], "");
    let (seen, took) = ask(&resolver, &a("next.test")).await;
    assert_eq!((seen, took), (fresh(OTHER, 60), Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn a_silent_first_server_is_hedged_after_40_ms() {
    let (_, one) = Script::always(Act::Silent);
    let (_, two) = Script::always(Act::Answer { ip: OTHER, ttl: 60 });
    let resolver = resolver(&[&one, &two], "[upstream]\ntimeout = \"3s\"\n");
    let (seen, took) = ask(&resolver, &a("hedge.test")).await;
    assert_eq!(seen, fresh(OTHER, 60));
    assert_eq!(took, Duration::from_millis(40), "a server with no latency known yet is hedged at 40 ms");
}

#[tokio::test(start_paused = true)]
async fn a_hedged_server_that_answers_first_still_wins() {
    let (_, one) = Script::always(Act::After(Duration::from_millis(60), Box::new(Act::Answer { ip: IP, ttl: 60 })));
    let (_, two) = Script::always(Act::After(Duration::from_millis(100), Box::new(Act::Answer { ip: OTHER, ttl: 60 })));
    let resolver = resolver(&[&one, &two], "");
    let (seen, took) = ask(&resolver, &a("race.test")).await;
    assert_eq!((seen, took), (fresh(IP, 60), Duration::from_millis(60)));
}

#[tokio::test(start_paused = true)]
async fn a_server_counted_down_is_skipped_and_taken_back_when_a_probe_sees_it_answer() {
    let (first, one) = Script::always(Act::Silent);
    let (_, two) = Script::always(Act::Answer { ip: OTHER, ttl: 1 });
    let resolver = resolver(&[&one, &two], "[upstream]\nfail_after = 1\nprobe_interval = \"1s\"\n");
    ask(&resolver, &a("p1.test")).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let asked = first.asked();
    let (seen, took) = ask(&resolver, &a("p2.test")).await;
    assert_eq!((seen, took), (fresh(OTHER, 1), Duration::ZERO), "skipped: no hedge wait");
    first.set(Act::Answer { ip: IP, ttl: 60 });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(first.asked() > asked, "probed in the background");
    assert_eq!(ask(&resolver, &a("p3.test")).await.0, fresh(IP, 60), "preferred again once it answers");
}

#[tokio::test(start_paused = true)]
async fn names_a_server_refuses_never_count_it_down() {
    let (_, server) =
        Script::new(
            |question: &[u8]| {
                if question.starts_with(b"\x07refused") { Act::Refuse } else { Act::Answer { ip: IP, ttl: 60 } }
            },
        );
    let resolver = resolver(&[&server], "[upstream]\nfail_after = 3\n");
    for i in 0..10 {
        assert_eq!(ask(&resolver, &a(&format!("refused.n{i}.test"))).await.0, servfail());
        settle().await;
    }
    assert!(resolver.upstreams().pools().all(|(_, pool)| pool.any_up()));
    assert_eq!(ask(&resolver, &a("fine.test")).await.0, fresh(IP, 60));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_refuses_everything_goes_down_once_and_stays_down() {
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 60 });
    let resolver = resolver(&[&server], "[upstream]\nprobe_interval = \"1s\"\n");
    ask(&resolver, &a("before.test")).await;
    script.set(Act::Refuse);
    for i in 0..3 {
        ask(&resolver, &a(&format!("r{i}.test"))).await;
        settle().await;
    }
    settle().await;
    let up = || resolver.upstreams().pools().all(|(_, pool)| pool.any_up());
    assert!(!up(), "down after fail_after refusals and a failed check");
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!up(), "a refusing probe never brings it back");
    }
}

// --- what an upstream answer may put in the cache

#[tokio::test(start_paused = true)]
async fn an_unrelated_record_in_an_answer_is_scrubbed() {
    let (_, server) = Script::new(|question: &[u8]| {
        let reply = Packet::reply_to(question);
        let qname = reply.qname();
        Act::Reply(reply.a(&qname, 60, [192, 0, 2, 66]).a("evil.test", 60, [192, 0, 2, 66]).build())
    });
    let resolver = resolver(&[&server], "");
    assert_eq!(ask(&resolver, &a("a.test")).await.0, fresh(Ipv4Addr::new(192, 0, 2, 66), 60));
    assert!(resolver.cached(&Selection::Name { name: &wire::wire_name("evil.test"), qtype: None }).is_empty());
}

#[tokio::test(start_paused = true)]
async fn rebind_protection_turns_a_private_only_answer_into_nodata() {
    let (_, server) = Script::always(Act::Answer { ip: Ipv4Addr::new(10, 0, 0, 1), ttl: 60 });
    let resolver = resolver(&[&server], "[server]\nrebind_protection = true\nrebind_allow = [\"lan\"]\n");
    let (seen, _) = ask(&resolver, &a("public.test")).await;
    assert_eq!((seen.rcode, seen.addresses.len()), (ResponseCode::NoError, 0));
    assert_eq!(ask(&resolver, &a("nas.lan")).await.0, fresh(Ipv4Addr::new(10, 0, 0, 1), 60));
}

#[tokio::test(start_paused = true)]
async fn a_flush_during_a_fetch_keeps_its_answer_out_of_the_cache() {
    let slow = Act::After(Duration::from_millis(100), Box::new(Act::Answer { ip: IP, ttl: 60 }));
    let (script, server) = Script::always(slow);
    let resolver = resolver(&[&server], "");
    let asking = {
        let resolver = Arc::clone(&resolver);
        tokio::spawn(async move { ask(&resolver, &a("flush.test")).await.0 })
    };
    settle().await;
    resolver.flush(&Selection::All);
    assert_eq!(asking.await.unwrap(), fresh(IP, 60), "the client still gets its answer");
    ask(&resolver, &a("flush.test")).await;
    assert_eq!(script.asked(), 2, "nothing was stored for the flushed name");
}

#[tokio::test(start_paused = true)]
async fn other_types_of_a_name_are_entries_of_their_own() {
    let (script, server) = Script::always(Act::Answer { ip: IP, ttl: 60 });
    let resolver = resolver(&[&server], "");
    ask(&resolver, &a("both.test")).await;
    let (seen, _) = ask(&resolver, &query("both.test", TYPE_AAAA, false)).await;
    assert_eq!((seen.rcode, seen.addresses.len()), (ResponseCode::NoError, 0), "NODATA for AAAA");
    assert_eq!(script.asked(), 2);
}
