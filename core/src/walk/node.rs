//! One node's kernel path, the order of the stages a packet meets on a node: for a packet that
//! arrives, PREROUTING, routing (with the TTL decrement of forwarding), INPUT with IPVS's
//! LOCAL_IN or FORWARD, then POSTROUTING; for a packet the node sends, OUTPUT with IPVS's
//! LOCAL_OUT, the reroute, then POSTROUTING (net/ipv4/ip_input.c, ip_forward.c, ip_output.c).
//! Each stage is a method taking the packet's `Pass` through the node; a stage that ends the
//! packet's way (a drop, a REJECT) answers `Err(Next)`.

use super::routing::Route;
use super::{Host, Next, Pass, Sim};
use crate::dataplane::Hook;

impl<'a> Sim<'a> {
    /// A packet arriving on a node from a link: PREROUTING, routing, INPUT or FORWARD, POSTROUTING.
    pub(super) fn node_receive(&mut self, pass: &mut Pass) -> Next {
        self.node_receive_stages(pass).unwrap_or_else(|next| next)
    }

    /// A packet sent by a process on the node: OUTPUT (conntrack, nat, filter), reroute, POSTROUTING.
    pub(super) fn node_output(&mut self, pass: &mut Pass) -> Next {
        self.node_output_stages(pass).unwrap_or_else(|next| next)
    }

    fn node_receive_stages(&mut self, pass: &mut Pass) -> Result<Next, Next> {
        self.conntrack_in(pass, Hook::Prerouting);
        self.run_hook(pass, Hook::Prerouting, None)?;
        let route = self.route_or_drop(pass)?;
        // A forwarded packet has its TTL decreased before the FORWARD hook (net/ipv4/ip_forward.c,
        // `ip_decrease_ttl`), which changes the header checksum too.
        let before_route = pass.flight.packet().clone();
        if !matches!(route, Route::Local) {
            let _ = pass.flight.decrement_ttl();
        }
        self.push_route(pass, &before_route, &route, false);
        match route {
            Route::Local => {
                self.run_hook(pass, Hook::Input, None)?;
                self.ipvs_reply(pass, Hook::Input);
                // IPVS's LOCAL_IN hook (`ip_vs_remote_request4`, priority NF_IP_PRI_NAT_SRC - 1)
                // takes packets for a virtual server and sends them on to the real server.
                if self.ipvs_request(pass, Hook::Input)? {
                    return self.after_ipvs(pass);
                }
                self.confirm(pass, Hook::Input);
                Ok(Next::Local)
            }
            Route::Pod(next) | Route::Node(next, _) | Route::Default(next, _) => {
                self.run_hook(pass, Hook::Forward, None)?;
                self.ipvs_reply(pass, Hook::Forward);
                self.postrouting(pass, &next)?;
                Ok(Next::To(next))
            }
        }
    }

    fn node_output_stages(&mut self, pass: &mut Pass) -> Result<Next, Next> {
        self.conntrack_in(pass, Hook::Output);
        self.run_hook(pass, Hook::Output, None)?;
        // IPVS's LOCAL_OUT hook (`ip_vs_local_request4`) serves virtual servers for local processes.
        self.ipvs_request(pass, Hook::Output)?;
        self.after_ipvs(pass)
    }

    /// After OUTPUT, or after IPVS rewrote a packet to its real server: the reroute, then out
    /// through POSTROUTING (`ip_vs_nat_xmit` re-injects it at LOCAL_OUT).
    fn after_ipvs(&mut self, pass: &mut Pass) -> Result<Next, Next> {
        let route = self.route_or_drop(pass)?;
        let before = pass.flight.packet().clone();
        self.push_route(pass, &before, &route, true);
        match route {
            Route::Local => {
                self.confirm(pass, Hook::Output);
                Ok(Next::Local)
            }
            Route::Pod(next) | Route::Node(next, _) | Route::Default(next, _) => {
                self.postrouting(pass, &next)?;
                Ok(Next::To(next))
            }
        }
    }

    /// POSTROUTING's rules, then conntrack's confirmation as the packet leaves.
    fn postrouting(&mut self, pass: &mut Pass, next: &Host) -> Result<(), Next> {
        self.run_hook(pass, Hook::Postrouting, Some(next))?;
        self.confirm(pass, Hook::Postrouting);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::walk::fixture;

    /// The order of stages on the walk's nodes (not the pods' and clients' own steps).
    fn check(id: &str, mode: ProxyMode, from: &str, to: &str, expect: Expect) {
        let trace = fixture::walk(id, mode, from, to);
        let mut out = String::new();
        for step in trace.steps.iter().filter(|step| step.node.starts_with("node-")) {
            out.push_str(&format!("{} {} {}\n", step.node, step.direction.as_str(), step.place()));
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn forwarded_between_nodes() {
        check(
            "clusterip-iptables",
            ProxyMode::Iptables,
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            node-1 original PREROUTING
            node-1 original nat PREROUTING
            node-1 original nat PREROUTING KUBE-SERVICES
            node-1 original nat PREROUTING KUBE-SVC-CDGGSHYLG3RE2FKL
            node-1 original nat PREROUTING KUBE-SEP-RBX5X5TOEG5GD3RO
            node-1 original routing
            node-1 original filter FORWARD
            node-1 original filter FORWARD
            node-1 original filter FORWARD
            node-1 original filter FORWARD
            node-1 original filter FORWARD
            node-1 original nat POSTROUTING
            node-1 original nat POSTROUTING KUBE-POSTROUTING
            node-1 original nat POSTROUTING
            node-1 original POSTROUTING
            node-1 original wire
            node-3 original PREROUTING
            node-3 original nat PREROUTING
            node-3 original nat PREROUTING
            node-3 original routing
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original nat POSTROUTING
            node-3 original nat POSTROUTING KUBE-POSTROUTING
            node-3 original nat POSTROUTING
            node-3 original POSTROUTING
            node-3 original wire
            node-3 reply PREROUTING
            node-3 reply routing
            node-3 reply filter FORWARD
            node-3 reply filter FORWARD KUBE-FORWARD
            node-3 reply wire
            node-1 reply PREROUTING
            node-1 reply routing
            node-1 reply filter FORWARD
            node-1 reply filter FORWARD KUBE-FORWARD
            node-1 reply nat POSTROUTING
            node-1 reply wire
        "#]],
        );
    }

    #[test]
    fn sent_by_the_node_itself() {
        check(
            "host-network",
            ProxyMode::Iptables,
            "node/node-1",
            "10.96.100.10:80",
            expect![[r#"
            node-1 original send
            node-1 original OUTPUT
            node-1 original nat OUTPUT
            node-1 original nat OUTPUT KUBE-SERVICES
            node-1 original nat OUTPUT KUBE-SVC-CDGGSHYLG3RE2FKL
            node-1 original nat OUTPUT KUBE-MARK-MASQ
            node-1 original nat OUTPUT KUBE-SVC-CDGGSHYLG3RE2FKL
            node-1 original nat OUTPUT KUBE-SEP-RBX5X5TOEG5GD3RO
            node-1 original filter OUTPUT
            node-1 original filter OUTPUT
            node-1 original filter OUTPUT
            node-1 original filter OUTPUT
            node-1 original routing
            node-1 original nat POSTROUTING
            node-1 original nat POSTROUTING KUBE-POSTROUTING
            node-1 original nat POSTROUTING KUBE-POSTROUTING
            node-1 original POSTROUTING
            node-1 original wire
            node-3 original PREROUTING
            node-3 original nat PREROUTING
            node-3 original nat PREROUTING
            node-3 original routing
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original nat POSTROUTING
            node-3 original nat POSTROUTING KUBE-POSTROUTING
            node-3 original nat POSTROUTING
            node-3 original POSTROUTING
            node-3 original wire
            node-3 reply PREROUTING
            node-3 reply routing
            node-3 reply filter FORWARD
            node-3 reply filter FORWARD KUBE-FORWARD
            node-3 reply wire
            node-1 reply PREROUTING
            node-1 reply nat PREROUTING
            node-1 reply routing
            node-1 reply filter INPUT
            node-1 reply filter INPUT
            node-1 reply filter INPUT
            node-1 reply nat INPUT
            node-1 reply deliver
        "#]],
        );
    }

    #[test]
    fn ipvs_at_local_in() {
        check(
            "clusterip-ipvs",
            ProxyMode::Ipvs,
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            node-1 original PREROUTING
            node-1 original nat PREROUTING
            node-1 original nat PREROUTING KUBE-SERVICES
            node-1 original nat PREROUTING KUBE-SERVICES
            node-1 original routing
            node-1 original filter INPUT
            node-1 original filter INPUT KUBE-IPVS-FILTER
            node-1 original filter INPUT
            node-1 original filter INPUT
            node-1 original filter INPUT
            node-1 original filter INPUT
            node-1 original nat INPUT
            node-1 original INPUT
            node-1 original routing
            node-1 original nat POSTROUTING
            node-1 original nat POSTROUTING KUBE-POSTROUTING
            node-1 original nat POSTROUTING
            node-1 original POSTROUTING
            node-1 original wire
            node-3 original PREROUTING
            node-3 original nat PREROUTING
            node-3 original nat PREROUTING
            node-3 original routing
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original filter FORWARD
            node-3 original nat POSTROUTING
            node-3 original nat POSTROUTING KUBE-POSTROUTING
            node-3 original nat POSTROUTING
            node-3 original POSTROUTING
            node-3 original wire
            node-3 reply PREROUTING
            node-3 reply routing
            node-3 reply filter FORWARD
            node-3 reply filter FORWARD
            node-3 reply filter FORWARD KUBE-FORWARD
            node-3 reply wire
            node-1 reply PREROUTING
            node-1 reply routing
            node-1 reply filter FORWARD
            node-1 reply filter FORWARD
            node-1 reply filter FORWARD KUBE-FORWARD
            node-1 reply FORWARD
            node-1 reply wire
        "#]],
        );
    }
}
