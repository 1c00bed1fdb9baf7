//! Evaluating one table's chains at one hook against a packet, as the kernel does.
//!
//! `traverse` walks the built-in chain of the hook rule by rule (net/netfilter/nf_tables_core.c
//! `nft_do_chain` for iptables-nft; ip_tables.c `ipt_do_table` for legacy iptables, which gives the
//! same order): a rule whose matches all hold runs its target; a jump pushes the current position,
//! a goto replaces it, RETURN or the end of a user chain pops it, the end of a built-in chain
//! applies its policy. Every matched rule becomes an `Event` with the number of rules evaluated
//! without matching since the previous event, which is what the kernel's trace
//! (`xtables-monitor --trace`) lists.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::dataplane::{Env, Event, Hook, Meta, NatTarget, Origin, Verdict};
use crate::ipvs::ipset::Probe;
use crate::netfilter::render::rule_text;
use crate::netfilter::{AddrType, Match, Neg, RecentOp, Rule, Ruleset, TableName, Target};
use crate::trace::RuleAt;

/// The address `-j REDIRECT` sends a packet to at `hook` (nf_nat_redirect.c,
/// `nf_nat_redirect_ipv4`): 127.0.0.1 for a locally generated packet (NF_INET_LOCAL_OUT),
/// otherwise the primary address of the incoming interface. `None` means the interface has no
/// IPv4 address, and the kernel drops the packet.
pub fn redirect_addr(hook: Hook, meta: &Meta, env: &Env) -> Option<Ipv4Addr> {
    if hook == Hook::Output {
        return Some(Ipv4Addr::LOCALHOST);
    }
    env.in_iface_addr.or_else(|| meta.local_addrs.first().copied())
}

/// The result of one table at one hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub events: Vec<Event>,
    pub verdict: Verdict,
    /// The skb mark after the traversal.
    pub mark: u32,
}

/// Walks `table`'s built-in chain for `hook`.
pub fn traverse(ruleset: &Ruleset, table_name: TableName, hook: Hook, meta: &Meta, env: &mut Env) -> Outcome {
    traverse_indexed(ruleset, table_name, hook, meta, env, None)
}

/// The position of each chain of a table by name, so that a jump does not scan every chain (a
/// large cluster's nat table has over 100,000 of them).
pub type ChainIndex = BTreeMap<String, usize>;

/// Builds the chain index of one table.
pub fn chain_index(ruleset: &Ruleset, table_name: TableName) -> ChainIndex {
    // Inserting one by one rather than `collect()`ing spares the page a copy of the stable sort
    // that `BTreeMap::from_iter` compiles for each key type (see `crate::sort`).
    let mut index = ChainIndex::new();
    for (position, chain) in ruleset.table(table_name).into_iter().flat_map(|table| table.chains.iter().enumerate()) {
        index.insert(chain.name.clone(), position);
    }
    index
}

/// `traverse`, looking chains up in `index` (built by `chain_index` for this table) when given.
pub fn traverse_indexed(
    ruleset: &Ruleset,
    table_name: TableName,
    hook: Hook,
    meta: &Meta,
    env: &mut Env,
    chains: Option<&ChainIndex>,
) -> Outcome {
    let mut events = Vec::new();
    let mut mark = meta.mark;
    let Some(table) = ruleset.table(table_name) else {
        return Outcome { events, verdict: Verdict::Accept, mark };
    };
    let builtin = hook.as_str();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut chain_name = builtin.to_string();
    let mut index = 0usize;
    let mut skipped: Vec<RuleAt> = Vec::new();
    // A bound on the steps taken, so that a jump loop in pasted rules ends (the kernel refuses to
    // load such rules; lbplay's own rules never have one).
    let mut budget = 1_000_000usize;
    let find = |name: &str| -> Option<&crate::netfilter::Chain> {
        match chains.and_then(|chains| chains.get(name)) {
            Some(position) => table.chains.get(*position).filter(|chain| chain.name == name),
            None => table.chain(name),
        }
    };
    let mut rules: &[Rule] = find(&chain_name).map(|chain| chain.rules.as_slice()).unwrap_or(&[]);
    let mut current_chain = chain_name.clone();
    loop {
        budget = budget.saturating_sub(1);
        if current_chain != chain_name {
            rules = find(&chain_name).map(|chain| chain.rules.as_slice()).unwrap_or(&[]);
            current_chain.clone_from(&chain_name);
        }
        if index >= rules.len() || budget == 0 {
            // The end of the chain: return to the caller, or apply the built-in chain's policy.
            if let Some((caller, position)) = stack.pop() {
                chain_name = caller;
                index = position;
                continue;
            }
            let policy =
                table.chain(builtin).and_then(|chain| chain.policy).unwrap_or(crate::netfilter::Policy::Accept);
            events.push(Event {
                origin: Origin::Table(table_name),
                chain: builtin.to_string(),
                rule: None,
                verdict: policy.as_str().to_string(),
                skipped: std::mem::take(&mut skipped),
                detail: None,
            });
            let verdict = match policy {
                crate::netfilter::Policy::Accept => Verdict::Accept,
                crate::netfilter::Policy::Drop => Verdict::Drop,
            };
            return Outcome { events, verdict, mark };
        }
        let rule = &rules[index];
        let at = RuleAt { table: table_name.as_str(), chain: chain_name.clone(), index };
        let Some(detail) = rule_matches(rule, meta, mark, env) else {
            skipped.push(at);
            index += 1;
            continue;
        };
        let text = rule_text(&chain_name, rule);
        let mut event = |verdict: String| Event {
            origin: Origin::Table(table_name),
            chain: chain_name.clone(),
            rule: Some((at.clone(), text.clone())),
            verdict,
            skipped: std::mem::take(&mut skipped),
            detail: detail.clone(),
        };
        match &rule.target {
            None => {
                events.push(event("CONTINUE".into()));
                index += 1;
            }
            Some(Target::Mark { value, mask }) => {
                // xt_mark.c `mark_tg`: `skb->mark = (skb->mark & ~mask) ^ value`.
                mark = (mark & !mask) ^ value;
                events.push(event("CONTINUE".into()));
                index += 1;
            }
            Some(Target::Jump(target)) => {
                events.push(event(format!("JUMP:{target}")));
                stack.push((chain_name.clone(), index + 1));
                chain_name = target.clone();
                index = 0;
            }
            Some(Target::Goto(target)) => {
                events.push(event(format!("GOTO:{target}")));
                chain_name = target.clone();
                index = 0;
            }
            Some(Target::Return) => {
                events.push(event("RETURN".into()));
                match stack.pop() {
                    Some((caller, position)) => {
                        chain_name = caller;
                        index = position;
                    }
                    None => index = usize::MAX,
                }
            }
            Some(Target::Accept) => {
                events.push(event("ACCEPT".into()));
                return Outcome { events, verdict: Verdict::Accept, mark };
            }
            Some(Target::Drop) => {
                events.push(event("DROP".into()));
                return Outcome { events, verdict: Verdict::Drop, mark };
            }
            Some(Target::Reject(with)) => {
                events.push(event("REJECT".into()));
                return Outcome { events, verdict: Verdict::Reject(*with), mark };
            }
            Some(Target::Dnat { ip, port }) => {
                events.push(event("DNAT".into()));
                return Outcome { events, verdict: Verdict::Nat(NatTarget::Dnat { ip: *ip, port: *port }), mark };
            }
            Some(Target::Snat { ip, port }) => {
                events.push(event("SNAT".into()));
                return Outcome { events, verdict: Verdict::Nat(NatTarget::Snat { ip: *ip, port: *port }), mark };
            }
            Some(Target::Masquerade { random_fully }) => {
                events.push(event("MASQUERADE".into()));
                return Outcome {
                    events,
                    verdict: Verdict::Nat(NatTarget::Masquerade { random_fully: *random_fully }),
                    mark,
                };
            }
            Some(Target::Redirect { port }) => {
                // xt_REDIRECT is a DNAT in the kernel: `nf_nat_redirect_ipv4` builds a range of
                // one address (see `redirect_addr`) and the given port and calls
                // `nf_nat_setup_info(…, NF_NAT_MANIP_DST)`. So the binding handed back is a
                // `NatTarget::Dnat`; only the event's verdict says REDIRECT, as the kernel's
                // trace does.
                let Some(ip) = redirect_addr(hook, meta, env) else {
                    events.push(event("DROP".into()));
                    return Outcome { events, verdict: Verdict::Drop, mark };
                };
                let mut redirect = event("REDIRECT".into());
                redirect.detail =
                    Some(format!("REDIRECT: to {ip}:{port}, this host's own address at {}", hook.as_str()));
                events.push(redirect);
                return Outcome { events, verdict: Verdict::Nat(NatTarget::Dnat { ip, port: Some(*port) }), mark };
            }
        }
    }
}

fn neg_holds<T>(neg: &Neg<T>, holds: impl FnOnce(&T) -> bool) -> bool {
    holds(&neg.value) != neg.negated
}

/// Whether every part of the rule matches; `Some(detail)` when it does. Matches are evaluated in
/// order and stop at the first that fails, so a `statistic` draw only happens when everything
/// before it matched, as in the kernel.
fn rule_matches(rule: &Rule, meta: &Meta, mark: u32, env: &mut Env) -> Option<Option<String>> {
    let tuple = &meta.tuple;
    if let Some(src) = &rule.src
        && !neg_holds(src, |net| net.contains(*tuple.src.ip()))
    {
        return None;
    }
    if let Some(dst) = &rule.dst
        && !neg_holds(dst, |net| net.contains(*tuple.dst.ip()))
    {
        return None;
    }
    if let Some(proto) = &rule.proto
        && !neg_holds(proto, |proto| tuple.proto.as_proto() == Some(*proto))
    {
        return None;
    }
    if let (Some(out_iface), Some(actual)) = (&rule.out_iface, &env.out_iface)
        && !neg_holds(out_iface, |name| name == actual)
    {
        return None;
    }
    let mut detail = None;
    for m in &rule.matches {
        let holds = match m {
            Match::Comment(_) => true,
            Match::Ports { proto, sport, dport } => {
                tuple.proto.as_proto() == Some(*proto)
                    && sport.as_ref().is_none_or(|port| neg_holds(port, |port| tuple.src.port() == *port))
                    && dport.as_ref().is_none_or(|port| neg_holds(port, |port| tuple.dst.port() == *port))
            }
            Match::Conntrack(states) | Match::State(states) => {
                neg_holds(states, |states| states.iter().any(|s| meta.ct_states.contains(s)))
            }
            Match::Mark(neg) => neg_holds(neg, |(value, mask)| mark & mask == *value),
            Match::AddrType { src, dst } => {
                src.as_ref().is_none_or(|t| neg_holds(t, |AddrType::Local| meta.is_local(*tuple.src.ip())))
                    && dst.as_ref().is_none_or(|t| neg_holds(t, |AddrType::Local| meta.is_local(*tuple.dst.ip())))
            }
            Match::StatisticRandom { threshold } => {
                // xt_statistic.c, XT_STATISTIC_MODE_RANDOM: `(get_random_u32() & 0x7FFFFFFF) < probability`.
                let draw = env.rng.next_u32() & 0x7fff_ffff;
                let holds = draw < *threshold;
                detail = Some(format!(
                    "statistic: drew {draw} {} {threshold} (p = {:.5})",
                    if holds { "<" } else { "≥" },
                    f64::from(*threshold) / 2_147_483_648.0
                ));
                holds
            }
            Match::Recent(recent) => {
                let source = *tuple.src.ip();
                match &recent.op {
                    RecentOp::Set => {
                        // xt_recent.c `recent_mt`: `--set` records the source and matches.
                        env.recent.entry(recent.name.clone()).or_default().insert(source, env.now);
                        true
                    }
                    RecentOp::Rcheck { seconds, reap } => {
                        let list = env.recent.entry(recent.name.clone()).or_default();
                        let fresh =
                            list.get(&source).is_some_and(|seen| env.now.saturating_sub(*seen) <= u64::from(*seconds));
                        if *reap {
                            let now = env.now;
                            list.retain(|_, seen| now.saturating_sub(*seen) <= u64::from(*seconds));
                        }
                        if fresh {
                            detail =
                                Some(format!("recent: {source} is in list {} (seen within {seconds} s)", recent.name));
                        }
                        fresh
                    }
                }
            }
            Match::Set { name, flags, negated } => {
                // xt_set.c `set_match_v4`: the member test, inverted by `!`.
                let probe = Probe {
                    src: *tuple.src.ip(),
                    sport: tuple.src.port(),
                    dst: *tuple.dst.ip(),
                    dport: tuple.dst.port(),
                    proto: tuple.proto.as_proto(),
                };
                let member = env.ipsets.as_ref().is_some_and(|sets| sets.test(name, flags, &probe));
                if member != *negated {
                    let dirs: Vec<&str> = flags.iter().map(|dir| dir.as_str()).collect();
                    detail = Some(format!(
                        "set: the packet's {} {} in {name}",
                        dirs.join(","),
                        if member { "is" } else { "is not" }
                    ));
                }
                member != *negated
            }
            Match::PhysdevIsIn { negated } => env.physdev_is_in != *negated,
            Match::Owner { uid, gid } => match env.owner {
                Some((socket_uid, socket_gid)) => {
                    uid.as_ref().is_none_or(|uid| neg_holds(uid, |uid| *uid == socket_uid))
                        && gid.as_ref().is_none_or(|gid| neg_holds(gid, |gid| *gid == socket_gid))
                }
                // xt_owner.c `owner_mt`: without a socket the match holds only when every option
                // given is negated (`(info->match ^ info->invert) == 0`).
                None => uid.as_ref().is_none_or(|uid| uid.negated) && gid.as_ref().is_none_or(|gid| gid.negated),
            },
        };
        if !holds {
            return None;
        }
    }
    Some(detail)
}
