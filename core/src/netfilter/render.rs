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

use std::fmt::Write as _;

use crate::netfilter::{Chain, Match, Neg, RecentOp, Rule, Ruleset, Table, Target};
use crate::trace::RuleAt;

/// One line of rendered output; a rule's line knows which rule it is, for highlighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub rule: Option<RuleAt>,
}

/// The chains of a table in `iptables-save` order: built-in chains first, then user chains by name.
pub fn save_order(table: &Table) -> Vec<&Chain> {
    let mut builtin: Vec<&Chain> = table.chains.iter().filter(|chain| chain.policy.is_some()).collect();
    let order = table.name.builtin_chains();
    builtin.sort_by_key(|chain| order.iter().position(|name| *name == chain.name).unwrap_or(usize::MAX));
    let mut user: Vec<&Chain> = table.chains.iter().filter(|chain| chain.policy.is_none()).collect();
    user.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
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
pub fn rule_text(chain: &str, rule: &Rule) -> String {
    let mut out = format!("-A {chain}");
    let neg = |out: &mut String, negated: bool| {
        if negated {
            out.push_str(" !");
        }
    };
    if let Some(Neg { negated, value }) = &rule.src {
        neg(&mut out, *negated);
        let _ = write!(out, " -s {value}");
    }
    if let Some(Neg { negated, value }) = &rule.dst {
        neg(&mut out, *negated);
        let _ = write!(out, " -d {value}");
    }
    if let Some(Neg { negated, value }) = &rule.in_iface {
        neg(&mut out, *negated);
        let _ = write!(out, " -i {value}");
    }
    if let Some(Neg { negated, value }) = &rule.out_iface {
        neg(&mut out, *negated);
        let _ = write!(out, " -o {value}");
    }
    if let Some(Neg { negated, value }) = &rule.proto {
        neg(&mut out, *negated);
        let _ = write!(out, " -p {value}");
    }
    for m in &rule.matches {
        match_text(&mut out, m);
    }
    if let Some(target) = &rule.target {
        target_text(&mut out, target);
    }
    out
}

/// libxtables `xtables_save_string`: bare when every character is in `[A-Za-z0-9_-]` (and the
/// string is not empty), otherwise double-quoted with `"`, `\` and `'` escaped by a backslash.
pub fn save_string(value: &str) -> String {
    let bare = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        if matches!(ch, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

fn match_text(out: &mut String, m: &Match) {
    match m {
        Match::Comment(text) => {
            let _ = write!(out, " -m comment --comment {}", save_string(text));
        }
        Match::Ports { proto, sport, dport } => {
            let _ = write!(out, " -m {proto}");
            if let Some(Neg { negated, value }) = sport {
                let _ = write!(out, "{} --sport {value}", if *negated { " !" } else { "" });
            }
            if let Some(Neg { negated, value }) = dport {
                let _ = write!(out, "{} --dport {value}", if *negated { " !" } else { "" });
            }
        }
        Match::Conntrack(Neg { negated, value }) => {
            // libxt_conntrack.c `print_state` lists the states in this fixed order.
            let mut states = value.clone();
            states.sort();
            states.dedup();
            let names: Vec<&str> = states.iter().map(|state| state.as_str()).collect();
            let _ = write!(out, " -m conntrack{} --ctstate {}", if *negated { " !" } else { "" }, names.join(","));
        }
        Match::Mark(Neg { negated, value: (value, mask) }) => {
            let _ = write!(out, " -m mark{} --mark {}", if *negated { " !" } else { "" }, mark_text(*value, *mask));
        }
        Match::AddrType { src, dst } => {
            out.push_str(" -m addrtype");
            if let Some(Neg { negated, value }) = src {
                let _ = write!(out, "{} --src-type {}", if *negated { " !" } else { "" }, value.as_str());
            }
            if let Some(Neg { negated, value }) = dst {
                let _ = write!(out, "{} --dst-type {}", if *negated { " !" } else { "" }, value.as_str());
            }
        }
        Match::StatisticRandom { threshold } => {
            // libxt_statistic.c `print_match`: `%.11f` of `probability / 0x80000000`.
            let _ = write!(
                out,
                " -m statistic --mode random --probability {:.11}",
                f64::from(*threshold) / 2_147_483_648.0
            );
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
            let _ = write!(out, " --name {} --mask 255.255.255.255 --rsource", recent.name);
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
            let _ = write!(out, " -j REJECT --reject-with {}", with.as_str());
        }
        Target::Jump(chain) => {
            let _ = write!(out, " -j {chain}");
        }
        Target::Goto(chain) => {
            let _ = write!(out, " -g {chain}");
        }
        Target::Mark { value, mask } => {
            let _ = write!(out, " -j MARK --set-xmark 0x{value:x}/0x{mask:x}");
        }
        Target::Dnat { ip, port } => match port {
            Some(port) => {
                let _ = write!(out, " -j DNAT --to-destination {ip}:{port}");
            }
            None => {
                let _ = write!(out, " -j DNAT --to-destination {ip}");
            }
        },
        Target::Snat { ip, port } => match port {
            Some(port) => {
                let _ = write!(out, " -j SNAT --to-source {ip}:{port}");
            }
            None => {
                let _ = write!(out, " -j SNAT --to-source {ip}");
            }
        },
        Target::Masquerade { random_fully } => {
            out.push_str(" -j MASQUERADE");
            if *random_fully {
                out.push_str(" --random-fully");
            }
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
