//! REJECT's answer: the ICMP port unreachable the node sends back to the client, quoting the
//! refused packet, and the client's connect() failing with ECONNREFUSED.

use super::{Host, Next, Pass, Sim, step};
use crate::dataplane::{Hook, RejectWith};
use crate::packet::{Packet, Tuple};
use crate::trace::{Direction, StepKind, Text, Trace};

impl<'a> Sim<'a> {
    /// A REJECT verdict at `hook`: the refusal's step, and the packet kept so that the walk sends
    /// the ICMP error back once the drop is recorded. `tuple` is the packet as the rules saw it.
    pub(super) fn reject(
        &mut self,
        pass: &mut Pass,
        hook: Hook,
        table: &'static str,
        with: RejectWith,
        tuple: Tuple,
    ) -> Next {
        let (en, zh) = match with {
            RejectWith::IcmpPortUnreachable => (
                format!(
                    "REJECT answers {} with an ICMP port unreachable (type 3, code 3); the client's connect() fails at once with ECONNREFUSED — \"connection refused\", not a timeout.",
                    tuple.src
                ),
                format!(
                    "REJECT 向 {} 回送 ICMP 端口不可达（类型 3，代码 3）；客户端的 connect() 立即以 ECONNREFUSED 失败——是“连接被拒绝”，而不是超时。",
                    tuple.src
                ),
            ),
            RejectWith::TcpReset => (
                format!("REJECT answers {} with a TCP RST; the client sees \"connection refused\".", tuple.src),
                format!("REJECT 向 {} 回送 TCP RST；客户端看到“连接被拒绝”。", tuple.src),
            ),
        };
        self.rejected = Some((pass.node.to_string(), pass.flight.packet().clone()));
        let mut s = pass.step(StepKind::Drop, pass.flight.packet(), "REJECTED", Text::new(en, zh));
        s.hook = Some(hook.as_str());
        s.table = Some(table);
        pass.trace.steps.push(s);
        let rule = pass.trace.steps.iter().rev().find_map(|s| s.rule.clone()).unwrap_or_default();
        Next::Dropped(format!("rejected on {}: {rule}", pass.node))
    }

    /// What the client receives after a REJECT: the node builds an ICMP port unreachable quoting
    /// the refused packet and sends it back; it is RELATED to the connection, so conntrack and the
    /// rules let it through, and the client's connect() fails with ECONNREFUSED.
    pub(super) fn send_icmp_unreachable(&mut self, trace: &mut Trace, node: &str, refused: &Packet, sender: &Host) {
        let Some(this) = self.cluster.node(node) else { return };
        // icmp_send takes the source address of the route back to the client: the bridge
        // gateway toward a pod on this node, the node's own address otherwise.
        let from = match sender {
            Host::Pod { node: pod_node, .. } if pod_node == node => this.pod_cidr.nth(1).unwrap_or(this.ip),
            _ => this.ip,
        };
        let ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        let Ok(icmp) = Packet::icmp_port_unreachable(from, refused, ident) else { return };
        let note = Text::new(
            format!(
                "REJECT makes the kernel answer (nf_send_unreach): an ICMP destination unreachable, code 3 (port unreachable), from {from} to {}, quoting the refused packet's IPv4 header and first 8 bytes. It is RELATED to the connection in conntrack.",
                sender.ip()
            ),
            format!(
                "REJECT 让内核回复（nf_send_unreach）：一个 ICMP 目的不可达、代码 3（端口不可达），从 {from} 发往 {}，其中引用被拒绝数据包的 IPv4 头部和其后 8 个字节。conntrack 把它视为该连接的 RELATED 流量。",
                sender.ip()
            ),
        );
        let mut s = step(node, Direction::Reply, StepKind::Send, &icmp, &icmp, "ICMP PORT UNREACHABLE", note);
        s.hook = Some("OUTPUT");
        trace.steps.push(s);
        let note = Text::new(
            format!("The ICMP error leaves {node} for {}.", sender.label()),
            format!("ICMP 错误离开 {node}，发往 {}。", sender.label()),
        );
        trace.steps.push(step(
            node,
            Direction::Reply,
            StepKind::Wire,
            &icmp,
            &icmp,
            &format!("→ {}", sender.name()),
            note,
        ));
        let note = Text::new(
            format!(
                "{} receives the ICMP port unreachable: its connect() fails at once with ECONNREFUSED, \"connection refused\".",
                sender.label()
            ),
            format!("{} 收到 ICMP 端口不可达：它的 connect() 立即以 ECONNREFUSED 失败，“连接被拒绝”。", sender.label()),
        );
        trace.steps.push(step(sender.name(), Direction::Reply, StepKind::Deliver, &icmp, &icmp, "ECONNREFUSED", note));
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::trace::StepKind;
    use crate::walk::fixture;

    fn check(mode: ProxyMode, expect: Expect) {
        let trace = fixture::walk("no-endpoints", mode, "pod/client", "10.96.66.6:80");
        let tail =
            fixture::lines(&trace, |step| matches!(step.kind, StepKind::Drop | StepKind::Send | StepKind::Deliver));
        expect.assert_eq(&format!("{tail}{:?}\n", trace.outcome.reason));
    }

    #[test]
    fn iptables_answers_with_icmp_port_unreachable() {
        check(
            ProxyMode::Iptables,
            expect![[r#"
            client send SEND
            node-1 filter FORWARD REJECTED
            node-1 OUTPUT ICMP PORT UNREACHABLE
            client deliver ECONNREFUSED
            Some("rejected on node-1: -A KUBE-SERVICES -d 10.96.66.6/32 -p tcp -m comment --comment \"default/ghost:http has no endpoints\" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable")
        "#]],
        );
    }

    #[test]
    fn nftables_answers_the_same() {
        check(
            ProxyMode::Nftables,
            expect![[r#"
            client send SEND
            node-1 kube-proxy FORWARD REJECTED
            node-1 OUTPUT ICMP PORT UNREACHABLE
            client deliver ECONNREFUSED
            Some("rejected on node-1: reject")
        "#]],
        );
    }
}
