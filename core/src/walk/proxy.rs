//! A proxy hop: a process on a node that accepts the client's connection and opens a second one
//! to a backend. Userspace kube-proxy's relay (accept, answer the client, round-robin dial with
//! retry, relay) is the one proxy today.

use std::net::SocketAddrV4;

use super::{Host, Sim, step};
use crate::net::Proto;
use crate::packet::{Packet, TcpFlags};
use crate::trace::{Direction, StepKind, Text, Trace};

impl<'a> Sim<'a> {
    /// Userspace mode's relay (pkg/proxy/userspace/proxysocket.go, `ProxyTCP`): kube-proxy accepted
    /// the client's connection on its socket; it answers the client, picks an endpoint with its
    /// round robin, and dials it from the node, trying the next endpoint when a dial fails. The
    /// pod's connection comes from the node, so the pod never sees the client's address.
    pub(super) fn relay(&mut self, trace: &mut Trace, node: &str, client: &Host, received: &Packet, proto: Proto) {
        let Ok(tuple) = received.tuple() else { return };
        let Some((state, _)) = self.userspace.get(node) else { return };
        let Some(proxy) = state.proxy_at(proto, tuple.dst.port()).cloned() else { return };
        let node_host = match self.cluster.node(node) {
            Some(this) => Host::Node { name: this.name.clone(), ip: this.ip },
            None => return,
        };
        let accepted = Text::new(
            format!(
                "kube-proxy (userspace mode, removed in v1.26) accepts the connection on its socket {} for {}. This first connection ends here, inside kube-proxy; it will open a second one to a pod and copy bytes between the two.",
                tuple.dst, proxy.service_port
            ),
            format!(
                "kube-proxy（userspace 模式，已在 v1.26 移除）在它的套接字 {} 上接受了 {} 的连接。第一条连接到此为止，终结在 kube-proxy 里；它会另开一条到 Pod 的连接，在两条连接之间搬运字节。",
                tuple.dst, proxy.service_port
            ),
        );
        trace.steps.push(step(node, Direction::Original, StepKind::Proxy, received, received, "ACCEPTED", accepted));
        // The client's handshake completes with kube-proxy; conntrack puts the Service address back.
        let answer = self.make_packet(tuple.dst, tuple.src, proto, TcpFlags::SynAck, 5000, 1001);
        if self.walk(trace, node_host.clone(), answer, Direction::Reply).is_none() {
            return;
        }
        let now = self.env.now;
        let Some((_, balancer)) = self.userspace.get_mut(node) else { return };
        let dial = balancer.dial(self.cluster, &proxy.service_port, *tuple.src.ip(), now);
        if let Some(none) = &dial.no_endpoint {
            trace.steps.push(step(
                node,
                Direction::Original,
                StepKind::Proxy,
                received,
                received,
                "NO ENDPOINTS",
                none.explanation.clone(),
            ));
            trace.outcome.delivered_to = None;
            trace.outcome.dropped = true;
            trace.outcome.reason = Some(format!(
                "kube-proxy has no endpoint for {} and closes the client's connection",
                proxy.service_port
            ));
            return;
        }
        trace.outcome.delivered_to = None;
        for attempt in &dial.attempts {
            let sport = self.env.rng.range_u16(32768, 60999);
            // connect() from the node takes the address of the route's interface: the bridge's
            // gateway toward a pod on this node, the node's own address otherwise.
            let source_ip = match self.cluster.node(node) {
                Some(this) if this.pod_cidr.contains(*attempt.choice.endpoint.ip()) => {
                    this.pod_cidr.nth(1).unwrap_or(this.ip)
                }
                _ => node_host.ip(),
            };
            let from = SocketAddrV4::new(source_ip, sport);
            let syn = self.make_packet(from, attempt.choice.endpoint, proto, TcpFlags::Syn, 7000, 0);
            trace.steps.push(step(
                node,
                Direction::Original,
                StepKind::Proxy,
                &syn,
                &syn,
                &format!("DIAL {}", attempt.choice.endpoint),
                attempt.explanation.clone(),
            ));
            let Some((pod, arrived)) = self.walk(trace, node_host.clone(), syn, Direction::Original) else { continue };
            let Ok(arrived_tuple) = arrived.tuple() else { continue };
            match attempt.result {
                crate::kubeproxy::userspace::DialResult::Connected => {
                    let answer =
                        self.make_packet(arrived_tuple.dst, arrived_tuple.src, proto, TcpFlags::SynAck, 9000, 7001);
                    self.walk(trace, pod.clone(), answer, Direction::Reply);
                    let note = Text::new(
                        format!(
                            "kube-proxy now relays between the two connections: {} ⇄ kube-proxy ⇄ {}. {} sees the connection coming from {}, the node — the client's address {} is hidden.",
                            client.label(),
                            pod.label(),
                            pod.label(),
                            arrived_tuple.src.ip(),
                            tuple.src.ip()
                        ),
                        format!(
                            "kube-proxy 在两条连接之间转发：{} ⇄ kube-proxy ⇄ {}。{} 看到的连接来自 {}（节点）——客户端地址 {} 被隐藏了。",
                            client.label(),
                            pod.label(),
                            pod.label(),
                            arrived_tuple.src.ip(),
                            tuple.src.ip()
                        ),
                    );
                    trace.steps.push(step(
                        node,
                        Direction::Reply,
                        StepKind::Proxy,
                        &arrived,
                        &arrived,
                        "RELAYING",
                        note,
                    ));
                    trace.outcome.delivered_to = Some(pod.label());
                    trace.outcome.dropped = false;
                    trace.outcome.reason = None;
                    return;
                }
                crate::kubeproxy::userspace::DialResult::Refused => {
                    let rst = self.make_packet(arrived_tuple.dst, arrived_tuple.src, proto, TcpFlags::RstAck, 0, 7001);
                    let note = Text::new(
                        format!(
                            "Nothing listens on {} in {}: its kernel answers with a RST. kube-proxy's dial fails, and it tries the next endpoint — a retry iptables mode cannot do.",
                            arrived_tuple.dst,
                            pod.label()
                        ),
                        format!(
                            "{} 中没有进程监听 {}：它的内核回复 RST。kube-proxy 拨号失败，于是尝试下一个端点——这是 iptables 模式做不到的重试。",
                            pod.label(),
                            arrived_tuple.dst
                        ),
                    );
                    trace.steps.push(step(pod.name(), Direction::Reply, StepKind::Send, &rst, &rst, "RST", note));
                    self.walk_quiet(trace, pod.clone(), rst);
                }
                crate::kubeproxy::userspace::DialResult::TimedOut => {
                    let note = Text::new(
                        format!(
                            "{} does not answer. After {} ms kube-proxy gives up on it and tries the next endpoint.",
                            pod.label(),
                            attempt.timeout_ms
                        ),
                        format!(
                            "{} 没有应答。{} 毫秒后 kube-proxy 放弃它，尝试下一个端点。",
                            pod.label(),
                            attempt.timeout_ms
                        ),
                    );
                    trace.steps.push(step(
                        pod.name(),
                        Direction::Reply,
                        StepKind::Drop,
                        &arrived,
                        &arrived,
                        "NO ANSWER",
                        note,
                    ));
                }
            }
        }
        trace.outcome.dropped = true;
        trace.outcome.reason = Some(format!(
            "every dial kube-proxy tried for {} failed; it closes the client's connection",
            proxy.service_port
        ));
    }

    /// Walks a packet back without its sending step (used for a RST whose sending was narrated).
    pub(super) fn walk_quiet(&mut self, trace: &mut Trace, sender: Host, packet: Packet) {
        let start = trace.steps.len();
        self.walk(trace, sender, packet, Direction::Reply);
        // The walk begins with a send step; the caller already narrated it.
        if trace.steps.get(start).is_some_and(|step| step.kind == StepKind::Send) {
            trace.steps.remove(start);
        }
    }
}
