//! Integration tests of stubborn: the real binary in front of a real Knot DNS
//! authoritative and small fake upstreams, all on 127.0.0.1. The pieces are
//! the harness crate, `stubborn_test_support` (`test-support/`); each
//! file's header says what it pins.

mod acl;
mod admin_allow;
mod admin_flood;
mod answers_match_authoritative;
mod bad_replies_not_cached;
mod binary_under_test;
mod bind_failure;
mod cache_control;
mod cache_memory;
mod cache_persistence;
mod cache_pressure;
mod cache_rules;
mod check_command;
mod client_fairness;
mod coalescing;
mod conditional_forwarding;
mod ctl_command;
mod dead_upstream_failover;
mod deploy_manifests;
mod deploy_systemd;
mod dnssec_bits;
mod drill;
mod edns_passthrough;
#[cfg(feature = "encrypted")]
mod encrypted_upstreams;
#[cfg(feature = "fleet")]
mod fleet;
mod forwarding_loop;
mod garbage_packets;
mod health_not_flapped_by_clients;
mod id_and_case_echo;
mod last_known_good;
mod malformed_queries;
mod max_stale;
mod metrics;
mod monitoring_rules;
mod netns_binding;
mod openwrt_init;
mod openwrt_jail;
mod packaging;
mod prefetch;
mod query_log;
mod readme_configs;
mod rebind_protection;
mod recovery;
mod redis_harness;
mod reload;
#[cfg(feature = "encrypted")]
mod reply_check;
mod resolv_file;
mod rfc2308_negative_cache;
mod rfc5452_source_ports;
mod rfc8767_serve_stale;
mod rfc8767_silent_outage;
mod rfc8767_slow_upstream;
mod rfc8914_no_reachable_authority;
mod scrubbing;
mod service_answers;
mod service_check_command;
mod service_failover;
mod service_http;
mod service_reload;
mod service_stale;
mod signals;
mod status;
mod status_page;
mod systemd_notify;
mod tcp;
mod truncation;
mod ttl_clamping;
mod udp_threads;
mod upstream_priority;
mod upstream_transports;
mod watch_config;
