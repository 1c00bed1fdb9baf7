//! Netfilter as data: tables, chains and rules with typed matches and targets.
//!
//! kube-proxy's output is built as a `Ruleset`; `render` prints it exactly as `iptables-save` does
//! and `eval` walks a packet through the very same rules. Nothing here knows about Kubernetes.
//!
//! A `Rule` keeps the fields iptables itself keeps: the fixed IPv4 header matches (`-s`, `-d`,
//! `-i`, `-o`, `-p`), then the `-m` match modules in the order they were given, then one target.
//! That is also the order `iptables-save` prints them in (iptables/iptables.c, `print_firewall` /
//! nft-shared.c `save_rule`), whatever order the rule was written in.

pub mod eval;
pub mod render;

use crate::dataplane::{CtState, Hook, RejectWith};
use std::net::Ipv4Addr;

use crate::net::{Ipv4Net, Proto};

pub use crate::ipvs::ipset::SetDir;

/// A whole netfilter state: the tables `iptables-save` prints, in its order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ruleset {
    pub tables: Vec<Table>,
}

impl Ruleset {
    pub fn table(&self, name: TableName) -> Option<&Table> {
        self.tables.iter().find(|table| table.name == name)
    }

    pub fn table_mut(&mut self, name: TableName) -> &mut Table {
        if let Some(index) = self.tables.iter().position(|table| table.name == name) {
            return &mut self.tables[index];
        }
        self.tables.push(Table::new(name));
        self.tables.last_mut().expect("a table was just pushed")
    }

    /// The number of rules over all tables and chains.
    pub fn rule_count(&self) -> usize {
        self.tables.iter().flat_map(|table| &table.chains).map(|chain| chain.rules.len()).sum()
    }
}

/// An iptables table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TableName {
    Raw,
    Mangle,
    Nat,
    Filter,
}

impl TableName {
    pub fn as_str(self) -> &'static str {
        match self {
            TableName::Raw => "raw",
            TableName::Mangle => "mangle",
            TableName::Nat => "nat",
            TableName::Filter => "filter",
        }
    }

    /// The built-in chains of the table, in the order iptables lists them.
    pub fn builtin_chains(self) -> &'static [&'static str] {
        match self {
            TableName::Raw => &["PREROUTING", "OUTPUT"],
            TableName::Mangle => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
            TableName::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
            TableName::Filter => &["INPUT", "FORWARD", "OUTPUT"],
        }
    }
}

/// A table: its built-in chains first, then user chains in creation order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: TableName,
    pub chains: Vec<Chain>,
}

impl Table {
    /// A table holding its built-in chains, empty, with policy ACCEPT.
    pub fn new(name: TableName) -> Table {
        let chains = name
            .builtin_chains()
            .iter()
            .map(|chain| Chain { name: (*chain).to_string(), policy: Some(Policy::Accept), rules: Vec::new() })
            .collect();
        Table { name, chains }
    }

    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|chain| chain.name == name)
    }

    /// The chain of that name, created (as a user chain) when missing.
    pub fn chain_mut(&mut self, name: &str) -> &mut Chain {
        if let Some(index) = self.chains.iter().position(|chain| chain.name == name) {
            return &mut self.chains[index];
        }
        self.chains.push(Chain { name: name.to_string(), policy: None, rules: Vec::new() });
        self.chains.last_mut().expect("a chain was just pushed")
    }
}

/// A chain; built-in chains have a policy, user chains do not.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub name: String,
    pub policy: Option<Policy>,
    pub rules: Vec<Rule>,
}

/// The policy of a built-in chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Accept,
    Drop,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

/// A possibly negated value, as `! -s 10.244.0.0/16`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neg<T> {
    pub negated: bool,
    pub value: T,
}

impl<T> Neg<T> {
    pub fn is(value: T) -> Neg<T> {
        Neg { negated: false, value }
    }

    pub fn not(value: T) -> Neg<T> {
        Neg { negated: true, value }
    }
}

/// One rule: fixed header matches, match modules, and a target (absent for a comment-only rule).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    pub src: Option<Neg<Ipv4Net>>,
    pub dst: Option<Neg<Ipv4Net>>,
    pub in_iface: Option<Neg<String>>,
    pub out_iface: Option<Neg<String>>,
    pub proto: Option<Neg<Proto>>,
    pub matches: Vec<Match>,
    pub target: Option<Target>,
}

impl Rule {
    /// The text of the rule's `--comment`, if it has one.
    pub fn comment_text(&self) -> Option<&str> {
        self.matches.iter().find_map(|m| match m {
            Match::Comment(text) => Some(text.as_str()),
            _ => None,
        })
    }
}

/// A `-m` match module with its options.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    /// `-m comment --comment TEXT`: always matches.
    Comment(String),
    /// `-m tcp|udp|sctp [--sport N] [--dport N]`.
    Ports { proto: Proto, sport: Option<Neg<u16>>, dport: Option<Neg<u16>> },
    /// `-m conntrack [!] --ctstate A,B`.
    Conntrack(Neg<Vec<CtState>>),
    /// `-m mark [!] --mark VALUE/MASK`.
    Mark(Neg<(u32, u32)>),
    /// `-m addrtype [[!] --src-type T] [[!] --dst-type T]`.
    AddrType { src: Option<Neg<AddrType>>, dst: Option<Neg<AddrType>> },
    /// `-m statistic --mode random --probability P`, kept as the kernel keeps it: a 31-bit threshold
    /// (xt_statistic.h `u.random.probability`, set by libxt_statistic as `lround(0x80000000 * p)`).
    StatisticRandom { threshold: u32 },
    /// `-m recent` (xt_recent), keyed by source address.
    Recent(Recent),
    /// `-m set [!] --match-set NAME DIR[,DIR…]` (xt_set): whether the packet's fields, read in
    /// the directions given, are a member of the ipset NAME.
    Set { name: String, flags: Vec<SetDir>, negated: bool },
    /// `-m physdev [!] --physdev-is-in` (xt_physdev): whether the packet entered through a bridge
    /// port (seen only with br_netfilter). kube-proxy's IPVS mode uses it for externalIPs.
    PhysdevIsIn { negated: bool },
    /// `-m state [!] --state A,B` (xt_state): the older spelling of `-m conntrack --ctstate`, which
    /// kube-proxy's userspace mode used. It tests the same conntrack state.
    State(Neg<Vec<CtState>>),
    /// `-m owner [[!] --uid-owner N] [[!] --gid-owner N]` (xt_owner): the user and group of the
    /// socket that sent a locally generated packet. istio-init exempts Envoy's uid/gid 1337 this way.
    Owner { uid: Option<Neg<u32>>, gid: Option<Neg<u32>> },
}

/// Address types of `-m addrtype` (the kernel's RTN_* route types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrType {
    Local,
}

impl AddrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AddrType::Local => "LOCAL",
        }
    }
}

/// An `xt_recent` match: either records the source (`--set`) or checks it (`--rcheck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recent {
    pub name: String,
    pub op: RecentOp,
}

/// What a `-m recent` match does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecentOp {
    /// `--set`: add or refresh the source; always matches.
    Set,
    /// `--rcheck --seconds S --reap`: matches when the source was set less than S seconds ago.
    Rcheck { seconds: u32, reap: bool },
}

/// A rule's target.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Accept,
    Drop,
    Return,
    /// `-j REJECT`, by default `--reject-with icmp-port-unreachable`.
    Reject(RejectWith),
    Jump(String),
    Goto(String),
    /// `-j MARK --set-xmark VALUE/MASK`: `mark = (mark & !mask) ^ value` (xt_mark.c, `mark_tg`).
    /// kube-proxy writes `--or-mark M` (= `M/M`) and `--xor-mark M` (= `M/0`).
    Mark {
        value: u32,
        mask: u32,
    },
    Dnat {
        ip: Ipv4Addr,
        port: Option<u16>,
    },
    Snat {
        ip: Ipv4Addr,
        port: Option<u16>,
    },
    Masquerade {
        random_fully: bool,
    },
    /// `-j REDIRECT --to-ports PORT` (xt_REDIRECT, nf_nat_redirect.c): a DNAT to this host itself.
    /// The new destination is the primary address of the interface the packet came in on
    /// (127.0.0.1 for a locally generated packet at OUTPUT), with `port`. kube-proxy's userspace
    /// mode sent Service traffic from pods to its proxy socket this way.
    Redirect {
        port: u16,
    },
}

/// iptables' tables at each hook; the hook itself is `dataplane::Hook`.
impl Hook {
    /// The tables registered at this hook, in priority order (include/uapi/linux/netfilter_ipv4.h,
    /// `NF_IP_PRI_RAW` −300, `NF_IP_PRI_MANGLE` −150, `NF_IP_PRI_NAT_DST` −100, `NF_IP_PRI_FILTER` 0,
    /// `NF_IP_PRI_NAT_SRC` 100).
    pub fn tables(self) -> &'static [TableName] {
        match self {
            Hook::Prerouting => &[TableName::Raw, TableName::Mangle, TableName::Nat],
            Hook::Input => &[TableName::Mangle, TableName::Filter, TableName::Nat],
            Hook::Forward => &[TableName::Mangle, TableName::Filter],
            Hook::Output => &[TableName::Raw, TableName::Mangle, TableName::Nat, TableName::Filter],
            Hook::Postrouting => &[TableName::Mangle, TableName::Nat],
        }
    }
}

/// Builders, so that rule-writing code reads like the `iptables` arguments it stands for.
impl Rule {
    pub fn new() -> Rule {
        Rule::default()
    }

    /// `-s NET`.
    pub fn src(mut self, net: Ipv4Net) -> Rule {
        self.src = Some(Neg::is(net));
        self
    }

    /// `! -s NET`.
    pub fn not_src(mut self, net: Ipv4Net) -> Rule {
        self.src = Some(Neg::not(net));
        self
    }

    /// `-d ADDR` (as a `/32`).
    pub fn dst_ip(mut self, ip: Ipv4Addr) -> Rule {
        self.dst = Some(Neg::is(Ipv4Net::host(ip)));
        self
    }

    /// `-d NET`.
    pub fn dst(mut self, net: Ipv4Net) -> Rule {
        self.dst = Some(Neg::is(net));
        self
    }

    /// `-p PROTO`.
    pub fn proto(mut self, proto: Proto) -> Rule {
        self.proto = Some(Neg::is(proto));
        self
    }

    /// `-m comment --comment TEXT`.
    pub fn comment(mut self, text: impl Into<String>) -> Rule {
        self.matches.push(Match::Comment(text.into()));
        self
    }

    /// `-m PROTO -p PROTO [--dport PORT]`: kube-proxy's way of matching a port.
    pub fn port_match(mut self, proto: Proto, dport: Option<u16>) -> Rule {
        self.proto = Some(Neg::is(proto));
        self.matches.push(Match::Ports { proto, sport: None, dport: dport.map(Neg::is) });
        self
    }

    /// Any other match module.
    pub fn with(mut self, m: Match) -> Rule {
        self.matches.push(m);
        self
    }

    /// `-m conntrack --ctstate STATES`.
    pub fn ctstate(self, states: &[CtState]) -> Rule {
        self.with(Match::Conntrack(Neg::is(states.to_vec())))
    }

    /// `-m addrtype --dst-type LOCAL`.
    pub fn dst_type_local(self) -> Rule {
        self.with(Match::AddrType { src: None, dst: Some(Neg::is(AddrType::Local)) })
    }

    /// `-m set --match-set NAME DIRS`.
    pub fn match_set(self, name: impl Into<String>, flags: &[SetDir]) -> Rule {
        self.with(Match::Set { name: name.into(), flags: flags.to_vec(), negated: false })
    }

    /// `-m addrtype --src-type LOCAL`.
    pub fn src_type_local(self) -> Rule {
        self.with(Match::AddrType { src: Some(Neg::is(AddrType::Local)), dst: None })
    }

    /// `-j CHAIN`.
    pub fn jump(self, chain: impl Into<String>) -> Rule {
        self.target(Target::Jump(chain.into()))
    }

    /// `-j TARGET`.
    pub fn target(mut self, target: Target) -> Rule {
        self.target = Some(target);
        self
    }
}
