//! kube-proxy's userspace mode: the rules and sockets of a node, the round robin over a shuffled
//! list, ClientIP affinity, the dial loop's retry on a dead endpoint, and REDIRECT in the rules'
//! evaluation.
//!
//! The scenario is `data/userspace/retry.yaml`: `default/web` has three endpoints, of which
//! web-b (10.244.2.7) carries `lbplay.dev/down: refuse`; `default/dns` is UDP with ClientIP
//! affinity (60 s). Expected choice sequences are derived by hand from roundrobin.go's
//! `NextEndpoint` (take `endpoints[index]`, then `index = (index + 1) % len`) over the shuffled
//! list the test prints first.

use std::net::{Ipv4Addr, SocketAddrV4};

use expect_test::{Expect, expect};
use lbplay_core::dataplane::{CtState, Env, Hook, Meta, NatTarget, Verdict};
use lbplay_core::kubeproxy::userspace::{self, Balancer, DialResult, Health};
use lbplay_core::kubeproxy::{self};
use lbplay_core::model::{Cluster, ProxyMode};
use lbplay_core::netfilter::eval;
use lbplay_core::netfilter::{Rule, Ruleset, Table, TableName, Target};
use lbplay_core::packet::{Tuple, TupleProto};
use lbplay_core::scenario::{self, Source};

const RETRY: &str = include_str!("data/userspace/retry.yaml");

fn cluster() -> Cluster {
    let sources = [Source { name: "retry.yaml", text: RETRY }];
    scenario::load(&sources).unwrap_or_else(|problems| panic!("{problems:?}")).cluster
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn sa(text: &str) -> SocketAddrV4 {
    text.parse().unwrap()
}

#[test]
fn rules_of_node_1() {
    let text = kubeproxy::rules_text(&cluster(), "node-1", ProxyMode::Userspace).unwrap();
    expect![[r#"
        # kube-proxy --proxy-mode=userspace: removed in Kubernetes v1.26 (the last release with it was v1.25); lbplay shows what v1.25's pkg/proxy/userspace left on the node.

        # kube-proxy's sockets (--bind-address 0.0.0.0; each proxy port is a free port of 32768–60999 that lbplay picks from a hash of the service port's name):
        # kube-proxy listens on 0.0.0.0:51248 for default/dns:dns (UDP)
        # kube-proxy listens on 0.0.0.0:52655 for default/web:http (TCP)
        # kube-proxy holds 0.0.0.0:30080 (TCP) open for default/web:http, unused: iptables sends its traffic to port 52655

        # iptables-save
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :KUBE-NODEPORT-NON-LOCAL - [0:0]
        -A INPUT -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL
        -A KUBE-NODEPORT-NON-LOCAL -p tcp -m comment --comment "default/web:http" -m tcp --dport 52655 -m state --state NEW -j ACCEPT
        COMMIT
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :KUBE-NODEPORT-CONTAINER - [0:0]
        :KUBE-NODEPORT-HOST - [0:0]
        :KUBE-PORTALS-CONTAINER - [0:0]
        :KUBE-PORTALS-HOST - [0:0]
        -A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER
        -A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-CONTAINER
        -A OUTPUT -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-HOST
        -A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-HOST
        -A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j REDIRECT --to-ports 52655
        -A KUBE-NODEPORT-HOST -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j DNAT --to-destination 192.168.1.10:52655
        -A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p udp -m comment --comment "default/dns:dns" -m udp --dport 53 -j REDIRECT --to-ports 51248
        -A KUBE-PORTALS-CONTAINER -d 10.96.100.10/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j REDIRECT --to-ports 52655
        -A KUBE-PORTALS-CONTAINER -d 203.0.113.10/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -m physdev ! --physdev-is-in -j REDIRECT --to-ports 52655
        -A KUBE-PORTALS-CONTAINER -d 203.0.113.10/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -m addrtype --dst-type LOCAL -j REDIRECT --to-ports 52655
        -A KUBE-PORTALS-CONTAINER -d 198.51.100.7/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j REDIRECT --to-ports 52655
        -A KUBE-PORTALS-HOST -d 10.96.0.10/32 -p udp -m comment --comment "default/dns:dns" -m udp --dport 53 -j DNAT --to-destination 192.168.1.10:51248
        -A KUBE-PORTALS-HOST -d 10.96.100.10/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j DNAT --to-destination 192.168.1.10:52655
        -A KUBE-PORTALS-HOST -d 203.0.113.10/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -m addrtype --dst-type LOCAL -j DNAT --to-destination 192.168.1.10:52655
        -A KUBE-PORTALS-HOST -d 198.51.100.7/32 -p tcp -m comment --comment "default/web:http" -m tcp --dport 80 -j DNAT --to-destination 192.168.1.10:52655
        COMMIT
    "#]]
    .assert_eq(&text);
}

#[test]
fn state_lists_every_service_port_with_its_ready_endpoints() {
    let cluster = cluster();
    let state = userspace::build(&cluster, "node-2").unwrap();
    let mut out = String::new();
    for proxy in &state.proxies {
        let endpoints: Vec<String> = proxy.endpoints.iter().map(|e| e.to_string()).collect();
        out.push_str(&format!(
            "{} {} {}:{} proxy {} node port {:?} affinity {:?} endpoints {}\n",
            proxy.service_port,
            proxy.proto.as_str(),
            proxy.cluster_ip,
            proxy.port,
            proxy.proxy_port,
            proxy.node_port,
            proxy.affinity,
            endpoints.join(" ")
        ));
    }
    out.push_str(&format!("host {}\n", state.host_ip));
    // The proxy ports are the same on every node: they depend only on the service port's name.
    expect![[r#"
        default/dns:dns udp 10.96.0.10:53 proxy 51248 node port None affinity Some(60) endpoints 10.244.1.53:53 10.244.2.53:53
        default/web:http tcp 10.96.100.10:80 proxy 52655 node port Some(30080) affinity None endpoints 10.244.1.5:8080 10.244.2.7:8080 10.244.2.9:8080
        host 192.168.1.11
    "#]]
    .assert_eq(&out);
    assert_eq!(
        state.proxy_at(lbplay_core::net::Proto::Tcp, 52655).map(|p| p.service_port.as_str()),
        Some("default/web:http")
    );
    assert!(state.proxy_at(lbplay_core::net::Proto::Udp, 52655).is_none());
}

#[test]
fn health_comes_from_the_down_label() {
    let mut cluster = cluster();
    let cases = [
        ("10.244.1.5:8080", Health::Answers),
        ("10.244.2.7:8080", Health::Refuses),
        ("10.244.9.9:8080", Health::Answers),
    ];
    for (addr, want) in cases {
        assert_eq!(userspace::health(&cluster, sa(addr)), want, "{addr}");
    }
    let pod = cluster.pods.iter_mut().find(|pod| pod.name == "web-c").unwrap();
    pod.labels.insert(userspace::DOWN_LABEL.into(), "timeout".into());
    assert_eq!(userspace::health(&cluster, sa("10.244.2.9:8080")), Health::Silent);
}

/// Runs `choices` connections from `client` one second apart and prints the shuffled list and
/// each chosen endpoint (`*` when affinity chose it).
fn check_choices(seed: u64, service_port: &str, clients: &[&str], expect: Expect) {
    let cluster = cluster();
    let state = userspace::build(&cluster, "node-1").unwrap();
    let mut balancer = Balancer::new(&state, seed);
    let list: Vec<String> = balancer.endpoints(service_port).unwrap().iter().map(|e| e.to_string()).collect();
    let mut out = format!("list [{}]\n", list.join(", "));
    for (now, client) in clients.iter().enumerate() {
        let choice = balancer.next_endpoint(service_port, ip(client), now as u64).unwrap();
        out.push_str(&format!("{client} -> {}{}\n", choice.endpoint, if choice.by_affinity { " *" } else { "" }));
    }
    expect.assert_eq(&out);
}

#[test]
fn round_robin_walks_the_shuffled_list_in_order() {
    check_choices(
        1,
        "default/web:http",
        &["10.244.1.20", "10.244.1.20", "10.244.1.20", "10.244.1.20", "10.244.1.21"],
        expect![[r#"
            list [10.244.2.9:8080, 10.244.1.5:8080, 10.244.2.7:8080]
            10.244.1.20 -> 10.244.2.9:8080
            10.244.1.20 -> 10.244.1.5:8080
            10.244.1.20 -> 10.244.2.7:8080
            10.244.1.20 -> 10.244.2.9:8080
            10.244.1.21 -> 10.244.1.5:8080
        "#]],
    );
}

#[test]
fn another_seed_shuffles_differently() {
    check_choices(
        7,
        "default/web:http",
        &["10.244.1.20", "10.244.1.20", "10.244.1.20"],
        expect![[r#"
            list [10.244.2.7:8080, 10.244.2.9:8080, 10.244.1.5:8080]
            10.244.1.20 -> 10.244.2.7:8080
            10.244.1.20 -> 10.244.2.9:8080
            10.244.1.20 -> 10.244.1.5:8080
        "#]],
    );
}

#[test]
fn client_ip_affinity_keeps_a_client_and_the_round_robin_still_moves_for_others() {
    check_choices(
        1,
        "default/dns:dns",
        &["10.244.1.20", "10.244.1.20", "10.244.1.21", "10.244.1.20", "10.244.1.21"],
        expect![[r#"
            list [10.244.1.53:53, 10.244.2.53:53]
            10.244.1.20 -> 10.244.1.53:53
            10.244.1.20 -> 10.244.1.53:53 *
            10.244.1.21 -> 10.244.2.53:53
            10.244.1.20 -> 10.244.1.53:53 *
            10.244.1.21 -> 10.244.2.53:53 *
        "#]],
    );
}

#[test]
fn affinity_expires_after_its_timeout_in_whole_seconds() {
    let cluster = cluster();
    let state = userspace::build(&cluster, "node-1").unwrap();
    let client = ip("10.244.1.20");
    // (seconds since the last use, whether affinity still holds): roundrobin.go compares
    // `int(time.Since(lastUsed).Seconds()) < ttlSeconds`, and the timeout here is 60 s.
    for (age, holds) in [(0, true), (59, true), (60, false), (61, false)] {
        let mut balancer = Balancer::new(&state, 1);
        let first = balancer.next_endpoint("default/dns:dns", client, 100).unwrap();
        let again = balancer.next_endpoint("default/dns:dns", client, 100 + age).unwrap();
        assert_eq!(again.by_affinity, holds, "age {age}");
        assert_eq!(again.endpoint == first.endpoint, holds, "age {age}");
    }
}

#[test]
fn choices_explain_themselves_in_both_languages() {
    let cluster = cluster();
    let state = userspace::build(&cluster, "node-1").unwrap();
    let mut balancer = Balancer::new(&state, 1);
    let client = ip("10.244.1.20");
    let first = balancer.next_endpoint("default/dns:dns", client, 0).unwrap();
    let second = balancer.next_endpoint("default/dns:dns", client, 5).unwrap();
    balancer.mark_failed("default/dns:dns", client);
    let third = balancer.next_endpoint("default/dns:dns", client, 6).unwrap();
    let text = [first, second, third]
        .iter()
        .map(|c| format!("{}\n{}\n", c.explanation.en, c.explanation.zh))
        .collect::<String>();
    expect![[r#"
        Round robin: kube-proxy's list for default/dns:dns is [10.244.1.53:53, 10.244.2.53:53] (shuffled once when the endpoints were set); the index is at 0, so it picks 10.244.1.53:53 and moves the index to 1. ClientIP affinity remembers 10.244.1.53:53 for 10.244.1.20 (60 s).
        轮询：kube-proxy 中 default/dns:dns 的端点列表为 [10.244.1.53:53, 10.244.2.53:53]（设置端点时随机打乱过一次）；当前位置为 0，于是选择 10.244.1.53:53，位置移到 1。ClientIP 会话亲和为 10.244.1.20 记下 10.244.1.53:53（60 秒）。
        ClientIP affinity: 10.244.1.20 was sent to 10.244.1.53:53 5 s ago, less than the 60 s timeout, so kube-proxy picks 10.244.1.53:53 again and the round robin does not move.
        ClientIP 会话亲和：10.244.1.20 在 5 秒前被发往 10.244.1.53:53，未超过 60 秒的超时，所以 kube-proxy 再次选择 10.244.1.53:53，轮询位置不变。
        The previous dial failed, so affinity is skipped (sessionAffinityReset). Round robin: kube-proxy's list for default/dns:dns is [10.244.1.53:53, 10.244.2.53:53] (shuffled once when the endpoints were set); the index is at 1, so it picks 10.244.2.53:53 and moves the index to 0. ClientIP affinity remembers 10.244.2.53:53 for 10.244.1.20 (60 s).
        上一次连接失败，因此跳过会话亲和（sessionAffinityReset）。轮询：kube-proxy 中 default/dns:dns 的端点列表为 [10.244.1.53:53, 10.244.2.53:53]（设置端点时随机打乱过一次）；当前位置为 1，于是选择 10.244.2.53:53，位置移到 0。ClientIP 会话亲和为 10.244.1.20 记下 10.244.2.53:53（60 秒）。
    "#]]
    .assert_eq(&text);
}

/// Dials `connections` times from one client, advancing the clock a second each time, and prints
/// each attempt.
fn check_dials(cluster: &Cluster, seed: u64, connections: usize, expect: Expect) {
    let state = userspace::build(cluster, "node-1").unwrap();
    let mut balancer = Balancer::new(&state, seed);
    let mut out = String::new();
    for now in 0..connections {
        let dial = balancer.dial(cluster, "default/web:http", ip("10.244.1.20"), now as u64);
        let attempts: Vec<String> = dial
            .attempts
            .iter()
            .map(|a| {
                let result = match a.result {
                    DialResult::Connected => "ok",
                    DialResult::Refused => "refused",
                    DialResult::TimedOut => "timeout",
                };
                format!("{} {result}", a.choice.endpoint)
            })
            .collect();
        let connected = dial.connected.map(|e| e.to_string()).unwrap_or_else(|| "closed".into());
        out.push_str(&format!("{}: {} => {connected} after {} ms\n", now, attempts.join(", "), dial.elapsed_ms));
    }
    expect.assert_eq(&out);
}

#[test]
fn a_refused_dial_moves_on_to_the_next_endpoint() {
    // The list is [web-c, web-a, web-b] (seed 1); web-b refuses. The third connection meets
    // web-b first, is refused at once and is relayed to web-c instead; the round robin has then
    // moved past both.
    check_dials(
        &cluster(),
        1,
        5,
        expect![[r#"
            0: 10.244.2.9:8080 ok => 10.244.2.9:8080 after 0 ms
            1: 10.244.1.5:8080 ok => 10.244.1.5:8080 after 0 ms
            2: 10.244.2.7:8080 refused, 10.244.2.9:8080 ok => 10.244.2.9:8080 after 0 ms
            3: 10.244.1.5:8080 ok => 10.244.1.5:8080 after 0 ms
            4: 10.244.2.7:8080 refused, 10.244.2.9:8080 ok => 10.244.2.9:8080 after 0 ms
        "#]],
    );
}

#[test]
fn a_silent_endpoint_costs_its_dial_timeout() {
    let mut cluster = cluster();
    for pod in cluster.pods.iter_mut().filter(|pod| pod.name == "web-b") {
        pod.labels.insert(userspace::DOWN_LABEL.into(), "timeout".into());
    }
    check_dials(
        &cluster,
        1,
        3,
        expect![[r#"
            0: 10.244.2.9:8080 ok => 10.244.2.9:8080 after 0 ms
            1: 10.244.1.5:8080 ok => 10.244.1.5:8080 after 0 ms
            2: 10.244.2.7:8080 timeout, 10.244.2.9:8080 ok => 10.244.2.9:8080 after 250 ms
        "#]],
    );
}

#[test]
fn four_failed_dials_close_the_connection() {
    let mut cluster = cluster();
    for pod in cluster.pods.iter_mut().filter(|pod| pod.name.starts_with("web-")) {
        pod.labels.insert(userspace::DOWN_LABEL.into(), "timeout".into());
    }
    // 250 + 500 + 1000 + 2000 ms, and the fourth attempt is the first endpoint again.
    check_dials(
        &cluster,
        1,
        1,
        expect![[r#"
            0: 10.244.2.9:8080 timeout, 10.244.1.5:8080 timeout, 10.244.2.7:8080 timeout, 10.244.2.9:8080 timeout => closed after 3750 ms
        "#]],
    );
}

#[test]
fn a_udp_dial_never_fails_so_it_is_never_retried() {
    let mut cluster = cluster();
    for pod in cluster.pods.iter_mut().filter(|pod| pod.name.starts_with("dns-")) {
        pod.labels.insert(userspace::DOWN_LABEL.into(), "refuse".into());
    }
    let state = userspace::build(&cluster, "node-1").unwrap();
    let mut balancer = Balancer::new(&state, 1);
    let dial = balancer.dial(&cluster, "default/dns:dns", ip("10.244.1.20"), 0);
    assert_eq!(dial.attempts.len(), 1);
    assert_eq!(dial.connected, Some(sa("10.244.1.53:53")));
}

#[test]
fn no_endpoints_closes_the_accepted_connection() {
    let mut cluster = cluster();
    cluster.endpoint_slices.retain(|slice| slice.service != "web");
    let state = userspace::build(&cluster, "node-1").unwrap();
    let mut balancer = Balancer::new(&state, 1);
    let dial = balancer.dial(&cluster, "default/web:http", ip("10.244.1.20"), 0);
    assert!(dial.attempts.is_empty() && dial.connected.is_none());
    let why = dial.no_endpoint.expect("no endpoint").explanation;
    assert!(why.en.contains("closes the connection it has just accepted"), "{}", why.en);
    assert!(balancer.next_endpoint("default/nope:x", ip("10.244.1.20"), 0).is_err());
}

fn meta(src: &str, dst: &str, proto: TupleProto, local: &[&str]) -> Meta {
    Meta {
        tuple: Tuple { src: sa(src), dst: sa(dst), proto },
        mark: 0,
        ct_states: vec![CtState::New],
        local_addrs: local.iter().map(|a| ip(a)).collect(),
    }
}

/// Walks the nat table at `hook` and prints each event and the NAT binding asked for.
fn check_nat(ruleset: &Ruleset, hook: Hook, meta: &Meta, in_iface: Option<&str>, expect: Expect) {
    let mut env = Env::new(1, 0);
    env.in_iface_addr = in_iface.map(ip);
    let outcome = eval::traverse(ruleset, TableName::Nat, hook, meta, &mut env);
    let mut out = String::new();
    for event in &outcome.events {
        out.push_str(&format!("{} {} (skipped {})\n", event.chain, event.verdict, event.skipped.len()));
    }
    match outcome.verdict {
        Verdict::Nat(NatTarget::Dnat { ip, port }) => out.push_str(&format!("=> DNAT {ip}:{}\n", port.unwrap_or(0))),
        other => out.push_str(&format!("=> {other:?}\n")),
    }
    expect.assert_eq(&out);
}

#[test]
fn a_pod_s_packet_is_redirected_to_the_bridge_address_and_the_proxy_port() {
    let state = userspace::build(&cluster(), "node-1").unwrap();
    // From the client pod, which reaches the node through the pod bridge (10.244.1.1), to the
    // ClusterIP: the UDP portal of default/dns is skipped, the TCP one redirects to the bridge's
    // address and the proxy port.
    check_nat(
        &state.ruleset,
        Hook::Prerouting,
        &meta("10.244.1.20:40000", "10.96.100.10:80", TupleProto::Tcp, &["192.168.1.10", "10.244.1.1"]),
        Some("10.244.1.1"),
        expect![[r#"
            PREROUTING JUMP:KUBE-PORTALS-CONTAINER (skipped 0)
            KUBE-PORTALS-CONTAINER REDIRECT (skipped 1)
            => DNAT 10.244.1.1:52655
        "#]],
    );
    // A packet from the wire to the NodePort: no portal matches, the NodePort jump does.
    check_nat(
        &state.ruleset,
        Hook::Prerouting,
        &meta("192.168.1.50:40000", "192.168.1.10:30080", TupleProto::Tcp, &["192.168.1.10", "10.244.1.1"]),
        Some("192.168.1.10"),
        expect![[r#"
            PREROUTING JUMP:KUBE-PORTALS-CONTAINER (skipped 0)
            PREROUTING JUMP:KUBE-NODEPORT-CONTAINER (skipped 5)
            KUBE-NODEPORT-CONTAINER REDIRECT (skipped 0)
            => DNAT 192.168.1.10:52655
        "#]],
    );
    // The node's own process: KUBE-PORTALS-HOST DNATs to the node's address.
    check_nat(
        &state.ruleset,
        Hook::Output,
        &meta("192.168.1.10:40000", "10.96.0.10:53", TupleProto::Udp, &["192.168.1.10", "10.244.1.1"]),
        None,
        expect![[r#"
            OUTPUT JUMP:KUBE-PORTALS-HOST (skipped 0)
            KUBE-PORTALS-HOST DNAT (skipped 0)
            => DNAT 192.168.1.10:51248
        "#]],
    );
}

#[test]
fn redirect_goes_to_loopback_at_output_and_to_the_first_local_address_by_default() {
    let mut ruleset = Ruleset { tables: vec![Table::new(TableName::Nat)] };
    let nat = ruleset.table_mut(TableName::Nat);
    for chain in ["PREROUTING", "OUTPUT"] {
        nat.chain_mut(chain).rules.push(Rule::new().target(Target::Redirect { port: 15001 }));
    }
    let packet = meta("10.244.1.20:40000", "10.96.0.10:80", TupleProto::Tcp, &["192.168.1.10"]);
    check_nat(
        &ruleset,
        Hook::Output,
        &packet,
        Some("10.244.1.1"),
        expect![[r#"
            OUTPUT REDIRECT (skipped 0)
            => DNAT 127.0.0.1:15001
        "#]],
    );
    check_nat(
        &ruleset,
        Hook::Prerouting,
        &packet,
        None,
        expect![[r#"
            PREROUTING REDIRECT (skipped 0)
            => DNAT 192.168.1.10:15001
        "#]],
    );
    let rendered = lbplay_core::netfilter::render::rule_text("PREROUTING", &ruleset.tables[0].chains[0].rules[0]);
    assert_eq!(rendered, "-A PREROUTING -j REDIRECT --to-ports 15001");
}
