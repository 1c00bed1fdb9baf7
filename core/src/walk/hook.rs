//! One netfilter hook: everything registered at it, in priority order. The node's rules (the
//! iptables tables of the hook, or nftables' base chains) are evaluated, each matched rule and
//! policy is recorded as a step, a NAT target is carried out on the packet, and the hook ends in
//! an accept, a drop or a REJECT; conntrack's stored NAT runs where the nat table would.

use std::collections::BTreeMap;

use super::ct::Ct;
use super::narrate::{narrate, narrate_nft};
use super::{Hop, Host, Sim, step};
use crate::dataplane::{Hook, Meta, Verdict};
use crate::netfilter::eval;
use crate::netfilter::{Ruleset, TableName};
use crate::packet::{Packet, Tuple};
use crate::trace::{Direction, StepKind, Text, Trace};

/// One node's dataplane rules.
#[derive(Debug)]
pub(super) enum Plane {
    /// iptables rules (iptables mode, and what remains of them in IPVS mode), with the chain
    /// index of the nat and filter tables.
    Netfilter { ruleset: Ruleset, indexes: BTreeMap<TableName, eval::ChainIndex> },
    /// The `ip kube-proxy` table of nftables mode.
    Nftables(crate::nftables::Ruleset),
}

impl Plane {
    pub(super) fn netfilter(ruleset: Ruleset) -> Plane {
        let mut indexes = BTreeMap::new();
        for table in [TableName::Nat, TableName::Filter] {
            indexes.insert(table, eval::chain_index(&ruleset, table));
        }
        Plane::Netfilter { ruleset, indexes }
    }
}

/// A matched rule (or a chain policy) as either dataplane reports it, with its narration.
pub(super) struct RuleEvent {
    pub(super) chain: String,
    pub(super) rule: Option<(crate::trace::RuleAt, String)>,
    pub(super) verdict: String,
    pub(super) skipped: Vec<crate::trace::RuleAt>,
    pub(super) note: Text,
}

/// Records a rule event as a netfilter step.
#[allow(clippy::too_many_arguments)]
pub(super) fn push_rule_step(
    trace: &mut Trace,
    node: &str,
    direction: Direction,
    hook: Hook,
    table: &'static str,
    before: &Packet,
    after: &Packet,
    event: RuleEvent,
) {
    let mut s = step(node, direction, StepKind::Netfilter, before, after, &event.verdict, event.note);
    s.hook = Some(hook.as_str());
    s.table = Some(table);
    s.chain = Some(event.chain);
    s.skipped = event.skipped.len() as u32;
    s.skipped_rules = event.skipped;
    if let Some((at, text)) = event.rule {
        s.rule = Some(text);
        s.rule_at = Some(at);
    }
    trace.steps.push(s);
}

impl<'a> Sim<'a> {
    /// Everything registered at one hook, in priority order: the node's rules (the iptables tables
    /// of `Hook::tables`, or nftables' base chains) and conntrack's NAT for packets of known
    /// connections, which runs where the nat table would (NF_IP_PRI_NAT_DST at PREROUTING and
    /// OUTPUT, NF_IP_PRI_NAT_SRC at INPUT and POSTROUTING).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_hook(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        hook: Hook,
        ct: &Ct,
        mark: &mut u32,
        next: Option<&Host>,
    ) -> Result<(), Hop> {
        let nft = matches!(self.planes.get(node), Some(Plane::Nftables(_)));
        if nft {
            self.run_nft_hook(trace, node, packet, direction, hook, ct, mark, next)?;
            if !ct.new && hook != Hook::Forward {
                self.apply_stored_nat(trace, node, packet, direction, ct, hook);
            }
            return Ok(());
        }
        for table in hook.tables() {
            match table {
                TableName::Nat if ct.new => {
                    self.run_table_via(trace, node, packet, direction, hook, *table, ct, mark, next)?
                }
                TableName::Nat => self.apply_stored_nat(trace, node, packet, direction, ct, hook),
                TableName::Filter => {
                    self.run_table_via(trace, node, packet, direction, hook, *table, ct, mark, next)?
                }
                // lbplay's rulesets have no raw or mangle rules (kube-proxy writes none that matter
                // to a packet), so those tables only ever apply their ACCEPT policy.
                TableName::Raw | TableName::Mangle => {}
            }
        }
        Ok(())
    }

    /// Runs one table at one hook, records its events as steps, and applies a NAT target or a drop.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_table_via(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        hook: Hook,
        table: TableName,
        ct: &Ct,
        mark: &mut u32,
        next: Option<&Host>,
    ) -> Result<(), Hop> {
        let meta = self.meta_for(node, packet, ct, *mark)?;
        let tuple = meta.tuple;
        let Some(Plane::Netfilter { ruleset, indexes }) = self.planes.get(node) else { return Ok(()) };
        // IPVS mode's rules match ipsets, which are per node.
        self.env.ipsets = self.ipvs.get(node).map(|state| state.ipsets.clone());
        // REDIRECT goes to the address of the interface the packet came in by
        // (nf_nat_redirect.c): the bridge's gateway for a local pod, the node's own otherwise.
        self.env.in_iface_addr = self.cluster.node(node).map(|this| {
            if this.pod_cidr.contains(*tuple.src.ip()) { this.pod_cidr.nth(1).unwrap_or(this.ip) } else { this.ip }
        });
        let outcome = eval::traverse_indexed(ruleset, table, hook, &meta, &mut self.env, indexes.get(&table));
        let count = outcome.events.len();
        for (index, event) in outcome.events.into_iter().enumerate() {
            let before = packet.clone();
            let mut rewrite = None;
            if index + 1 == count
                && let Verdict::Nat(nat) = &outcome.verdict
            {
                rewrite = self.apply_nat_target(node, packet, *nat, next);
            }
            let note = narrate(&event, &before, packet, rewrite.as_ref(), &meta);
            let rule = RuleEvent {
                chain: event.chain,
                rule: event.rule,
                verdict: event.verdict,
                skipped: event.skipped,
                note,
            };
            push_rule_step(trace, node, direction, hook, table.as_str(), &before, packet, rule);
            self.tag_last(trace, node, ct);
        }
        *mark = outcome.mark;
        self.conclude(trace, node, packet, direction, hook, table.as_str(), &outcome.verdict, tuple)
    }

    /// What the rules of `node` can see of a packet: its tuple, mark, conntrack state and the
    /// node's own addresses.
    pub(super) fn meta_for(&self, node: &str, packet: &Packet, ct: &Ct, mark: u32) -> Result<Meta, Hop> {
        let Ok(tuple) = packet.tuple() else { return Err(Hop::Dropped("unreadable packet".into())) };
        Ok(Meta { tuple, mark, ct_states: self.ct_states(node, ct), local_addrs: self.local_addrs(node) })
    }

    /// Runs every nftables base chain registered at `hook`, records the events as steps, and
    /// applies a NAT statement or a drop.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_nft_hook(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        hook: Hook,
        ct: &Ct,
        mark: &mut u32,
        next: Option<&Host>,
    ) -> Result<(), Hop> {
        let meta = self.meta_for(node, packet, ct, *mark)?;
        let tuple = meta.tuple;
        let planes = std::sync::Arc::clone(&self.planes);
        let Some(Plane::Nftables(ruleset)) = planes.get(node) else { return Ok(()) };
        let outcome = crate::nftables::eval::traverse(ruleset, hook, &meta, &mut self.env);
        for (index, event) in outcome.events.into_iter().enumerate() {
            let before = packet.clone();
            let mut rewrite = None;
            if Some(index) == outcome.nat_event
                && let Verdict::Nat(nat) = &outcome.verdict
            {
                rewrite = self.apply_nat_target(node, packet, *nat, next);
            }
            let note = narrate_nft(&event, rewrite.as_ref());
            let rule = RuleEvent {
                chain: event.chain,
                rule: event.rule,
                verdict: event.verdict,
                skipped: event.skipped,
                note,
            };
            push_rule_step(trace, node, direction, hook, "kube-proxy", &before, packet, rule);
            self.tag_last(trace, node, ct);
        }
        *mark = outcome.mark;
        self.conclude(trace, node, packet, direction, hook, "kube-proxy", &outcome.verdict, tuple)
    }

    /// Ends a hook's rules: on to the next stage, or a drop, or a REJECT with what it answers.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conclude(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &Packet,
        direction: Direction,
        hook: Hook,
        table: &'static str,
        verdict: &Verdict,
        tuple: Tuple,
    ) -> Result<(), Hop> {
        let chain = trace.steps.last().and_then(|s| s.chain.clone()).unwrap_or_default();
        match verdict {
            Verdict::Accept | Verdict::Nat(_) => Ok(()),
            Verdict::Drop => Err(Hop::Dropped(format!("dropped by {table} {chain} on {node}"))),
            Verdict::Reject(with) => {
                let (en, zh) = match with {
                    crate::dataplane::RejectWith::IcmpPortUnreachable => (
                        format!(
                            "REJECT answers {} with an ICMP port unreachable (type 3, code 3); the client's connect() fails at once with ECONNREFUSED — \"connection refused\", not a timeout.",
                            tuple.src
                        ),
                        format!(
                            "REJECT 向 {} 回送 ICMP 端口不可达（类型 3，代码 3）；客户端的 connect() 立即以 ECONNREFUSED 失败——是“连接被拒绝”，而不是超时。",
                            tuple.src
                        ),
                    ),
                    crate::dataplane::RejectWith::TcpReset => (
                        format!("REJECT answers {} with a TCP RST; the client sees \"connection refused\".", tuple.src),
                        format!("REJECT 向 {} 回送 TCP RST；客户端看到“连接被拒绝”。", tuple.src),
                    ),
                };
                self.rejected = Some((node.to_string(), packet.clone()));
                let mut s = step(node, direction, StepKind::Drop, packet, packet, "REJECTED", Text::new(en, zh));
                s.hook = Some(hook.as_str());
                s.table = Some(table);
                trace.steps.push(s);
                let rule = trace.steps.iter().rev().find_map(|s| s.rule.clone()).unwrap_or_default();
                Err(Hop::Dropped(format!("rejected on {node}: {rule}")))
            }
        }
    }
}
