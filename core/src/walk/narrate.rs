//! The sentences of the walk's steps, in English and Chinese: what a matched iptables rule or
//! chain policy did and why, what an nftables rule or base-chain policy did, and a packet in
//! words.

use std::net::SocketAddrV4;

use super::{Host, InFlight};
use crate::dataplane::{Event, Meta, Origin};
use crate::packet::Packet;
use crate::trace::{Direction, Text};

/// What a sender's first packet is: a SYN that opens a connection, the SYN-ACK that answers it,
/// or a UDP datagram.
pub(super) fn send(sender: &Host, direction: Direction, flight: &InFlight) -> Text {
    let tuple = flight.tuple();
    let payload = flight.packet().payload();
    if flight.packet().tcp_flags().is_some() && !payload.is_empty() {
        // A segment of an open connection: the first line of what it carries says what it is.
        let head = String::from_utf8_lossy(payload);
        let first = head.lines().next().unwrap_or_default().to_string();
        let n = payload.len();
        let (what_en, what_zh) = match direction {
            Direction::Original => ("the request", "请求"),
            Direction::Reply => ("the response", "响应"),
        };
        return Text::new(
            format!(
                "{} sends {n} bytes on the connection it has open, from {} to {}: a PSH|ACK segment whose payload is {what_en} `{first}`. The handshake's last ACK went the same way just before it.",
                sender.label(),
                tuple.src,
                tuple.dst
            ),
            format!(
                "{} 在已建立的连接上发送 {n} 字节，从 {} 到 {}：一个 PSH|ACK 报文段，载荷是{what_zh} `{first}`。握手的最后一个 ACK 刚刚走过同一条路。",
                sender.label(),
                tuple.src,
                tuple.dst
            ),
        );
    }
    match (&direction, flight.packet().tcp_flags().as_deref()) {
        (Direction::Original, Some(_)) => Text::new(
            format!("{} opens a TCP connection: it sends a SYN from {} to {}.", sender.label(), tuple.src, tuple.dst),
            format!("{} 发起 TCP 连接：从 {} 向 {} 发送 SYN。", sender.label(), tuple.src, tuple.dst),
        ),
        (Direction::Reply, Some(_)) => Text::new(
            format!(
                "{} answers with a SYN-ACK from {} to {}: it only knows the addresses it received.",
                sender.label(),
                tuple.src,
                tuple.dst
            ),
            format!("{} 回复 SYN-ACK，从 {} 发往 {}：它只知道自己收到的地址。", sender.label(), tuple.src, tuple.dst),
        ),
        (_, None) => Text::new(
            format!("{} sends a UDP datagram from {} to {}.", sender.label(), tuple.src, tuple.dst),
            format!("{} 从 {} 向 {} 发送 UDP 数据报。", sender.label(), tuple.src, tuple.dst),
        ),
    }
}

/// A host receiving the packet.
pub(super) fn received(at: &Host, packet: &Packet) -> Text {
    Text::new(
        format!("{} receives the packet: {}.", at.label(), describe(packet)),
        format!("{} 收到数据包：{}。", at.label(), describe(packet)),
    )
}

/// The packet crossing a link.
pub(super) fn leaves(at: &Host, next: &Host) -> Text {
    Text::new(
        format!("The packet leaves {} for {}.", at.label(), next.label()),
        format!("数据包离开 {}，发往 {}。", at.label(), next.label()),
    )
}

/// What a matched rule or a policy did, in the words of the dataplane that reported it.
pub(super) fn rule(
    event: &Event,
    before: &Packet,
    after: &Packet,
    rewrite: Option<&(SocketAddrV4, SocketAddrV4)>,
    meta: &Meta,
) -> Text {
    match event.origin {
        Origin::Table(_) => narrate(event, before, after, rewrite, meta),
        Origin::BaseChain { .. } => narrate_nft(event, rewrite),
    }
}

pub(super) fn describe(packet: &Packet) -> String {
    match (packet.tuple(), packet.tcp_flags()) {
        (Ok(tuple), Some(flags)) => format!("TCP [{flags}] {} → {}", tuple.src, tuple.dst),
        (Ok(tuple), None) => format!("UDP {} → {}", tuple.src, tuple.dst),
        _ => "an unreadable packet".into(),
    }
}

/// One sentence, in both languages, on what a matched rule or a policy did and why.
fn narrate(
    event: &Event,
    before: &Packet,
    after: &Packet,
    rewrite: Option<&(SocketAddrV4, SocketAddrV4)>,
    meta: &Meta,
) -> Text {
    let chain = event.chain.as_str();
    let skipped = event.skipped.len();
    let skipped_en = if skipped > 0 {
        format!(" ({skipped} rule{} before it did not match.)", if skipped == 1 { "" } else { "s" })
    } else {
        String::new()
    };
    let skipped_zh =
        if skipped > 0 { format!("（此前有 {skipped} 条规则未匹配。）") } else { String::new() };
    let Some((_, text)) = &event.rule else {
        return Text::new(
            format!(
                "The end of the built-in chain {chain} is reached: its policy {} applies.{skipped_en}",
                event.verdict
            ),
            format!("到达内置链 {chain} 的末尾：执行其默认策略 {}。{skipped_zh}", event.verdict),
        );
    };
    let comment = text.split("--comment ").nth(1).map(|rest| {
        if let Some(stripped) = rest.strip_prefix('"') {
            stripped.split('"').next().unwrap_or("").to_string()
        } else {
            rest.split(' ').next().unwrap_or("").to_string()
        }
    });
    let detail = event.detail.clone().map(|d| format!(" [{d}]")).unwrap_or_default();
    let verdict = event.verdict.as_str();
    let tuple = meta.tuple;
    let (en, zh) = if let Some((from, to)) = rewrite {
        let changed_dst = before.tuple().ok().map(|t| t.dst) != after.tuple().ok().map(|t| t.dst);
        if verdict == "REDIRECT" {
            (
                format!(
                    "REDIRECT: the destination {from} is rewritten to {to}, kube-proxy's own socket on this node (the address of the interface the packet came in by). Both checksums are recomputed and conntrack records the binding."
                ),
                format!(
                    "REDIRECT：目的地址 {from} 被改写为 {to}，即本节点上 kube-proxy 自己的套接字（数据包进入接口的地址）。两个校验和重新计算，conntrack 记下这一映射。"
                ),
            )
        } else if changed_dst {
            (
                format!(
                    "{verdict}: the destination {from} is rewritten to the chosen endpoint {to}. The IPv4 header checksum and the TCP/UDP checksum are recomputed, and conntrack records the binding so the reply can be reversed."
                ),
                format!(
                    "{verdict}：目的地址 {from} 被改写为选中的端点 {to}。IPv4 头部校验和与 TCP/UDP 校验和重新计算，conntrack 记下这一映射，以便反向改写应答。"
                ),
            )
        } else {
            (
                format!(
                    "{verdict}: the source {from} is rewritten to {to}, this node's address on the way out, so the reply must come back through this node."
                ),
                format!("{verdict}：源地址 {from} 被改写为 {to}（本节点出接口地址），因此应答必须经过本节点返回。"),
            )
        }
    } else if let Some(target) = verdict.strip_prefix("JUMP:").or_else(|| verdict.strip_prefix("GOTO:")) {
        let why_en = match comment.as_deref() {
            Some(c) if c.ends_with("cluster IP") && target.starts_with("KUBE-MARK-MASQ") => format!(
                "the source {} is outside the cluster CIDR, so the connection is marked for masquerading",
                tuple.src.ip()
            ),
            Some(c) if c.ends_with("cluster IP") => {
                format!("{} is the ClusterIP and port of {}", tuple.dst, c.trim_end_matches(" cluster IP"))
            }
            Some(c) if c.contains(" -> ") => {
                format!("this rule picks the endpoint {}", c.split(" -> ").nth(1).unwrap_or(""))
            }
            Some(c) if c.contains("service nodeports") => {
                format!("{} is a local address of this node, so NodePorts are checked", tuple.dst.ip())
            }
            Some(c) => format!("rule \"{c}\" matched"),
            None if target == "KUBE-MARK-MASQ" => "the packet must be masqueraded".to_string(),
            None => "the rule matched".to_string(),
        };
        let why_zh = match comment.as_deref() {
            Some(c) if c.ends_with("cluster IP") && target.starts_with("KUBE-MARK-MASQ") => {
                format!("源地址 {} 不在集群网段内，连接被打上 SNAT 标记", tuple.src.ip())
            }
            Some(c) if c.ends_with("cluster IP") => {
                format!("{} 是 {} 的 ClusterIP 和端口", tuple.dst, c.trim_end_matches(" cluster IP"))
            }
            Some(c) if c.contains(" -> ") => format!("这条规则选中端点 {}", c.split(" -> ").nth(1).unwrap_or("")),
            Some(c) if c.contains("service nodeports") => {
                format!("{} 是本节点的地址，于是检查 NodePort", tuple.dst.ip())
            }
            Some(c) => format!("规则“{c}”匹配"),
            None if target == "KUBE-MARK-MASQ" => "该数据包需要做 SNAT（masquerade）".to_string(),
            None => "规则匹配".to_string(),
        };
        (
            format!("Jump to {target}: {why_en}.{detail}{skipped_en}"),
            format!("跳转到 {target}：{why_zh}。{detail}{skipped_zh}"),
        )
    } else {
        match verdict {
            "CONTINUE" if text.contains("MARK") && text.ends_with("/0x0") => (
                format!(
                    "MARK clears bit 0x4000 again (XOR), so a packet that passes through the stack once more is not masqueraded twice.{skipped_en}"
                ),
                format!("MARK 再次清除 0x4000 位（异或），以免数据包再次经过协议栈时被重复 masquerade。{skipped_zh}"),
            ),
            "CONTINUE" if text.contains("MARK") => (
                format!(
                    "MARK sets bit 0x4000 in the packet's mark ({:#x} now): KUBE-POSTROUTING will masquerade it.{skipped_en}",
                    meta.mark | 0x4000
                ),
                format!("MARK 在数据包标记上置位 0x4000：KUBE-POSTROUTING 会对它做 masquerade。{skipped_zh}"),
            ),
            "RETURN" if chain == "KUBE-POSTROUTING" => (
                format!(
                    "RETURN from {chain}: the packet carries no masquerade mark, so no SNAT is needed.{skipped_en}"
                ),
                format!("从 {chain} 返回：数据包没有 masquerade 标记，不需要 SNAT。{skipped_zh}"),
            ),
            "RETURN" => (
                format!("RETURN from {chain}: back to the chain that jumped here.{skipped_en}"),
                format!("从 {chain} 返回到跳转过来的链。{skipped_zh}"),
            ),
            "ACCEPT" => (
                format!(
                    "ACCEPT in {chain}: {}.{skipped_en}",
                    comment.clone().unwrap_or_else(|| "the rule accepts the packet".into())
                ),
                format!("在 {chain} 中 ACCEPT：{}。{skipped_zh}", comment.unwrap_or_else(|| "规则接受该数据包".into())),
            ),
            "DROP" => (
                format!(
                    "DROP in {chain}: {}. The packet is discarded silently; the client only sees a timeout.{skipped_en}",
                    comment.clone().unwrap_or_default()
                ),
                format!(
                    "在 {chain} 中 DROP：{}。数据包被静默丢弃，客户端只会看到超时。{skipped_zh}",
                    comment.clone().unwrap_or_default()
                ),
            ),
            "REJECT" => (
                format!("REJECT in {chain}: {}.{skipped_en}", comment.clone().unwrap_or_default()),
                format!("在 {chain} 中 REJECT：{}。{skipped_zh}", comment.clone().unwrap_or_default()),
            ),
            _ => (format!("{verdict} in {chain}.{skipped_en}"), format!("{chain} 中的 {verdict}。{skipped_zh}")),
        }
    };
    Text::new(en, zh)
}

/// One sentence, in both languages, on what an nftables rule or base-chain policy did.
fn narrate_nft(event: &Event, rewrite: Option<&(SocketAddrV4, SocketAddrV4)>) -> Text {
    let chain = event.chain.as_str();
    let skipped = event.skipped.len();
    let skipped_en = if skipped > 0 {
        format!(" ({skipped} rule{} before it did not match.)", if skipped == 1 { "" } else { "s" })
    } else {
        String::new()
    };
    let skipped_zh =
        if skipped > 0 { format!("（此前有 {skipped} 条规则未匹配。）") } else { String::new() };
    let detail_en = event.detail.clone().map(|d| format!(" [{d}]")).unwrap_or_default();
    let verdict = event.verdict.as_str();
    if event.rule.is_none() {
        let (base_chain, priority) = match &event.origin {
            Origin::BaseChain { name, priority } => (name.as_str(), *priority),
            Origin::Table(_) => (chain, 0),
        };
        return Text::new(
            format!("The base chain {base_chain} (priority {priority}) ends: {verdict}.{skipped_en}"),
            format!("基础链 {base_chain}（优先级 {priority}）结束：{verdict}。{skipped_zh}"),
        );
    }
    if let Some((from, to)) = rewrite {
        return Text::new(
            format!(
                "{verdict} in {chain}: {from} is rewritten to {to}; both checksums are recomputed and conntrack records the binding.{detail_en}{skipped_en}"
            ),
            format!(
                "{chain} 中的 {verdict}：{from} 被改写为 {to}；两个校验和重新计算，conntrack 记下这一映射。{detail_en}{skipped_zh}"
            ),
        );
    }
    if let Some(target) = verdict.strip_prefix("jump ").or_else(|| verdict.strip_prefix("goto ")) {
        let why_en = if target.starts_with("service-") || target.starts_with("external-") {
            "the destination is a Service's address and port, found in a verdict map".to_string()
        } else if target.starts_with("endpoint-") {
            "numgen picked this endpoint".to_string()
        } else if target == "mark-for-masquerade" {
            "the packet must be masqueraded".to_string()
        } else {
            format!("the rule in {chain} matched")
        };
        let why_zh = if target.starts_with("service-") || target.starts_with("external-") {
            "目的地址和端口属于某个 Service，在判决映射（verdict map）中找到".to_string()
        } else if target.starts_with("endpoint-") {
            "numgen 选中了这个端点".to_string()
        } else if target == "mark-for-masquerade" {
            "该数据包需要做 masquerade".to_string()
        } else {
            format!("{chain} 中的规则匹配")
        };
        return Text::new(
            format!("{verdict}: {why_en}.{detail_en}{skipped_en}"),
            format!("{verdict}：{why_zh}。{detail_en}{skipped_zh}"),
        );
    }
    let (en, zh) = match verdict {
        "drop" => {
            ("the packet is discarded silently; the client only sees a timeout", "数据包被静默丢弃，客户端只会看到超时")
        }
        "reject" => ("the packet is refused with an ICMP error", "数据包被拒绝并回送 ICMP 错误"),
        "accept" => ("the packet is accepted by this base chain", "该基础链接受数据包"),
        "return" => ("back to the calling chain", "返回调用它的链"),
        _ => ("the rule matched and the packet goes on", "规则匹配，数据包继续"),
    };
    Text::new(
        format!("{verdict} in {chain}: {en}.{detail_en}{skipped_en}"),
        format!("{chain} 中的 {verdict}：{zh}。{detail_en}{skipped_zh}"),
    )
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::trace::{Direction, StepKind};
    use crate::walk::fixture;

    /// The English notes of the first packet's rule steps.
    fn check(mode: ProxyMode, expect: Expect) {
        let trace = fixture::walk("clusterip-iptables", mode, "pod/client", "10.96.100.10:80");
        let mut out = String::new();
        for step in trace.steps.iter().filter(|s| s.kind == StepKind::Netfilter && s.direction == Direction::Original) {
            out.push_str(&step.note.en);
            out.push('\n');
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn iptables_rules_in_words() {
        check(
            ProxyMode::Iptables,
            expect![[r#"
            Jump to KUBE-SERVICES: rule "kubernetes service portals" matched.
            Jump to KUBE-SVC-CDGGSHYLG3RE2FKL: 10.96.100.10:80 is the ClusterIP and port of default/web:http.
            Jump to KUBE-SEP-RBX5X5TOEG5GD3RO: this rule picks the endpoint 10.244.3.9:8080. (3 rules before it did not match.)
            DNAT: the destination 10.96.100.10:80 is rewritten to the chosen endpoint 10.244.3.9:8080. The IPv4 header checksum and the TCP/UDP checksum are recomputed, and conntrack records the binding so the reply can be reversed.
            Jump to KUBE-PROXY-FIREWALL: rule "kubernetes load balancer firewall" matched.
            Jump to KUBE-FORWARD: rule "kubernetes forwarding rules" matched.
            Jump to KUBE-SERVICES: rule "kubernetes service portals" matched. (3 rules before it did not match.)
            Jump to KUBE-EXTERNAL-SERVICES: rule "kubernetes externally-visible service portals" matched.
            The end of the built-in chain FORWARD is reached: its policy ACCEPT applies.
            Jump to KUBE-POSTROUTING: rule "kubernetes postrouting rules" matched.
            RETURN from KUBE-POSTROUTING: the packet carries no masquerade mark, so no SNAT is needed.
            The end of the built-in chain POSTROUTING is reached: its policy ACCEPT applies.
            Jump to KUBE-SERVICES: rule "kubernetes service portals" matched.
            The end of the built-in chain PREROUTING is reached: its policy ACCEPT applies. (2 rules before it did not match.)
            Jump to KUBE-PROXY-FIREWALL: rule "kubernetes load balancer firewall" matched.
            Jump to KUBE-FORWARD: rule "kubernetes forwarding rules" matched.
            Jump to KUBE-SERVICES: rule "kubernetes service portals" matched. (3 rules before it did not match.)
            Jump to KUBE-EXTERNAL-SERVICES: rule "kubernetes externally-visible service portals" matched.
            The end of the built-in chain FORWARD is reached: its policy ACCEPT applies.
            Jump to KUBE-POSTROUTING: rule "kubernetes postrouting rules" matched.
            RETURN from KUBE-POSTROUTING: the packet carries no masquerade mark, so no SNAT is needed.
            The end of the built-in chain POSTROUTING is reached: its policy ACCEPT applies.
        "#]],
        );
    }

    #[test]
    fn nftables_rules_in_words() {
        check(
            ProxyMode::Nftables,
            expect![[r#"
            jump firewall-check: the rule in filter-prerouting matched.
            The base chain filter-prerouting (priority -110) ends: policy accept. (1 rule before it did not match.)
            jump services: the rule in nat-prerouting matched.
            goto service-SUSTUHLJ-default/web/tcp/http: the destination is a Service's address and port, found in a verdict map. [@service-ips has 10.96.100.10 . tcp . 80 : goto service-SUSTUHLJ-default/web/tcp/http]
            goto endpoint-IXR2BMJD-default/web/tcp/http__10.244.3.9/8080: numgen picked this endpoint. [numgen: drew 3203108257, (3203108257 × 3) >> 32 = 2 → goto endpoint-IXR2BMJD-default/web/tcp/http__10.244.3.9/8080] (1 rule before it did not match.)
            dnat in endpoint-IXR2BMJD-default/web/tcp/http__10.244.3.9/8080: 10.96.100.10:80 is rewritten to 10.244.3.9:8080; both checksums are recomputed and conntrack records the binding. (1 rule before it did not match.)
            jump service-endpoints-check: the destination is a Service's address and port, found in a verdict map.
            jump cluster-ips-check: the rule in filter-forward matched. (1 rule before it did not match.)
            The base chain filter-forward (priority -110) ends: policy accept. (2 rules before it did not match.)
            jump masquerading: the rule in nat-postrouting matched.
            return in masquerading: back to the calling chain.
            The base chain nat-postrouting (priority 100) ends: policy accept.
            jump firewall-check: the rule in filter-prerouting matched.
            The base chain filter-prerouting (priority -110) ends: policy accept. (1 rule before it did not match.)
            jump services: the rule in nat-prerouting matched.
            The base chain nat-prerouting (priority -100) ends: policy accept. (2 rules before it did not match.)
            jump service-endpoints-check: the destination is a Service's address and port, found in a verdict map.
            jump cluster-ips-check: the rule in filter-forward matched. (1 rule before it did not match.)
            The base chain filter-forward (priority -110) ends: policy accept. (2 rules before it did not match.)
            jump masquerading: the rule in nat-postrouting matched.
            return in masquerading: back to the calling chain.
            The base chain nat-postrouting (priority 100) ends: policy accept.
        "#]],
        );
    }

    #[test]
    fn every_note_has_both_languages() {
        for mode in [ProxyMode::Iptables, ProxyMode::Nftables, ProxyMode::Ipvs, ProxyMode::Userspace] {
            let trace = fixture::walk("clusterip-iptables", mode, "pod/client", "10.96.100.10:80");
            assert!(trace.steps.iter().all(|step| !step.note.en.is_empty() && !step.note.zh.is_empty()), "{mode:?}");
        }
    }
}
