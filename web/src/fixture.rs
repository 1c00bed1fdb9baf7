//! A hand-built scenario for the state tests and the component tests: the ClusterIP slice's shape
//! (a SYN from pod/client to 10.96.100.10:80, DNAT to web-b on node-2, the SYN-ACK back through
//! conntrack's reverse NAT), made from real `Packet`s but without running the simulator, so the
//! view can be tested on its own. Its id is `fixture`; the library never lists it.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use lbplay_core::dataplane::Line;
use lbplay_core::packet::{Packet, TcpFlags};
use lbplay_core::trace::{Direction, Outcome, RuleAt, Step, StepKind, Text, Trace};

const SVC: &str = "KUBE-SVC-CDGGSHYLG3RE2FKL";
const SEP: &str = "KUBE-SEP-2RIJ5GIYXEFH6G4D";

fn addr(text: &str) -> SocketAddrV4 {
    text.parse().unwrap_or_else(|_| SocketAddrV4::new([0, 0, 0, 0].into(), 0))
}

fn at(chain: &str, index: usize) -> RuleAt {
    RuleAt { table: "nat", chain: chain.to_string(), index }
}

struct StepSpec<'a> {
    node: &'a str,
    direction: Direction,
    kind: StepKind,
    hook: Option<&'static str>,
    table: Option<&'static str>,
    chain: Option<&'a str>,
    rule: Option<(RuleAt, &'a str)>,
    verdict: &'a str,
    skipped: Vec<RuleAt>,
    en: &'a str,
    zh: &'a str,
}

fn step(spec: StepSpec<'_>, before: &Packet, after: &Packet) -> Step {
    Step {
        node: spec.node.to_string(),
        direction: spec.direction,
        kind: spec.kind,
        hook: spec.hook,
        table: spec.table,
        chain: spec.chain.map(str::to_string),
        rule: spec.rule.as_ref().map(|(_, text)| text.to_string()),
        rule_at: spec.rule.map(|(at, _)| at),
        verdict: spec.verdict.to_string(),
        skipped: u32::try_from(spec.skipped.len()).unwrap_or(u32::MAX),
        skipped_rules: spec.skipped,
        before: before.clone(),
        after: after.clone(),
        note: Text::new(spec.en, spec.zh),
        conntrack: None,
        stage: None,
        request: None,
        stream: None,
        connection: None,
        candidates: Vec::new(),
    }
}

fn plain<'a>(
    node: &'a str,
    direction: Direction,
    kind: StepKind,
    verdict: &'a str,
    en: &'a str,
    zh: &'a str,
) -> StepSpec<'a> {
    StepSpec {
        node,
        direction,
        kind,
        hook: None,
        table: None,
        chain: None,
        rule: None,
        verdict,
        skipped: Vec::new(),
        en,
        zh,
    }
}

/// The nat rules of node-1 that the fixture's steps point at (a shortened `iptables-save`).
pub fn rules() -> Vec<Line> {
    let mut lines = Vec::new();
    let mut push = |text: &str, rule: Option<RuleAt>| lines.push(Line { text: text.to_string(), rule });
    push("*nat", None);
    push(":PREROUTING ACCEPT [0:0]", None);
    push(":POSTROUTING ACCEPT [0:0]", None);
    push(&format!(":{SEP} - [0:0]"), None);
    push(":KUBE-SERVICES - [0:0]", None);
    push(&format!(":{SVC} - [0:0]"), None);
    push(
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
        Some(at("PREROUTING", 0)),
    );
    push(
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
        Some(at("POSTROUTING", 0)),
    );
    push(
        &format!("-A {SEP} -s 10.244.2.7/32 -m comment --comment default/web:http -j KUBE-MARK-MASQ"),
        Some(at(SEP, 0)),
    );
    push(
        &format!(
            "-A {SEP} -p tcp -m comment --comment default/web:http -m tcp -j DNAT --to-destination 10.244.2.7:8080"
        ),
        Some(at(SEP, 1)),
    );
    push(
        &format!(
            "-A KUBE-SERVICES -d 10.96.100.10/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j {SVC}"
        ),
        Some(at("KUBE-SERVICES", 0)),
    );
    push(
        &format!(
            "-A {SVC} ! -s 10.244.0.0/16 -d 10.96.100.10/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ"
        ),
        Some(at(SVC, 0)),
    );
    push(
        &format!(
            "-A {SVC} -m comment --comment \"default/web:http -> 10.244.1.5:8080\" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-AFGSLHOD2HFNCBX4"
        ),
        Some(at(SVC, 1)),
    );
    push(
        &format!(
            "-A {SVC} -m comment --comment \"default/web:http -> 10.244.2.7:8080\" -m statistic --mode random --probability 0.50000000000 -j {SEP}"
        ),
        Some(at(SVC, 2)),
    );
    push(
        &format!("-A {SVC} -m comment --comment \"default/web:http -> 10.244.3.9:8080\" -j KUBE-SEP-RBX5X5TOEG5GD3RO"),
        Some(at(SVC, 3)),
    );
    push("COMMIT", None);
    lines
}

/// The fixture's trace: 10 steps, one DNAT, one reverse NAT.
pub fn trace() -> Trace {
    use Direction::{Original, Reply};
    let syn = Packet::tcp(addr("10.244.1.20:40000"), addr("10.96.100.10:80"), TcpFlags::Syn, 1000, 0, 0x1234);
    let mut dnat = syn.clone();
    let _ = dnat.set_dst(addr("10.244.2.7:8080"));
    let mut forwarded = dnat.clone();
    let _ = forwarded.decrement_ttl();
    let synack = Packet::tcp(addr("10.244.2.7:8080"), addr("10.244.1.20:40000"), TcpFlags::SynAck, 5000, 1001, 0x4321);
    let mut unnat = synack.clone();
    let _ = unnat.set_src(addr("10.96.100.10:80"));
    let nat = |hook, chain: &'static str, index, rule: &'static str, verdict, skipped, en, zh| StepSpec {
        node: "node-1",
        direction: Original,
        kind: StepKind::Netfilter,
        hook: Some(hook),
        table: Some("nat"),
        chain: Some(chain),
        rule: Some((at(chain, index), rule)),
        verdict,
        skipped,
        en,
        zh,
    };
    let steps = vec![
        step(
            plain(
                "node-1",
                Original,
                StepKind::Send,
                "SYN",
                "pod/client sends a SYN to the Service's ClusterIP.",
                "pod/client 向 Service 的 ClusterIP 发出 SYN。",
            ),
            &syn,
            &syn,
        ),
        step(
            nat(
                "PREROUTING",
                "PREROUTING",
                0,
                "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
                "JUMP:KUBE-SERVICES",
                Vec::new(),
                "Every packet entering node-1 goes through KUBE-SERVICES.",
                "进入 node-1 的每个数据包都会经过 KUBE-SERVICES。",
            ),
            &syn,
            &syn,
        ),
        step(
            nat(
                "PREROUTING",
                "KUBE-SERVICES",
                0,
                "-A KUBE-SERVICES -d 10.96.100.10/32 -p tcp -m comment --comment \"default/web:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL",
                "JUMP:KUBE-SVC-CDGGSHYLG3RE2FKL",
                Vec::new(),
                "The destination is web's ClusterIP and port, so the packet jumps to the Service's chain.",
                "目的地址是 web 的 ClusterIP 和端口，数据包跳转到该 Service 的链。",
            ),
            &syn,
            &syn,
        ),
        step(
            nat(
                "PREROUTING",
                SVC,
                2,
                "-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment \"default/web:http -> 10.244.2.7:8080\" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-2RIJ5GIYXEFH6G4D",
                "JUMP:KUBE-SEP-2RIJ5GIYXEFH6G4D",
                vec![at(SVC, 0), at(SVC, 1)],
                "The random draw skips the first endpoint (1/3) and takes the second (1/2 of the rest).",
                "随机抽样跳过第一个端点（1/3），选中第二个（剩下的 1/2）。",
            ),
            &syn,
            &syn,
        ),
        step(
            nat(
                "PREROUTING",
                SEP,
                1,
                "-A KUBE-SEP-2RIJ5GIYXEFH6G4D -p tcp -m comment --comment default/web:http -m tcp -j DNAT --to-destination 10.244.2.7:8080",
                "DNAT",
                vec![at(SEP, 0)],
                "DNAT rewrites the destination to web-b, 10.244.2.7:8080; both checksums are recomputed.",
                "DNAT 把目的地址改写为 web-b 的 10.244.2.7:8080，并重新计算两个校验和。",
            ),
            &syn,
            &dnat,
        ),
        step(
            plain(
                "node-1",
                Original,
                StepKind::Routing,
                "via 192.168.1.11",
                "10.244.2.0/24 is node-2's pod range: forward via 192.168.1.11.",
                "10.244.2.0/24 属于 node-2：经 192.168.1.11 转发。",
            ),
            &dnat,
            &forwarded,
        ),
        step(
            StepSpec {
                hook: Some("POSTROUTING"),
                table: Some("nat"),
                chain: Some("POSTROUTING"),
                rule: Some((
                    at("POSTROUTING", 0),
                    "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
                )),
                ..plain(
                    "node-1",
                    Original,
                    StepKind::Netfilter,
                    "JUMP:KUBE-POSTROUTING",
                    "No masquerade mark: the source stays the client pod.",
                    "没有 masquerade 标记：源地址仍是客户端 Pod。",
                )
            },
            &forwarded,
            &forwarded,
        ),
        step(
            plain(
                "node-2",
                Original,
                StepKind::Wire,
                "node-1 → node-2",
                "The packet crosses the network to node-2.",
                "数据包经网络到达 node-2。",
            ),
            &forwarded,
            &forwarded,
        ),
        step(
            plain(
                "node-2",
                Original,
                StepKind::Deliver,
                "pod/web-b",
                "web-b receives the SYN on 8080.",
                "web-b 在 8080 端口收到 SYN。",
            ),
            &forwarded,
            &forwarded,
        ),
        step(
            plain(
                "node-2",
                Reply,
                StepKind::Send,
                "SYN-ACK",
                "web-b answers with a SYN-ACK to the client pod.",
                "web-b 向客户端 Pod 回复 SYN-ACK。",
            ),
            &synack,
            &synack,
        ),
        step(
            StepSpec {
                hook: Some("PREROUTING"),
                table: None,
                chain: None,
                ..plain(
                    "node-1",
                    Reply,
                    StepKind::Conntrack,
                    "reverse NAT",
                    "Conntrack undoes the DNAT: the source becomes 10.96.100.10:80 again.",
                    "conntrack 撤销 DNAT：源地址变回 10.96.100.10:80。",
                )
            },
            &synack,
            &unnat,
        ),
        step(
            plain(
                "node-1",
                Reply,
                StepKind::Deliver,
                "pod/client",
                "The client sees an answer from the address it called.",
                "客户端看到的应答来自它所访问的地址。",
            ),
            &unnat,
            &unnat,
        ),
    ];
    Trace {
        steps,
        outcome: Outcome { delivered_to: Some("pod/web-b".into()), dropped: false, reason: None, http: None },
    }
}

/// The fixture scenario, without a cluster model (the topology falls back to the step nodes).
pub fn scenario() -> crate::run::Scenario {
    let mut rules = BTreeMap::new();
    rules.insert("node-1".to_string(), self::rules());
    crate::run::Scenario {
        id: "fixture".into(),
        title_en: "Fixture: ClusterIP, hand-built".into(),
        title_zh: "测试数据：手工构造的 ClusterIP".into(),
        watch_en: "The DNAT step rewrites the destination.".into(),
        watch_zh: "DNAT 这一步改写目的地址。".into(),
        from: "pod/client".into(),
        to: "10.96.100.10:80".into(),
        yaml: "# hand-built fixture\n".into(),
        cluster: None,
        trace: trace(),
        rules,
        rules_tool: "iptables-save".into(),
        mode: None,
        mode_override: None,
        own_mode: None,
        problems: Vec::new(),
        ..crate::run::Scenario::default()
    }
}
