//! REJECT's answer: the ICMP port unreachable the node sends back to the client, quoting the
//! refused packet, and the client's connect() failing with ECONNREFUSED.

use super::{Host, Sim, step};
use crate::packet::Packet;
use crate::trace::{Direction, StepKind, Text, Trace};

impl<'a> Sim<'a> {
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
