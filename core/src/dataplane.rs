//! The dataplane's shared vocabulary: what iptables, nftables, IPVS and the walk all speak.
//!
//! A packet meets the netfilter hooks (`Hook`) of the IPv4 pipeline; at each, the rules see the
//! packet's tuple, mark and conntrack state (`Meta`) and state that outlives one packet (`Env`:
//! the clock, the random source, the `xt_recent` lists, the node's ipsets). Either dataplane's
//! evaluator reports the rules that matched as `Event`s and ends in a `Verdict`, possibly a
//! `NatTarget` for the connection; the rendered rules are `Line`s that know which rule they show.
//! iptables (`netfilter`), nftables (`nftables`) and IPVS's remaining rules all use these types,
//! so the walk runs one loop over either dataplane.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::ipvs::ipset::IpSets;
use crate::netfilter::TableName;
use crate::packet::Tuple;
use crate::rng::Rng;
use crate::trace::RuleAt;

/// The hooks of the IPv4 netfilter pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    /// The built-in chain's name, which is also how the kernel's trace names the hook.
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::Prerouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::Postrouting => "POSTROUTING",
        }
    }
}

/// The conntrack states kube-proxy matches on (xt_conntrack `--ctstate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CtState {
    Invalid,
    New,
    Related,
    Established,
    Dnat,
    Snat,
}

impl CtState {
    pub fn as_str(self) -> &'static str {
        match self {
            CtState::Invalid => "INVALID",
            CtState::New => "NEW",
            CtState::Related => "RELATED",
            CtState::Established => "ESTABLISHED",
            CtState::Dnat => "DNAT",
            CtState::Snat => "SNAT",
        }
    }
}

/// The answer a REJECT sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectWith {
    IcmpPortUnreachable,
    TcpReset,
}

impl RejectWith {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectWith::IcmpPortUnreachable => "icmp-port-unreachable",
            RejectWith::TcpReset => "tcp-reset",
        }
    }
}

/// What the rules can see of a packet besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub tuple: Tuple,
    /// The skb mark.
    pub mark: u32,
    /// The conntrack state of the packet (`--ctstate`).
    pub ct_states: Vec<CtState>,
    /// The addresses this host owns, for `-m addrtype --src-type/--dst-type LOCAL`.
    pub local_addrs: Vec<Ipv4Addr>,
}

impl Meta {
    /// Whether `ip` is one of this host's addresses (or loopback), as `addrtype LOCAL` asks.
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        ip.is_loopback() || self.local_addrs.contains(&ip)
    }
}

/// State that lives across packets: the `xt_recent` lists, the random source and the clock.
#[derive(Debug, Clone)]
pub struct Env {
    pub rng: Rng,
    /// Seconds on the scenario clock.
    pub now: u64,
    /// `xt_recent` lists by name: source address → the times it was last set.
    pub recent: BTreeMap<String, BTreeMap<Ipv4Addr, u64>>,
    /// The ipsets of the node whose table is being traversed, for `-m set`. The caller sets them
    /// before each traversal (kube-proxy's IPVS mode gives every node its own sets); with `None`
    /// every set is missing and no `--match-set` matches.
    pub ipsets: Option<IpSets>,
    /// Whether the packet entered the node through a bridge port, for `-m physdev
    /// --physdev-is-in`. The caller sets it before each traversal; it is false by default.
    pub physdev_is_in: bool,
    /// The primary IPv4 address of the interface the packet came in on, which `-j REDIRECT` at
    /// PREROUTING makes the new destination (nf_nat_redirect.c, `nf_nat_redirect_ipv4`: the first
    /// `ifa_local` of the in-device). For a pod's packet that is the pod bridge's address (the
    /// pod's gateway), for a packet from the wire the node's own address. The caller sets it
    /// before each traversal; with `None` the first of `Meta::local_addrs` is taken.
    pub in_iface_addr: Option<Ipv4Addr>,
    /// The uid and gid of the local socket that sent the packet, for `-m owner`; `None` for a
    /// packet without a local socket (forwarded or received). The caller sets it.
    pub owner: Option<(u32, u32)>,
    /// The interface a locally generated packet leaves by, for `-o`. With `None` (the default)
    /// `-o` is not checked, as before interfaces were modelled.
    pub out_iface: Option<String>,
}

impl Env {
    pub fn new(seed: u64, now: u64) -> Env {
        Env {
            rng: Rng::new(seed),
            now,
            recent: BTreeMap::new(),
            ipsets: None,
            physdev_is_in: false,
            in_iface_addr: None,
            owner: None,
            out_iface: None,
        }
    }
}

/// One matched rule, or a built-in chain's policy, as either dataplane reports it: what the
/// kernel's trace lists (`xtables-monitor --trace` for iptables, `nft monitor trace` for
/// nftables), and what the walk turns into a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Which table's rules (iptables) or which base chain (nftables) reported it.
    pub origin: Origin,
    /// The chain the rule is in.
    pub chain: String,
    /// The rule's position and its text as the tool prints it (`iptables-save`, `nft list
    /// ruleset`); `None` for a policy.
    pub rule: Option<(RuleAt, String)>,
    /// As the dataplane's trace spells it. iptables, as design.md does: `JUMP:X`, `GOTO:X`,
    /// `RETURN`, `CONTINUE` (a non-terminating target such as MARK), `ACCEPT`, `DROP`, `REJECT`,
    /// or the NAT target's name. nftables, as nft's trace does: `jump X`, `goto X`, `return`,
    /// `continue` (a rule without a verdict, such as `mark set` or `update`), `accept`, `drop`,
    /// `reject`, `dnat`, `masquerade`, or `policy accept` when a base chain falls off its end.
    pub verdict: String,
    /// The rules evaluated without matching since the previous event.
    pub skipped: Vec<RuleAt>,
    /// What the rule's matches saw, in words, for the narration: the statistic or numgen draw,
    /// the recent list's or affinity set's entry, the map element that matched.
    pub detail: Option<String>,
}

/// Where a rule event comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An iptables table, run at its hook in the table's priority.
    Table(TableName),
    /// An nftables base chain registered at the hook, with its priority, which orders the base
    /// chains of one hook.
    BaseChain { name: String, priority: i32 },
}

/// How the table's traversal ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept,
    Drop,
    Reject(RejectWith),
    /// A NAT target fired: the binding to set up, and the packet continues (accepted).
    Nat(NatTarget),
}

/// The NAT a target asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatTarget {
    Dnat { ip: Ipv4Addr, port: Option<u16> },
    Snat { ip: Ipv4Addr, port: Option<u16> },
    Masquerade { random_fully: bool },
}

/// One line of rendered output; a rule's line knows which rule it is, for highlighting (so does an
/// IPVS real server's line of `ipvsadm -Ln`, in table `ipvs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub rule: Option<RuleAt>,
}

impl Line {
    /// Whether the line is a rule a packet is matched against (iptables or nftables), as rule
    /// counts count them; an IPVS real server is not one.
    pub fn is_rule(&self) -> bool {
        self.rule.as_ref().is_some_and(|at| at.table != "ipvs")
    }
}
