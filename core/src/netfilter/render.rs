//! Rendering a `Ruleset` as `iptables-save` prints it.
//!
//! The layout is iptables-nft-save 1.8.9's (checked against the real tool in tier 4): tables as
//! given, each as `*table`, the built-in chains with their policy, the user chains sorted by name
//! (strcmp), then the rules of the built-in chains and of the user chains in that same order, then
//! `COMMIT`. Inside a rule: `[!] -s`, `[!] -d`, `[!] -i`, `[!] -o`, `[!] -p`, then the match
//! modules in insertion order, then `-j` (iptables/nft-shared.c `save_rule`, xshared.c
//! `save_ipv4_addr`). Option spellings are those of each extension's `save` function
//! (extensions/libxt_*.c). Counters are always `[0:0]` and the `# Generated`/`# Completed`
//! comment lines are left out, as design.md's contract says.

use crate::dataplane::Line;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::net::{push_ipv4, push_u16};

use crate::netfilter::{Chain, Match, Neg, RecentOp, Rule, Ruleset, Table, Target};
use crate::trace::RuleAt;

/// The chains of a table in `iptables-save` order: built-in chains first, then user chains by name.
pub fn save_order(table: &Table) -> Vec<&Chain> {
    let mut builtin: Vec<&Chain> = table.chains.iter().filter(|chain| chain.policy.is_some()).collect();
    let order = table.name.builtin_chains();
    crate::sort::sort_by_key(&mut builtin, |chain| {
        order.iter().position(|name| *name == chain.name).unwrap_or(usize::MAX)
    });
    let mut user: Vec<&Chain> = table.chains.iter().filter(|chain| chain.policy.is_none()).collect();
    // The names are looked up once: the sort then reads them without going through each chain.
    crate::sort::sort_by_cached_key(&mut user, |chain| chain.name.as_bytes());
    builtin.extend(user);
    builtin
}

/// The whole ruleset as `iptables-save` prints it, line by line.
pub fn iptables_save(ruleset: &Ruleset) -> Vec<Line> {
    let mut lines = Vec::new();
    let plain = |text: String| Line { text, rule: None };
    for table in &ruleset.tables {
        lines.push(plain(format!("*{}", table.name.as_str())));
        let chains = save_order(table);
        for chain in &chains {
            let policy = chain.policy.map(|policy| policy.as_str()).unwrap_or("-");
            lines.push(plain(format!(":{} {} [0:0]", chain.name, policy)));
        }
        for chain in &chains {
            for (index, rule) in chain.rules.iter().enumerate() {
                lines.push(Line {
                    text: rule_text(&chain.name, rule),
                    rule: Some(RuleAt { table: table.name.as_str(), chain: chain.name.clone(), index }),
                });
            }
        }
        lines.push(plain("COMMIT".to_string()));
    }
    lines
}

/// One rule as `iptables-save` prints it: `-A CHAIN …`.
///
/// Written with `push_str` and the digit writers of `net` rather than `format!`: a large cluster
/// has hundreds of thousands of rules, and this is the whole cost of rendering them.
pub fn rule_text(chain: &str, rule: &Rule) -> String {
    let mut out = String::with_capacity(96 + chain.len());
    out.push_str("-A ");
    out.push_str(chain);
    let neg = |out: &mut String, negated: bool| {
        if negated {
            out.push_str(" !");
        }
    };
    if let Some(Neg { negated, value }) = &rule.src {
        neg(&mut out, *negated);
        out.push_str(" -s ");
        push_net(&mut out, value);
    }
    if let Some(Neg { negated, value }) = &rule.dst {
        neg(&mut out, *negated);
        out.push_str(" -d ");
        push_net(&mut out, value);
    }
    if let Some(Neg { negated, value }) = &rule.in_iface {
        neg(&mut out, *negated);
        out.push_str(" -i ");
        out.push_str(value);
    }
    if let Some(Neg { negated, value }) = &rule.out_iface {
        neg(&mut out, *negated);
        out.push_str(" -o ");
        out.push_str(value);
    }
    if let Some(Neg { negated, value }) = &rule.proto {
        neg(&mut out, *negated);
        out.push_str(" -p ");
        out.push_str(value.as_str());
    }
    for m in &rule.matches {
        match_text(&mut out, m);
    }
    if let Some(target) = &rule.target {
        target_text(&mut out, target);
    }
    out
}

fn push_net(out: &mut String, net: &crate::net::Ipv4Net) {
    push_ipv4(out, net.addr);
    out.push('/');
    push_u16(out, u16::from(net.prefix));
}

/// libxtables `xtables_save_string`: bare when every character is in `[A-Za-z0-9_-]` (and the
/// string is not empty), otherwise double-quoted with `"`, `\` and `'` escaped by a backslash.
pub fn save_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_save_string(&mut out, value);
    out
}

fn push_save_string(out: &mut String, value: &str) {
    let bare = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for ch in value.chars() {
        if matches!(ch, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
}

fn bang(out: &mut String, negated: bool) {
    if negated {
        out.push_str(" !");
    }
}

/// libxt_statistic.c `print_match`: `%.11f` of `probability / 0x80000000`. The text of the
/// thresholds kube-proxy writes (1/k for k up to 1024) is formatted once and reused.
fn probability_text(threshold: u32) -> String {
    static CACHE: std::sync::OnceLock<BTreeMap<u32, String>> = std::sync::OnceLock::new();
    let format = |threshold: u32| format!("{:.11}", f64::from(threshold) / 2_147_483_648.0);
    let cache = CACHE.get_or_init(|| {
        // Inserted one by one: `collect()` would compile another stable sort (see `crate::sort`).
        let mut cache = BTreeMap::new();
        for k in 1..=1024u32 {
            let threshold =
                (2_147_483_648.0 * format!("{:.10}", 1.0 / f64::from(k)).parse::<f64>().unwrap_or(0.0)).round() as u32;
            cache.insert(threshold, format(threshold));
        }
        cache
    });
    cache.get(&threshold).cloned().unwrap_or_else(|| format(threshold))
}

fn match_text(out: &mut String, m: &Match) {
    match m {
        Match::Comment(text) => {
            out.push_str(" -m comment --comment ");
            push_save_string(out, text);
        }
        Match::Ports { proto, sport, dport } => {
            out.push_str(" -m ");
            out.push_str(proto.as_str());
            if let Some(Neg { negated, value }) = sport {
                bang(out, *negated);
                out.push_str(" --sport ");
                push_u16(out, *value);
            }
            if let Some(Neg { negated, value }) = dport {
                bang(out, *negated);
                out.push_str(" --dport ");
                push_u16(out, *value);
            }
        }
        Match::Conntrack(Neg { negated, value }) => {
            // libxt_conntrack.c `print_state` lists the states in this fixed order.
            let mut states = value.clone();
            crate::sort::sort(&mut states);
            states.dedup();
            out.push_str(" -m conntrack");
            bang(out, *negated);
            out.push_str(" --ctstate ");
            for (index, state) in states.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(state.as_str());
            }
        }
        Match::Mark(Neg { negated, value: (value, mask) }) => {
            out.push_str(" -m mark");
            bang(out, *negated);
            out.push_str(" --mark ");
            out.push_str(&mark_text(*value, *mask));
        }
        Match::AddrType { src, dst } => {
            out.push_str(" -m addrtype");
            if let Some(Neg { negated, value }) = src {
                bang(out, *negated);
                out.push_str(" --src-type ");
                out.push_str(value.as_str());
            }
            if let Some(Neg { negated, value }) = dst {
                bang(out, *negated);
                out.push_str(" --dst-type ");
                out.push_str(value.as_str());
            }
        }
        Match::StatisticRandom { threshold } => {
            out.push_str(" -m statistic --mode random --probability ");
            out.push_str(&probability_text(*threshold));
        }
        Match::Recent(recent) => {
            // libxt_recent.c `recent_save`: the operation, `--seconds`, `--reap`, `--name`, `--mask`, side.
            out.push_str(" -m recent");
            match &recent.op {
                RecentOp::Set => out.push_str(" --set"),
                RecentOp::Rcheck { seconds, reap } => {
                    out.push_str(" --rcheck");
                    if *seconds != 0 {
                        let _ = write!(out, " --seconds {seconds}");
                    }
                    if *reap {
                        out.push_str(" --reap");
                    }
                }
            }
            out.push_str(" --name ");
            out.push_str(&recent.name);
            out.push_str(" --mask 255.255.255.255 --rsource");
        }
        Match::Set { name, flags, negated } => {
            // libxt_set.c `print_match` (used by `set_save_v4`): `[ !] --match-set NAME`, then the
            // directions joined by commas; kube-proxy sets none of revision 4's extra options,
            // which print nothing at their defaults. Checked against iptables-nft-save 1.8.9.
            let dirs: Vec<&str> = flags.iter().map(|dir| dir.as_str()).collect();
            let _ = write!(out, " -m set{} --match-set {name} {}", if *negated { " !" } else { "" }, dirs.join(","));
        }
        Match::PhysdevIsIn { negated } => {
            // libxt_physdev.c `physdev_save`: `[ !] --physdev-is-in`.
            let _ = write!(out, " -m physdev{} --physdev-is-in", if *negated { " !" } else { "" });
        }
        Match::Owner { uid, gid } => {
            // libxt_owner.c `owner_mt_save`: `[!] --uid-owner N`, then `[!] --gid-owner N`.
            out.push_str(" -m owner");
            if let Some(Neg { negated, value }) = uid {
                bang(out, *negated);
                let _ = write!(out, " --uid-owner {value}");
            }
            if let Some(Neg { negated, value }) = gid {
                bang(out, *negated);
                let _ = write!(out, " --gid-owner {value}");
            }
        }
        Match::State(Neg { negated, value }) => {
            // The `state` match lives in libxt_conntrack.c (`state_save`); its states are printed
            // in a fixed order, taken here to be the conntrack match's. Only the one state
            // kube-proxy used, NEW, was checked against iptables-nft-save 1.8.9.
            let mut states = value.clone();
            crate::sort::sort(&mut states);
            states.dedup();
            out.push_str(" -m state");
            bang(out, *negated);
            out.push_str(" --state ");
            for (index, state) in states.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(state.as_str());
            }
        }
    }
}

/// `VALUE/MASK`, or just `VALUE` when the mask is all ones (libxt_mark.c `print_mark`).
fn mark_text(value: u32, mask: u32) -> String {
    if mask == u32::MAX { format!("0x{value:x}") } else { format!("0x{value:x}/0x{mask:x}") }
}

fn target_text(out: &mut String, target: &Target) {
    match target {
        Target::Accept => out.push_str(" -j ACCEPT"),
        Target::Drop => out.push_str(" -j DROP"),
        Target::Return => out.push_str(" -j RETURN"),
        Target::Reject(with) => {
            out.push_str(" -j REJECT --reject-with ");
            out.push_str(with.as_str());
        }
        Target::Jump(chain) => {
            out.push_str(" -j ");
            out.push_str(chain);
        }
        Target::Goto(chain) => {
            out.push_str(" -g ");
            out.push_str(chain);
        }
        Target::Mark { value, mask } => {
            let _ = write!(out, " -j MARK --set-xmark 0x{value:x}/0x{mask:x}");
        }
        Target::Dnat { ip, port } | Target::Snat { ip, port } => {
            out.push_str(if matches!(target, Target::Dnat { .. }) {
                " -j DNAT --to-destination "
            } else {
                " -j SNAT --to-source "
            });
            push_ipv4(out, *ip);
            if let Some(port) = port {
                out.push(':');
                push_u16(out, *port);
            }
        }
        Target::Masquerade { random_fully } => {
            out.push_str(" -j MASQUERADE");
            if *random_fully {
                out.push_str(" --random-fully");
            }
        }
        Target::Redirect { port } => {
            // libxt_REDIRECT.c `REDIRECT_save`: ` --to-ports N` for a single port.
            out.push_str(" -j REDIRECT --to-ports ");
            push_u16(out, *port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::save_string;

    #[test]
    fn comment_quoting_follows_xtables_save_string() {
        assert_eq!(save_string("default-web_1"), "default-web_1");
        assert_eq!(save_string("default/web:http"), "\"default/web:http\"");
        assert_eq!(save_string(""), "\"\"");
        assert_eq!(save_string("a\"b"), "\"a\\\"b\"");
    }
}
