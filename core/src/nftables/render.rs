//! Rendering a `Ruleset` as `nft list ruleset` prints it.
//!
//! The layout is nftables 1.0.x's (checked byte for byte against nft 1.0.6 in tier 4): each table
//! as `table FAMILY NAME {`, its comment, then every set and map, then every chain, each in
//! creation order and separated by an empty line, indented with tabs (src/rule.c, `table_print`,
//! `set_print_declaration`, `chain_print_declaration`). Inside a set, elements are sorted as nft
//! sorts them before printing (src/expression.c, `expr_msort_cmp`: a plain value by its number, a
//! concatenation by its bytes read as one little-endian number) and wrapped as
//! `calculate_delim` wraps them: two addresses per line, one map element per line, anonymous sets
//! on one line. Expressions print as nft prints them back from the kernel, which is not always how
//! kube-proxy spelled them: `mark set mark or 0x4000` comes back as
//! `meta mark set meta mark | 0x00004000`, and a one-element anonymous set loses its braces.

use std::fmt::Write as _;

use crate::dataplane::{CtState, Hook, Line};
use crate::net::Ipv4Net;
use crate::nftables::{
    AddrRhs, BaseChain, Chain, Element, Expr, KeyType, MarkOp, Rule, Ruleset, Set, SetFlag, Table, Value, Verdict,
};
use crate::trace::RuleAt;

/// The name `RuleAt::table` carries for rules of kube-proxy's table (`RuleAt` wants a static name).
pub const KUBE_PROXY_TABLE: &str = "kube-proxy";

/// The separator `calculate_delim` puts between elements that go on separate lines.
const NEWLINE_DELIM: &str = ",\n\t\t\t     ";

/// The static name used in `RuleAt` for a table.
pub fn table_tag(table: &Table) -> &'static str {
    if table.name == KUBE_PROXY_TABLE { KUBE_PROXY_TABLE } else { "nft" }
}

/// The whole ruleset as `nft list ruleset` prints it, line by line; rule lines carry their position.
pub fn list_ruleset(ruleset: &Ruleset) -> Vec<Line> {
    let mut lines = Vec::new();
    for table in &ruleset.tables {
        table_lines(table, &mut lines);
    }
    lines
}

/// The ruleset as one text, ending in a newline.
pub fn list_ruleset_text(ruleset: &Ruleset) -> String {
    let mut out = String::new();
    for line in list_ruleset(ruleset) {
        out.push_str(&line.text);
        out.push('\n');
    }
    out
}

fn plain(lines: &mut Vec<Line>, text: impl Into<String>) {
    // A multi-line text (a set's wrapped elements) is split so that every `Line` is one line.
    for part in text.into().split('\n') {
        lines.push(Line { text: part.to_string(), rule: None });
    }
}

fn table_lines(table: &Table, lines: &mut Vec<Line>) {
    plain(lines, format!("table {} {} {{", table.family.as_str(), table.name));
    if let Some(comment) = &table.comment {
        plain(lines, format!("\tcomment {}", quoted(comment)));
    }
    let mut first = true;
    for set in &table.sets {
        if !first {
            plain(lines, "");
        }
        first = false;
        set_lines(set, lines);
    }
    for chain in &table.chains {
        if !first {
            plain(lines, "");
        }
        first = false;
        chain_lines(table, chain, lines);
    }
    plain(lines, "}");
}

fn set_lines(set: &Set, lines: &mut Vec<Line>) {
    let keyword = if set.is_map() { "map" } else { "set" };
    plain(lines, format!("\t{keyword} {} {{", set.name));
    let key: Vec<&str> = set.key.iter().map(|key| key.as_str()).collect();
    let mut type_line = format!("\t\ttype {}", key.join(" . "));
    if let Some(data) = set.data {
        let _ = write!(type_line, " : {}", data.as_str());
    }
    plain(lines, type_line);
    // The kernel gives a dynamic set without an explicit size the default of 65535, and nft
    // lists it (observed with nft 1.0.6 on Linux 6.x).
    let size = set.size.or(set.flags.contains(&SetFlag::Dynamic).then_some(65535));
    if let Some(size) = size {
        plain(lines, format!("\t\tsize {size}"));
    }
    if !set.flags.is_empty() {
        let mut flags = set.flags.clone();
        crate::sort::sort_by_key(&mut flags, |flag| match flag {
            SetFlag::Dynamic => 0,
            SetFlag::Timeout => 1,
        });
        flags.dedup();
        let flags: Vec<&str> = flags.iter().map(|flag| flag.as_str()).collect();
        plain(lines, format!("\t\tflags {}", flags.join(",")));
    }
    if let Some(timeout) = set.timeout {
        plain(lines, format!("\t\ttimeout {}", time_text(u64::from(timeout))));
    }
    if let Some(comment) = &set.comment {
        plain(lines, format!("\t\tcomment {}", quoted(comment)));
    }
    if !set.elements.is_empty() {
        plain(lines, format!("\t\telements = {}", elements_text(set)));
    }
    plain(lines, "\t}");
}

/// A named set's elements as nft lists them: sorted, then wrapped.
fn elements_text(set: &Set) -> String {
    let mut elements: Vec<&Element> = set.elements.iter().collect();
    crate::sort::sort_by_key(&mut elements, |element| sort_key(&element.key));
    let per_line = match set.key.as_slice() {
        // `calculate_delim`: TYPE_IPADDR gets two per line; concatenations, one.
        [KeyType::Ipv4Addr] => 2,
        [KeyType::InetProto] | [KeyType::InetService] => 5,
        _ => 1,
    };
    let mut out = String::from("{ ");
    let mut count = 0;
    for (index, element) in elements.iter().enumerate() {
        if index > 0 {
            if count < per_line {
                out.push_str(", ");
            } else {
                out.push_str(NEWLINE_DELIM);
                count = 0;
            }
        }
        out.push_str(&element_text(element));
        count += 1;
    }
    out.push_str(" }");
    out
}

/// The order nft prints elements in (src/expression.c `expr_msort_cmp`): one value by its number,
/// which for these types is its network-order bytes; a concatenation by the bytes of all its
/// parts imported as one host-endian (little-endian) number, so its last byte weighs most.
fn sort_key(key: &[Value]) -> Vec<u8> {
    let mut bytes: Vec<u8> = key.iter().flat_map(|value| value.bytes()).collect();
    if key.len() > 1 {
        bytes.reverse();
    }
    bytes
}

fn element_text(element: &Element) -> String {
    let key: Vec<String> = element.key.iter().map(|value| value_text(*value)).collect();
    let mut out = key.join(" . ");
    if let Some(comment) = &element.comment {
        let _ = write!(out, " comment {}", quoted(comment));
    }
    if let Some(verdict) = &element.verdict {
        let _ = write!(out, " : {}", verdict_text(verdict));
    }
    out
}

fn value_text(value: Value) -> String {
    match value {
        Value::Ip(ip) => ip.to_string(),
        Value::Proto(proto) => proto.as_str().to_string(),
        Value::Port(port) => port.to_string(),
    }
}

fn chain_lines(table: &Table, chain: &Chain, lines: &mut Vec<Line>) {
    plain(lines, format!("\tchain {} {{", chain.name));
    if let Some(comment) = &chain.comment {
        plain(lines, format!("\t\tcomment {}", quoted(comment)));
    }
    if let Some(base) = &chain.base {
        plain(lines, format!("\t\t{}", base_chain_text(base)));
    }
    for (index, rule) in chain.rules.iter().enumerate() {
        lines.push(Line {
            text: format!("\t\t{}", rule_text(rule)),
            rule: Some(RuleAt { table: table_tag(table), chain: chain.name.clone(), index }),
        });
    }
    plain(lines, "\t}");
}

/// `type nat hook prerouting priority dstnat; policy accept;`.
pub fn base_chain_text(base: &BaseChain) -> String {
    format!(
        "type {} hook {} priority {}; policy {};",
        base.kind.as_str(),
        hook_name(base.hook),
        priority_text(base.hook, base.priority),
        base.policy.as_str()
    )
}

/// The hook's name in nft's spelling.
pub fn hook_name(hook: Hook) -> &'static str {
    match hook {
        Hook::Prerouting => "prerouting",
        Hook::Input => "input",
        Hook::Forward => "forward",
        Hook::Output => "output",
        Hook::Postrouting => "postrouting",
    }
}

/// A priority as nft prints it (src/rule.c `prio2str`): the name of a standard priority that is
/// valid at this hook when the value is within 10 of it (`dstnat - 10`), else the number. For the
/// ip family, `dstnat` (−100) is named only at prerouting and `srcnat` (100) only at postrouting.
pub fn priority_text(hook: Hook, priority: i32) -> String {
    let standard: [(&str, i32, bool); 6] = [
        ("raw", -300, true),
        ("mangle", -150, true),
        ("dstnat", -100, hook == Hook::Prerouting),
        ("filter", 0, true),
        ("security", 50, true),
        ("srcnat", 100, hook == Hook::Postrouting),
    ];
    for (name, value, valid) in standard {
        if !valid {
            continue;
        }
        let offset = priority - value;
        if offset == 0 {
            return name.to_string();
        }
        if (1..=10).contains(&offset) {
            return format!("{name} + {offset}");
        }
        if (-10..=-1).contains(&offset) {
            return format!("{name} - {}", -offset);
        }
    }
    priority.to_string()
}

/// A duration as nft prints one (src/datatype.c `time_print`): `3h`, `1d2h3m4s`.
pub fn time_text(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = seconds;
    for (unit, size) in [("d", 86_400u64), ("h", 3_600), ("m", 60), ("s", 1)] {
        let count = rest / size;
        rest %= size;
        if count > 0 {
            let _ = write!(out, "{count}{unit}");
        }
    }
    out
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// An address or prefix as nft prints it: a `/32` as the bare address, otherwise the network.
fn net_text(net: &Ipv4Net) -> String {
    if net.prefix == 32 { net.addr.to_string() } else { format!("{}/{}", net.network(), net.prefix) }
}

/// A verdict as nft prints it.
pub fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Accept => "accept".to_string(),
        Verdict::Drop => "drop".to_string(),
        Verdict::Return => "return".to_string(),
        Verdict::Jump(chain) => format!("jump {chain}"),
        Verdict::Goto(chain) => format!("goto {chain}"),
    }
}

/// One rule as `nft list ruleset` prints it (without indentation).
pub fn rule_text(rule: &Rule) -> String {
    let mut parts: Vec<String> = rule.exprs.iter().map(expr_text).collect();
    if let Some(comment) = &rule.comment {
        parts.push(format!("comment {}", quoted(comment)));
    }
    parts.join(" ")
}

/// One expression as nft prints it.
pub fn expr_text(expr: &Expr) -> String {
    match expr {
        Expr::Addr { field, negated, rhs } => {
            let op = if *negated { "!= " } else { "" };
            let rhs = match rhs {
                AddrRhs::Net(net) => net_text(net),
                AddrRhs::Set(name) => format!("@{name}"),
                AddrRhs::Anon(nets) => anon_set_text(nets),
            };
            format!("ip {} {op}{rhs}", field.as_str())
        }
        Expr::L4Proto(proto) => format!("meta l4proto {proto}"),
        Expr::Dport { proto, port } => format!("{proto} dport {port}"),
        Expr::FibLocal(field) => format!("fib {} type local", field.as_str()),
        Expr::CtState(states) => {
            // nft prints ct states in the order of their bits (invalid, established, related, new).
            let order = [CtState::Invalid, CtState::Established, CtState::Related, CtState::New];
            let names: Vec<&str> = order
                .iter()
                .filter(|state| states.contains(state))
                .map(|state| state.as_str())
                .map(|name| match name {
                    "INVALID" => "invalid",
                    "ESTABLISHED" => "established",
                    "RELATED" => "related",
                    _ => "new",
                })
                .collect();
            format!("ct state {}", names.join(","))
        }
        Expr::MarkUnset(mask) => format!("meta mark & {mask:#010x} == 0x00000000"),
        Expr::MarkSet { op, value } => {
            let op = match op {
                MarkOp::Or => "|",
                MarkOp::Xor => "^",
            };
            format!("meta mark set meta mark {op} {value:#010x}")
        }
        Expr::Vmap { key, map } => {
            let key: Vec<&str> = key.iter().map(|part| part.as_str()).collect();
            format!("{} vmap @{map}", key.join(" . "))
        }
        Expr::NumgenVmap { modulus, verdicts } => {
            let elements: Vec<String> = verdicts
                .iter()
                .enumerate()
                .map(|(index, verdict)| format!("{index} : {}", verdict_text(verdict)))
                .collect();
            format!("numgen random mod {modulus} vmap {{ {} }}", elements.join(", "))
        }
        Expr::UpdateSet { set, key } => format!("update @{set} {{ {} }}", key.as_str()),
        Expr::Dnat { ip, port } => match port {
            Some(port) => format!("dnat to {ip}:{port}"),
            None => format!("dnat to {ip}"),
        },
        Expr::Masquerade { fully_random } => {
            if *fully_random {
                "masquerade fully-random".to_string()
            } else {
                "masquerade".to_string()
            }
        }
        Expr::Reject => "reject".to_string(),
        Expr::Verdict(verdict) => verdict_text(verdict),
    }
}

/// An anonymous set of prefixes: sorted (it is an interval set), and without braces when it
/// holds one element, as nft lists it.
fn anon_set_text(nets: &[Ipv4Net]) -> String {
    let mut sorted: Vec<&Ipv4Net> = nets.iter().collect();
    crate::sort::sort_by_key(&mut sorted, |net| (u32::from(net.network()), net.prefix));
    sorted.dedup_by_key(|net| (u32::from(net.network()), net.prefix));
    if sorted.len() == 1 {
        return net_text(sorted[0]);
    }
    let parts: Vec<String> = sorted.iter().map(|net| net_text(net)).collect();
    format!("{{ {} }}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_as_nft_names_them() {
        assert_eq!(priority_text(Hook::Prerouting, -110), "dstnat - 10");
        assert_eq!(priority_text(Hook::Prerouting, -100), "dstnat");
        assert_eq!(priority_text(Hook::Output, -100), "-100");
        assert_eq!(priority_text(Hook::Output, -110), "-110");
        assert_eq!(priority_text(Hook::Output, -90), "-90");
        assert_eq!(priority_text(Hook::Input, -110), "-110");
        assert_eq!(priority_text(Hook::Postrouting, 100), "srcnat");
        assert_eq!(priority_text(Hook::Input, 0), "filter");
    }

    #[test]
    fn durations_as_nft_prints_them() {
        assert_eq!(time_text(10800), "3h");
        assert_eq!(time_text(86400), "1d");
        assert_eq!(time_text(10000), "2h46m40s");
        assert_eq!(time_text(30), "30s");
    }
}
