//! Addresses, prefixes and protocols: the small value types every other module speaks.
//!
//! `Ipv4Net` is a CIDR prefix as kube-proxy and iptables print it (`10.244.0.0/16`, `/32` for a host).
//! `Proto` is the transport protocol of a Service port or a packet, spelled as iptables spells it.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 prefix such as `10.244.0.0/16`.
///
/// The address is stored as written; `network()` gives the masked form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    /// A prefix; `None` when `prefix` is over 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Net> {
        (prefix <= 32).then_some(Ipv4Net { addr, prefix })
    }

    /// A single host, `/32`.
    pub fn host(addr: Ipv4Addr) -> Ipv4Net {
        Ipv4Net { addr, prefix: 32 }
    }

    pub fn mask(&self) -> u32 {
        if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) }
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) & self.mask()) == u32::from(self.network())
    }

    /// The number of addresses in the prefix, saturating at `u32::MAX`.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The address at `offset` from the network address, if it is inside the prefix.
    pub fn nth(&self, offset: u64) -> Option<Ipv4Addr> {
        (offset < self.size()).then(|| Ipv4Addr::from(u32::from(self.network()) + offset as u32))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(18);
        push_ipv4(&mut out, self.addr);
        out.push('/');
        push_u16(&mut out, u16::from(self.prefix));
        f.write_str(&out)
    }
}

impl FromStr for Ipv4Net {
    type Err = String;

    /// Parses `a.b.c.d/n`, or a bare address as `/32`.
    fn from_str(text: &str) -> Result<Ipv4Net, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => {
                let prefix: u8 = prefix
                    .parse()
                    .map_err(|_| format!("`{text}` is not a CIDR: the prefix length must be a number from 0 to 32"))?;
                (addr, prefix)
            }
            None => (text, 32),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("`{text}` is not an IPv4 CIDR such as 10.96.0.0/12"))?;
        Ipv4Net::new(addr, prefix)
            .ok_or_else(|| format!("`{text}` is not a CIDR: the prefix length must be a number from 0 to 32"))
    }
}

/// Appends `ip` in dotted-quad form. It is what `Display` prints, without the formatting
/// machinery: rendering a large ruleset prints hundreds of thousands of addresses.
pub fn push_ipv4(out: &mut String, ip: Ipv4Addr) {
    for (index, octet) in ip.octets().iter().enumerate() {
        if index > 0 {
            out.push('.');
        }
        push_u16(out, u16::from(*octet));
    }
}

/// Appends a number in decimal, without the formatting machinery.
pub fn push_u16(out: &mut String, value: u16) {
    let mut digits = [0u8; 5];
    let mut count = 0;
    let mut rest = value;
    loop {
        digits[count] = b'0' + (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for digit in digits[..count].iter().rev() {
        out.push(char::from(*digit));
    }
}

/// A transport protocol, as a Service port or an iptables `-p` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Proto {
    /// The default of a Service port, and of a walk that names none.
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// The lowercase name iptables, kube-proxy's chain hashing and conntrack use.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }

    /// The IP protocol number (RFC 790 / IANA).
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }

    /// Parses a Kubernetes spelling (`TCP`) or an iptables one (`tcp`).
    pub fn parse(text: &str) -> Option<Proto> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parse_contains_and_nth() {
        let net: Ipv4Net = "10.244.1.0/24".parse().unwrap();
        assert!(net.contains("10.244.1.200".parse().unwrap()));
        assert!(!net.contains("10.244.2.1".parse().unwrap()));
        assert_eq!(net.nth(5), Some("10.244.1.5".parse().unwrap()));
        assert_eq!(net.nth(256), None);
        assert_eq!(net.to_string(), "10.244.1.0/24");
        assert_eq!("10.1.2.3".parse::<Ipv4Net>().unwrap().to_string(), "10.1.2.3/32");
        assert!("10.0.0.0/33".parse::<Ipv4Net>().is_err());
        assert!("ten/8".parse::<Ipv4Net>().is_err());
        assert_eq!("0.0.0.0/0".parse::<Ipv4Net>().unwrap().mask(), 0);
        for ip in ["0.0.0.0", "255.255.255.255", "10.244.1.5", "192.168.100.9"] {
            let mut out = String::new();
            push_ipv4(&mut out, ip.parse().unwrap());
            assert_eq!(out, ip);
        }
        let mut out = String::new();
        push_u16(&mut out, 65535);
        push_u16(&mut out, 0);
        assert_eq!(out, "655350");
    }
}
