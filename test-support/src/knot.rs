//! A real authoritative server: Knot DNS (`knotd`, Debian package `knot`)
//! serving one zone (a [`Zone`]: `example.test.` unless told otherwise)
//! from a temporary directory on 127.0.0.1.
//!
//! knotd runs in the foreground as a child of the test, as the current user
//! (no `user:` in its config), with its rundir, database storage, control
//! socket and zone file all in the temp dir. It can be stopped and started
//! again on the same port, and its zone rewritten and reloaded (`knotc
//! zone-reload`) with the SOA serial bumped.

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use tempfile::TempDir;

use crate::dns::{Ask, Reply};
use crate::ports::free_port;
use crate::process::{find_binary, spawn_logged};
use crate::scratch;
use crate::wait;

/// The zone the tests serve.
pub const ORIGIN: &str = "example.test.";

/// The zone a [`Knot`] serves: its SOA, NS and `ns` A records, then `records`.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The origin, with its trailing dot.
    pub origin: String,
    /// Zone-file lines, owners relative to the origin (default TTL 300 s).
    pub records: String,
    /// The SOA minimum (negative TTL); the SOA record's own TTL is the same
    /// value, so negative answers carry it (RFC 2308 section 5).
    pub soa_minimum: u32,
    /// Signed by knotd (`dnssec-signing: on`: keys made at the first load,
    /// RRSIGs on every RRset, NSEC for denials).
    pub signed: bool,
}

impl Zone {
    /// `example.test.` with `records`, an SOA minimum of 60 s, unsigned.
    pub fn new(records: &str) -> Zone {
        Zone { origin: ORIGIN.to_string(), records: records.to_string(), soa_minimum: 60, signed: false }
    }
}

/// A running (or stopped) knotd.
pub struct Knot {
    dir: TempDir,
    pub addr: SocketAddr,
    serial: u32,
    zone: Zone,
    child: Option<Child>,
}

impl Knot {
    /// Starts knotd serving `example.test.` with `records` (zone-file lines,
    /// owners relative to the origin) and an SOA minimum (negative TTL) of 60 s.
    pub fn start(records: &str) -> Knot {
        Knot::serve(Zone::new(records))
    }

    /// As `start`, with this SOA minimum (see [`Zone::soa_minimum`]).
    pub fn start_with_negative_ttl(records: &str, soa_minimum: u32) -> Knot {
        Knot::serve(Zone { soa_minimum, ..Zone::new(records) })
    }

    /// As `start`, with the zone signed by knotd (see [`Zone::signed`]).
    pub fn start_signed(records: &str) -> Knot {
        Knot::serve(Zone { signed: true, ..Zone::new(records) })
    }

    /// Starts knotd on a free port serving `zone` (serial 1), and waits until it does.
    pub fn serve(zone: Zone) -> Knot {
        let dir = scratch::temp_dir("knot");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut knot = Knot { dir, addr, serial: 1, zone, child: None };
        knot.write_config();
        knot.write_zone();
        knot.start_again();
        knot
    }

    /// The address as written in stubborn's config.
    pub fn server(&self) -> String {
        self.addr.to_string()
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Stops knotd (SIGKILL: the port closes at once, like a crashed server).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // After exit nothing answers: check, so that the test's premise holds.
        let probe = Ask::new(&self.zone.origin, RecordType::SOA).timeout(Duration::from_millis(200));
        assert!(probe.try_send(self.addr).is_err(), "knotd on {} still answers after stop", self.addr);
    }

    /// Starts knotd (again) on the same port and waits until it serves the zone.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "knotd is already running");
        let config = self.config_path();
        self.child = Some(spawn_logged(&knotd(), &["-c".as_ref(), config.as_os_str()], &self.log_path()));
        let serial = self.serial;
        wait::until(&format!("knotd on {} to serve serial {serial}", self.addr), Duration::from_secs(10), || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("knotd exited with {status}; log:\n{}", self.log());
            }
            (self.served_serial() == Some(serial)).then_some(())
        });
    }

    /// Replaces the zone's records, bumps the SOA serial, reloads knotd and
    /// waits until it serves the new serial. While knotd is stopped, only
    /// the zone file changes: `start_again` serves it.
    pub fn set_records(&mut self, records: &str) {
        self.zone.records = records.to_string();
        self.serial += 1;
        self.write_zone();
        if self.child.is_none() {
            return;
        }
        let out = Command::new(knotc())
            .arg("-s")
            .arg(self.dir.path().join("knot.sock"))
            .arg("zone-reload")
            .arg(&self.zone.origin)
            .output()
            .expect("run knotc");
        assert!(
            out.status.success(),
            "knotc zone-reload failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let serial = self.serial;
        wait::until(&format!("knotd on {} to serve serial {serial}", self.addr), Duration::from_secs(10), || {
            (self.served_serial() == Some(serial)).then_some(())
        });
    }

    /// Sends `ask` straight to knotd.
    pub fn ask(&self, ask: &Ask) -> Reply {
        ask.send(self.addr)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn served_serial(&self) -> Option<u32> {
        let probe = Ask::new(&self.zone.origin, RecordType::SOA).timeout(Duration::from_millis(200));
        let reply = probe.try_send(self.addr).ok()?;
        if reply.rcode() != ResponseCode::NoError {
            return None;
        }
        reply.msg.answers.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("knot.conf")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("knotd.log")
    }

    fn write_config(&self) {
        let dir = self.dir.path().display();
        let config = format!(
            r#"server:
    rundir: "{dir}"
    listen: {ip}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: info

database:
    storage: "{dir}/db"

control:
    listen: "{dir}/knot.sock"

template:
  - id: default
    storage: "{dir}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none

zone:
  - domain: {origin}
    dnssec-signing: {signing}
"#,
            ip = self.addr.ip(),
            port = self.addr.port(),
            origin = self.zone.origin,
            signing = if self.zone.signed { "on" } else { "off" },
        );
        fs::write(self.config_path(), config).expect("write knot.conf");
        // Knot keeps its DNSSEC keys (the KASP database) under the database
        // storage, which must exist before a signed zone loads.
        fs::create_dir_all(self.dir.path().join("db")).expect("create knot database dir");
    }

    fn write_zone(&self) {
        let zone = format!(
            "$ORIGIN {origin}\n$TTL 300\n\
             @ {min} IN SOA ns hostmaster {serial} 3600 900 604800 {min}\n\
             @ 300 IN NS ns\n\
             ns 300 IN A 127.0.0.1\n\
             {records}\n",
            origin = self.zone.origin,
            min = self.zone.soa_minimum,
            serial = self.serial,
            records = self.zone.records,
        );
        let path = self.dir.path().join(format!("{}zone", self.zone.origin));
        fs::write(&path, zone).expect("write zone file");
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("----- knotd {} log -----\n{}", self.addr, self.log());
        }
    }
}

fn knotd() -> PathBuf {
    find_binary("knotd", "knot")
}

fn knotc() -> PathBuf {
    find_binary("knotc", "knot")
}
