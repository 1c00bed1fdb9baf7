//! One netfilter hook: everything registered at it, in priority order. The node's rules (the
//! iptables tables of the hook, or nftables' base chains) are evaluated, each matched rule and
//! policy is recorded as a step, a NAT target is carried out on the packet, and the hook ends in
//! an accept, a drop or a REJECT; conntrack's stored NAT runs where the nat table would. One loop
//! (`run_rules`) turns either dataplane's `dataplane::Event`s into steps.

use std::collections::BTreeMap;

use super::{Host, Next, Pass, Sim, narrate};
use crate::dataplane::{Event, Hook, Meta, Verdict};
use crate::netfilter::eval;
use crate::netfilter::{Ruleset, TableName};
use crate::packet::Packet;
use crate::trace::{StepKind, Text};

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

/// What the rules of one hook (nftables) or of one table at a hook (iptables) reported.
struct Rules {
    /// The step's `table`: the iptables table, or the nftables table (`kube-proxy`).
    table: &'static str,
    events: Vec<Event>,
    verdict: Verdict,
    /// The event whose rule fired the NAT of `verdict`, where the rewrite is shown.
    nat_event: Option<usize>,
    /// The skb mark afterwards.
    mark: u32,
}

impl<'a> Sim<'a> {
    /// Everything registered at one hook, in priority order: the node's rules (the iptables tables
    /// of `Hook::tables`, or nftables' base chains) and conntrack's NAT for packets of known
    /// connections, which runs where the nat table would (NF_IP_PRI_NAT_DST at PREROUTING and
    /// OUTPUT, NF_IP_PRI_NAT_SRC at INPUT and POSTROUTING). `next` is the host the packet leaves
    /// for, which MASQUERADE at POSTROUTING takes its address from.
    pub(super) fn run_hook(&mut self, pass: &mut Pass, hook: Hook, next: Option<&Host>) -> Result<(), Next> {
        let plane = self.planes.get(pass.node).cloned();
        if let Some(Plane::Nftables(ruleset)) = plane.as_deref() {
            let meta = self.meta_for(pass);
            let outcome = crate::nftables::eval::traverse(ruleset, hook, &meta, &mut self.env);
            let rules = Rules {
                table: "kube-proxy",
                events: outcome.events,
                verdict: outcome.verdict,
                nat_event: outcome.nat_event,
                mark: outcome.mark,
            };
            self.run_rules(pass, hook, rules, &meta, next)?;
            if !pass.ct.new && hook != Hook::Forward {
                self.apply_stored_nat(pass, hook);
            }
            return Ok(());
        }
        for table in hook.tables() {
            match table {
                TableName::Nat if !pass.ct.new => self.apply_stored_nat(pass, hook),
                TableName::Nat | TableName::Filter => {
                    let Some(Plane::Netfilter { ruleset, indexes }) = plane.as_deref() else { continue };
                    let meta = self.meta_for(pass);
                    // IPVS mode's rules match ipsets, which are per node.
                    self.env.ipsets = self.ipvs.get(pass.node).map(|state| state.ipsets.clone());
                    // REDIRECT goes to the address of the interface the packet came in by
                    // (nf_nat_redirect.c): the bridge's gateway for a local pod, the node's own otherwise.
                    self.env.in_iface_addr = self.cluster.node(pass.node).map(|this| {
                        let from_pod = this.pod_cidr.contains(*meta.tuple.src.ip());
                        if from_pod { this.pod_cidr.nth(1).unwrap_or(this.ip) } else { this.ip }
                    });
                    let outcome =
                        eval::traverse_indexed(ruleset, *table, hook, &meta, &mut self.env, indexes.get(table));
                    // A NAT target ends the traversal: the last event is its rule.
                    let nat_event = match outcome.verdict {
                        Verdict::Nat(_) => outcome.events.len().checked_sub(1),
                        _ => None,
                    };
                    let rules = Rules {
                        table: table.as_str(),
                        events: outcome.events,
                        verdict: outcome.verdict,
                        nat_event,
                        mark: outcome.mark,
                    };
                    self.run_rules(pass, hook, rules, &meta, next)?;
                }
                // lbplay's rulesets have no raw or mangle rules (kube-proxy writes none that matter
                // to a packet), so those tables only ever apply their ACCEPT policy.
                TableName::Raw | TableName::Mangle => {}
            }
        }
        Ok(())
    }

    /// The one rule-walking loop, for either dataplane: each event becomes a netfilter step, the
    /// NAT its verdict asks for is carried out at the rule that fired it, and the verdict ends the
    /// rules (on, a drop, or a REJECT).
    fn run_rules(
        &mut self,
        pass: &mut Pass,
        hook: Hook,
        rules: Rules,
        meta: &Meta,
        next: Option<&Host>,
    ) -> Result<(), Next> {
        for (index, event) in rules.events.into_iter().enumerate() {
            let before = pass.flight.packet().clone();
            let rewrite = match &rules.verdict {
                Verdict::Nat(nat) if Some(index) == rules.nat_event => self.apply_nat_target(pass, *nat, next),
                _ => None,
            };
            let note = narrate::rule(&event, &before, pass.flight.packet(), rewrite.as_ref(), meta);
            push_rule_step(pass, hook, rules.table, &before, event, note);
            self.tag_last(pass);
        }
        pass.mark = rules.mark;
        match &rules.verdict {
            Verdict::Accept | Verdict::Nat(_) => Ok(()),
            Verdict::Drop => {
                let chain = pass.trace.steps.last().and_then(|s| s.chain.clone()).unwrap_or_default();
                Err(Next::Dropped(format!("dropped by {} {chain} on {}", rules.table, pass.node)))
            }
            Verdict::Reject(with) => Err(self.reject(pass, hook, rules.table, *with, meta.tuple)),
        }
    }

    /// What the rules of the pass's node can see of the packet: its tuple, mark, conntrack state
    /// and the node's own addresses.
    fn meta_for(&self, pass: &Pass) -> Meta {
        Meta {
            tuple: pass.flight.tuple(),
            mark: pass.mark,
            ct_states: self.ct_states(pass.node, &pass.ct),
            local_addrs: self.local_addrs(pass.node),
        }
    }
}

/// Records a rule event as a netfilter step, from `before` to the packet as it is now.
fn push_rule_step(pass: &mut Pass, hook: Hook, table: &'static str, before: &Packet, event: Event, note: Text) {
    let mut s = pass.step(StepKind::Netfilter, before, &event.verdict, note);
    s.hook = Some(hook.as_str());
    s.table = Some(table);
    s.chain = Some(event.chain);
    s.skipped = event.skipped.len() as u32;
    s.skipped_rules = event.skipped;
    if let Some((at, text)) = event.rule {
        s.rule = Some(text);
        s.rule_at = Some(at);
    }
    pass.trace.steps.push(s);
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::trace::{Direction, StepKind};
    use crate::walk::fixture;

    /// The rule steps of the first packet, with how many rules each skipped.
    fn check(id: &str, mode: ProxyMode, from: &str, to: &str, expect: Expect) {
        let trace = fixture::walk(id, mode, from, to);
        let mut out = String::new();
        for step in trace.steps.iter().filter(|s| s.kind == StepKind::Netfilter && s.direction == Direction::Original) {
            out.push_str(&format!("{} {} skipped {}\n", step.place(), step.verdict, step.skipped));
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn iptables_tables_in_hook_order() {
        check(
            "clusterip-iptables",
            ProxyMode::Iptables,
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            nat PREROUTING JUMP:KUBE-SERVICES skipped 0
            nat PREROUTING KUBE-SERVICES JUMP:KUBE-SVC-CDGGSHYLG3RE2FKL skipped 0
            nat PREROUTING KUBE-SVC-CDGGSHYLG3RE2FKL JUMP:KUBE-SEP-RBX5X5TOEG5GD3RO skipped 3
            nat PREROUTING KUBE-SEP-RBX5X5TOEG5GD3RO DNAT skipped 1
            filter FORWARD JUMP:KUBE-PROXY-FIREWALL skipped 0
            filter FORWARD JUMP:KUBE-FORWARD skipped 0
            filter FORWARD JUMP:KUBE-SERVICES skipped 3
            filter FORWARD JUMP:KUBE-EXTERNAL-SERVICES skipped 0
            filter FORWARD ACCEPT skipped 0
            nat POSTROUTING JUMP:KUBE-POSTROUTING skipped 0
            nat POSTROUTING KUBE-POSTROUTING RETURN skipped 0
            nat POSTROUTING ACCEPT skipped 0
            nat PREROUTING JUMP:KUBE-SERVICES skipped 0
            nat PREROUTING ACCEPT skipped 2
            filter FORWARD JUMP:KUBE-PROXY-FIREWALL skipped 0
            filter FORWARD JUMP:KUBE-FORWARD skipped 0
            filter FORWARD JUMP:KUBE-SERVICES skipped 3
            filter FORWARD JUMP:KUBE-EXTERNAL-SERVICES skipped 0
            filter FORWARD ACCEPT skipped 0
            nat POSTROUTING JUMP:KUBE-POSTROUTING skipped 0
            nat POSTROUTING KUBE-POSTROUTING RETURN skipped 0
            nat POSTROUTING ACCEPT skipped 0
        "#]],
        );
    }

    #[test]
    fn nftables_base_chains_in_priority_order() {
        check(
            "clusterip-iptables",
            ProxyMode::Nftables,
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            kube-proxy PREROUTING filter-prerouting jump firewall-check skipped 0
            kube-proxy PREROUTING filter-prerouting policy accept skipped 1
            kube-proxy PREROUTING nat-prerouting jump services skipped 0
            kube-proxy PREROUTING services goto service-SUSTUHLJ-default/web/tcp/http skipped 0
            kube-proxy PREROUTING service-SUSTUHLJ-default/web/tcp/http goto endpoint-IXR2BMJD-default/web/tcp/http__10.244.3.9/8080 skipped 1
            kube-proxy PREROUTING endpoint-IXR2BMJD-default/web/tcp/http__10.244.3.9/8080 dnat skipped 1
            kube-proxy FORWARD filter-forward jump service-endpoints-check skipped 0
            kube-proxy FORWARD filter-forward jump cluster-ips-check skipped 1
            kube-proxy FORWARD filter-forward policy accept skipped 2
            kube-proxy POSTROUTING nat-postrouting jump masquerading skipped 0
            kube-proxy POSTROUTING masquerading return skipped 0
            kube-proxy POSTROUTING nat-postrouting policy accept skipped 0
            kube-proxy PREROUTING filter-prerouting jump firewall-check skipped 0
            kube-proxy PREROUTING filter-prerouting policy accept skipped 1
            kube-proxy PREROUTING nat-prerouting jump services skipped 0
            kube-proxy PREROUTING nat-prerouting policy accept skipped 2
            kube-proxy FORWARD filter-forward jump service-endpoints-check skipped 0
            kube-proxy FORWARD filter-forward jump cluster-ips-check skipped 1
            kube-proxy FORWARD filter-forward policy accept skipped 2
            kube-proxy POSTROUTING nat-postrouting jump masquerading skipped 0
            kube-proxy POSTROUTING masquerading return skipped 0
            kube-proxy POSTROUTING nat-postrouting policy accept skipped 0
        "#]],
        );
    }

    #[test]
    fn a_reject_ends_the_hook() {
        check(
            "no-endpoints",
            ProxyMode::Iptables,
            "pod/client",
            "10.96.66.6:80",
            expect![[r#"
            nat PREROUTING JUMP:KUBE-SERVICES skipped 0
            nat PREROUTING ACCEPT skipped 1
            filter FORWARD JUMP:KUBE-PROXY-FIREWALL skipped 0
            filter FORWARD JUMP:KUBE-FORWARD skipped 0
            filter FORWARD JUMP:KUBE-SERVICES skipped 3
            filter FORWARD KUBE-SERVICES REJECT skipped 0
        "#]],
        );
    }
}
