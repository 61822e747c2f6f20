//! The one check of an upstream reply (`wire::check_records`, on stubborn's
//! record walker) against hickory-proto's full `Message` parse, on real
//! replies: Knot DNS serving a signed zone with a record of every common
//! type (answers, NODATA, NXDOMAIN with NSEC, a DNAME), asked with and
//! without DO, and Unbound forwarding to it. Both must accept every one of
//! them and read the same records (`src/wire/differential.rs`, which the
//! unit tests also run over the fuzz corpus and the fuzz target on every
//! input).

use std::time::Duration;

use hickory_proto::rr::RecordType;
// The wire module, as `differential.rs` names it.
use stubborn::wire;

use stubborn_test_support::test_ca::TestCa;
use stubborn_test_support::{Ask, Knot, Unbound, UnboundSpec};

#[path = "../src/wire/differential.rs"]
mod differential;

use differential::{Verdict, compare};

const RECORDS: &str = "\
www 300 IN A 192.0.2.1
www 300 IN AAAA 2001:db8::1
www 300 IN TXT \"v=spf1 -all\" \"a second string\"
alias 300 IN CNAME www
mail 300 IN MX 10 www
_sip._udp 300 IN SRV 10 5 5060 www
svc 300 IN HTTPS 1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1
svc 300 IN SVCB 1 www alpn=dot
www 300 IN CAA 0 issue \"ca.example\"
www 300 IN SSHFP 1 1 123456789abcdef67890123456789abcdef67890
_443._tcp.www 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
www 300 IN HINFO \"PC\" \"Linux\"
enum 300 IN NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.test!\" .
1 300 IN PTR www
moved 300 IN DNAME example.test.
";

const QUESTIONS: [(&str, RecordType); 18] = [
    ("www.example.test.", RecordType::A),
    ("www.example.test.", RecordType::AAAA),
    ("www.example.test.", RecordType::TXT),
    ("alias.example.test.", RecordType::A),
    ("mail.example.test.", RecordType::MX),
    ("_sip._udp.example.test.", RecordType::SRV),
    ("svc.example.test.", RecordType::HTTPS),
    ("svc.example.test.", RecordType::SVCB),
    ("www.example.test.", RecordType::CAA),
    ("www.example.test.", RecordType::SSHFP),
    ("_443._tcp.www.example.test.", RecordType::TLSA),
    ("www.example.test.", RecordType::HINFO),
    ("enum.example.test.", RecordType::NAPTR),
    ("1.example.test.", RecordType::PTR),
    ("www.moved.example.test.", RecordType::A),
    ("example.test.", RecordType::SOA),
    ("www.example.test.", RecordType::MX),
    ("nothing-here.example.test.", RecordType::A),
];

#[test]
fn real_replies_pass_the_check_and_read_as_hickory_reads_them() {
    let knot = Knot::start_signed(RECORDS);
    let ca = TestCa::new("reply-check");
    let (cert, key) = ca.leaf_files(&["dns.test"], false);
    let spec = UnboundSpec { forward_to: knot.addr, cert: &cert, key: &key, tcp_idle_timeout: Duration::from_secs(30) };
    let unbound = Unbound::start(&spec);
    let mut checked = 0;
    for (server, label) in [(knot.addr, "Knot"), (unbound.plain, "Unbound")] {
        for (name, qtype) in QUESTIONS {
            for dnssec_ok in [false, true] {
                let ask = Ask::new(name, qtype).edns(1232);
                let reply = if dnssec_ok { ask.dnssec_ok() } else { ask }.send(server);
                let verdict = compare(&reply.raw);
                let what = format!("{label}, {name} {qtype}, DO {dnssec_ok}: {}", reply.summary());
                assert_eq!(verdict, Ok(Verdict::BothAccept), "{what}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * QUESTIONS.len() * 2);
}
