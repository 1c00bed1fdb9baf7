//! Conntrack: the connection table that makes later packets, and replies, follow the first one.
//!
//! Each `Entry` holds the ORIGINAL tuple (as the client sent it) and the REPLY tuple (what the
//! answer looks like after NAT). NAT rules are consulted only for a connection's first packet
//! (net/netfilter/nf_nat_core.c, `nf_nat_inet_fn`: a binding already set up is reused); every
//! later packet gets the stored rewrite, and a reply gets its inverse. The DNAT half is applied at
//! PREROUTING/OUTPUT and the SNAT half at POSTROUTING/INPUT, so a reply has its destination
//! un-SNATed at PREROUTING and its source un-DNATed at POSTROUTING (`nf_nat_packet` flips the
//! manip type for the reply direction). Timeouts are on the scenario clock, in seconds.

use std::fmt;
use std::net::SocketAddrV4;

use crate::packet::{Tuple, TupleProto};

/// `nf_conntrack_tcp_timeout_established` as kube-proxy sets it (24 h; the kernel default is 5 days).
pub const TCP_ESTABLISHED_TIMEOUT: u64 = 86_400;
/// `nf_conntrack_udp_timeout` (unreplied) and `nf_conntrack_udp_timeout_stream` (seen both ways).
pub const UDP_TIMEOUT: u64 = 30;
pub const UDP_STREAM_TIMEOUT: u64 = 120;
/// `nf_conntrack_tcp_timeout_syn_sent`.
pub const TCP_SYN_SENT_TIMEOUT: u64 = 120;
/// `nf_conntrack_tcp_timeout_syn_recv`: a connection whose SYN-ACK was seen, until the final ACK.
pub const TCP_SYN_RECV_TIMEOUT: u64 = 60;

/// A tracked connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub original: Tuple,
    pub reply: Tuple,
    /// The original destination was rewritten (`IPS_DST_NAT`).
    pub dnat: bool,
    /// The original source was rewritten (`IPS_SRC_NAT`).
    pub snat: bool,
    /// A reply has been seen (`IPS_SEEN_REPLY`).
    pub seen_reply: bool,
    /// Inserted in the table (`IPS_CONFIRMED`), which happens when the first packet leaves the last hook.
    pub confirmed: bool,
    /// When the entry expires, on the scenario clock.
    pub expires: u64,
    /// IPVS, not the nat table, rewrote the destination (`ip_vs_update_conntrack` altered the
    /// reply tuple): IPVS also undoes it on replies (`ip_vs_out`), so conntrack's NAT does not.
    pub ipvs: bool,
}

impl Entry {
    /// A new, unconfirmed entry for a first packet: the reply tuple is the inverse, until NAT changes it.
    pub fn new(original: Tuple, now: u64) -> Entry {
        let timeout = match original.proto {
            TupleProto::Udp => UDP_TIMEOUT,
            _ => TCP_SYN_SENT_TIMEOUT,
        };
        Entry {
            original,
            reply: original.reversed(),
            dnat: false,
            snat: false,
            seen_reply: false,
            confirmed: false,
            expires: now + timeout,
            ipvs: false,
        }
    }

    /// DNAT: the reply will come from `to` (`nf_nat_setup_info` with `NF_NAT_MANIP_DST`).
    pub fn set_dnat(&mut self, to: SocketAddrV4) {
        self.reply.src = to;
        self.dnat = true;
    }

    /// SNAT or MASQUERADE: the reply will be sent to `to`.
    pub fn set_snat(&mut self, to: SocketAddrV4) {
        self.reply.dst = to;
        self.snat = true;
    }

    /// The state name `conntrack -L` shows.
    pub fn state_name(&self) -> &'static str {
        match (self.original.proto, self.seen_reply) {
            (TupleProto::Tcp, false) => "SYN_SENT",
            (TupleProto::Tcp, true) => "SYN_RECV",
            _ => "",
        }
    }
}

impl fmt::Display for Entry {
    /// As `conntrack -L` prints an entry (conntrack-tools): protocol, number, seconds left, state,
    /// the original tuple, `[UNREPLIED]`, the reply tuple, then the mark.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, number) = match self.original.proto {
            TupleProto::Tcp => ("tcp", 6),
            TupleProto::Udp => ("udp", 17),
            TupleProto::Icmp => ("icmp", 1),
        };
        let tuple =
            |t: &Tuple| format!("src={} dst={} sport={} dport={}", t.src.ip(), t.dst.ip(), t.src.port(), t.dst.port());
        write!(f, "{name:<8} {number} {}", self.expires)?;
        let state = self.state_name();
        if !state.is_empty() {
            write!(f, " {state}")?;
        }
        write!(f, " {}", tuple(&self.original))?;
        if !self.seen_reply {
            write!(f, " [UNREPLIED]")?;
        }
        write!(f, " {} mark=0 use=1", tuple(&self.reply))
    }
}

/// Which of an entry's tuples a packet matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Original,
    Reply,
}

/// One host's conntrack table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    entries: Vec<Entry>,
}

impl Table {
    /// The confirmed, unexpired entry this packet belongs to, and in which direction.
    pub fn lookup(&self, tuple: &Tuple, now: u64) -> Option<(usize, Dir)> {
        self.entries.iter().enumerate().find_map(|(index, entry)| {
            if entry.expires < now {
                return None;
            }
            if entry.original == *tuple {
                Some((index, Dir::Original))
            } else if entry.reply == *tuple {
                Some((index, Dir::Reply))
            } else {
                None
            }
        })
    }

    pub fn get(&self, index: usize) -> Option<&Entry> {
        self.entries.get(index)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut Entry> {
        self.entries.get_mut(index)
    }

    /// Confirms a new entry (`__nf_conntrack_confirm`), returning its index.
    pub fn confirm(&mut self, mut entry: Entry) -> usize {
        entry.confirmed = true;
        self.entries.push(entry);
        self.entries.len() - 1
    }

    /// Whether any live entry already uses this reply tuple: NAT must pick another source port
    /// (`nf_nat_used_tuple`).
    pub fn reply_in_use(&self, tuple: &Tuple, now: u64) -> bool {
        self.entries.iter().any(|entry| entry.expires >= now && entry.reply == *tuple)
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Drops expired entries.
    pub fn expire(&mut self, now: u64) {
        self.entries.retain(|entry| entry.expires >= now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(src: &str, dst: &str) -> Tuple {
        Tuple { src: src.parse().unwrap(), dst: dst.parse().unwrap(), proto: TupleProto::Tcp }
    }

    #[test]
    fn dnat_changes_the_reply_tuple_and_replies_are_found() {
        let mut entry = Entry::new(tuple("10.244.1.20:40000", "10.96.100.10:80"), 0);
        entry.set_dnat("10.244.2.7:8080".parse().unwrap());
        assert_eq!(entry.reply, tuple("10.244.2.7:8080", "10.244.1.20:40000"));
        let mut table = Table::default();
        table.confirm(entry);
        assert_eq!(table.lookup(&tuple("10.244.2.7:8080", "10.244.1.20:40000"), 1), Some((0, Dir::Reply)));
        assert_eq!(table.lookup(&tuple("10.244.1.20:40000", "10.96.100.10:80"), 1), Some((0, Dir::Original)));
        assert_eq!(table.lookup(&tuple("10.244.1.20:40000", "10.96.100.10:80"), 1000), None, "expired");
        assert_eq!(
            table.get(0).unwrap().to_string(),
            "tcp      6 120 SYN_SENT src=10.244.1.20 dst=10.96.100.10 sport=40000 dport=80 [UNREPLIED] src=10.244.2.7 dst=10.244.1.20 sport=8080 dport=40000 mark=0 use=1"
        );
    }
}
