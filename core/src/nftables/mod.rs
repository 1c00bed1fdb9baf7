//! nftables as data: a table of sets, maps and chains whose rules are typed expressions.
//!
//! kube-proxy's nftables mode is built as a `Ruleset`; `render` prints it exactly as
//! `nft list ruleset` (nftables 1.0.x) prints it back from the kernel, and `eval` walks a packet
//! through the very same chains. Nothing here knows about Kubernetes. Only what kube-proxy writes
//! is modelled: IPv4 tables, payload, meta, `fib`, `ct state` and `numgen` matches, verdict maps,
//! dynamic sets with timeouts, NAT statements and verdicts. Objects are kept in creation order,
//! which is the order the kernel lists them in.

pub mod eval;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::dataplane::{CtState, Hook};
use crate::net::{Ipv4Net, Proto};

/// Every table of a ruleset, in creation order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ruleset {
    pub tables: Vec<Table>,
}

impl Ruleset {
    /// The number of rules over all tables and chains.
    pub fn rule_count(&self) -> usize {
        self.tables.iter().flat_map(|table| &table.chains).map(|chain| chain.rules.len()).sum()
    }
}

/// The address family of a table. lbplay models IPv4 only, as it does everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ip,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ip => "ip",
        }
    }
}

/// A table: its sets and maps, then its chains, each list in creation order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub family: Family,
    pub name: String,
    pub comment: Option<String>,
    pub sets: Vec<Set>,
    pub chains: Vec<Chain>,
    /// Lookups by name, so that building and walking a table with 100,000 chains stays linear.
    pub cache: Cache,
}

/// Name lookups of a `Table`: not part of its content (any two caches compare equal). A chain or
/// element added by pushing to the public vectors directly is still found, by a linear search.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    chains: BTreeMap<String, usize>,
    elements: BTreeSet<(String, Vec<Value>)>,
}

impl PartialEq for Cache {
    fn eq(&self, _other: &Cache) -> bool {
        true
    }
}

impl Table {
    pub fn new(family: Family, name: impl Into<String>) -> Table {
        Table {
            family,
            name: name.into(),
            comment: None,
            sets: Vec::new(),
            chains: Vec::new(),
            cache: Cache::default(),
        }
    }

    pub fn chain(&self, name: &str) -> Option<&Chain> {
        match self.cache.chains.get(name) {
            Some(index) => self.chains.get(*index).filter(|chain| chain.name == name),
            None => self.chains.iter().find(|chain| chain.name == name),
        }
    }

    /// The chain of that name, created (as a regular chain) when missing, as `add chain` does.
    pub fn chain_mut(&mut self, name: &str) -> &mut Chain {
        let cached = self
            .cache
            .chains
            .get(name)
            .copied()
            .filter(|index| self.chains.get(*index).is_some_and(|c| c.name == name));
        // When every chain went through here the cache is complete, and a name it lacks is new:
        // no need to scan (that scan made building 10,000 Services take half a minute).
        let complete = self.cache.chains.len() == self.chains.len();
        let found =
            cached.or_else(|| if complete { None } else { self.chains.iter().position(|chain| chain.name == name) });
        if let Some(index) = found {
            self.cache.chains.insert(name.to_string(), index);
            return &mut self.chains[index];
        }
        self.chains.push(Chain::regular(name));
        self.cache.chains.insert(name.to_string(), self.chains.len() - 1);
        self.chains.last_mut().expect("a chain was just pushed")
    }

    /// Whether `key` is new to `set` in this table's record of added elements; records it.
    /// (kube-proxy's `nftElementStorage.ensureElem`: one element per key.)
    pub fn first_element(&mut self, set: &str, key: &[Value]) -> bool {
        self.cache.elements.insert((set.to_string(), key.to_vec()))
    }

    pub fn set(&self, name: &str) -> Option<&Set> {
        self.sets.iter().find(|set| set.name == name)
    }

    /// The set or map of that name. `add set` of an existing set leaves it as it is, so the first
    /// declaration wins.
    pub fn set_mut(&mut self, name: &str) -> Option<&mut Set> {
        self.sets.iter_mut().find(|set| set.name == name)
    }

    /// Adds a set unless one of that name exists.
    pub fn add_set(&mut self, set: Set) {
        if self.set(&set.name).is_none() {
            self.sets.push(set);
        }
    }
}

/// A chain: a base chain (attached to a hook) or a regular one (reached by jump or goto).
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub comment: Option<String>,
    pub rules: Vec<Rule>,
}

impl Chain {
    pub fn regular(name: impl Into<String>) -> Chain {
        Chain { name: name.into(), base: None, comment: None, rules: Vec::new() }
    }
}

/// What makes a chain a base chain: `type T hook H priority P; policy accept;`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseChain {
    pub kind: ChainType,
    pub hook: Hook,
    pub priority: i32,
    pub policy: Policy,
}

/// The type of a base chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
}

impl ChainType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
        }
    }
}

/// The policy of a base chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Accept,
    Drop,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "accept",
            Policy::Drop => "drop",
        }
    }
}

/// A named set, or a map when `data` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Set {
    pub name: String,
    /// The key's type; more than one part is a concatenation (`ipv4_addr . inet_proto . inet_service`).
    pub key: Vec<KeyType>,
    /// For a map, the type of the values; lbplay's maps are all verdict maps.
    pub data: Option<DataType>,
    pub flags: Vec<SetFlag>,
    /// The default timeout of elements, in seconds (`timeout 3h`).
    pub timeout: Option<u32>,
    /// The maximum number of elements, as the kernel reports it.
    pub size: Option<u32>,
    pub comment: Option<String>,
    /// Elements in the order they were added; `render` prints them in `nft`'s sorted order.
    pub elements: Vec<Element>,
}

impl Set {
    /// An empty set (or map, with `data`) of the given key type.
    pub fn new(name: impl Into<String>, key: Vec<KeyType>, data: Option<DataType>) -> Set {
        Set {
            name: name.into(),
            key,
            data,
            flags: Vec::new(),
            timeout: None,
            size: None,
            comment: None,
            elements: Vec::new(),
        }
    }

    pub fn comment(mut self, text: impl Into<String>) -> Set {
        self.comment = Some(text.into());
        self
    }

    pub fn is_map(&self) -> bool {
        self.data.is_some()
    }
}

/// The data types of set keys that kube-proxy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Ipv4Addr,
    InetProto,
    InetService,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Ipv4Addr => "ipv4_addr",
            KeyType::InetProto => "inet_proto",
            KeyType::InetService => "inet_service",
        }
    }
}

/// The data type of a map's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Verdict,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Verdict => "verdict",
        }
    }
}

/// Set flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetFlag {
    Dynamic,
    Timeout,
}

impl SetFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            SetFlag::Dynamic => "dynamic",
            SetFlag::Timeout => "timeout",
        }
    }
}

/// One element of a set or map.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub key: Vec<Value>,
    pub comment: Option<String>,
    /// A map element's value.
    pub verdict: Option<Verdict>,
}

/// One part of an element's key, or what a key expression reads from a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Ip(Ipv4Addr),
    Proto(Proto),
    Port(u16),
}

impl Value {
    /// The bytes the kernel stores for the value, in network order (what `nft` sorts by).
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Value::Ip(ip) => ip.octets().to_vec(),
            Value::Proto(proto) => vec![proto.number()],
            Value::Port(port) => port.to_be_bytes().to_vec(),
        }
    }
}

/// A verdict: the end of a rule, a map's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
}

/// A rule: expressions in the order `nft` prints them, and an optional comment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    pub exprs: Vec<Expr>,
    pub comment: Option<String>,
}

/// An IPv4 header address field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrField {
    Saddr,
    Daddr,
}

impl AddrField {
    pub fn as_str(self) -> &'static str {
        match self {
            AddrField::Saddr => "saddr",
            AddrField::Daddr => "daddr",
        }
    }
}

/// What an address is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrRhs {
    /// An address or prefix (`10.96.100.10`, `10.244.0.0/16`).
    Net(Ipv4Net),
    /// A named set (`@cluster-ips`).
    Set(String),
    /// An anonymous set of prefixes (`{ 203.0.113.0/25, 192.168.1.10 }`).
    Anon(Vec<Ipv4Net>),
}

/// A part of a concatenated lookup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExpr {
    /// `ip saddr`.
    IpSaddr,
    /// `ip daddr`.
    IpDaddr,
    /// `meta l4proto`.
    MetaL4proto,
    /// `th dport`: the destination port of any transport header.
    ThDport,
}

impl KeyExpr {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyExpr::IpSaddr => "ip saddr",
            KeyExpr::IpDaddr => "ip daddr",
            KeyExpr::MetaL4proto => "meta l4proto",
            KeyExpr::ThDport => "th dport",
        }
    }
}

/// How `mark set mark OP VALUE` combines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkOp {
    Or,
    Xor,
}

/// One expression of a rule: a match, a statement or the closing verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `ip saddr|daddr [!=] RHS`.
    Addr { field: AddrField, negated: bool, rhs: AddrRhs },
    /// `meta l4proto PROTO`.
    L4Proto(Proto),
    /// `tcp|udp|sctp dport PORT` (implies the protocol).
    Dport { proto: Proto, port: u16 },
    /// `fib saddr|daddr type local`: the address is one of this host's.
    FibLocal(AddrField),
    /// `ct state S[,S]`.
    CtState(Vec<CtState>),
    /// `mark and MASK == 0` (printed `meta mark & MASK == 0x00000000`).
    MarkUnset(u32),
    /// `mark set mark or|xor VALUE`.
    MarkSet { op: MarkOp, value: u32 },
    /// `KEY . KEY … vmap @MAP`: the verdict of the element matching the packet, if any.
    Vmap { key: Vec<KeyExpr>, map: String },
    /// `numgen random mod N vmap { 0 : V, … }`: one random draw chooses a verdict.
    NumgenVmap { modulus: u32, verdicts: Vec<Verdict> },
    /// `update @SET { ip saddr }`: adds or refreshes the source address in a dynamic set.
    UpdateSet { set: String, key: KeyExpr },
    /// `dnat to IP:PORT`.
    Dnat { ip: Ipv4Addr, port: Option<u16> },
    /// `masquerade [fully-random]`.
    Masquerade { fully_random: bool },
    /// `reject` (an ICMP port unreachable for IPv4).
    Reject,
    /// A verdict statement, which ends the rule.
    Verdict(Verdict),
}

/// Builders, so that rule-writing code reads like the `nft` text it stands for.
impl Rule {
    pub fn new() -> Rule {
        Rule::default()
    }

    pub fn with(mut self, expr: Expr) -> Rule {
        self.exprs.push(expr);
        self
    }

    /// `ip daddr NET`.
    pub fn daddr(self, net: Ipv4Net) -> Rule {
        self.with(Expr::Addr { field: AddrField::Daddr, negated: false, rhs: AddrRhs::Net(net) })
    }

    /// `ip saddr NET`.
    pub fn saddr(self, net: Ipv4Net) -> Rule {
        self.with(Expr::Addr { field: AddrField::Saddr, negated: false, rhs: AddrRhs::Net(net) })
    }

    /// `ip saddr != NET`.
    pub fn not_saddr(self, net: Ipv4Net) -> Rule {
        self.with(Expr::Addr { field: AddrField::Saddr, negated: true, rhs: AddrRhs::Net(net) })
    }

    /// `ip daddr @SET`.
    pub fn daddr_in(self, set: &str) -> Rule {
        self.with(Expr::Addr { field: AddrField::Daddr, negated: false, rhs: AddrRhs::Set(set.to_string()) })
    }

    /// `ip saddr @SET`.
    pub fn saddr_in(self, set: &str) -> Rule {
        self.with(Expr::Addr { field: AddrField::Saddr, negated: false, rhs: AddrRhs::Set(set.to_string()) })
    }

    /// `ct state new`.
    pub fn ct_new(self) -> Rule {
        self.with(Expr::CtState(vec![CtState::New]))
    }

    pub fn jump(self, chain: impl Into<String>) -> Rule {
        self.with(Expr::Verdict(Verdict::Jump(chain.into())))
    }

    pub fn goto(self, chain: impl Into<String>) -> Rule {
        self.with(Expr::Verdict(Verdict::Goto(chain.into())))
    }

    pub fn verdict(self, verdict: Verdict) -> Rule {
        self.with(Expr::Verdict(verdict))
    }

    pub fn comment(mut self, text: impl Into<String>) -> Rule {
        self.comment = Some(text.into());
        self
    }
}
