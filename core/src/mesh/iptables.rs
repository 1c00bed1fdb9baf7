//! The pod's nat table as `istio-iptables` writes it in its default REDIRECT mode.
//!
//! `Capture` is istio-iptables' configuration, kept to what the traffic annotations can change
//! (tools/istio-iptables/pkg/config `Config`); `build` appends the rules in the order
//! `IptablesConfigurator.Run` does (istio/istio@86c9f01, tools/istio-iptables/pkg/capture/run.go)
//! into a typed `netfilter::Ruleset`, so the iptables-save renderer prints it and the rule-walking
//! engine walks it. TPROXY interception, DNS capture, owner groups and virtual interfaces are not
//! modelled; their defaults (off, `*`, none) write nothing here.

use std::net::Ipv4Addr;

use crate::net::{Ipv4Net, Proto};
use crate::netfilter::{Match, Neg, Rule, Ruleset, TableName, Target};

/// Chain names (tools/istio-iptables/pkg/constants/constants.go).
pub const ISTIO_INBOUND: &str = "ISTIO_INBOUND";
pub const ISTIO_IN_REDIRECT: &str = "ISTIO_IN_REDIRECT";
pub const ISTIO_OUTPUT: &str = "ISTIO_OUTPUT";
pub const ISTIO_REDIRECT: &str = "ISTIO_REDIRECT";

/// The source address Envoy uses for inbound connections to the app (`127.0.0.6`,
/// constants.go `InboundPassthroughBindIpv4`), which ISTIO_OUTPUT lets through.
pub const INBOUND_PASSTHROUGH: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 6);

/// A list that may be the wildcard `*` (istio-iptables' `-b` and `-i`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrAll<T> {
    All,
    /// An explicit list; empty means nothing.
    Only(Vec<T>),
}

/// istio-iptables' configuration, as far as REDIRECT mode and the annotations reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// `-p`: Envoy's outbound listener (15001).
    pub proxy_port: u16,
    /// `-z`: Envoy's inbound listener (15006).
    pub inbound_capture_port: u16,
    /// `-e`: the HBONE tunnel port, never captured (15008).
    pub inbound_tunnel_port: u16,
    /// `-u` and `-g`: Envoy's user and group (1337).
    pub proxy_uid: u32,
    pub proxy_gid: u32,
    /// `-b`: inbound ports captured; `*` captures all but `inbound_ports_exclude`.
    pub inbound_ports_include: OrAll<u16>,
    /// `-d`: inbound ports left alone; read only with `-b *` (run.go `handleInboundPortsInclude`).
    pub inbound_ports_exclude: Vec<u16>,
    /// `-i`: outbound destinations redirected to Envoy.
    pub outbound_ip_ranges_include: OrAll<Ipv4Net>,
    /// `-x`: outbound destinations never redirected.
    pub outbound_ip_ranges_exclude: Vec<Ipv4Net>,
    /// `-q`: outbound TCP ports redirected whatever the destination.
    pub outbound_ports_include: Vec<u16>,
    /// `-o`: outbound ports never redirected (TCP and UDP).
    pub outbound_ports_exclude: Vec<u16>,
    /// `ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR`, 127.0.0.1/32 by default.
    pub host_ipv4_loopback_cidr: Ipv4Net,
}

impl Default for Capture {
    /// istio-iptables' own defaults with nothing included (the upstream unit tests' base).
    fn default() -> Capture {
        Capture {
            proxy_port: 15001,
            inbound_capture_port: 15006,
            inbound_tunnel_port: 15008,
            proxy_uid: 1337,
            proxy_gid: 1337,
            inbound_ports_include: OrAll::Only(Vec::new()),
            inbound_ports_exclude: Vec::new(),
            outbound_ip_ranges_include: OrAll::Only(Vec::new()),
            outbound_ip_ranges_exclude: Vec::new(),
            outbound_ports_include: Vec::new(),
            outbound_ports_exclude: Vec::new(),
            host_ipv4_loopback_cidr: Ipv4Net::host(Ipv4Addr::LOCALHOST),
        }
    }
}

fn tcp_dport(port: u16) -> Rule {
    Rule::new().port_match(Proto::Tcp, Some(port))
}

/// `-m owner [!] --uid-owner` or `--gid-owner`, by id and negation.
type OwnerMatch = fn(u32, bool) -> Match;

fn owner_uid(uid: u32, negated: bool) -> Match {
    Match::Owner { uid: Some(Neg { negated, value: uid }), gid: None }
}

fn owner_gid(gid: u32, negated: bool) -> Match {
    Match::Owner { uid: None, gid: Some(Neg { negated, value: gid }) }
}

/// The network as iptables keeps it: the address masked by the prefix.
fn masked(net: Ipv4Net) -> Ipv4Net {
    Ipv4Net::new(net.network(), net.prefix).unwrap_or(net)
}

/// The nat table istio-iptables writes for `capture`, in run.go's order.
pub fn build(capture: &Capture) -> Ruleset {
    let mut ruleset = Ruleset::default();
    let nat = ruleset.table_mut(TableName::Nat);
    let mut append = |chain: &str, rule: Rule| nat.chain_mut(chain).rules.push(rule);
    let redirect = |port: u16| Rule::new().proto(Proto::Tcp).target(Target::Redirect { port });
    let loopback = masked(capture.host_ipv4_loopback_cidr);

    // run.go `Run`: the tunnel port is never captured; the two REDIRECT chains.
    append(ISTIO_INBOUND, tcp_dport(capture.inbound_tunnel_port).target(Target::Return));
    append(ISTIO_REDIRECT, redirect(capture.proxy_port));
    append(ISTIO_IN_REDIRECT, redirect(capture.inbound_capture_port));

    // `handleInboundPortsInclude`: PREROUTING sends TCP to ISTIO_INBOUND only when some port is
    // captured; with `*` the excluded ports return first, otherwise each listed port is captured.
    let capture_inbound = match &capture.inbound_ports_include {
        OrAll::All => true,
        OrAll::Only(ports) => !ports.is_empty(),
    };
    if capture_inbound {
        append("PREROUTING", Rule::new().proto(Proto::Tcp).jump(ISTIO_INBOUND));
        match &capture.inbound_ports_include {
            OrAll::All => {
                for port in &capture.inbound_ports_exclude {
                    append(ISTIO_INBOUND, tcp_dport(*port).target(Target::Return));
                }
                append(ISTIO_INBOUND, Rule::new().proto(Proto::Tcp).jump(ISTIO_IN_REDIRECT));
            }
            OrAll::Only(ports) => {
                for port in ports {
                    append(ISTIO_INBOUND, tcp_dport(*port).jump(ISTIO_IN_REDIRECT));
                }
            }
        }
    }

    append("OUTPUT", Rule::new().jump(ISTIO_OUTPUT));
    for port in &capture.outbound_ports_exclude {
        append(ISTIO_OUTPUT, tcp_dport(*port).target(Target::Return));
        append(ISTIO_OUTPUT, Rule::new().port_match(Proto::Udp, Some(*port)).target(Target::Return));
    }
    // Envoy's inbound connections to the app, from 127.0.0.6 over lo, are left alone.
    let mut passthrough = Rule::new().src(Ipv4Net::host(INBOUND_PASSTHROUGH));
    passthrough.out_iface = Some(Neg::is("lo".to_string()));
    append(ISTIO_OUTPUT, passthrough.target(Target::Return));

    // Loopback covered by an included range keeps app → app over lo captured (run.go: "If
    // loopback explicitly set via OutboundIPRangesInclude, then don't return").
    let include_has_loopback = match &capture.outbound_ip_ranges_include {
        OrAll::All => false,
        OrAll::Only(nets) => nets.iter().any(|net| net.addr.is_loopback()),
    };
    let owners: [(u32, OwnerMatch); 2] = [(capture.proxy_uid, owner_uid), (capture.proxy_gid, owner_gid)];
    for (id, owner) in owners {
        // Envoy talking to its own pod's address over lo goes to the inbound listener.
        let mut self_call = Rule::new().proto(Proto::Tcp);
        self_call.dst = Some(Neg::not(loopback));
        self_call.out_iface = Some(Neg::is("lo".to_string()));
        self_call.matches.push(Match::Ports {
            proto: Proto::Tcp,
            sport: None,
            dport: Some(Neg::not(capture.inbound_tunnel_port)),
        });
        append(ISTIO_OUTPUT, self_call.with(owner(id, false)).jump(ISTIO_IN_REDIRECT));
        if !include_has_loopback {
            let mut app_over_lo = Rule::new().with(owner(id, true));
            app_over_lo.out_iface = Some(Neg::is("lo".to_string()));
            append(ISTIO_OUTPUT, app_over_lo.target(Target::Return));
        }
        append(ISTIO_OUTPUT, Rule::new().with(owner(id, false)).target(Target::Return));
    }

    append(ISTIO_OUTPUT, Rule::new().dst(loopback).target(Target::Return));
    for net in &capture.outbound_ip_ranges_exclude {
        append(ISTIO_OUTPUT, Rule::new().dst(masked(*net)).target(Target::Return));
    }
    // `handleOutboundPortsInclude`, then `handleOutboundIncludeRules`.
    for port in &capture.outbound_ports_include {
        append(ISTIO_OUTPUT, tcp_dport(*port).jump(ISTIO_REDIRECT));
    }
    match &capture.outbound_ip_ranges_include {
        OrAll::All => append(ISTIO_OUTPUT, Rule::new().jump(ISTIO_REDIRECT)),
        OrAll::Only(nets) => {
            for net in nets {
                append(ISTIO_OUTPUT, Rule::new().dst(masked(*net)).jump(ISTIO_REDIRECT));
            }
        }
    }
    ruleset
}

/// The ruleset as `iptables-save` prints it.
pub fn save_text(ruleset: &Ruleset) -> String {
    let mut out = String::new();
    for line in crate::netfilter::render::iptables_save(ruleset) {
        out.push_str(&line.text);
        out.push('\n');
    }
    out
}

/// Where a packet leaves the pod's nat table: the rule path (`CHAIN#index` of each matched rule,
/// 0-based, and the verdict), and the REDIRECT port if one fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    pub path: Vec<String>,
    /// Each matched rule as iptables-save prints it, or `CHAIN policy` where a built-in chain
    /// ended: what the kernel's trace (`xtables-monitor --trace`) lists for the same packet.
    pub rules: Vec<String>,
    pub redirect_to: Option<u16>,
}

/// Walks a packet through the pod's nat table at `hook` with the crate's rule-walking engine:
/// `pod_ip` is the pod's own address (where REDIRECT at PREROUTING sends a packet), `owner`
/// the sending socket's uid/gid (for OUTPUT), `out_iface` the interface it leaves by.
pub fn walk(
    ruleset: &Ruleset,
    pod_ip: Ipv4Addr,
    hook: crate::dataplane::Hook,
    tuple: crate::packet::Tuple,
    owner: Option<(u32, u32)>,
    out_iface: Option<&str>,
) -> Walked {
    use crate::dataplane::{Env, Meta, NatTarget, Verdict};
    let meta = Meta { tuple, mark: 0, ct_states: Vec::new(), local_addrs: vec![pod_ip] };
    let mut env = Env::new(0, 0);
    env.owner = owner;
    env.out_iface = out_iface.map(str::to_string);
    let outcome = crate::netfilter::eval::traverse(ruleset, TableName::Nat, hook, &meta, &mut env);
    let path = outcome
        .events
        .iter()
        .map(|event| match &event.rule {
            Some((at, _)) => format!("{}#{} {}", at.chain, at.index, event.verdict),
            None => format!("{} {}", event.chain, event.verdict),
        })
        .collect();
    let rules = outcome
        .events
        .iter()
        .map(|event| match &event.rule {
            Some((_, text)) => text.clone(),
            None => format!("{} policy", event.chain),
        })
        .collect();
    let redirect_to = match outcome.verdict {
        Verdict::Nat(NatTarget::Dnat { port, .. }) => port,
        _ => None,
    };
    Walked { path, rules, redirect_to }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::Hook;
    use crate::packet::{Tuple, TupleProto};
    use std::net::SocketAddrV4;

    fn tuple(src: &str, dst: &str) -> Tuple {
        Tuple {
            src: src.parse().expect("addr"),
            dst: dst.parse::<SocketAddrV4>().expect("addr"),
            proto: TupleProto::Tcp,
        }
    }

    /// An injected pod's default table (istio-init with the chart's defaults).
    fn injected() -> Ruleset {
        build(&Capture {
            inbound_ports_include: OrAll::All,
            inbound_ports_exclude: vec![15090, 15021, 15020],
            outbound_ip_ranges_include: OrAll::All,
            ..Capture::default()
        })
    }

    fn check(hook: Hook, t: Tuple, owner: Option<(u32, u32)>, iface: Option<&str>, expect: (&[&str], Option<u16>)) {
        let got = walk(&injected(), Ipv4Addr::new(10, 244, 1, 2), hook, t, owner, iface);
        assert_eq!(got.path, expect.0, "{got:?}");
        assert_eq!(got.redirect_to, expect.1);
    }

    #[test]
    fn outbound_from_the_app_goes_to_15001() {
        check(
            Hook::Output,
            tuple("10.244.1.2:40000", "10.96.0.10:80"),
            Some((1000, 1000)),
            Some("eth0"),
            (
                &["OUTPUT#0 JUMP:ISTIO_OUTPUT", "ISTIO_OUTPUT#8 JUMP:ISTIO_REDIRECT", "ISTIO_REDIRECT#0 REDIRECT"],
                Some(15001),
            ),
        );
    }

    /// Without a socket (a packet the kernel itself sends) `--uid-owner` never holds and
    /// `! --uid-owner` always does (xt_owner.c): over eth0 it is redirected like the app's.
    #[test]
    fn a_packet_without_a_socket_meets_owner_matches_as_xt_owner_says() {
        check(
            Hook::Output,
            tuple("10.244.1.2:40000", "10.96.0.10:80"),
            None,
            Some("eth0"),
            (
                &["OUTPUT#0 JUMP:ISTIO_OUTPUT", "ISTIO_OUTPUT#8 JUMP:ISTIO_REDIRECT", "ISTIO_REDIRECT#0 REDIRECT"],
                Some(15001),
            ),
        );
        check(
            Hook::Output,
            tuple("10.244.1.2:40000", "10.244.1.2:8080"),
            None,
            Some("lo"),
            (&["OUTPUT#0 JUMP:ISTIO_OUTPUT", "ISTIO_OUTPUT#2 RETURN", "OUTPUT ACCEPT"], None),
        );
    }

    #[test]
    fn envoy_itself_is_not_redirected() {
        check(
            Hook::Output,
            tuple("10.244.1.2:40000", "10.244.2.3:8080"),
            Some((1337, 1337)),
            Some("eth0"),
            (&["OUTPUT#0 JUMP:ISTIO_OUTPUT", "ISTIO_OUTPUT#3 RETURN", "OUTPUT ACCEPT"], None),
        );
    }

    #[test]
    fn envoy_to_the_app_from_127_0_0_6_is_let_through() {
        check(
            Hook::Output,
            tuple("127.0.0.6:40000", "10.244.1.2:8080"),
            Some((1337, 1337)),
            Some("lo"),
            (&["OUTPUT#0 JUMP:ISTIO_OUTPUT", "ISTIO_OUTPUT#0 RETURN", "OUTPUT ACCEPT"], None),
        );
    }

    #[test]
    fn inbound_goes_to_15006_except_istio_ports() {
        check(
            Hook::Prerouting,
            tuple("10.244.2.3:50000", "10.244.1.2:8080"),
            None,
            None,
            (
                &[
                    "PREROUTING#0 JUMP:ISTIO_INBOUND",
                    "ISTIO_INBOUND#4 JUMP:ISTIO_IN_REDIRECT",
                    "ISTIO_IN_REDIRECT#0 REDIRECT",
                ],
                Some(15006),
            ),
        );
        check(
            Hook::Prerouting,
            tuple("10.244.2.3:50000", "10.244.1.2:15021"),
            None,
            None,
            (&["PREROUTING#0 JUMP:ISTIO_INBOUND", "ISTIO_INBOUND#2 RETURN", "PREROUTING ACCEPT"], None),
        );
    }
}
