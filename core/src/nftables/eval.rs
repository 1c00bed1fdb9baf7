//! Evaluating the nftables base chains of one hook against a packet, as the kernel does.
//!
//! At a hook the kernel runs every base chain registered there, of every table, in priority
//! order (net/netfilter/core.c `nf_hook_slow`; equal priorities in registration order). Inside a
//! chain it evaluates rule by rule (net/netfilter/nf_tables_core.c `nft_do_chain`): a rule whose
//! expressions all hold runs its statements and its verdict; `jump` pushes the current position,
//! `goto` replaces it, `return` or the end of a regular chain pops it, and the end of a base chain
//! applies its policy. `accept` ends only the current base chain: the next base chain of the hook
//! still runs. `drop` and `reject` end the hook. A NAT statement (`dnat`, `masquerade`) sets up
//! the connection's NAT and accepts, so later base chains of the same hook see the translated
//! destination (kube-proxy's `filter-output-post-dnat` relies on that).
//!
//! NAT-type chains are consulted only for the first packet of a connection (nf_nat_core.c: the
//! nat hooks run only while the conntrack entry is unconfirmed): `traverse` skips them unless
//! `meta.ct_states` holds `NEW`.
//!
//! Every matched rule becomes an `Event` with the rules evaluated without matching since the
//! previous event, which is what `nft monitor trace` lists. Both evaluators speak `dataplane`'s
//! `Meta`, `Env`, `Event`, `Verdict` and `NatTarget`, so the walk runs one loop over either.

use std::net::Ipv4Addr;

use crate::dataplane::{CtState, Env, Event, Hook, Meta, NatTarget, Origin, RejectWith, Verdict};
use crate::nftables::render::{rule_text, table_tag, verdict_text};
use crate::nftables::{
    AddrField, AddrRhs, Chain, ChainType, Expr, KeyExpr, MarkOp, Policy, Rule, Ruleset, Set, SetFlag, Table, Value,
    Verdict as NftVerdict,
};
use crate::packet::Tuple;
use crate::trace::RuleAt;

/// The result of one hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub events: Vec<Event>,
    /// `Accept`, `Drop`, `Reject`, or `Nat` when a NAT statement fired and every later base chain
    /// of the hook accepted.
    pub verdict: Verdict,
    /// The index in `events` of the event whose rule did the NAT, so that the walk can show the
    /// rewrite at that step.
    pub nat_event: Option<usize>,
    /// The skb mark after the hook.
    pub mark: u32,
}

/// The result of one base chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainOutcome {
    pub events: Vec<Event>,
    /// `Accept` (also for a policy accept), `Drop`, `Reject` or `Nat`.
    pub verdict: Verdict,
    pub mark: u32,
}

/// The base chains registered at `hook`, over all tables, in the order the kernel runs them:
/// by priority, ties in creation order.
pub fn base_chains_at(ruleset: &Ruleset, hook: Hook) -> Vec<(&Table, &Chain)> {
    let mut chains: Vec<(&Table, &Chain)> = ruleset
        .tables
        .iter()
        .flat_map(|table| table.chains.iter().map(move |chain| (table, chain)))
        .filter(|(_, chain)| chain.base.is_some_and(|base| base.hook == hook))
        .collect();
    crate::sort::sort_by_key(&mut chains, |(_, chain)| chain.base.map(|base| base.priority).unwrap_or(0));
    chains
}

/// Runs every base chain of `hook` in priority order (see the module's documentation).
pub fn traverse(ruleset: &Ruleset, hook: Hook, meta: &Meta, env: &mut Env) -> Outcome {
    let mut events = Vec::new();
    let mut current = meta.clone();
    let mut nat: Option<(NatTarget, usize)> = None;
    let new = meta.ct_states.contains(&CtState::New);
    for (table, chain) in base_chains_at(ruleset, hook) {
        let Some(base) = chain.base else { continue };
        if base.kind == ChainType::Nat && (!new || nat.is_some()) {
            continue;
        }
        let outcome = run_chain(table, chain, &current, env);
        let first = events.len();
        current.mark = outcome.mark;
        events.extend(outcome.events);
        match outcome.verdict {
            Verdict::Accept => {}
            Verdict::Nat(target) => {
                if let NatTarget::Dnat { ip, port } = target {
                    current.tuple = translate_dst(current.tuple, ip, port);
                }
                nat = Some((target, events.len().saturating_sub(1).max(first)));
            }
            verdict @ (Verdict::Drop | Verdict::Reject(_)) => {
                return Outcome { events, verdict, nat_event: None, mark: current.mark };
            }
        }
    }
    match nat {
        Some((target, index)) => {
            Outcome { events, verdict: Verdict::Nat(target), nat_event: Some(index), mark: current.mark }
        }
        None => Outcome { events, verdict: Verdict::Accept, nat_event: None, mark: current.mark },
    }
}

fn translate_dst(tuple: Tuple, ip: Ipv4Addr, port: Option<u16>) -> Tuple {
    let port = port.unwrap_or(tuple.dst.port());
    Tuple { dst: std::net::SocketAddrV4::new(ip, port), ..tuple }
}

/// The index numgen's draw selects among `modulus` (net/netfilter/nft_numgen.c,
/// `nft_ng_random_gen`: `reciprocal_scale(get_random_u32(), modulus)`, that is
/// `(u64)draw * modulus >> 32`, which keeps the draw's high bits rather than taking a remainder).
pub fn numgen_index(draw: u32, modulus: u32) -> u32 {
    ((u64::from(draw) * u64::from(modulus)) >> 32) as u32
}

/// Runs one base chain of `table` to its verdict.
pub fn run_chain(table: &Table, base: &Chain, meta: &Meta, env: &mut Env) -> ChainOutcome {
    let mut events = Vec::new();
    let mut mark = meta.mark;
    let priority = base.base.map(|b| b.priority).unwrap_or(0);
    let tag = table_tag(table);
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut chain_name = base.name.clone();
    let mut index = 0usize;
    let mut skipped: Vec<RuleAt> = Vec::new();
    // A bound on the steps taken, so that a jump loop in hand-made rules ends (the kernel refuses
    // to load such rules; lbplay's own never have one).
    let mut budget = 1_000_000usize;
    loop {
        budget = budget.saturating_sub(1);
        let rules = table.chain(&chain_name).map(|chain| chain.rules.as_slice()).unwrap_or(&[]);
        if index >= rules.len() || budget == 0 {
            if let Some((caller, position)) = stack.pop() {
                chain_name = caller;
                index = position;
                continue;
            }
            let policy = base.base.map(|b| b.policy).unwrap_or(Policy::Accept);
            events.push(Event {
                origin: Origin::BaseChain { name: base.name.clone(), priority },
                chain: base.name.clone(),
                rule: None,
                verdict: format!("policy {}", policy.as_str()),
                skipped: std::mem::take(&mut skipped),
                detail: None,
            });
            let verdict = match policy {
                Policy::Accept => Verdict::Accept,
                Policy::Drop => Verdict::Drop,
            };
            return ChainOutcome { events, verdict, mark };
        }
        let rule = &rules[index];
        let at = RuleAt { table: tag, chain: chain_name.clone(), index };
        let current = Meta { mark, ..meta.clone() };
        let Some(result) = eval_rule(table, rule, &current, env) else {
            skipped.push(at);
            index += 1;
            continue;
        };
        mark = result.mark;
        let event = Event {
            origin: Origin::BaseChain { name: base.name.clone(), priority },
            chain: chain_name.clone(),
            rule: Some((at, rule_text(rule))),
            verdict: result.end.word(),
            skipped: std::mem::take(&mut skipped),
            detail: result.detail,
        };
        events.push(event);
        match result.end {
            End::Continue => index += 1,
            End::Verdict(NftVerdict::Jump(target)) => {
                stack.push((chain_name.clone(), index + 1));
                chain_name = target;
                index = 0;
            }
            End::Verdict(NftVerdict::Goto(target)) => {
                chain_name = target;
                index = 0;
            }
            End::Verdict(NftVerdict::Return) => match stack.pop() {
                Some((caller, position)) => {
                    chain_name = caller;
                    index = position;
                }
                // `return` in a base chain applies its policy.
                None => index = usize::MAX,
            },
            End::Verdict(NftVerdict::Accept) => return ChainOutcome { events, verdict: Verdict::Accept, mark },
            End::Verdict(NftVerdict::Drop) => return ChainOutcome { events, verdict: Verdict::Drop, mark },
            End::Reject => {
                return ChainOutcome { events, verdict: Verdict::Reject(RejectWith::IcmpPortUnreachable), mark };
            }
            End::Nat(target) => return ChainOutcome { events, verdict: Verdict::Nat(target), mark },
        }
    }
}

/// How a matched rule ends.
#[derive(Debug, Clone, PartialEq)]
enum End {
    Continue,
    Verdict(NftVerdict),
    Reject,
    Nat(NatTarget),
}

impl End {
    fn word(&self) -> String {
        match self {
            End::Continue => "continue".to_string(),
            End::Verdict(verdict) => verdict_text(verdict),
            End::Reject => "reject".to_string(),
            End::Nat(NatTarget::Dnat { .. }) => "dnat".to_string(),
            End::Nat(NatTarget::Snat { .. }) => "snat".to_string(),
            End::Nat(NatTarget::Masquerade { .. }) => "masquerade".to_string(),
        }
    }
}

struct RuleResult {
    end: End,
    mark: u32,
    detail: Option<String>,
}

fn is_local(meta: &Meta, ip: Ipv4Addr) -> bool {
    ip.is_loopback() || meta.local_addrs.contains(&ip)
}

fn addr(meta: &Meta, field: AddrField) -> Ipv4Addr {
    match field {
        AddrField::Saddr => *meta.tuple.src.ip(),
        AddrField::Daddr => *meta.tuple.dst.ip(),
    }
}

/// What a key expression reads from the packet; `None` when the packet has no such field (no
/// transport header for `meta l4proto`/`th dport` that lbplay models).
fn key_value(meta: &Meta, key: KeyExpr) -> Option<Value> {
    match key {
        KeyExpr::IpSaddr => Some(Value::Ip(*meta.tuple.src.ip())),
        KeyExpr::IpDaddr => Some(Value::Ip(*meta.tuple.dst.ip())),
        KeyExpr::MetaL4proto => meta.tuple.proto.as_proto().map(Value::Proto),
        KeyExpr::ThDport => meta.tuple.proto.as_proto().map(|_| Value::Port(meta.tuple.dst.port())),
    }
}

/// Whether a dynamic set holds `ip` unexpired: an element added at `seen` with timeout `t`
/// expires when `now >= seen + t` (net/netfilter/nf_tables_api.c, `nft_set_elem_expired`).
fn in_dynamic_set(env: &Env, set: &Set, ip: Ipv4Addr) -> bool {
    let Some(seen) = env.recent.get(&set.name).and_then(|list| list.get(&ip)) else { return false };
    match set.timeout {
        Some(timeout) => env.now < seen.saturating_add(u64::from(timeout)),
        None => true,
    }
}

/// Evaluates one rule: `None` when an expression does not hold (expressions are evaluated in
/// order and stop at the first that fails, so a `numgen` draw happens only when everything before
/// it held, as in the kernel).
fn eval_rule(table: &Table, rule: &Rule, meta: &Meta, env: &mut Env) -> Option<RuleResult> {
    let mut mark = meta.mark;
    let mut detail: Option<String> = None;
    for expr in &rule.exprs {
        match expr {
            Expr::Addr { field, negated, rhs } => {
                let ip = addr(meta, *field);
                let holds = match rhs {
                    AddrRhs::Net(net) => net.contains(ip),
                    AddrRhs::Anon(nets) => nets.iter().any(|net| net.contains(ip)),
                    AddrRhs::Set(name) => {
                        let set = table.set(name)?;
                        if set.flags.contains(&SetFlag::Timeout) || set.flags.contains(&SetFlag::Dynamic) {
                            let found = in_dynamic_set(env, set, ip);
                            if found && !negated {
                                detail = Some(format!("{ip} is in @{name} (an affinity entry that has not expired)"));
                            }
                            found
                        } else {
                            set.elements.iter().any(|element| element.key == [Value::Ip(ip)])
                        }
                    }
                };
                if holds == *negated {
                    return None;
                }
            }
            Expr::L4Proto(proto) => {
                if meta.tuple.proto.as_proto() != Some(*proto) {
                    return None;
                }
            }
            Expr::Dport { proto, port } => {
                if meta.tuple.proto.as_proto() != Some(*proto) || meta.tuple.dst.port() != *port {
                    return None;
                }
            }
            Expr::FibLocal(field) => {
                if !is_local(meta, addr(meta, *field)) {
                    return None;
                }
            }
            Expr::CtState(states) => {
                if !states.iter().any(|state| meta.ct_states.contains(state)) {
                    return None;
                }
            }
            Expr::MarkUnset(mask) => {
                if mark & mask != 0 {
                    return None;
                }
            }
            Expr::MarkSet { op, value } => {
                mark = match op {
                    MarkOp::Or => mark | value,
                    MarkOp::Xor => mark ^ value,
                };
            }
            Expr::Vmap { key, map } => {
                let values: Option<Vec<Value>> = key.iter().map(|part| key_value(meta, *part)).collect();
                let values = values?;
                let set = table.set(map)?;
                let element = set.elements.iter().find(|element| element.key == values)?;
                let verdict = element.verdict.clone()?;
                let shown: Vec<String> = values.iter().map(|value| value_word(*value)).collect();
                detail = Some(format!("@{map} has {} : {}", shown.join(" . "), verdict_text(&verdict)));
                return Some(RuleResult { end: End::Verdict(verdict), mark, detail });
            }
            Expr::NumgenVmap { modulus, verdicts } => {
                let draw = env.rng.next_u32();
                let index = numgen_index(draw, *modulus);
                let verdict = verdicts.get(index as usize)?.clone();
                detail = Some(format!(
                    "numgen: drew {draw}, ({draw} × {modulus}) >> 32 = {index} → {}",
                    verdict_text(&verdict)
                ));
                return Some(RuleResult { end: End::Verdict(verdict), mark, detail });
            }
            Expr::UpdateSet { set, key } => {
                // nft_dynset.c: `update` adds the element or refreshes its expiry.
                if let Some(Value::Ip(ip)) = key_value(meta, *key) {
                    env.recent.entry(set.clone()).or_default().insert(ip, env.now);
                }
            }
            Expr::Dnat { ip, port } => {
                return Some(RuleResult { end: End::Nat(NatTarget::Dnat { ip: *ip, port: *port }), mark, detail });
            }
            Expr::Masquerade { fully_random } => {
                return Some(RuleResult {
                    end: End::Nat(NatTarget::Masquerade { random_fully: *fully_random }),
                    mark,
                    detail,
                });
            }
            Expr::Reject => return Some(RuleResult { end: End::Reject, mark, detail }),
            Expr::Verdict(verdict) => return Some(RuleResult { end: End::Verdict(verdict.clone()), mark, detail }),
        }
    }
    Some(RuleResult { end: End::Continue, mark, detail })
}

fn value_word(value: Value) -> String {
    match value {
        Value::Ip(ip) => ip.to_string(),
        Value::Proto(proto) => proto.as_str().to_string(),
        Value::Port(port) => port.to_string(),
    }
}
