//! The address rewrites: a NAT target a rule fired (DNAT, SNAT, MASQUERADE with its port search)
//! carried out on the packet and bound in the pending conntrack entry, and a confirmed entry's
//! stored NAT applied to the later packets and the replies of its connection.

use std::net::SocketAddrV4;

use super::{Host, Pass, Sim};
use crate::conntrack::Dir;
use crate::dataplane::{Hook, NatTarget};
use crate::packet::Tuple;
use crate::trace::{StepKind, Text};

impl<'a> Sim<'a> {
    /// Carries out a NAT target on the packet and records the binding in the pending entry.
    /// `next` is the host the packet leaves for; the rewrite's old and new address come back.
    pub(super) fn apply_nat_target(
        &mut self,
        pass: &mut Pass,
        nat: NatTarget,
        next: Option<&Host>,
    ) -> Option<(SocketAddrV4, SocketAddrV4)> {
        let node = pass.node;
        let tuple = pass.flight.tuple();
        match nat {
            NatTarget::Dnat { ip, port } => {
                let to = SocketAddrV4::new(ip, port.unwrap_or(tuple.dst.port()));
                pass.flight.set_dst(to).ok()?;
                if let Some(entry) = self.pending_mut(node) {
                    entry.set_dnat(to);
                }
                Some((tuple.dst, to))
            }
            NatTarget::Snat { ip, port } => {
                let to = SocketAddrV4::new(ip, port.unwrap_or(tuple.src.port()));
                pass.flight.set_src(to).ok()?;
                if let Some(entry) = self.pending_mut(node) {
                    entry.set_snat(to);
                }
                Some((tuple.src, to))
            }
            NatTarget::Masquerade { random_fully } => {
                // MASQUERADE takes the address of the interface the packet leaves by
                // (nf_nat_masquerade.c, `inet_select_addr`): the bridge's gateway address toward a
                // local pod, the node's own address toward anything else.
                let this = self.cluster.node(node)?;
                let ip = match next {
                    Some(Host::Pod { node: pod_node, .. }) if pod_node == node => {
                        this.pod_cidr.nth(1).unwrap_or(this.ip)
                    }
                    _ => this.ip,
                };
                // `--random-fully` draws the port (nf_nat_proto.c, `nf_nat_l4proto_unique_tuple`
                // with NF_NAT_RANGE_PROTO_RANDOM_FULLY) from 1024–65535 for a source port ≥ 1024.
                let mut port = tuple.src.port();
                let now = self.env.now;
                for _ in 0..64 {
                    if random_fully {
                        port = self.env.rng.range_u16(1024, 65535);
                    }
                    let reply = Tuple { src: tuple.dst, dst: SocketAddrV4::new(ip, port), proto: tuple.proto };
                    let used = self.conntrack.get(node).is_some_and(|table| table.reply_in_use(&reply, now));
                    if !used {
                        break;
                    }
                    if !random_fully {
                        port = port.wrapping_add(1).max(1024);
                    }
                }
                let to = SocketAddrV4::new(ip, port);
                pass.flight.set_src(to).ok()?;
                if let Some(entry) = self.pending_mut(node) {
                    entry.set_snat(to);
                }
                Some((tuple.src, to))
            }
        }
    }

    /// Applies a confirmed entry's stored NAT to a later packet (nf_nat_core.c `nf_nat_packet`).
    pub(super) fn apply_stored_nat(&mut self, pass: &mut Pass, hook: Hook) {
        let Some((_, dir)) = pass.ct.existing else { return };
        let Some(entry) = self.entry(pass.node, &pass.ct).cloned() else { return };
        let tuple = pass.flight.tuple();
        let dst_manip = matches!(hook, Hook::Prerouting | Hook::Output);
        let change = match (dst_manip, dir) {
            (true, Dir::Original) if entry.dnat && !entry.ipvs => Some((false, entry.reply.src)),
            (true, Dir::Reply) if entry.snat => Some((false, entry.original.src)),
            (false, Dir::Original) if entry.snat => Some((true, entry.reply.dst)),
            (false, Dir::Reply) if entry.dnat && !entry.ipvs => Some((true, entry.original.dst)),
            _ => None,
        };
        let Some((source, to)) = change else { return };
        let before = pass.flight.packet().clone();
        let (field_en, field_zh, from) =
            if source { ("source", "源地址", tuple.src) } else { ("destination", "目的地址", tuple.dst) };
        let ok = if source { pass.flight.set_src(to) } else { pass.flight.set_dst(to) };
        if ok.is_err() {
            return;
        }
        let why_en = match (source, dir) {
            (true, Dir::Reply) => "this undoes the DNAT, so the client sees the reply come from the address it called",
            (false, Dir::Reply) => "this undoes the SNAT, so the reply reaches the real client",
            _ => "the same rewrite as the connection's first packet",
        };
        let why_zh = match (source, dir) {
            (true, Dir::Reply) => "这是撤销 DNAT，客户端看到应答来自它所访问的地址",
            (false, Dir::Reply) => "这是撤销 SNAT，应答得以回到真正的客户端",
            _ => "与该连接第一个包相同的改写",
        };
        let note = Text::new(
            format!(
                "conntrack NAT at {}: {field_en} {from} → {to}; {why_en}. Both checksums are recomputed.",
                hook.as_str()
            ),
            format!(
                "conntrack 在 {} 做 NAT：{field_zh} {from} → {to}；{why_zh}。IP 与 TCP 校验和随之重算。",
                hook.as_str()
            ),
        );
        let mut s = pass.step(StepKind::Conntrack, &before, if source { "UN-DNAT" } else { "UN-SNAT" }, note);
        if matches!(dir, Dir::Original) {
            s.verdict = if source { "SNAT".into() } else { "DNAT".into() };
        }
        s.hook = Some(hook.as_str());
        s.table = Some("nat");
        pass.trace.steps.push(s);
        self.tag_last(pass);
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::walk::fixture;

    /// The steps that rewrote the packet.
    fn check(id: &str, mode: ProxyMode, from: &str, to: &str, expect: Expect) {
        let trace = fixture::walk(id, mode, from, to);
        let rewrote = |step: &crate::trace::Step| step.before.tuple().ok() != step.after.tuple().ok();
        expect.assert_eq(&fixture::lines(&trace, rewrote));
    }

    #[test]
    fn dnat_there_and_un_dnat_back() {
        check(
            "clusterip-iptables",
            ProxyMode::Iptables,
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            node-1 nat PREROUTING KUBE-SEP-RBX5X5TOEG5GD3RO DNAT | tcp 10.244.1.20:42361 → 10.96.100.10:80 ⇒ tcp 10.244.1.20:42361 → 10.244.3.9:8080
            node-1 nat POSTROUTING UN-DNAT | tcp 10.244.3.9:8080 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
        "#]],
        );
    }

    #[test]
    fn masquerade_for_a_hairpin() {
        check(
            "hairpin",
            ProxyMode::Iptables,
            "pod/web-a",
            "10.96.100.10:80",
            expect![[r#"
                node-1 nat PREROUTING KUBE-SEP-AFGSLHOD2HFNCBX4 DNAT | tcp 10.244.1.5:50663 → 10.96.100.10:80 ⇒ tcp 10.244.1.5:50663 → 10.244.1.5:8080
                node-1 nat POSTROUTING KUBE-POSTROUTING MASQUERADE | tcp 10.244.1.5:50663 → 10.244.1.5:8080 ⇒ tcp 10.244.1.1:25090 → 10.244.1.5:8080
                node-1 nat PREROUTING UN-SNAT | tcp 10.244.1.5:8080 → 10.244.1.1:25090 ⇒ tcp 10.244.1.5:8080 → 10.244.1.5:50663
                node-1 nat POSTROUTING UN-DNAT | tcp 10.244.1.5:8080 → 10.244.1.5:50663 ⇒ tcp 10.96.100.10:80 → 10.244.1.5:50663
            "#]],
        );
    }

    #[test]
    fn a_node_port_is_masqueraded_and_un_snatted() {
        check(
            "nodeport-cluster",
            ProxyMode::Nftables,
            "client/laptop",
            "192.168.1.11:30080",
            expect![[r#"
            node-2 kube-proxy PREROUTING endpoint-IXR2BMJD-default/web/tcp/http__10.244.3.9/8080 dnat | tcp 192.168.1.50:42361 → 192.168.1.11:30080 ⇒ tcp 192.168.1.50:42361 → 10.244.3.9:8080
            node-2 kube-proxy POSTROUTING masquerading masquerade | tcp 192.168.1.50:42361 → 10.244.3.9:8080 ⇒ tcp 192.168.1.11:26974 → 10.244.3.9:8080
            node-2 nat PREROUTING UN-SNAT | tcp 10.244.3.9:8080 → 192.168.1.11:26974 ⇒ tcp 10.244.3.9:8080 → 192.168.1.50:42361
            node-2 nat POSTROUTING UN-DNAT | tcp 10.244.3.9:8080 → 192.168.1.50:42361 ⇒ tcp 192.168.1.11:30080 → 192.168.1.50:42361
        "#]],
        );
    }
}
