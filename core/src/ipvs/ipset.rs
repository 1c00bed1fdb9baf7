//! ipsets: the kernel's address sets that kube-proxy's IPVS mode matches with `-m set`.
//!
//! A set has a name, a type (`hash:ip,port`, `bitmap:port`, …) and members. kube-proxy's IPVS
//! mode keeps its iptables rules constant in number and puts every Service address into sets
//! instead (pkg/proxy/ipvs/ipset.go names them, pkg/proxy/ipvs/ipset/ipset.go formats their
//! entries). This module holds the sets as data, tests a packet against a set the way the
//! kernel's `xt_set` match does (net/netfilter/xt_set.c with the `ip_set_hash_*` and
//! `ip_set_bitmap_port` types), and prints them as `ipset save -sorted` does.
//!
//! Members are kept in a `BTreeSet` ordered like ipset 7.17's `-sorted` listing, which was checked
//! against the real tool: by the first address (numerically), then the protocol number (tcp 6,
//! udp 17, sctp 132), then the port, then the second address, and for a network the address
//! first and the longer prefix before the shorter one.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

use crate::net::{Ipv4Net, Proto};

/// The set types kube-proxy uses (pkg/proxy/ipvs/ipset/types.go).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetType {
    /// `hash:ip`: KUBE-IPVS-IPS.
    HashIp,
    /// `hash:ip,port`: a Service address and port with its protocol.
    HashIpPort,
    /// `hash:ip,port,ip`: an address, port and a second (source) address.
    HashIpPortIp,
    /// `hash:ip,port,net`: an address, port and a source network.
    HashIpPortNet,
    /// `bitmap:port`: a port, whatever its protocol.
    BitmapPort,
}

impl SetType {
    /// The type's name as `ipset create` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SetType::HashIp => "hash:ip",
            SetType::HashIpPort => "hash:ip,port",
            SetType::HashIpPortIp => "hash:ip,port,ip",
            SetType::HashIpPortNet => "hash:ip,port,net",
            SetType::BitmapPort => "bitmap:port",
        }
    }

    /// How many packet fields a member is made of (the `dim` that `--match-set NAME dst,dst` must
    /// give a direction for).
    pub fn dimensions(self) -> usize {
        match self {
            SetType::HashIp | SetType::BitmapPort => 1,
            SetType::HashIpPort => 2,
            SetType::HashIpPortIp | SetType::HashIpPortNet => 3,
        }
    }

    /// The create options kube-proxy passes (pkg/proxy/ipvs/ipset/ipset.go, `createSet` with the
    /// defaults of `setIPSetDefaults`: hashsize 1024, maxelem 65536, port range 0-65535).
    pub fn create_options(self) -> &'static str {
        match self {
            SetType::BitmapPort => "range 0-65535",
            _ => "family inet hashsize 1024 maxelem 65536",
        }
    }
}

/// One member of a set, in the shape of its type. `Display` prints it as kube-proxy's
/// `Entry.String()` writes it and as `ipset save` prints it back: `10.96.0.10,udp:53`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entry {
    Ip(Ipv4Addr),
    IpPort { ip: Ipv4Addr, proto: Proto, port: u16 },
    IpPortIp { ip: Ipv4Addr, proto: Proto, port: u16, ip2: Ipv4Addr },
    IpPortNet { ip: Ipv4Addr, proto: Proto, port: u16, net: Ipv4Net },
    Port(u16),
}

impl Entry {
    /// The sort key of ipset's `-sorted` listing (see the module comment).
    fn key(&self) -> (u32, u8, u16, u32, u8) {
        match self {
            Entry::Ip(ip) => (u32::from(*ip), 0, 0, 0, 0),
            Entry::IpPort { ip, proto, port } => (u32::from(*ip), proto.number(), *port, 0, 0),
            Entry::IpPortIp { ip, proto, port, ip2 } => (u32::from(*ip), proto.number(), *port, u32::from(*ip2), 0),
            Entry::IpPortNet { ip, proto, port, net } => {
                (u32::from(*ip), proto.number(), *port, u32::from(net.network()), 32 - net.prefix.min(32))
            }
            Entry::Port(port) => (0, 0, *port, 0, 0),
        }
    }

    /// The set type this entry belongs in.
    pub fn set_type(&self) -> SetType {
        match self {
            Entry::Ip(_) => SetType::HashIp,
            Entry::IpPort { .. } => SetType::HashIpPort,
            Entry::IpPortIp { .. } => SetType::HashIpPortIp,
            Entry::IpPortNet { .. } => SetType::HashIpPortNet,
            Entry::Port(_) => SetType::BitmapPort,
        }
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Ip(ip) => write!(f, "{ip}"),
            Entry::IpPort { ip, proto, port } => write!(f, "{ip},{proto}:{port}"),
            Entry::IpPortIp { ip, proto, port, ip2 } => write!(f, "{ip},{proto}:{port},{ip2}"),
            Entry::IpPortNet { ip, proto, port, net } => write!(f, "{ip},{proto}:{port},{net}"),
            Entry::Port(port) => write!(f, "{port}"),
        }
    }
}

/// Which address or port of the packet fills one dimension of a set's member: the `src`/`dst`
/// words after `--match-set NAME` (xt_set.h, `IPSET_DIM_*_SRC` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetDir {
    Src,
    Dst,
}

impl SetDir {
    pub fn as_str(self) -> &'static str {
        match self {
            SetDir::Src => "src",
            SetDir::Dst => "dst",
        }
    }
}

/// What a set match can read of a packet: its addresses, ports and protocol. A packet without
/// ports (ICMP) has `proto` `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub src: Ipv4Addr,
    pub sport: u16,
    pub dst: Ipv4Addr,
    pub dport: u16,
    pub proto: Option<Proto>,
}

impl Probe {
    fn addr(&self, dir: SetDir) -> Ipv4Addr {
        match dir {
            SetDir::Src => self.src,
            SetDir::Dst => self.dst,
        }
    }

    fn port(&self, dir: SetDir) -> u16 {
        match dir {
            SetDir::Src => self.sport,
            SetDir::Dst => self.dport,
        }
    }
}

/// A named set with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSet {
    pub name: String,
    pub set_type: SetType,
    /// kube-proxy's description of the set. It is not an ipset option (kube-proxy creates its sets
    /// without `comment`); it is the `-m comment` of the iptables rules that match the set.
    pub comment: String,
    pub entries: BTreeSet<Entry>,
}

impl IpSet {
    pub fn new(name: &str, set_type: SetType, comment: &str) -> IpSet {
        IpSet { name: name.to_string(), set_type, comment: comment.to_string(), entries: BTreeSet::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a member (`ipset add NAME ENTRY -exist`); an entry of the wrong type is refused.
    pub fn insert(&mut self, entry: Entry) -> bool {
        if entry.set_type() != self.set_type {
            return false;
        }
        // The kernel keeps a network as its masked address; so does kube-proxy's `cidr.String()`.
        let entry = match entry {
            Entry::IpPortNet { ip, proto, port, net } => {
                Entry::IpPortNet { ip, proto, port, net: Ipv4Net { addr: net.network(), prefix: net.prefix } }
            }
            other => other,
        };
        self.entries.insert(entry);
        true
    }

    /// Whether the packet is a member, reading its fields in the directions given, as `xt_set`'s
    /// `set_match_v4` → `ip_set_test` → the type's `kadt` function does.
    ///
    /// A match that gives fewer directions than the set has dimensions does not match, and extra
    /// directions are ignored (`ip_set_test` checks `opt->dim < set->type->dimension`). The port
    /// types read the packet's layer-4 ports and protocol (`ip_set_get_ip4_port`); a packet without
    /// ports never matches them. `bitmap:port` ignores the protocol, which is why kube-proxy puts
    /// `-p tcp` in front of its NodePort set matches; `hash:ip,port` stores it in the member.
    pub fn test(&self, dirs: &[SetDir], probe: &Probe) -> bool {
        if dirs.len() < self.set_type.dimensions() {
            return false;
        }
        match self.set_type {
            SetType::HashIp => self.entries.contains(&Entry::Ip(probe.addr(dirs[0]))),
            SetType::BitmapPort => probe.proto.is_some() && self.entries.contains(&Entry::Port(probe.port(dirs[0]))),
            SetType::HashIpPort => {
                let Some(proto) = probe.proto else { return false };
                self.entries.contains(&Entry::IpPort { ip: probe.addr(dirs[0]), proto, port: probe.port(dirs[1]) })
            }
            SetType::HashIpPortIp => {
                let Some(proto) = probe.proto else { return false };
                self.entries.contains(&Entry::IpPortIp {
                    ip: probe.addr(dirs[0]),
                    proto,
                    port: probe.port(dirs[1]),
                    ip2: probe.addr(dirs[2]),
                })
            }
            SetType::HashIpPortNet => {
                let Some(proto) = probe.proto else { return false };
                let (ip, port, source) = (probe.addr(dirs[0]), probe.port(dirs[1]), probe.addr(dirs[2]));
                // hash:ip,port,net looks the address up under every prefix length it holds, so any
                // member network that contains the third field matches (ip_set_hash_gen.h
                // `mtype_test_cidrs`).
                self.entries.iter().any(|entry| match entry {
                    Entry::IpPortNet { ip: i, proto: p, port: n, net } => {
                        *i == ip && *p == proto && *n == port && net.contains(source)
                    }
                    _ => false,
                })
            }
        }
    }
}

/// All the sets of one node, in creation order (the order `ipset save` lists them in).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpSets {
    pub sets: Vec<IpSet>,
}

impl IpSets {
    pub fn get(&self, name: &str) -> Option<&IpSet> {
        self.sets.iter().find(|set| set.name == name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut IpSet> {
        self.sets.iter_mut().find(|set| set.name == name)
    }

    /// `-m set --match-set NAME DIRS`: whether the packet is a member. A set that does not exist
    /// does not match (the kernel would refuse to load such a rule).
    pub fn test(&self, name: &str, dirs: &[SetDir], probe: &Probe) -> bool {
        self.get(name).is_some_and(|set| set.test(dirs, probe))
    }

    /// The sets as `ipset save -sorted` prints them, one line each: a `create` line per set in
    /// creation order, each followed by its members' `add` lines in sorted order.
    ///
    /// One thing is left out on purpose. A kernel with hash-type revisions that support bucket
    /// sizes (ipset 7.x on Linux ≥ 5.11) also prints ` bucketsize 12 initval 0x…` on the `create`
    /// line of a hash set, and `initval` is a random number the kernel draws when the set is created
    /// (ip_set_hash_gen.h, `get_random_u32()`), so no two nodes print the same text. The `create`
    /// lines here are exactly what kube-proxy asks for, which `ipset restore` accepts as they are.
    pub fn save_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for set in &self.sets {
            out.push(format!("create {} {} {}", set.name, set.set_type.as_str(), set.set_type.create_options()));
            for entry in &set.entries {
                out.push(format!("add {} {entry}", set.name));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    #[test]
    fn sorted_like_ipset_save_sorted() {
        // The order ipset 7.17 printed for these members with `ipset save -sorted` (checked by hand
        // in a network namespace): address, then protocol number, then port.
        let mut set = IpSet::new("KUBE-CLUSTER-IP", SetType::HashIpPort, "");
        for (addr, proto, port) in [
            ("10.96.100.10", Proto::Tcp, 80),
            ("10.96.0.10", Proto::Sctp, 53),
            ("10.96.0.10", Proto::Udp, 53),
            ("10.96.0.10", Proto::Tcp, 9153),
            ("9.1.1.1", Proto::Tcp, 80),
            ("10.96.0.10", Proto::Tcp, 53),
        ] {
            set.insert(Entry::IpPort { ip: ip(addr), proto, port });
        }
        let text: Vec<String> = set.entries.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            [
                "9.1.1.1,tcp:80",
                "10.96.0.10,tcp:53",
                "10.96.0.10,tcp:9153",
                "10.96.0.10,udp:53",
                "10.96.0.10,sctp:53",
                "10.96.100.10,tcp:80"
            ]
        );
        // Networks: address first, then the longer prefix first (ipset 7.17 printed
        // 10.0.0.0/30, /24, /16, /9, /8 in that order).
        let mut nets = IpSet::new("N", SetType::HashIpPortNet, "");
        for net in ["10.0.0.0/8", "10.0.0.0/30", "11.0.0.0/8", "10.0.0.0/16", "0.0.0.0/1"] {
            nets.insert(Entry::IpPortNet { ip: ip("1.2.3.4"), proto: Proto::Tcp, port: 80, net: net.parse().unwrap() });
        }
        let text: Vec<String> = nets.entries.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            [
                "1.2.3.4,tcp:80,0.0.0.0/1",
                "1.2.3.4,tcp:80,10.0.0.0/30",
                "1.2.3.4,tcp:80,10.0.0.0/16",
                "1.2.3.4,tcp:80,10.0.0.0/8",
                "1.2.3.4,tcp:80,11.0.0.0/8"
            ]
        );
    }

    #[test]
    fn membership_reads_the_directions_given() {
        let mut loopback = IpSet::new("KUBE-LOOP-BACK", SetType::HashIpPortIp, "");
        loopback.insert(Entry::IpPortIp { ip: ip("10.244.1.5"), proto: Proto::Tcp, port: 8080, ip2: ip("10.244.1.5") });
        let hairpin =
            Probe { src: ip("10.244.1.5"), sport: 40000, dst: ip("10.244.1.5"), dport: 8080, proto: Some(Proto::Tcp) };
        let other = Probe { src: ip("10.244.1.20"), ..hairpin };
        let dirs = [SetDir::Dst, SetDir::Dst, SetDir::Src];
        assert!(loopback.test(&dirs, &hairpin));
        assert!(!loopback.test(&dirs, &other));
        // Too few directions for the set's three dimensions: no match.
        assert!(!loopback.test(&dirs[..2], &hairpin));

        let mut ports = IpSet::new("KUBE-NODE-PORT-TCP", SetType::BitmapPort, "");
        ports.insert(Entry::Port(30080));
        let udp = Probe { dport: 30080, proto: Some(Proto::Udp), ..hairpin };
        assert!(ports.test(&[SetDir::Dst], &udp), "bitmap:port ignores the protocol");
        assert!(!ports.test(&[SetDir::Dst], &Probe { proto: None, ..udp }), "no ports, no match");

        let mut ranges = IpSet::new("KUBE-LOAD-BALANCER-SOURCE-CIDR", SetType::HashIpPortNet, "");
        ranges.insert(Entry::IpPortNet {
            ip: ip("1.2.3.4"),
            proto: Proto::Tcp,
            port: 80,
            net: "203.0.113.0/25".parse().unwrap(),
        });
        let from = |src: &str| Probe { src: ip(src), sport: 1, dst: ip("1.2.3.4"), dport: 80, proto: Some(Proto::Tcp) };
        assert!(ranges.test(&dirs, &from("203.0.113.7")));
        assert!(!ranges.test(&dirs, &from("203.0.113.200")));
    }
}
