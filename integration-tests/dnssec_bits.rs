//! Scenario: stubborn does not validate DNSSEC, and must not launder it
//! either. CD and DO are part of the cache key and of the key that joins
//! identical queries in flight: an answer a validating upstream gave only
//! because the client set CD (data it would refuse as bogus) never reaches a
//! CD=0 client, fresh, coalesced or stale; DO=1 clients get the RRSIGs and
//! DO=0 clients do not, whichever asked first. AD is passed on only with a
//! fresh answer to a client that asked with AD or DO (RFC 6840 §5.7-5.8),
//! never on a stale one.

use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

const BOGUS: &str = "bogus.example.test.";

/// A fake that answers as a validating resolver does for a zone whose
/// signatures are broken: SERVFAIL unless the query has CD set, then the
/// (unvalidated) data.
fn validator() -> FakeUpstream {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_script(|query, mut reply| {
        if !query.metadata.checking_disabled {
            reply.answers.clear();
            reply.authorities.clear();
            reply.metadata.response_code = ResponseCode::ServFail;
        }
        reply
    });
    fake
}

#[test]
fn an_answer_fetched_with_cd_never_reaches_a_cd0_client() {
    let fake = validator();
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let cd = stubborn.ask(&Ask::new(BOGUS, RecordType::A).checking_disabled());
    assert_eq!(cd.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "CD=1 gets the data: {}", cd.summary());
    assert!(cd.msg.metadata.checking_disabled, "CD echoed: {}", cd.summary());

    let plain = stubborn.ask(&Ask::new(BOGUS, RecordType::A));
    assert_eq!(plain.rcode(), ResponseCode::ServFail, "CD=0 must not get the CD=1 answer: {}", plain.summary());
    assert!(plain.ipv4s().is_empty(), "{}", plain.summary());
    // The CD=1 answer is still cached for CD=1 clients.
    let again = stubborn.ask(&Ask::new(BOGUS, RecordType::A).checking_disabled());
    assert_eq!(again.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", again.summary());
}

#[test]
fn cd_and_plain_queries_in_flight_together_are_not_joined() {
    let fake = validator();
    fake.set_mode(Mode::Slow(Duration::from_millis(400)));
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "2s"));
    let addr = stubborn.dns;
    let cd = thread::spawn(move || Ask::new(BOGUS, RecordType::A).checking_disabled().send(addr));
    thread::sleep(Duration::from_millis(50));
    let plain = Ask::new(BOGUS, RecordType::A).send(addr);
    let cd = cd.join().expect("CD query thread");
    assert_eq!(cd.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", cd.summary());
    assert_eq!(plain.rcode(), ResponseCode::ServFail, "joined the CD=1 fetch: {}", plain.summary());
    assert!(fake.queries_for(BOGUS) >= 2, "each key has its own upstream query");
}

#[test]
fn a_stale_cd_answer_is_not_given_to_a_cd0_client() {
    let fake = validator();
    fake.set_ttl(1);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let cd = stubborn.ask(&Ask::new(BOGUS, RecordType::A).checking_disabled());
    let fetched = Instant::now();
    assert_eq!(cd.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", cd.summary());
    sleep_until(fetched, Duration::from_millis(1_500));
    fake.set_mode(Mode::Blackhole);

    let plain = stubborn.ask(&Ask::new(BOGUS, RecordType::A));
    assert_eq!(plain.rcode(), ResponseCode::ServFail, "stale CD=1 data for a CD=0 client: {}", plain.summary());
    let stale = stubborn.ask(&Ask::new(BOGUS, RecordType::A).checking_disabled());
    assert_eq!(stale.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "CD=1 still gets it stale: {}", stale.summary());
    assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());
}

#[test]
fn ad_only_on_a_fresh_answer_to_a_client_that_asked_for_it() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ttl(1);
    fake.set_script(|_, mut reply| {
        reply.metadata.authentic_data = true;
        reply
    });
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let name = "validated.example.test.";
    let with_do = stubborn.ask(&Ask::new(name, RecordType::A).dnssec_ok());
    let fetched = Instant::now();
    assert!(with_do.msg.metadata.authentic_data, "fresh, DO=1: AD passed on: {}", with_do.summary());
    let plain = stubborn.ask(&Ask::new(name, RecordType::A).no_edns());
    assert!(!plain.msg.metadata.authentic_data, "no AD for a client that asked neither AD nor DO: {}", plain.summary());

    sleep_until(fetched, Duration::from_millis(1_500));
    fake.set_mode(Mode::Blackhole);
    let stale = stubborn.ask(&Ask::new(name, RecordType::A).dnssec_ok());
    assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());
    assert!(!stale.msg.metadata.authentic_data, "a stale answer never carries AD: {}", stale.summary());
}

/// The RRSIGs in the answer section of a reply.
fn rrsigs(msg: &Message) -> usize {
    msg.answers.iter().filter(|r| r.record_type() == RecordType::RRSIG).count()
}

#[test]
fn do_clients_get_rrsigs_and_plain_clients_do_not_in_either_order() {
    let knot = Knot::start_signed("www 300 IN A 192.0.2.10\nmail 300 IN A 192.0.2.25");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    // Knot signs in the background after the first load: wait until it serves signatures.
    stubborn_test_support::wait::until("knot serves RRSIGs", Duration::from_secs(10), || {
        let direct = knot.ask(&Ask::new("www.example.test.", RecordType::A).dnssec_ok());
        (rrsigs(&direct.msg) > 0).then_some(())
    });
    for (name, do_first) in [("www.example.test.", true), ("mail.example.test.", false)] {
        let ask_do = || stubborn.ask(&Ask::new(name, RecordType::A).dnssec_ok());
        let ask_plain = || stubborn.ask(&Ask::new(name, RecordType::A));
        let (with_do, plain) = if do_first {
            let d = ask_do();
            (d, ask_plain())
        } else {
            let p = ask_plain();
            (ask_do(), p)
        };
        assert_eq!(with_do.ipv4s().len(), 1, "{}", with_do.summary());
        assert!(rrsigs(&with_do.msg) > 0, "DO=1 gets the RRSIGs ({name}, DO first: {do_first}): {}", with_do.summary());
        assert_eq!(plain.ipv4s().len(), 1, "{}", plain.summary());
        assert_eq!(rrsigs(&plain.msg), 0, "DO=0 gets none ({name}, DO first: {do_first}): {}", plain.summary());
    }
}
