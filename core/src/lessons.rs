//! The built-in scenarios: YAML files shipped inside the crate, one lesson each.
//!
//! Each is an ordinary scenario stream (design.md, "Contract: scenario input"), loaded with
//! `scenario::load` like anything a user pastes, plus the walk the lesson starts on (`from`,
//! `to`, `seed`) and what to watch for. `id` is the stable name used by the CLI
//! (`lbplay scenarios --show ID`, or an id in place of a file) and by the URL (`#s=ID`).
//! Several lessons may share one YAML file and differ in the walk.

use crate::net::Proto;
use crate::trace::Text;

/// A scenario that ships with lbplay.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub id: &'static str,
    /// The chapter of the source text the lesson belongs to.
    pub chapter: Chapter,
    pub title_en: &'static str,
    pub title_zh: &'static str,
    /// What to watch for, in a sentence or two.
    pub watch_en: &'static str,
    pub watch_zh: &'static str,
    /// The default walk: `--from` and `--to` as the CLI takes them, and the seed.
    pub from: &'static str,
    pub to: &'static str,
    /// The walk's transport (`--proto`): UDP for the DNS lesson, TCP for the rest.
    pub proto: Proto,
    pub seed: u64,
    pub yaml: &'static str,
}

impl Builtin {
    pub fn title(&self) -> Text {
        Text::new(self.title_en, self.title_zh)
    }

    pub fn watch(&self) -> Text {
        Text::new(self.watch_en, self.watch_zh)
    }
}

/// The chapters of the source text (k8s-load-balancing.zh.md) that lessons are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Chapter {
    /// Load-balancing concepts: L4 against L7, what each layer reads.
    Concepts,
    /// Service: ClusterIP, NodePort, LoadBalancer, selectors and endpoints, session affinity.
    Service,
    /// kube-proxy's userspace mode (removed in v1.26).
    KubeProxyUserspace,
    /// kube-proxy's iptables mode.
    KubeProxyIptables,
    /// kube-proxy's IPVS mode and the kernel's schedulers.
    KubeProxyIpvs,
    /// kube-proxy's nftables mode (today's successor of iptables mode).
    KubeProxyNftables,
    /// Ingress, walked through ingress-nginx.
    Ingress,
    /// Istio sidecars: istio-init's rules and Envoy.
    Mesh,
    /// gRPC over HTTP/2: one connection, many calls, and who balances them. Its lessons come with
    /// the L7 work; the chapter holds the source text's place for them.
    Grpc,
    /// The questions the source text ends with, each answered by running it.
    Questions,
}

impl Chapter {
    pub fn title(self) -> Text {
        match self {
            Chapter::Concepts => Text::new("Load-balancing concepts", "负载均衡的概念"),
            Chapter::Service => Text::new("Service", "Service"),
            Chapter::KubeProxyUserspace => Text::new(
                "kube-proxy: userspace mode (removed in v1.26)",
                "kube-proxy：userspace 模式（已在 v1.26 移除）",
            ),
            Chapter::KubeProxyIptables => Text::new("kube-proxy: iptables mode", "kube-proxy：iptables 模式"),
            Chapter::KubeProxyIpvs => Text::new("kube-proxy: IPVS mode", "kube-proxy：IPVS 模式"),
            Chapter::KubeProxyNftables => Text::new("kube-proxy: nftables mode", "kube-proxy：nftables 模式"),
            Chapter::Ingress => Text::new("Ingress (ingress-nginx)", "Ingress（ingress-nginx）"),
            Chapter::Mesh => Text::new("Istio sidecars", "Istio sidecar"),
            Chapter::Grpc => Text::new("gRPC over HTTP/2", "基于 HTTP/2 的 gRPC"),
            Chapter::Questions => Text::new("The source text's questions", "原文的几个问题"),
        }
    }
}

const CLUSTERIP: &str = include_str!("../scenarios/clusterip-iptables.yaml");
const NODEPORT: &str = include_str!("../scenarios/nodeport.yaml");

const ALL: &[Builtin] = &[
    Builtin {
        id: "l4-http",
        chapter: Chapter::Concepts,
        title_en: "An HTTP request through a ClusterIP: L4 balancing never reads it",
        title_zh: "经过 ClusterIP 的 HTTP 请求：四层负载均衡从不读取它",
        watch_en: "The pod resolves web.default.svc.cluster.local through cluster DNS, opens a TCP connection, and kube-proxy's rules pick a pod from the SYN alone. The GET /hello that follows rides the same connection: conntrack's stored DNAT carries it to the same pod, and no rule ever looks at the path or the Host header. Open the HTTP fields in the inspector.",
        watch_zh: "Pod 通过集群 DNS 解析 web.default.svc.cluster.local，建立 TCP 连接，kube-proxy 的规则只凭 SYN 就选定了 Pod。随后的 GET /hello 走同一条连接：conntrack 记录的 DNAT 把它送到同一个 Pod，没有任何规则查看路径或 Host 头。在检查器里展开 HTTP 字段看看。",
        from: "pod/client",
        to: "http://web.default.svc.cluster.local/hello",
        proto: Proto::Tcp,
        seed: 1,
        yaml: CLUSTERIP,
    },
    Builtin {
        id: "nodeport-cluster",
        chapter: Chapter::Service,
        title_en: "NodePort, externalTrafficPolicy: Cluster",
        title_zh: "NodePort，externalTrafficPolicy: Cluster",
        watch_en: "The laptop calls node-2, which runs no endpoint. KUBE-NODEPORTS → KUBE-EXT marks the packet, it is DNATed to a pod on another node and masqueraded to node-2's address: the pod never sees the laptop's address.",
        watch_zh: "笔记本访问 node-2，而 node-2 上没有端点。KUBE-NODEPORTS → KUBE-EXT 给包打标记，DNAT 到另一节点上的 Pod，并 masquerade 成 node-2 的地址：Pod 看不到笔记本的真实地址。",
        from: "client/laptop",
        to: "192.168.1.11:30080",
        proto: Proto::Tcp,
        seed: 1,
        yaml: NODEPORT,
    },
    Builtin {
        id: "nodeport-local",
        chapter: Chapter::Service,
        title_en: "NodePort, externalTrafficPolicy: Local",
        title_zh: "NodePort，externalTrafficPolicy: Local",
        watch_en: "node-1 runs web-a, so KUBE-EXT jumps to KUBE-SVL (local endpoints only) without marking: web-a sees the laptop's real address. Try node-2 (192.168.1.11:30081): it has no local endpoint and filter KUBE-EXTERNAL-SERVICES drops the packet.",
        watch_zh: "node-1 上运行着 web-a，KUBE-EXT 不打标记直接跳到 KUBE-SVL（只含本地端点）：web-a 看到笔记本的真实地址。试试 node-2（192.168.1.11:30081）：它没有本地端点，filter 表的 KUBE-EXTERNAL-SERVICES 丢弃该包。",
        from: "client/laptop",
        to: "192.168.1.10:30081",
        proto: Proto::Tcp,
        seed: 1,
        yaml: NODEPORT,
    },
    Builtin {
        id: "loadbalancer",
        chapter: Chapter::Service,
        title_en: "LoadBalancer with loadBalancerSourceRanges",
        title_zh: "带 loadBalancerSourceRanges 的 LoadBalancer",
        watch_en: "Traffic to the load balancer's IP goes through KUBE-FW: the laptop (192.168.1.0/24) is let through to KUBE-EXT; a stranger (client/stranger) falls through undNATed and filter KUBE-PROXY-FIREWALL drops it.",
        watch_zh: "发往负载均衡 IP 的流量经过 KUBE-FW：笔记本（192.168.1.0/24）被放行到 KUBE-EXT；陌生客户端（client/stranger）未被 DNAT，落到 filter 表的 KUBE-PROXY-FIREWALL 被丢弃。",
        from: "client/laptop",
        to: "203.0.113.100:443",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/loadbalancer.yaml"),
    },
    Builtin {
        id: "service-nesting",
        chapter: Chapter::Service,
        title_en: "LoadBalancer ⊃ NodePort ⊃ ClusterIP: three doors into one KUBE-SVC",
        title_zh: "LoadBalancer ⊃ NodePort ⊃ ClusterIP：通往同一个 KUBE-SVC 的三道门",
        watch_en: "One LoadBalancer Service, and every layer it is built on is there in the rules (`lbplay rules loadbalancer`): KUBE-SERVICES matches the ClusterIP and jumps straight to KUBE-SVC; KUBE-NODEPORTS matches port 31443 on any node address and jumps to KUBE-EXT; the load balancer IP goes through KUBE-FW, then the same KUBE-EXT; and KUBE-EXT ends in the same KUBE-SVC. This walk takes the NodePort door, from the stranger whom the LoadBalancer lesson saw dropped: loadBalancerSourceRanges guard only KUBE-FW, so the node port lets it in.",
        watch_zh: "一个 LoadBalancer Service，它所依托的每一层都能在规则里看到（`lbplay rules loadbalancer`）：KUBE-SERVICES 匹配 ClusterIP，直接跳到 KUBE-SVC；KUBE-NODEPORTS 匹配任一节点地址上的 31443 端口，跳到 KUBE-EXT；负载均衡 IP 先经过 KUBE-FW，再到同一个 KUBE-EXT；KUBE-EXT 最后都进入同一个 KUBE-SVC。这次走的是 NodePort 这道门，发送方是 LoadBalancer 那一课里被丢弃的陌生客户端：loadBalancerSourceRanges 只守着 KUBE-FW，所以节点端口放它进来了。",
        from: "client/stranger",
        to: "192.168.1.10:31443",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/loadbalancer.yaml"),
    },
    Builtin {
        id: "affinity",
        chapter: Chapter::Service,
        title_en: "Session affinity: ClientIP",
        title_zh: "会话保持：ClientIP",
        watch_en: "KUBE-SVC first checks each endpoint's `recent` list; on a first connection none has the client, the random draw picks one and its KUBE-SEP `--set`s the client. Send more connections: they all land on the same pod.",
        watch_zh: "KUBE-SVC 先检查每个端点的 recent 列表；第一次连接时都没有该客户端，随机选出一个端点，其 KUBE-SEP 用 `--set` 记下客户端。多发几个连接：全都落到同一个 Pod。",
        from: "pod/shopper",
        to: "10.96.20.20:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/affinity.yaml"),
    },
    Builtin {
        id: "no-endpoints",
        chapter: Chapter::Service,
        title_en: "A Service with no endpoints",
        title_zh: "没有端点的 Service",
        watch_en: "The selector matches no pod, so kube-proxy writes no nat rules for the Service, only a filter REJECT: the client is refused at once (ICMP port unreachable) instead of waiting for a timeout.",
        watch_zh: "选择器匹配不到任何 Pod，kube-proxy 不为它写 nat 规则，只在 filter 表写一条 REJECT：客户端立即被拒绝（ICMP 端口不可达），而不是等到超时。",
        from: "pod/client",
        to: "10.96.66.6:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/no-endpoints.yaml"),
    },
    Builtin {
        id: "selectorless",
        chapter: Chapter::Service,
        title_en: "A Service without a selector, and endpoints written by hand",
        title_zh: "没有选择器的 Service，以及手写的端点",
        watch_en: "The Service names no pods, so the EndpointSlice controller writes nothing for it; the EndpointSlice here is hand-written (the label kubernetes.io/service-name ties it to the Service) and points at a database on node-2's host network. kube-proxy cannot tell: KUBE-SVC and KUBE-SEP DNAT to 192.168.1.11:5432 just as they would to a pod.",
        watch_zh: "这个 Service 不选择任何 Pod，EndpointSlice 控制器不会为它写任何东西；这里的 EndpointSlice 是手写的（靠标签 kubernetes.io/service-name 关联到 Service），指向 node-2 主机网络上的一个数据库。kube-proxy 分辨不出：KUBE-SVC 和 KUBE-SEP 像对待 Pod 一样 DNAT 到 192.168.1.11:5432。",
        from: "pod/app",
        to: "10.96.20.20:5432",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/selectorless.yaml"),
    },
    Builtin {
        id: "external-ips",
        chapter: Chapter::Service,
        title_en: "externalIPs: the Service answers on an address you route to a node",
        title_zh: "externalIPs：Service 在你路由到节点的地址上应答",
        watch_en: "192.168.1.100 is not any node's address; the network routes it to node-1, where KUBE-SERVICES matches it as the Service's external IP and jumps to KUBE-EXT. External traffic follows externalTrafficPolicy (Cluster here): KUBE-MARK-MASQ, then any endpoint, on any node. Compare the lesson that sends from a pod to the ClusterIP: internalTrafficPolicy: Local applies there.",
        watch_zh: "192.168.1.100 不是任何节点的地址；网络把它路由到 node-1，KUBE-SERVICES 把它当作 Service 的外部 IP 匹配，跳到 KUBE-EXT。外部流量遵循 externalTrafficPolicy（这里是 Cluster）：KUBE-MARK-MASQ，然后任选一个节点上的端点。对比从 Pod 发往 ClusterIP 的那一课：那里适用 internalTrafficPolicy: Local。",
        from: "client/laptop",
        to: "192.168.1.100:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/external-ips.yaml"),
    },
    Builtin {
        id: "internal-local",
        chapter: Chapter::Service,
        title_en: "internalTrafficPolicy: Local, and no endpoint on the client's node",
        title_zh: "internalTrafficPolicy: Local，而客户端所在节点没有端点",
        watch_en: "The same Service, now from a pod on node-1 to its ClusterIP. Internal traffic may only go to endpoints on the client's own node, and the only one runs on node-2: kube-proxy writes a filter DROP (\"has no local endpoints\") instead of a DNAT. The client only sees a timeout.",
        watch_zh: "同一个 Service，这次从 node-1 上的 Pod 发往它的 ClusterIP。内部流量只能去往客户端所在节点上的端点，而唯一的端点在 node-2：kube-proxy 写的是一条 filter DROP（“has no local endpoints”），而不是 DNAT。客户端只会等到超时。",
        from: "pod/client",
        to: "10.96.30.30:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/external-ips.yaml"),
    },
    Builtin {
        id: "dns",
        chapter: Chapter::Service,
        title_en: "Cluster DNS over UDP: kube-dns",
        title_zh: "集群 DNS（UDP）：kube-dns",
        watch_en: "A Service with three ports (dns/UDP, dns-tcp/TCP, metrics/TCP) gets one chain per port: KUBE-SVC-TCOU7JCQXEZGVUNU is the very name every real cluster has for kube-dns's UDP port. A UDP datagram has no handshake, but conntrack still tracks it, so the answer is un-DNATed the same way.",
        watch_zh: "有三个端口（dns/UDP、dns-tcp/TCP、metrics/TCP）的 Service，每个端口一条链：KUBE-SVC-TCOU7JCQXEZGVUNU 正是每个真实集群里 kube-dns UDP 端口的链名。UDP 没有握手，但 conntrack 照样跟踪它，应答同样被撤销 DNAT。",
        from: "pod/client",
        to: "10.96.0.10:53",
        proto: Proto::Udp,
        seed: 1,
        yaml: include_str!("../scenarios/dns.yaml"),
    },
    Builtin {
        id: "userspace-retry",
        chapter: Chapter::KubeProxyUserspace,
        title_en: "Userspace mode: kube-proxy relays, and retries a dead pod",
        title_zh: "userspace 模式：kube-proxy 转发，并重试故障 Pod",
        watch_en: "REDIRECT sends the client's connection to kube-proxy's own socket on the node. kube-proxy then dials a pod itself: web-b refuses (nothing listens), so it retries the next endpoint — something iptables mode cannot do. The pod sees the node's address, never the client's.",
        watch_zh: "REDIRECT 把客户端的连接送到节点上 kube-proxy 自己的套接字。kube-proxy 再自己去连 Pod：web-b 拒绝（没有进程监听），于是它重试下一个端点——这是 iptables 模式做不到的。Pod 看到的是节点地址，而不是客户端地址。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 6,
        yaml: include_str!("../scenarios/userspace.yaml"),
    },
    Builtin {
        id: "userspace-source-ip",
        chapter: Chapter::KubeProxyUserspace,
        title_en: "The author's question: why does userspace mode change the source IP?",
        title_zh: "原文的疑问：userspace 模式为什么会改变源 IP？",
        watch_en: "Because the packet that reaches the pod is not the client's packet. REDIRECT ends the client's connection at kube-proxy's own socket on node-1; kube-proxy reads the bytes and writes them into a second connection it dials itself, from the node's address 192.168.1.10. web-c sees 192.168.1.10, never 10.244.1.20. Compare the iptables ClusterIP lesson: DNAT rewrites only the destination, and the pod sees the client's own address.",
        watch_zh: "因为到达 Pod 的已经不是客户端的那个包了。REDIRECT 让客户端的连接终止在 node-1 上 kube-proxy 自己的套接字；kube-proxy 读出字节，再写进它自己发起的第二条连接，源地址是节点地址 192.168.1.10。web-c 看到的是 192.168.1.10，而不是 10.244.1.20。对比 iptables 模式的 ClusterIP 那一课：DNAT 只改写目的地址，Pod 看到的是客户端自己的地址。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/userspace.yaml"),
    },
    Builtin {
        id: "clusterip-iptables",
        chapter: Chapter::KubeProxyIptables,
        title_en: "ClusterIP with three endpoints (iptables mode)",
        title_zh: "三个端点的 ClusterIP（iptables 模式）",
        watch_en: "KUBE-SERVICES matches the ClusterIP, KUBE-SVC picks an endpoint with `statistic` draws (1/3, then 1/2, then the rest), KUBE-SEP DNATs. The endpoint runs on another node; the reply is un-DNATed by conntrack on the way back.",
        watch_zh: "KUBE-SERVICES 匹配 ClusterIP，KUBE-SVC 用 statistic 随机规则（1/3、1/2、最后一条兜底）选出端点，KUBE-SEP 做 DNAT。端点在另一个节点上；应答回来时由 conntrack 撤销 DNAT。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: CLUSTERIP,
    },
    Builtin {
        id: "clusterip-same-node",
        chapter: Chapter::KubeProxyIptables,
        title_en: "ClusterIP, endpoint on the same node",
        title_zh: "ClusterIP，端点在同一节点",
        watch_en: "The first `statistic` rule matches (p = 1/3), so the packet never leaves node-1: after DNAT it is routed over the bridge straight to web-a.",
        watch_zh: "第一条 statistic 规则命中（p = 1/3），数据包不离开 node-1：DNAT 之后经网桥直接送到 web-a。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 7,
        yaml: CLUSTERIP,
    },
    Builtin {
        id: "host-network",
        chapter: Chapter::KubeProxyIptables,
        title_en: "A host process calls a ClusterIP (OUTPUT)",
        title_zh: "主机进程访问 ClusterIP（OUTPUT 链）",
        watch_en: "A packet made on the node starts at nat OUTPUT, not PREROUTING. Its source (the node's address) is outside the cluster CIDR, so KUBE-SVC marks it and POSTROUTING masquerades it.",
        watch_zh: "节点自己发出的包从 nat OUTPUT 开始，而不是 PREROUTING。它的源地址（节点地址）不在集群网段内，所以 KUBE-SVC 给它打标记，POSTROUTING 对它做 masquerade。",
        from: "node/node-1",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: CLUSTERIP,
    },
    Builtin {
        id: "hairpin",
        chapter: Chapter::KubeProxyIptables,
        title_en: "Hairpin: a pod reaches itself through its Service",
        title_zh: "发夹（hairpin）：Pod 通过 Service 访问到自己",
        watch_en: "The draw picks web-a itself. KUBE-SEP's `-s 10.244.1.5 -j KUBE-MARK-MASQ` matches, so the source is masqueraded to the bridge address: otherwise web-a would answer itself directly and the un-DNAT would never happen.",
        watch_zh: "随机选中了 web-a 自己。KUBE-SEP 的 `-s 10.244.1.5 -j KUBE-MARK-MASQ` 命中，源地址被 masquerade 成网桥地址；否则 web-a 会直接回复自己，DNAT 永远不会被撤销。",
        from: "pod/web-a",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 7,
        yaml: CLUSTERIP,
    },
    Builtin {
        id: "outside-clusterip",
        chapter: Chapter::KubeProxyIptables,
        title_en: "The author's question: why do outside clients need a NodePort or a LoadBalancer?",
        title_zh: "原文的疑问：为什么集群外的客户端需要 NodePort 或 LoadBalancer？",
        watch_en: "The laptop sends to the ClusterIP and the packet never reaches a node: no interface anywhere holds 10.96.100.10 and the network outside has no route to the service CIDR. kube-proxy's rules only act on packets that already pass through a node's PREROUTING or OUTPUT. A NodePort (or a LoadBalancer, which sends to one) gives outside traffic an address a node owns. Then see the NodePort lessons: under externalTrafficPolicy: Cluster the packet is masqueraded and the pod loses the client's address again; under Local it keeps it.",
        watch_zh: "笔记本发往 ClusterIP，包根本到不了任何节点：没有哪个网卡持有 10.96.100.10，集群外的网络也没有去往 Service 网段的路由。kube-proxy 的规则只作用于已经经过某个节点 PREROUTING 或 OUTPUT 的包。NodePort（或者把流量转给它的 LoadBalancer）给外部流量一个由节点持有的地址。再看 NodePort 那几课：externalTrafficPolicy: Cluster 下包被 masquerade，Pod 又看不到客户端地址了；Local 下则保留。",
        from: "client/laptop",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: CLUSTERIP,
    },
    Builtin {
        id: "clusterip-ipvs",
        chapter: Chapter::KubeProxyIpvs,
        title_en: "The same ClusterIP in IPVS mode (rr)",
        title_zh: "同一个 ClusterIP，IPVS 模式（rr）",
        watch_en: "The ClusterIP is bound to kube-ipvs0, so the packet is for the node itself: nat PREROUTING only ACCEPTs it (an ipset match, not one rule per Service), it goes up to INPUT, and IPVS picks a real server and rewrites it. The reply is un-NATed by IPVS at FORWARD.",
        watch_zh: "ClusterIP 绑定在 kube-ipvs0 上，所以数据包是发给节点自己的：nat PREROUTING 只是 ACCEPT（用 ipset 匹配，而不是每个 Service 一条规则），数据包进入 INPUT，由 IPVS 选出真实服务器并改写。应答在 FORWARD 由 IPVS 撤销 NAT。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/clusterip-ipvs.yaml"),
    },
    Builtin {
        id: "ipvs-sh",
        chapter: Chapter::KubeProxyIpvs,
        title_en: "IPVS source hashing (sh)",
        title_zh: "IPVS 源地址哈希（sh）",
        watch_en: "sh hashes the client's address into a 256-bucket table: every connection from this client lands on the same pod. Send several connections to see it.",
        watch_zh: "sh 把客户端地址哈希到 256 个桶的表中：这个客户端的每个连接都落到同一个 Pod。多发几个连接看看。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/ipvs-sh.yaml"),
    },
    Builtin {
        id: "ipvs-lc",
        chapter: Chapter::KubeProxyIpvs,
        title_en: "IPVS least connection (lc)",
        title_zh: "IPVS 最少连接（lc）",
        watch_en: "lc picks the real server with the smallest overhead, 256 × active + inactive connections. Send connections and keep them open: they spread evenly.",
        watch_zh: "lc 选开销最小的真实服务器，开销 = 256 × 活动连接 + 非活动连接。发送多个连接并保持打开：它们被均匀分配。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/ipvs-lc.yaml"),
    },
    Builtin {
        id: "ipvs-wrr",
        chapter: Chapter::KubeProxyIpvs,
        title_en: "IPVS weighted round robin (wrr)",
        title_zh: "IPVS 加权轮询（wrr）",
        watch_en: "Real servers weigh 3, 2 and 1 (an lbplay extension: the Pod label lbplay.dev/ipvs-weight; kube-proxy itself always writes weight 1). wrr walks the list with a current weight stepping down by the weights' gcd, so every 6 connections split 3, 2 and 1: send 100 and they split 50, 33 and 17.",
        watch_zh: "真实服务器的权重分别为 3、2、1（lbplay 扩展：Pod 标签 lbplay.dev/ipvs-weight；kube-proxy 本身总是写权重 1）。wrr 用按权重最大公约数递减的当前权重遍历列表，每 6 个连接按 3、2、1 分配：发送 100 个连接，分配为 50、33、17。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/ipvs-wrr.yaml"),
    },
    Builtin {
        id: "clusterip-nftables",
        chapter: Chapter::KubeProxyNftables,
        title_en: "The same ClusterIP in nftables mode",
        title_zh: "同一个 ClusterIP，nftables 模式",
        watch_en: "One verdict-map lookup (`service-ips`) finds the Service instead of walking a rule per Service, and `numgen random mod 3 vmap` picks the endpoint in one rule instead of a cascade of statistic rules.",
        watch_zh: "一次判决映射（service-ips）查找就找到 Service，而不是逐条规则遍历；`numgen random mod 3 vmap` 一条规则选出端点，而不是一串 statistic 规则。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/clusterip-nftables.yaml"),
    },
    Builtin {
        id: "ingress-minimal",
        chapter: Chapter::Ingress,
        title_en: "The smallest Ingress: one path, and a controller to serve it",
        title_zh: "最简化的 Ingress：一条路径，和实现它的控制器",
        watch_en: "The source text's first Ingress, as written (extensions/v1beta1, converted to v1 with a hint). It needs a controller: lbplay installs ingress-nginx as Helm does, pods behind a LoadBalancer Service. Follow the laptop's request through kube-proxy's LoadBalancer rules (DNAT to the controller pod, and SNAT under externalTrafficPolicy: Cluster), then nginx: the default server, location /testpath, the Lua balancer, and a second connection straight to a pod of test. Try /other: the controller answers 404 itself.",
        watch_zh: "原文的第一个 Ingress，按原样书写（extensions/v1beta1，带提示地转换为 v1）。它需要控制器：lbplay 像 Helm 那样安装 ingress-nginx，Pod 在一个 LoadBalancer Service 后面。跟着 laptop 的请求穿过 kube-proxy 的 LoadBalancer 规则（DNAT 到控制器 Pod，externalTrafficPolicy: Cluster 下还有 SNAT），再进入 nginx：默认 server、location /testpath、Lua 负载均衡器，以及直连 test 某个 Pod 的第二条连接。试试 /other：控制器自己回答 404。",
        from: "client/laptop",
        to: "http://example.com/testpath",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/ingress-minimal.yaml"),
    },
    Builtin {
        id: "ingress-single",
        chapter: Chapter::Ingress,
        title_en: "A single Service behind an Ingress's default backend",
        title_zh: "单 Service Ingress：只有默认 backend",
        watch_en: "No rules, only a backend: ingress-nginx makes it the catch-all of its default server, so any Host and any path reach testsvc. kubectl get ingress in `lbplay check` shows the address the controller published.",
        watch_zh: "没有 rule，只有 backend：ingress-nginx 把它作为默认 server 的兜底，所以任何 Host、任何路径都到达 testsvc。`lbplay check` 里的 kubectl get ingress 显示了控制器发布的地址。",
        from: "client/laptop",
        to: "http://anything.example/any/path",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/ingress-single.yaml"),
    },
    Builtin {
        id: "ingress-fanout",
        chapter: Chapter::Ingress,
        title_en: "Fan-out: foo.bar.com/foo to s1, /bar to s2",
        title_zh: "扇出：foo.bar.com/foo 到 s1，/bar 到 s2",
        watch_en: "One load-balancer address, two Services, chosen by path. nginx picks server foo.bar.com, then location = /foo (ingress-nginx writes each path as a prefix location /foo/ plus an exact twin = /foo); the inspector lists the locations that lost and why. The controller dials the s1 pod's own IP: the second connection never meets a ClusterIP or kube-proxy's DNAT, and X-Forwarded-For carries the node's address, not the laptop's.",
        watch_zh: "一个负载均衡地址，两个 Service，按路径选择。nginx 选中 server foo.bar.com，再选中 location = /foo（ingress-nginx 把每个路径写成前缀 location /foo/ 加一个精确的孪生 location = /foo）；检查器列出了落选的 location 及原因。控制器直连 s1 Pod 自己的 IP：第二条连接从不经过 ClusterIP 和 kube-proxy 的 DNAT，X-Forwarded-For 带的是节点地址，而不是 laptop 的。",
        from: "client/laptop",
        to: "http://foo.bar.com/foo",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/ingress-fanout.yaml"),
    },
    Builtin {
        id: "ingress-vhosts",
        chapter: Chapter::Ingress,
        title_en: "Name-based virtual hosts: foo.bar.com and bar.foo.com on one address",
        title_zh: "基于名称的虚拟主机：foo.bar.com 和 bar.foo.com 共用一个地址",
        watch_en: "Both names resolve to the controller's one address; only the Host header tells them apart. nginx's server selection (server_name bar.foo.com) sends this request to s2; send http://foo.bar.com/ to reach s1, or an unknown Host to get the controller's 404.",
        watch_zh: "两个名字都解析到控制器的同一个地址；只有 Host 头能区分它们。nginx 的 server 选择（server_name bar.foo.com）把这个请求送到 s2；发往 http://foo.bar.com/ 会到 s1，未知的 Host 则得到控制器的 404。",
        from: "client/laptop",
        to: "http://bar.foo.com/",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/ingress-vhosts.yaml"),
    },
    Builtin {
        id: "ingress-v1",
        chapter: Chapter::Ingress,
        title_en: "networking.k8s.io/v1: pathType Exact and Prefix, and a wildcard host",
        title_zh: "networking.k8s.io/v1：pathType 的 Exact 与 Prefix，以及通配符主机",
        watch_en: "Today's Ingress. Exact /api matches only /api; Prefix /shop matches /shop and /shop/x element by element, but not /shopping; *.foo.com matches one label. A path of foo.bar.com that no rule matches goes to the defaultBackend; a Host no rule names gets the controller's 404, because ingress-nginx uses an Ingress's defaultBackend as the catch-all only when the Ingress has no rules.",
        watch_zh: "今天的 Ingress。Exact /api 只匹配 /api；Prefix /shop 按路径元素匹配 /shop 和 /shop/x，但不匹配 /shopping；*.foo.com 只匹配一个标签。foo.bar.com 上没有规则匹配的路径去往 defaultBackend；没有规则提到的 Host 得到控制器的 404，因为只有当 Ingress 没有 rule 时，ingress-nginx 才把它的 defaultBackend 当作兜底。",
        from: "client/laptop",
        to: "http://foo.bar.com/shop/cart",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/ingress-v1.yaml"),
    },
    Builtin {
        id: "mesh-sidecar",
        chapter: Chapter::Mesh,
        title_en: "A call between two sidecars: no kube-proxy on the way",
        title_zh: "两个边车之间的调用：途中没有 kube-proxy",
        watch_en: "The client's connect to web's ClusterIP never leaves its pod: istio-init's ISTIO_OUTPUT sends it to ISTIO_REDIRECT, REDIRECT to 127.0.0.1:15001, where Envoy accepts it. Envoy reads the request, walks listener virtualOutbound, 0.0.0.0_80, route configuration 80, the virtual host, the default route and cluster outbound|80||web.default.svc.cluster.local, and LEAST_REQUEST picks a pod. Envoy (uid 1337) dials the Pod IP itself: the owner match lets it out, and kube-proxy's DNAT never sees it. On the web pod, PREROUTING sends it to 15006, virtualInbound, and the app gets it from 127.0.0.6. Compare the request before and after each sidecar.",
        watch_zh: "客户端对 web ClusterIP 的连接从未离开它的 Pod：istio-init 写的 ISTIO_OUTPUT 把它交给 ISTIO_REDIRECT，REDIRECT 到 127.0.0.1:15001，由 Envoy 接受。Envoy 读取请求，依次经过监听器 virtualOutbound、0.0.0.0_80、路由配置 80、虚拟主机、默认路由和集群 outbound|80||web.default.svc.cluster.local，由 LEAST_REQUEST 选出一个 Pod。Envoy（uid 1337）自己连接 Pod IP：属主匹配放行，kube-proxy 的 DNAT 从未见到它。在 web Pod 上，PREROUTING 把它送到 15006、virtualInbound，应用从 127.0.0.6 收到请求。对比每个边车前后的请求。",
        from: "pod/client",
        to: "http://web/hello",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/mesh.yaml"),
    },
    Builtin {
        id: "mesh-language",
        chapter: Chapter::Mesh,
        title_en: "Routing by language: Accept-Language picks the zh or the en servers",
        title_zh: "按语言路由：Accept-Language 选择 zh 或 en 服务器组",
        watch_en: "The source text's example. One Service, two groups of pods; the VirtualService's first route matches an Accept-Language header starting with zh and sends it to subset zh, the second takes everything else to subset en. This walk sends no Accept-Language, so route everyone-else wins and cluster outbound|80|en|… serves it. Send it with -H 'Accept-Language: zh-CN' to reach the zh group: kube-proxy could never do this, it does not read the request.",
        watch_zh: "原文的例子。一个 Service，两组 Pod；VirtualService 的第一条路由匹配以 zh 开头的 Accept-Language 头，把请求送到子集 zh，第二条把其余请求送到子集 en。这次请求没有 Accept-Language，所以路由 everyone-else 胜出，由集群 outbound|80|en|… 服务。加上 -H 'Accept-Language: zh-CN' 再发一次就会到 zh 组：kube-proxy 做不到，它不读请求。",
        from: "pod/client",
        to: "http://web/",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/mesh-language.yaml"),
    },
    Builtin {
        id: "mesh-canary",
        chapter: Chapter::Mesh,
        title_en: "A 90/10 canary by weight, whatever the pod counts",
        title_zh: "按权重 90/10 的金丝雀发布，与 Pod 数量无关",
        watch_en: "Three v1 pods and one v2 pod. Through kube-proxy, v2 would get a quarter of the connections; through the sidecar, the VirtualService's weights decide per request: the route step shows the weighted clusters and the draw. Send 1,000 requests (lbplay send --requests 1000) and about 100 reach v2.",
        watch_zh: "三个 v1 Pod，一个 v2 Pod。经过 kube-proxy，v2 会得到四分之一的连接；经过边车，VirtualService 的权重按请求决定：路由那一步显示加权的集群和抽签结果。发送 1,000 个请求（lbplay send --requests 1000），约 100 个到达 v2。",
        from: "pod/client",
        to: "http://web/",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/mesh-canary.yaml"),
    },
    Builtin {
        id: "grpc-pinned",
        chapter: Chapter::Grpc,
        title_en: "gRPC through a ClusterIP: one connection, every call pinned",
        title_zh: "经过 ClusterIP 的 gRPC：一条连接，每个调用都被钉住",
        watch_en: "The client resolves greeter to its ClusterIP and opens one TCP connection; kube-proxy's statistic rules pick a pod from the SYN. Then the HTTP/2 preface, SETTINGS and the call /helloworld.Greeter/SayHello ride that connection as stream 1: HEADERS (HPACK) and a DATA frame holding a 5-byte length-prefixed HelloRequest. The pod answers on stream 1 with HEADERS, DATA and the trailers carrying grpc-status: 0. Every later call is stream 3, 5 … on the same connection, and conntrack's stored DNAT sends it to the same pod: no rule is consulted again. Run the experiment with 3 clients: each client's calls all land on one pod, and often two clients share a pod while another gets nothing (`lbplay trace --streams 3` shows three streams).",
        watch_zh: "客户端把 greeter 解析为其 ClusterIP，建立一条 TCP 连接；kube-proxy 的 statistic 规则凭 SYN 选定一个 Pod。随后 HTTP/2 的连接序言、SETTINGS 和调用 /helloworld.Greeter/SayHello 作为流 1 走这条连接：HEADERS（HPACK 编码）和一个装着 5 字节长度前缀 HelloRequest 的 DATA 帧。Pod 在流 1 上用 HEADERS、DATA 和携带 grpc-status: 0 的尾部作答。之后的每个调用都是同一连接上的流 3、5……，conntrack 记下的 DNAT 把它们送到同一个 Pod：不再查询任何规则。用 3 个客户端运行实验：每个客户端的调用全落在一个 Pod 上，常常两个客户端挤在同一个 Pod，另一个 Pod 闲着（`lbplay trace --streams 3` 可看到三个流）。",
        from: "pod/client-7bdfb8455d-6pz62",
        to: "grpc://greeter:50051/helloworld.Greeter/SayHello",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/grpc.yaml"),
    },
    Builtin {
        id: "grpc-headless",
        chapter: Chapter::Grpc,
        title_en: "A headless Service and the client's own balancer",
        title_zh: "无头 Service 与客户端自己的负载均衡",
        watch_en: "greeter-headless has clusterIP: None, so cluster DNS answers one A record per ready pod and kube-proxy writes no rule for it: the connection goes straight to a Pod IP. gRPC's default policy, pick_first, connects to the first address and sends every call there, so nothing is balanced yet. With round_robin (`lbplay send --grpc-lb round_robin`), the client opens one connection per address and sends each call on the next one: the calls spread evenly, from the client itself, per request. The client only re-resolves when a connection breaks, so a new pod gets no calls until then.",
        watch_zh: "greeter-headless 设置了 clusterIP: None，集群 DNS 为每个就绪 Pod 返回一条 A 记录，kube-proxy 也不为它写任何规则：连接直达 Pod IP。gRPC 的默认策略 pick_first 连接第一个地址并把所有调用都发到那里，所以此时还谈不上均衡。换成 round_robin（`lbplay send --grpc-lb round_robin`）后，客户端为每个地址各开一条连接，每个调用轮流使用下一条：调用由客户端自己按请求均匀分散。客户端只在连接断开时才重新解析，所以新 Pod 在那之前收不到调用。",
        from: "pod/client-7bdfb8455d-6pz62",
        to: "grpc://greeter-headless:50051/helloworld.Greeter/SayHello",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/grpc.yaml"),
    },
    Builtin {
        id: "question-service-ip",
        chapter: Chapter::Questions,
        title_en: "Where does a Service's IP come from?",
        title_zh: "Service 的 IP 从哪里来？",
        watch_en: "From the cluster's service CIDR (kube-apiserver's --service-cluster-ip-range, 10.96.0.0/12 here). `web` writes no clusterIP, so the API server's allocator picks a free address of the range (10.108.247.134); `pinned` asks for 10.96.0.50 with spec.clusterIP and gets exactly that. The pod finds the address through cluster DNS, and from then on it is only a destination kube-proxy's rules match. Edit the YAML: a clusterIP outside the range, or one another Service holds, is refused as the API server refuses it.",
        watch_zh: "来自集群的 Service CIDR（kube-apiserver 的 --service-cluster-ip-range，这里是 10.96.0.0/12）。`web` 没写 clusterIP，API server 的分配器从这个范围里挑一个空闲地址（10.108.247.134）；`pinned` 用 spec.clusterIP 要求 10.96.0.50，就正好得到它。Pod 通过集群 DNS 找到这个地址，此后它只是 kube-proxy 规则匹配的一个目的地址。改一改 YAML：范围之外的 clusterIP，或者已被别的 Service 占用的地址，会像 API server 那样被拒绝。",
        from: "pod/client",
        to: "http://web/",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/question-service-ip.yaml"),
    },
    Builtin {
        id: "question-vip-dns-stale",
        chapter: Chapter::Questions,
        title_en: "Why a VIP and not round-robin DNS? A cached pod address, after a scale-down",
        title_zh: "为什么用 VIP 而不是轮询 DNS？缩容之后，缓存的 Pod 地址",
        watch_en: "web was just scaled down from 3 replicas to 1. A client that resolved the pods' own addresses and cached them (as many DNS clients do, whatever the TTL says) still dials 10.244.2.3, a pod that is gone. Nothing on the way knows: no Service rule matches a pod address, node-2 routes it to its bridge, and no pod answers there. The client gets no reply, only a timeout (then host unreachable, once ARP gives up). Run the next lesson: the same client, the same moment, through the ClusterIP.",
        watch_zh: "web 刚从 3 个副本缩容到 1 个。一个自己解析出 Pod 地址并缓存起来的客户端（很多 DNS 客户端都会这样做，不管 TTL 怎么说）仍然去连 10.244.2.3，而这个 Pod 已经不在了。途中没有谁知道这件事：没有任何 Service 规则匹配 Pod 地址，node-2 把包路由到网桥，那里却没有 Pod 应答。客户端收不到任何回复，只能等到超时（ARP 放弃后得到主机不可达）。再运行下一课：同一个客户端、同一时刻，经过 ClusterIP。",
        from: "pod/client",
        to: "10.244.2.3:8080",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/question-vip-dns.yaml"),
    },
    Builtin {
        id: "question-vip-dns-vip",
        chapter: Chapter::Questions,
        title_en: "Why a VIP and not round-robin DNS? The ClusterIP follows the EndpointSlice",
        title_zh: "为什么用 VIP 而不是轮询 DNS？ClusterIP 跟着 EndpointSlice 走",
        watch_en: "The same scale-down, the same client, but it dials the Service's ClusterIP, an address that never changes and so is safe to cache. The EndpointSlice controller dropped the gone pods at once, kube-proxy rewrote KUBE-SVC from it, and the only KUBE-SEP left DNATs to the live pod 10.244.2.2. Set the Deployment's replicas back to 3 and send again: the rules grow back, the VIP stays the same.",
        watch_zh: "同样的缩容，同一个客户端，但这次它连的是 Service 的 ClusterIP：这个地址永远不变，所以缓存它是安全的。EndpointSlice 控制器立刻删掉了已消失的 Pod，kube-proxy 据此重写了 KUBE-SVC，剩下唯一的 KUBE-SEP 把包 DNAT 到还活着的 Pod 10.244.2.2。把 Deployment 的副本数改回 3 再发一次：规则重新长出来，VIP 不变。",
        from: "pod/client",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/question-vip-dns.yaml"),
    },
    Builtin {
        id: "question-cross-node",
        chapter: Chapter::Questions,
        title_en: "How is a Service routed when its pods are on other nodes?",
        title_zh: "Service 的 Pod 分布在不同节点上时，流量如何路由？",
        watch_en: "kube-proxy runs on every node and writes the same KUBE-SERVICES, KUBE-SVC and KUBE-SEP chains on each. This client runs on node-2: node-2's own rules pick web-c and DNAT to 10.244.3.9, and ordinary pod routing carries the packet to node-3. Nothing on node-3 is Service-specific; the reply is un-DNATed back on node-2, where conntrack holds the binding. Compare the ClusterIP lesson, sent from node-1.",
        watch_zh: "kube-proxy 在每个节点上运行，在每个节点上写出同样的 KUBE-SERVICES、KUBE-SVC 和 KUBE-SEP 链。这个客户端在 node-2 上：node-2 自己的规则选中 web-c 并 DNAT 到 10.244.3.9，普通的 Pod 路由把包送到 node-3。node-3 上没有任何与 Service 相关的处理；应答回到 node-2，由保存着绑定的 conntrack 撤销 DNAT。对比从 node-1 发出的 ClusterIP 那一课。",
        from: "pod/client-2",
        to: "10.96.100.10:80",
        proto: Proto::Tcp,
        seed: 1,
        yaml: include_str!("../scenarios/question-cross-node.yaml"),
    },
];

/// Every built-in scenario, in the order the library shows them: grouped by chapter, the chapters
/// in the order of the source text's sections (`Chapter`'s order).
pub fn all() -> &'static [Builtin] {
    ALL
}

/// The built-in scenario with this id.
pub fn get(id: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|builtin| builtin.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library and `lbplay scenarios` list lessons in this order, so it must follow the
    /// source text: concepts, Service, kube-proxy's modes, Ingress, Istio, gRPC, the questions.
    #[test]
    fn lessons_are_grouped_in_the_source_texts_order() {
        let chapters: Vec<Chapter> = ALL.iter().map(|builtin| builtin.chapter).collect();
        let out_of_order: Vec<&str> =
            ALL.windows(2).filter(|pair| pair[0].chapter > pair[1].chapter).map(|pair| pair[1].id).collect();
        assert!(out_of_order.is_empty(), "out of chapter order: {out_of_order:?} in {chapters:?}");
        assert_eq!(ALL.first().map(|builtin| builtin.chapter), Some(Chapter::Concepts));
        assert_eq!(ALL.last().map(|builtin| builtin.chapter), Some(Chapter::Questions));
    }

    #[test]
    fn every_lesson_is_narrated_in_both_languages_and_ids_are_unique() {
        for builtin in ALL {
            for text in [builtin.title_en, builtin.title_zh, builtin.watch_en, builtin.watch_zh] {
                assert!(!text.trim().is_empty(), "{} lacks a title or narration", builtin.id);
            }
            assert_ne!(builtin.watch_en, builtin.watch_zh, "{} is not translated", builtin.id);
            assert_eq!(ALL.iter().filter(|other| other.id == builtin.id).count(), 1, "{} twice", builtin.id);
        }
    }
}
