//! Who may ask: clients outside every `allow` network get REFUSED and
//! nothing is resolved for them (an open resolver is an amplifier).

use std::net::IpAddr;

use ipnet::IpNet;

pub struct Acl {
    allow: Vec<IpNet>,
}

impl Acl {
    pub fn new(allow: Vec<IpNet>) -> Acl {
        Acl { allow }
    }

    /// IPv4-mapped IPv6 clients (a dual-stack socket's view) are checked as IPv4.
    pub fn allows(&self, client: IpAddr) -> bool {
        let client = client.to_canonical();
        self.allow.iter().any(|net| net.contains(&client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_networks_are_allowed() {
        let acl = Acl::new(vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
        assert!(acl.allows("127.0.0.9".parse().unwrap()));
        assert!(acl.allows("::1".parse().unwrap()));
        assert!(acl.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!acl.allows("192.0.2.1".parse().unwrap()));
        assert!(!acl.allows("2001:db8::1".parse().unwrap()));
    }
}
