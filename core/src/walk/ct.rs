//! Conntrack as the walk meets it: the lookup at a packet's first hook (NEW or ESTABLISHED, the
//! reply that flips an entry), the unconfirmed entry a new connection carries through the node,
//! its confirmation as the packet leaves, and the entry each step shows.

use super::{Pass, Sim};
use crate::conntrack::{self, Dir, Entry};
use crate::dataplane::{CtState, Hook};
use crate::packet::TupleProto;
use crate::trace::{StepKind, Text};

/// Which conntrack entry a packet belongs to.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ct {
    /// The packet created a new entry (pending confirmation).
    pub(super) new: bool,
    /// The confirmed entry it belongs to, and the direction.
    pub(super) existing: Option<(usize, Dir)>,
}

impl<'a> Sim<'a> {
    pub(super) fn entry(&self, node: &str, ct: &Ct) -> Option<&Entry> {
        match ct.existing {
            Some((index, _)) => self.conntrack.get(node).and_then(|table| table.get(index)),
            None => self.pending.iter().find(|(at, _)| at == node).map(|(_, entry)| entry),
        }
    }

    pub(super) fn pending_mut(&mut self, node: &str) -> Option<&mut Entry> {
        self.pending.iter_mut().find(|(at, _)| at == node).map(|(_, entry)| entry)
    }

    pub(super) fn ct_states(&self, node: &str, ct: &Ct) -> Vec<CtState> {
        let mut states = vec![if ct.new { CtState::New } else { CtState::Established }];
        if let Some(entry) = self.entry(node, ct) {
            // xt_conntrack.c: the virtual states DNAT and SNAT mean the tuples show a rewrite.
            if entry.dnat {
                states.push(CtState::Dnat);
            }
            if entry.snat {
                states.push(CtState::Snat);
            }
        }
        states
    }

    /// Conntrack at the packet's first hook on the node: the entry it belongs to, or a new
    /// unconfirmed one; it becomes the pass's `ct`.
    pub(super) fn conntrack_in(&mut self, pass: &mut Pass, hook: Hook) {
        let node = pass.node;
        let tuple = pass.flight.tuple();
        let now = self.env.now;
        let found = self.conntrack.get(node).and_then(|table| table.lookup(&tuple, now));
        let (ct, note, verdict) = match found {
            Some((index, dir)) => {
                // The first reply flips the entry as conntrack's first hook sees it
                // (nf_conntrack_core.c sets IPS_SEEN_REPLY; nf_conntrack_proto_tcp.c moves a
                // SYN_SENT connection to SYN_RECV on the SYN-ACK, whose timeout is 60 s).
                if dir == Dir::Reply
                    && let Some(entry) = self.conntrack.get_mut(node).and_then(|table| table.get_mut(index))
                    && !entry.seen_reply
                {
                    entry.seen_reply = true;
                    entry.expires = now
                        + match entry.original.proto {
                            TupleProto::Udp => conntrack::UDP_STREAM_TIMEOUT,
                            _ => conntrack::TCP_SYN_RECV_TIMEOUT,
                        };
                }
                let which = match dir {
                    Dir::Original => ("original", "原始"),
                    Dir::Reply => ("reply", "应答"),
                };
                let note = Text::new(
                    format!(
                        "conntrack: the packet matches the {} tuple of an existing entry, so it is ESTABLISHED. The nat table is not consulted again: the stored NAT decision applies.",
                        which.0
                    ),
                    format!(
                        "conntrack：数据包匹配已有连接的{}方向元组，状态为 ESTABLISHED。不再查询 nat 表，直接套用已记录的 NAT 决定。",
                        which.1
                    ),
                );
                (Ct { new: false, existing: Some((index, dir)) }, note, "ESTABLISHED")
            }
            None => {
                let entry = Entry::new(tuple, now);
                let note = Text::new(
                    format!(
                        "conntrack: no entry matches {tuple}, so this is a NEW connection. An unconfirmed entry is created: original {} → {}, expected reply {} → {}.",
                        entry.original.src, entry.original.dst, entry.reply.src, entry.reply.dst
                    ),
                    format!(
                        "conntrack：没有匹配 {tuple} 的连接，这是新连接（NEW）。创建一条未确认的记录：原始方向 {} → {}，预期应答 {} → {}。",
                        entry.original.src, entry.original.dst, entry.reply.src, entry.reply.dst
                    ),
                );
                self.pending.retain(|(at, _)| at != node);
                self.pending.push((node.to_string(), entry));
                (Ct { new: true, existing: None }, note, "NEW")
            }
        };
        pass.ct = ct;
        pass.push_at(hook.as_str(), StepKind::Conntrack, verdict, note);
        self.tag_last(pass);
    }

    /// Sets the last step's conntrack entry to this connection's entry on the pass's node, as it
    /// stands now.
    pub(super) fn tag_last(&self, pass: &mut Pass) {
        let line = self.entry(pass.node, &pass.ct).map(|entry| entry.to_string());
        if let Some(step) = pass.trace.steps.last_mut() {
            step.conntrack = line;
        }
    }

    /// Confirms a new entry as the packet leaves the last hook, or marks a reply as seen.
    pub(super) fn confirm(&mut self, pass: &mut Pass, hook: Hook) {
        let node = pass.node;
        if pass.ct.new {
            let Some(position) = self.pending.iter().position(|(at, _)| at == node) else { return };
            let (_, mut entry) = self.pending.swap_remove(position);
            entry.expires = self.env.now
                + match entry.original.proto {
                    TupleProto::Udp => conntrack::UDP_TIMEOUT,
                    _ => conntrack::TCP_SYN_SENT_TIMEOUT,
                };
            let line = entry.to_string();
            self.conntrack.entry(node.to_string()).or_default().confirm(entry);
            let note = Text::new(
                format!(
                    "conntrack confirms the entry as the packet leaves {}: `{line}`. Every later packet of this connection, and every reply, is matched against it.",
                    hook.as_str()
                ),
                format!(
                    "数据包离开 {} 时 conntrack 确认该连接：`{line}`。此后该连接的每个包及每个应答都按它匹配。",
                    hook.as_str()
                ),
            );
            pass.push_at(hook.as_str(), StepKind::Conntrack, "CONFIRMED", note);
            if let Some(step) = pass.trace.steps.last_mut() {
                step.conntrack = Some(line.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::trace::StepKind;
    use crate::walk::fixture;

    fn check(id: &str, mode: ProxyMode, from: &str, to: &str, expect: Expect) {
        let trace = fixture::walk(id, mode, from, to);
        let ct = fixture::lines(&trace, |step| step.kind == StepKind::Conntrack);
        let entries: Vec<&str> = trace.steps.iter().filter_map(|step| step.conntrack.as_deref()).collect();
        expect.assert_eq(&format!("{ct}last entry: {}\n", entries.last().unwrap_or(&"none")));
    }

    #[test]
    fn new_then_confirmed_then_established_on_the_way_back() {
        check(
            "clusterip-iptables",
            ProxyMode::Iptables,
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            node-1 PREROUTING NEW
            node-1 POSTROUTING CONFIRMED
            node-3 PREROUTING NEW
            node-3 POSTROUTING CONFIRMED
            node-3 PREROUTING ESTABLISHED
            node-1 PREROUTING ESTABLISHED
            node-1 nat POSTROUTING UN-DNAT | tcp 10.244.3.9:8080 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
            last entry: tcp      6 60 SYN_RECV src=10.244.1.20 dst=10.96.100.10 sport=42361 dport=80 src=10.244.3.9 dst=10.244.1.20 sport=8080 dport=42361 mark=0 use=1
        "#]],
        );
    }

    #[test]
    fn nftables_confirms_the_same_way() {
        check(
            "clusterip-iptables",
            ProxyMode::Nftables,
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            node-1 PREROUTING NEW
            node-1 POSTROUTING CONFIRMED
            node-3 PREROUTING NEW
            node-3 POSTROUTING CONFIRMED
            node-3 PREROUTING ESTABLISHED
            node-1 PREROUTING ESTABLISHED
            node-1 nat POSTROUTING UN-DNAT | tcp 10.244.3.9:8080 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
            last entry: tcp      6 60 SYN_RECV src=10.244.1.20 dst=10.96.100.10 sport=42361 dport=80 src=10.244.3.9 dst=10.244.1.20 sport=8080 dport=42361 mark=0 use=1
        "#]],
        );
    }
}
