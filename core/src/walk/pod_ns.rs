//! An injected pod's own network namespace: the nat table istio-init wrote there, and the
//! conntrack of that namespace, which remembers each REDIRECT.
//!
//! A pod without a sidecar has no rules of its own (lbplay models none), so its packets go
//! straight to its node over the veth. In an injected pod every new connection meets the pod's
//! nat table first, as the kernel runs it (net/ipv4/ip_output.c, ip_input.c): a packet the pod
//! sends meets nat OUTPUT (where `-m owner` sees the sending socket's uid, the app's or Envoy's
//! 1337) and nat POSTROUTING; a packet that arrives meets nat PREROUTING and, once delivered,
//! nat INPUT. REDIRECT at OUTPUT sends the connection to 127.0.0.1 (the sidecar's 15001), at
//! PREROUTING to the pod's own address (15006) (nf_nat_redirect.c). Only a connection's first
//! packet meets the nat table; the rest get the REDIRECT conntrack stored, and replies have it
//! undone, so the app sees the address it called. A destination that is the pod's own (127/8,
//! its Pod IP) never leaves the pod.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::{InFlight, Next, Sim, step};
use crate::dataplane::{Env, Hook, Meta, NatTarget, Verdict};
use crate::netfilter::TableName;
use crate::packet::{Tuple, TupleProto};
use crate::trace::{Direction, StepKind, Text, Trace};

/// The uid lbplay gives an app's process (anything but Envoy's 1337 is the same to the rules).
pub(crate) const APP_UID: u32 = 1000;
/// Envoy's uid and gid (istio-iptables `-u`/`-g`).
pub(crate) const PROXY_UID: u32 = 1337;

/// A REDIRECT the pod's conntrack remembers: the connection as its first packet left (or came
/// in), and as REDIRECT rewrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PodNat {
    pod: String,
    original: Tuple,
    rewritten: Tuple,
}

/// Whether `ip` is the pod's own: loopback or its Pod IP.
fn local(pod_ip: Ipv4Addr, ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip == pod_ip
}

impl<'a> Sim<'a> {
    /// The pod's nat table, when `pod` has a sidecar.
    fn sidecar_rules(&self, pod: &str) -> Option<(std::sync::Arc<crate::mesh::Mesh>, Ipv4Addr)> {
        let mesh = self.cluster.mesh.clone()?;
        mesh.sidecar(pod)?;
        let ip = self.cluster.pod(pod)?.ip;
        Some((mesh, ip))
    }

    /// A packet an injected pod sends: its conntrack, its nat OUTPUT and POSTROUTING for a new
    /// connection. `None` when the pod has no sidecar (the packet goes to the node untouched).
    pub(super) fn pod_output(
        &mut self,
        trace: &mut Trace,
        pod: &str,
        direction: Direction,
        flight: &mut InFlight,
    ) -> Option<Next> {
        let (mesh, pod_ip) = self.sidecar_rules(pod)?;
        let tuple = flight.tuple();
        let node = pod_host_node(self, pod);
        let leaves = |flight: &InFlight| {
            if local(pod_ip, *flight.tuple().dst.ip()) { Next::Local } else { Next::To(node.clone()) }
        };
        // A reply on a redirected connection: conntrack puts the called address back.
        if let Some(entry) = self.pod_nat.iter().find(|e| e.pod == pod && e.rewritten.reversed() == tuple).cloned() {
            let before = flight.packet().clone();
            flight.set_src(entry.original.dst).ok()?;
            let note = Text::new(
                format!(
                    "conntrack in {pod}'s network namespace knows this reply's connection: REDIRECT sent it to {}, so the source becomes {} again, the address the connection was opened to.",
                    entry.rewritten.dst, entry.original.dst
                ),
                format!(
                    "{pod} 网络命名空间里的 conntrack 认得这个应答所属的连接：REDIRECT 曾把它送到 {}，于是源地址改回 {}，即连接当初要去的地址。",
                    entry.rewritten.dst, entry.original.dst
                ),
            );
            let mut s = step(pod, direction, StepKind::Conntrack, &before, flight.packet(), "UN-REDIRECT", note);
            s.hook = Some("OUTPUT");
            trace.steps.push(s);
            return Some(leaves(flight));
        }
        // A later packet of a redirected connection: conntrack applies the stored REDIRECT.
        if let Some(entry) = self.pod_nat.iter().find(|e| e.pod == pod && e.original == tuple).cloned() {
            self.stored_redirect(trace, pod, direction, flight, &entry, "OUTPUT")?;
            return Some(leaves(flight));
        }
        if !first_packet(flight) {
            return Some(leaves(flight));
        }
        let rules = mesh.sidecar(pod)?;
        let out_iface = if local(pod_ip, *tuple.dst.ip()) { "lo" } else { "eth0" };
        let owner = self.socket_owner;
        let redirect = self.pod_hook(trace, pod, direction, flight, rules, Hook::Output, Some(owner), Some(out_iface));
        if let Some(rewritten) = redirect {
            self.pod_nat.push(PodNat { pod: pod.to_string(), original: tuple, rewritten });
        }
        self.pod_hook(trace, pod, direction, flight, rules, Hook::Postrouting, Some(owner), Some(out_iface));
        Some(leaves(flight))
    }

    /// A packet delivered to an injected pod from outside: nat PREROUTING (and INPUT) for a new
    /// connection, the stored REDIRECT for a later packet.
    pub(super) fn pod_input(&mut self, trace: &mut Trace, pod: &str, direction: Direction, flight: &mut InFlight) {
        let Some((mesh, _)) = self.sidecar_rules(pod) else { return };
        let tuple = flight.tuple();
        if let Some(entry) = self.pod_nat.iter().find(|e| e.pod == pod && e.original == tuple).cloned() {
            self.stored_redirect(trace, pod, direction, flight, &entry, "PREROUTING");
            return;
        }
        if !first_packet(flight) {
            return;
        }
        let Some(rules) = mesh.sidecar(pod) else { return };
        if let Some(rewritten) = self.pod_hook(trace, pod, direction, flight, rules, Hook::Prerouting, None, None) {
            self.pod_nat.push(PodNat { pod: pod.to_string(), original: tuple, rewritten });
        }
        self.pod_hook(trace, pod, direction, flight, rules, Hook::Input, None, None);
    }

    /// The connection `rewritten` was before a REDIRECT in `pod`'s namespace.
    pub(super) fn pod_nat_original(&self, pod: &str, rewritten: Tuple) -> Option<Tuple> {
        self.pod_nat.iter().find(|e| e.pod == pod && e.rewritten == rewritten).map(|e| e.original)
    }

    /// The stored REDIRECT of `entry` applied to a later packet of its connection.
    fn stored_redirect(
        &mut self,
        trace: &mut Trace,
        pod: &str,
        direction: Direction,
        flight: &mut InFlight,
        entry: &PodNat,
        hook: &'static str,
    ) -> Option<()> {
        let before = flight.packet().clone();
        flight.set_dst(entry.rewritten.dst).ok()?;
        let note = Text::new(
            format!(
                "This packet belongs to a connection {pod}'s conntrack already redirected: the stored REDIRECT sends it to {} as well; the nat table is not consulted again.",
                entry.rewritten.dst
            ),
            format!(
                "这个包属于 {pod} 的 conntrack 已经重定向过的连接：存储的 REDIRECT 同样把它送往 {}；不再查询 nat 表。",
                entry.rewritten.dst
            ),
        );
        let mut s = step(pod, direction, StepKind::Conntrack, &before, flight.packet(), "REDIRECT (stored)", note);
        s.hook = Some(hook);
        trace.steps.push(s);
        Some(())
    }

    /// The pod's nat table at `hook`: one step per matched rule or policy, the REDIRECT carried
    /// out. Returns the rewritten tuple when a REDIRECT fired.
    #[allow(clippy::too_many_arguments)]
    fn pod_hook(
        &mut self,
        trace: &mut Trace,
        pod: &str,
        direction: Direction,
        flight: &mut InFlight,
        rules: &crate::netfilter::Ruleset,
        hook: Hook,
        owner: Option<(u32, u32)>,
        out_iface: Option<&str>,
    ) -> Option<Tuple> {
        let pod_ip = self.cluster.pod(pod)?.ip;
        let meta = Meta { tuple: flight.tuple(), mark: 0, ct_states: Vec::new(), local_addrs: vec![pod_ip] };
        let mut env = Env::new(0, self.env.now);
        env.owner = owner;
        env.out_iface = out_iface.map(str::to_string);
        env.in_iface_addr = Some(pod_ip);
        let outcome = crate::netfilter::eval::traverse(rules, TableName::Nat, hook, &meta, &mut env);
        let last = outcome.events.len().saturating_sub(1);
        let mut rewritten = None;
        for (index, event) in outcome.events.into_iter().enumerate() {
            let before = flight.packet().clone();
            if index == last
                && let Verdict::Nat(NatTarget::Dnat { ip, port: Some(port) }) = outcome.verdict
            {
                flight.set_dst(SocketAddrV4::new(ip, port)).ok()?;
                rewritten = Some(flight.tuple());
            }
            let note = istio_note(pod, hook, &event.chain, &event.verdict, event.rule.is_none(), owner, flight);
            let mut s = step(pod, direction, StepKind::Netfilter, &before, flight.packet(), &event.verdict, note);
            s.hook = Some(hook.as_str());
            s.table = Some("nat");
            s.chain = Some(event.chain);
            s.skipped = event.skipped.len() as u32;
            s.skipped_rules = event.skipped;
            // The rule as iptables-save prints it, and where it sits in the pod's own table
            // (`netfilter::render::iptables_save` of `Mesh::sidecar`, which the page shows).
            if let Some((at, text)) = event.rule {
                s.rule = Some(text);
                s.rule_at = Some(at);
            }
            trace.steps.push(s);
        }
        rewritten
    }
}

/// A connection's first packet: a SYN without ACK (the nat table sees only those).
fn first_packet(flight: &InFlight) -> bool {
    flight.tuple().proto != TupleProto::Tcp || flight.packet().tcp_flags().is_some_and(|flags| flags == "S")
}

/// The node an injected pod's packets leave for.
fn pod_host_node(sim: &Sim, pod: &str) -> super::Host {
    match sim.cluster.pod(pod).and_then(|p| sim.cluster.node(&p.node)) {
        Some(node) => super::Host::Node { name: node.name.clone(), ip: node.ip },
        None => super::Host::Node { name: String::new(), ip: Ipv4Addr::UNSPECIFIED },
    }
}

/// The sentence of one matched Istio rule or policy.
fn istio_note(
    pod: &str,
    hook: Hook,
    chain: &str,
    verdict: &str,
    policy: bool,
    owner: Option<(u32, u32)>,
    flight: &InFlight,
) -> Text {
    let who = match owner {
        Some((uid, _)) if uid == PROXY_UID => "Envoy (uid 1337)".to_string(),
        Some((uid, _)) => format!("the app (uid {uid})"),
        None => "a packet from outside the pod".to_string(),
    };
    let dst = flight.tuple().dst;
    let (en, zh) = match (chain, verdict) {
        (_, "REDIRECT") if hook == Hook::Output => (
            format!(
                "istio-init's ISTIO_REDIRECT sends the app's connection to Envoy: REDIRECT to {dst}, the sidecar's outbound listener. conntrack in the pod keeps the address the app called."
            ),
            format!(
                "istio-init 写的 ISTIO_REDIRECT 把应用的连接交给 Envoy：REDIRECT 到 {dst}，即边车的出站监听器。Pod 里的 conntrack 记住应用要访问的地址。"
            ),
        ),
        (_, "REDIRECT") => (
            format!("ISTIO_IN_REDIRECT sends the incoming connection to Envoy's inbound listener: REDIRECT to {dst}."),
            format!("ISTIO_IN_REDIRECT 把进入的连接交给 Envoy 的入站监听器：REDIRECT 到 {dst}。"),
        ),
        ("ISTIO_OUTPUT", "RETURN") if owner.is_some_and(|(uid, _)| uid == PROXY_UID) => (
            format!(
                "{who} sent this: the owner match (`-m owner --uid-owner 1337`, or the 127.0.0.6 source) returns it, so Envoy's own connection is not redirected back to Envoy."
            ),
            format!(
                "这是 {who} 发出的：属主匹配（`-m owner --uid-owner 1337`，或源地址 127.0.0.6）让它返回，所以 Envoy 自己的连接不会再被重定向回 Envoy。"
            ),
        ),
        (_, "RETURN") => (
            format!("{chain} returns: this rule leaves the packet alone."),
            format!("{chain} 返回：这条规则不处理该包。"),
        ),
        (_, v) if v.starts_with("JUMP:") => (
            format!("In {pod}'s own network namespace, nat {} sends {who}'s packet to {}.", hook.as_str(), &v[5..]),
            format!("在 {pod} 自己的网络命名空间里，nat {} 把 {who} 的包送进 {}。", hook.as_str(), &v[5..]),
        ),
        _ if policy => (
            format!("nat {} in {pod} ends with its policy, {verdict}.", hook.as_str()),
            format!("{pod} 的 nat {} 以默认策略 {verdict} 结束。", hook.as_str()),
        ),
        _ => (format!("{chain}: {verdict}."), format!("{chain}：{verdict}。")),
    };
    Text::new(en, zh)
}
