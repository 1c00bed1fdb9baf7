//! One node's kernel path, the order of the stages a packet meets on a node: for a packet that
//! arrives, PREROUTING, routing (with the TTL decrement of forwarding), INPUT with IPVS's
//! LOCAL_IN or FORWARD, then POSTROUTING; for a packet the node sends, OUTPUT with IPVS's
//! LOCAL_OUT, the reroute, then POSTROUTING (net/ipv4/ip_input.c, ip_forward.c, ip_output.c).

use super::ct::Ct;
use super::routing::Route;
use super::{Hop, Host, Sim};
use crate::dataplane::Hook;
use crate::packet::Packet;
use crate::trace::{Direction, Trace};

impl<'a> Sim<'a> {
    /// A packet arriving on a node from a link: PREROUTING, routing, INPUT or FORWARD, POSTROUTING.
    pub(super) fn node_receive(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
    ) -> Hop {
        let mut mark = 0u32;
        let ct = self.conntrack_in(trace, node, packet, direction, Hook::Prerouting);
        if let Err(hop) = self.run_hook(trace, node, packet, direction, Hook::Prerouting, &ct, &mut mark, None) {
            return hop;
        }
        let route = match self.route_or_drop(trace, node, packet, direction) {
            Ok(route) => route,
            Err(hop) => return hop,
        };
        // A forwarded packet has its TTL decreased before the FORWARD hook (net/ipv4/ip_forward.c,
        // `ip_decrease_ttl`), which changes the header checksum too.
        let before_route = packet.clone();
        if !matches!(route, Route::Local) {
            let _ = packet.decrement_ttl();
        }
        self.push_route_from(trace, node, &before_route, packet, direction, &route, false);
        match route {
            Route::Local => {
                if let Err(hop) = self.run_hook(trace, node, packet, direction, Hook::Input, &ct, &mut mark, None) {
                    return hop;
                }
                self.ipvs_reply(trace, node, packet, direction, &ct, Hook::Input);
                // IPVS's LOCAL_IN hook (`ip_vs_remote_request4`, priority NF_IP_PRI_NAT_SRC - 1)
                // takes packets for a virtual server and sends them on to the real server.
                match self.ipvs_request(trace, node, packet, direction, &ct, Hook::Input) {
                    Err(hop) => return hop,
                    Ok(true) => return self.after_ipvs(trace, node, packet, direction, &ct, &mut mark),
                    Ok(false) => {}
                }
                self.confirm(trace, node, packet, direction, &ct, Hook::Input);
                Hop::Local
            }
            Route::Pod(next) | Route::Node(next, _) | Route::Default(next, _) => {
                if let Err(hop) = self.run_hook(trace, node, packet, direction, Hook::Forward, &ct, &mut mark, None) {
                    return hop;
                }
                self.ipvs_reply(trace, node, packet, direction, &ct, Hook::Forward);
                if let Err(hop) = self.postrouting(trace, node, packet, direction, &ct, &mut mark, &next) {
                    return hop;
                }
                Hop::To(next)
            }
        }
    }

    /// A packet sent by a process on the node: OUTPUT (conntrack, nat, filter), reroute, POSTROUTING.
    pub(super) fn node_output(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
    ) -> Hop {
        let mut mark = 0u32;
        let ct = self.conntrack_in(trace, node, packet, direction, Hook::Output);
        if let Err(hop) = self.run_hook(trace, node, packet, direction, Hook::Output, &ct, &mut mark, None) {
            return hop;
        }
        // IPVS's LOCAL_OUT hook (`ip_vs_local_request4`) serves virtual servers for local processes.
        match self.ipvs_request(trace, node, packet, direction, &ct, Hook::Output) {
            Err(hop) => return hop,
            Ok(true) => return self.after_ipvs(trace, node, packet, direction, &ct, &mut mark),
            Ok(false) => {}
        }
        let route = match self.route_or_drop(trace, node, packet, direction) {
            Ok(route) => route,
            Err(hop) => return hop,
        };
        self.push_route(trace, node, packet, direction, &route, true);
        match route {
            Route::Local => {
                self.confirm(trace, node, packet, direction, &ct, Hook::Output);
                Hop::Local
            }
            Route::Pod(next) | Route::Node(next, _) | Route::Default(next, _) => {
                if let Err(hop) = self.postrouting(trace, node, packet, direction, &ct, &mut mark, &next) {
                    return hop;
                }
                Hop::To(next)
            }
        }
    }

    /// After IPVS rewrote a packet to its real server: routing, then out through POSTROUTING
    /// (`ip_vs_nat_xmit` re-injects it at LOCAL_OUT).
    pub(super) fn after_ipvs(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        ct: &Ct,
        mark: &mut u32,
    ) -> Hop {
        let route = match self.route_or_drop(trace, node, packet, direction) {
            Ok(route) => route,
            Err(hop) => return hop,
        };
        self.push_route(trace, node, packet, direction, &route, true);
        match route {
            Route::Local => {
                self.confirm(trace, node, packet, direction, ct, Hook::Output);
                Hop::Local
            }
            Route::Pod(next) | Route::Node(next, _) | Route::Default(next, _) => {
                if let Err(hop) = self.postrouting(trace, node, packet, direction, ct, mark, &next) {
                    return hop;
                }
                Hop::To(next)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn postrouting(
        &mut self,
        trace: &mut Trace,
        node: &str,
        packet: &mut Packet,
        direction: Direction,
        ct: &Ct,
        mark: &mut u32,
        next: &Host,
    ) -> Result<(), Hop> {
        self.run_hook(trace, node, packet, direction, Hook::Postrouting, ct, mark, Some(next))?;
        self.confirm(trace, node, packet, direction, ct, Hook::Postrouting);
        Ok(())
    }
}
