//! Scenario: the listen address is already taken (UDP, or TCP) by another
//! socket: stubborn exits with status 2 and its message names the address
//! (docs/reference.md "Exit status: ... 2 cannot bind a listen address").

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

use stubborn_test_support::ports::free_port;
use stubborn_test_support::stubborn::run_to_exit;
use stubborn_test_support::{Config, FakeUpstream, Mode};

fn config_listening_on(listen: SocketAddr, upstream: &FakeUpstream) -> String {
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("address");
    Config::new(&[upstream.server()]).render(listen, admin)
}

#[test]
fn exit_2_when_udp_listen_port_is_busy() {
    let upstream = FakeUpstream::start(Mode::Answer);
    let busy = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
    let addr = busy.local_addr().expect("address");
    let out = run_to_exit(&[], &config_listening_on(addr, &upstream), Duration::from_secs(10));
    assert_eq!(out.code, Some(2), "exit status for a busy UDP port; stderr:\n{}", out.stderr);
    assert!(out.stderr.contains(&addr.to_string()), "the message must name {addr}; stderr:\n{}", out.stderr);
    drop(busy);
}

#[test]
fn exit_2_when_tcp_listen_port_is_busy() {
    let upstream = FakeUpstream::start(Mode::Answer);
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind TCP");
    let addr = busy.local_addr().expect("address");
    let out = run_to_exit(&[], &config_listening_on(addr, &upstream), Duration::from_secs(10));
    assert_eq!(out.code, Some(2), "exit status for a busy TCP port; stderr:\n{}", out.stderr);
    assert!(out.stderr.contains(&addr.to_string()), "the message must name {addr}; stderr:\n{}", out.stderr);
    drop(busy);
}
