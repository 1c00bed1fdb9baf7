//! The Envoy sidecar hop: an injected pod's request, captured by istio-init's rules, routed by
//! the sidecar's Envoy, and proxied straight to a pod, through that pod's own sidecar when it
//! has one.
//!
//! The walk brings the app's connection to its own sidecar: nat OUTPUT in the pod's network
//! namespace (`pod_ns`) REDIRECTs it to 127.0.0.1:15001, and Envoy accepts it there (`open`).
//! This stage owns what follows once the request arrives. Envoy's listener `virtualOutbound`
//! reads the original destination (SO_ORIGINAL_DST, the Service's VIP and port) and hands the
//! connection to that port's listener; its HTTP connection manager reads the request and walks
//! the route configuration, virtual host and route to a cluster (`mesh::route`), whose load
//! balancer picks an endpoint (`mesh::balance`, its state kept per client pod and cluster as one
//! Envoy worker keeps it). Envoy, running as uid 1337, dials the Pod IP and port itself: its
//! packets meet the owner match in ISTIO_OUTPUT and leave unredirected, and they carry no
//! ClusterIP, so kube-proxy's DNAT never sees them. On an injected server pod, nat PREROUTING
//! REDIRECTs the connection to 15006; the inbound listener `virtualInbound` and the cluster
//! `inbound|PORT||` hand the request to the app from 127.0.0.6, which ISTIO_OUTPUT lets through.
//! A refused connection is retried on another host under Istio's default retry policy
//! (pilot/pkg/networking/core/route/retry/retry.go `DefaultPolicy`: `num_retries: 2`, `retry_on:
//! connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`, the
//! `previous_hosts` predicate with `host_selection_retry_max_attempts: 5`), each attempt a new
//! upstream connection. The default lists no retriable status codes (earlier releases listed
//! 503), so a 503 is retried only when the VirtualService's `retries.retryOn` asks for it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::exchange::{BACKEND_ISN, CLIENT_ISN, PROXY_ISN, SERVER_ISN, seq_ack};
use super::ingress_hop::Arrival;
use super::pod_ns::{APP_UID, PROXY_UID};
use super::proxy::{Accepted, Dial, Proxy, mark_connection};
use super::{Host, Sim, step};
use crate::http::{self, h1};
use crate::kubeproxy::userspace::{DialResult, Health, health};
use crate::mesh::balance::{Balancer, Endpoint};
use crate::mesh::{envoy, forward, route};
use crate::net::Proto;
use crate::packet::{Packet, Tuple};
use crate::trace::{Direction, HttpOutcome, RequestChange, StepKind, Text, Trace};

/// MeshConfig `connectTimeout`'s default, 10 s.
const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// `DefaultPolicy`'s `num_retries`.
const DEFAULT_RETRIES: u32 = 2;
/// `host_selection_retry_max_attempts`.
const HOST_SELECTION_ATTEMPTS: usize = 5;

/// The sidecars' balancers, per client pod and cluster.
#[derive(Debug, Clone, Default)]
pub(super) struct State {
    /// Each balancer with the endpoint addresses it was built over.
    balancers: BTreeMap<(String, String), (Vec<SocketAddrV4>, Balancer)>,
}

/// One step of the hop on `node`, at the packet as it is.
fn proxy_step(
    node: &str,
    packet: &Packet,
    stage: &'static str,
    verdict: &str,
    rule: Option<String>,
    note: Text,
) -> crate::trace::Step {
    let mut s = step(node, Direction::Original, StepKind::Proxy, packet, packet, verdict, note);
    s.stage = Some(stage);
    s.rule = rule;
    s
}

impl<'a> Sim<'a> {
    /// The sidecar that accepts `tuple` on the injected pod `pod`: the outbound listener on
    /// 127.0.0.1:15001 (where REDIRECT at OUTPUT sends the app's connections) or the inbound one
    /// on the Pod IP's 15006.
    pub(super) fn envoy_at(&self, pod: &str, tuple: Tuple) -> Option<Proxy> {
        let mesh = self.cluster.mesh.as_deref()?;
        mesh.sidecar(pod)?;
        let ip = self.cluster.pod(pod)?.ip;
        if tuple.dst == SocketAddrV4::new(Ipv4Addr::LOCALHOST, 15001) {
            return Some(Proxy::Envoy { pod: pod.to_string(), inbound: false });
        }
        (*tuple.dst.ip() == ip && tuple.dst.port() == 15006)
            .then(|| Proxy::Envoy { pod: pod.to_string(), inbound: true })
    }

    /// The request `bytes` from the app, through its sidecar, to a pod and back.
    pub(super) fn exchange_envoy(
        &mut self,
        trace: &mut Trace,
        arrival: &Arrival<'_>,
        client: SocketAddrV4,
        request: &http::Request,
        bytes: &[u8],
    ) {
        let Arrival { source, server, at_server, proxy, dst, .. } = *arrival;
        if let Proxy::Envoy { inbound: true, .. } = proxy {
            self.exchange_inbound_only(trace, arrival, client, request, bytes);
            return;
        }
        let node = server.name().to_string();
        mark_connection(trace, 0, 0);
        // The app's leg: the request, to the address it called; the pod's conntrack sends it on
        // to Envoy.
        let (seq, ack) = seq_ack(CLIENT_ISN, SERVER_ISN, 0, 0);
        let Some(segment) = self.data_packet(client, dst, seq, ack, bytes) else { return };
        let start = trace.steps.len();
        let walked = self.walk(trace, source.clone(), segment, Direction::Original);
        mark_connection(trace, start, 0);
        let Some((_, arrived)) = walked else { return };
        self.mark_request(trace, start, request);
        let namespace = self.cluster.pod(&node).map(|p| p.namespace.clone()).unwrap_or_default();
        let draw = self.env.rng.next_u64();
        let asked = route::Request { authority: &request.authority, path: &request.path, headers: &request.headers };
        let routed = route::route(self.cluster, &namespace, dst, &asked, draw);
        for s in decision_steps(&node, &arrived, dst, &routed, request) {
            trace.steps.push(s);
        }
        if let Some(reply) = &routed.local_reply {
            self.envoy_answers(trace, arrival, reply.status, reply.flag, &reply.why, bytes.len());
            return;
        }
        let Some(upstream) = routed.cluster.clone() else { return };
        let retries = routed.route.as_ref().and_then(|r| r.retries).unwrap_or(DEFAULT_RETRIES);
        let retry_503 = route::retries_503(routed.route.as_ref().and_then(|r| r.retry_on.as_deref()));
        let lb = routed.service.as_ref().and_then(|(ns, name, _)| {
            let service = self.cluster.service(ns, name)?;
            let mesh = self.cluster.mesh.as_deref()?;
            route::load_balancer(&mesh.destination_rules, service, None).cloned()
        });
        let hash = route::request_hash(lb.as_ref(), &asked, *client.ip());
        let ids = forward::Ids::draw(&mut self.env.rng);
        let accepted = Accepted { proxy, host: server, client: source, received: at_server, proto: Proto::Tcp };
        let mut tried: Vec<usize> = Vec::new();
        let mut connection: u8 = 1;
        for attempt in 1..=retries + 1 {
            let Some((index, why)) = self.envoy_pick(&node, &upstream, hash, &tried) else { return };
            tried.push(index);
            let (backend, pod_name) = upstream.endpoints[index].clone();
            let owner = pod_name.clone().map_or_else(|| backend.ip().to_string(), |p| format!("pod/{p}"));
            let listed: Vec<String> = upstream.endpoints.iter().map(|(a, _)| a.to_string()).collect();
            let note = Text::new(
                format!(
                    "Attempt {attempt}: the cluster's {} load balancer ({}) picks {backend} ({owner}) among its endpoints [{}]: {why}. Envoy learned these Pod IPs from istiod (EDS); it does not use the Service's ClusterIP.",
                    upstream.policy.name(),
                    upstream.policy_from,
                    listed.join(", ")
                ),
                format!(
                    "第 {attempt} 次尝试：集群的 {} 负载均衡器（{}）在端点 [{}] 中选中 {backend}（{owner}）：{why}。Envoy 从 istiod（EDS）得知这些 Pod IP，不使用 Service 的 ClusterIP。",
                    upstream.policy.name(),
                    upstream.policy_from,
                    listed.join("，")
                ),
            );
            let rule = format!("{backend}  HEALTHY  OK  {}", upstream.name);
            trace.steps.push(proxy_step(&node, &arrived, "endpoint", &backend.to_string(), Some(rule), note));
            mark_connection(trace, 0, 0);
            // The dial, as uid 1337.
            let dial = Dial {
                backend,
                note: Text::new(
                    format!(
                        "Envoy (uid 1337) opens its own connection from {} to {backend}, the pod's own address and port. In the pod's nat table the owner match returns it, so it is not redirected back to Envoy; and it carries no ClusterIP, so kube-proxy's rules on the node have nothing to rewrite: no DNAT.",
                        server.ip()
                    ),
                    format!(
                        "Envoy（uid 1337）从 {} 另开一条连接，直连 {backend}——Pod 自己的地址和端口。在 Pod 的 nat 表里属主匹配让它返回，不会被重定向回 Envoy；它也不带 ClusterIP，所以节点上 kube-proxy 的规则无可改写：没有 DNAT。",
                        server.ip()
                    ),
                ),
                answer: match health(self.cluster, backend) {
                    Health::Refuses => DialResult::Refused,
                    Health::Silent => DialResult::TimedOut,
                    Health::Answers => DialResult::Connected,
                },
                timeout_ms: CONNECT_TIMEOUT_MS,
            };
            self.socket_owner = (PROXY_UID, PROXY_UID);
            let start = trace.steps.len();
            let connected = self.dial(trace, &accepted, &dial);
            mark_connection(trace, start, connection);
            self.socket_owner = (APP_UID, APP_UID);
            let Some((pod, dialed, at_pod)) = connected else {
                trace.outcome.dropped = false;
                trace.outcome.reason = None;
                if attempt <= retries {
                    trace.steps.push(retry_step(&node, &arrived, attempt, "connect-failure", &backend));
                    connection = connection.saturating_add(1);
                    continue;
                }
                let why = format!("every attempt failed to connect (the last to {backend})");
                self.envoy_answers(trace, arrival, 503, "URX", &why, bytes.len());
                return;
            };
            // The proxied request, with Envoy's headers.
            let proxied = forward::outbound(request, &routed.virtual_host, attempt, &ids);
            let proxied_bytes = super::streams::proxied_bytes(bytes, &proxied, forward::request_bytes);
            let (seq, ack) = seq_ack(PROXY_ISN, BACKEND_ISN, 0, 0);
            let Some(sent) = self.data_packet(dialed.src, dialed.dst, seq, ack, &proxied_bytes) else { return };
            let added: Vec<&str> =
                proxied.headers.iter().filter(|h| request.header(&h.name).is_none()).map(|h| h.name.as_str()).collect();
            let mtls = self.envoy_at(pod.name(), at_pod).is_some();
            let secured = if mtls {
                (
                    format!(
                        " {} has a sidecar too, so Istio's automatic mutual TLS encrypts this pod-to-pod leg: on the wire the request is TLS records, shown here as the HTTP inside them.",
                        pod.label()
                    ),
                    format!(
                        "{} 也有边车，所以 Istio 的自动双向 TLS 会加密这段 Pod 到 Pod 的连接：线路上是 TLS 记录，这里显示的是其中的 HTTP。",
                        pod.label()
                    ),
                )
            } else {
                (
                    format!(" {} has no sidecar, so this leg is plain HTTP.", pod.label()),
                    format!("{} 没有边车，所以这段连接是明文 HTTP。", pod.label()),
                )
            };
            let note = Text::new(
                format!(
                    "Envoy writes the request to its connection to {} ({} bytes), header names in lower case as its HTTP/1.1 codec writes them, with the headers it adds: {}.{}",
                    pod.label(),
                    proxied_bytes.len(),
                    added.join(", "),
                    secured.0
                ),
                format!(
                    "Envoy 把请求写进它到 {} 的连接（{} 字节），头名按其 HTTP/1.1 编解码器写成小写，并加上它添加的头：{}。{}",
                    pod.label(),
                    proxied_bytes.len(),
                    added.join("、"),
                    secured.1
                ),
            );
            let mut s = step(&node, Direction::Original, StepKind::Proxy, &arrived, &sent, "REQUEST →", note);
            s.stage = Some("relay");
            s.request = Some(Box::new(RequestChange { before: request.clone(), after: proxied.clone() }));
            trace.steps.push(s);
            self.socket_owner = (PROXY_UID, PROXY_UID);
            let sent = self.send_proxied(trace, server, sent, &proxied, &pod, connection);
            self.socket_owner = (APP_UID, APP_UID);
            let Some(at_backend) = sent else { return };
            let answered = if mtls {
                self.envoy_inbound(trace, &pod, at_pod, &at_backend, &proxied, connection, source, true)
            } else {
                let start = trace.steps.len();
                let answered = self.answer(trace, &pod, at_pod, &at_backend, (BACKEND_ISN, PROXY_ISN), Text::default());
                mark_connection(trace, start, connection);
                answered
            };
            let Some(answered) = answered else { return };
            let status = trace.outcome.http.take().map_or(0, |h| h.status);
            if status == 503 && retry_503 && attempt <= retries {
                trace.steps.push(retry_step(
                    &node,
                    &answered,
                    attempt,
                    "a 503, which the route's retryOn names",
                    &backend,
                ));
                connection = connection.saturating_add(if mtls { 2 } else { 1 });
                continue;
            }
            self.envoy_relays_back(trace, arrival, &answered, bytes.len(), &pod);
            if trace.outcome.http.is_some() {
                let backend = routed.service.as_ref().map(|(ns, name, port)| format!("{ns}/{name}:{port}"));
                trace.outcome.http = Some(HttpOutcome { status, backend, pod: Some(pod.label()) });
            }
            return;
        }
    }

    /// The pod (or Envoy's own answer) that serves `request` from the injected pod `pod` to `dst`,
    /// for experiments that count backends without walking: the same route, balancer and
    /// connect-failure retries as the walk.
    pub(super) fn envoy_backend(&mut self, pod: &str, dst: SocketAddrV4, request: &http::Request) -> String {
        let namespace = self.cluster.pod(pod).map(|p| p.namespace.clone()).unwrap_or_default();
        let draw = self.env.rng.next_u64();
        let asked = route::Request { authority: &request.authority, path: &request.path, headers: &request.headers };
        let routed = route::route(self.cluster, &namespace, dst, &asked, draw);
        if let Some(reply) = &routed.local_reply {
            return format!("{} {} from envoy", reply.status, reply.flag);
        }
        let Some(upstream) = routed.cluster else { return "dropped".into() };
        let retries = routed.route.as_ref().and_then(|r| r.retries).unwrap_or(DEFAULT_RETRIES);
        let retry_503 = route::retries_503(routed.route.as_ref().and_then(|r| r.retry_on.as_deref()));
        let lb = routed.service.as_ref().and_then(|(ns, name, _)| {
            let service = self.cluster.service(ns, name)?;
            route::load_balancer(&self.cluster.mesh.as_deref()?.destination_rules, service, None).cloned()
        });
        let source = self.cluster.pod(pod).map_or(Ipv4Addr::UNSPECIFIED, |p| p.ip);
        let hash = route::request_hash(lb.as_ref(), &asked, source);
        let mut tried = Vec::new();
        for _ in 0..=retries {
            let Some((index, _)) = self.envoy_pick(pod, &upstream, hash, &tried) else { break };
            tried.push(index);
            let (backend, name) = &upstream.endpoints[index];
            let failing = self.cluster.pod_by_ip(*backend.ip()).is_some_and(|p| {
                p.labels.get(crate::kubeproxy::userspace::DOWN_LABEL).map(String::as_str) == Some("503")
            });
            let served = name.clone().map_or_else(|| backend.to_string(), |n| format!("pod/{n}"));
            if health(self.cluster, *backend) == Health::Answers && !(failing && retry_503) {
                return if failing { format!("503 from {served}") } else { served };
            }
        }
        "503 URX from envoy".into()
    }

    /// A client without a sidecar of its own (or whose range is excluded) calling an injected
    /// pod: kube-proxy chose the pod, and only the server's sidecar takes part, in plain text
    /// (PERMISSIVE mode accepts it), without a client certificate.
    fn exchange_inbound_only(
        &mut self,
        trace: &mut Trace,
        arrival: &Arrival<'_>,
        client: SocketAddrV4,
        request: &http::Request,
        bytes: &[u8],
    ) {
        let Arrival { source, server, at_server, dst, .. } = *arrival;
        mark_connection(trace, 0, 0);
        let (seq, ack) = seq_ack(CLIENT_ISN, SERVER_ISN, 0, 0);
        let Some(segment) = self.data_packet(client, dst, seq, ack, bytes) else { return };
        let start = trace.steps.len();
        let walked = self.walk(trace, source.clone(), segment, Direction::Original);
        mark_connection(trace, start, 0);
        let Some((at, arrived)) = walked else { return };
        self.mark_request(trace, start, request);
        if at != *server {
            trace.outcome.dropped = true;
            trace.outcome.reason =
                Some(format!("the request reached {} but the connection was opened to {}", at.label(), server.label()));
            return;
        }
        let answered = self.envoy_inbound(trace, server, at_server, &arrived, request, 0, source, false);
        if answered.is_some() {
            let status = trace.outcome.http.take().map_or(0, |h| h.status);
            let backend = self.service_named_at(dst);
            trace.outcome.http = Some(HttpOutcome { status, backend, pod: Some(server.label()) });
        } else if !trace.outcome.dropped {
            trace.outcome.reason = Some("the response did not reach the client".into());
        }
    }

    /// The Service `namespace/name:port` whose ClusterIP and port `dst` is.
    fn service_named_at(&self, dst: SocketAddrV4) -> Option<String> {
        self.cluster.services.iter().find_map(|s| {
            let port = s.ports.iter().find(|p| p.port == dst.port() && s.cluster_ip == Some(*dst.ip()))?;
            Some(format!("{}:{}", s.namespaced_name(), port.port))
        })
    }

    /// The balancer's pick among the cluster's endpoints, avoiding the hosts already tried
    /// (`previous_hosts`, up to `host_selection_retry_max_attempts` picks).
    fn envoy_pick(
        &mut self,
        pod: &str,
        upstream: &route::Upstream,
        hash: Option<u64>,
        tried: &[usize],
    ) -> Option<(usize, String)> {
        if upstream.endpoints.is_empty() {
            return None;
        }
        let key = (pod.to_string(), upstream.name.clone());
        let stale = self.envoy.balancers.get(&key).is_none_or(|(built, balancer)| {
            built.len() != upstream.endpoints.len()
                || built.iter().zip(&upstream.endpoints).any(|(a, (b, _))| a != b)
                || balancer.policy() != &upstream.policy
        });
        if stale {
            let endpoints: Vec<Endpoint> =
                upstream.endpoints.iter().map(|(a, _)| Endpoint { address: a.to_string(), weight: 1 }).collect();
            let seed = self.env.rng.next_u64();
            let balancer = Balancer::new(upstream.policy.clone(), endpoints.clone(), seed)
                .or_else(|_| Balancer::new(crate::mesh::balance::Policy::least_request(), endpoints, seed))
                .ok()?;
            let built = upstream.endpoints.iter().map(|(a, _)| *a).collect();
            self.envoy.balancers.insert(key.clone(), (built, balancer));
        }
        let active = vec![0; upstream.endpoints.len()];
        let (_, balancer) = self.envoy.balancers.get_mut(&key)?;
        let mut pick = balancer.pick(&active, hash, &mut self.env.rng);
        for _ in 1..HOST_SELECTION_ATTEMPTS {
            if !tried.contains(&pick.index) {
                break;
            }
            pick = balancer.pick(&active, hash.map(|h| h ^ (!0u64 - tried.len() as u64 + 1)), &mut self.env.rng);
        }
        Some((pick.index, pick.why))
    }

    /// The server's sidecar: `virtualInbound`, the inbound cluster, its own connection to the app
    /// from 127.0.0.6, the request with the inbound headers, and the app's answer as the inbound
    /// sidecar relays it back over the client sidecar's connection. Returns that response as it
    /// arrived at the client's sidecar.
    #[allow(clippy::too_many_arguments)]
    fn envoy_inbound(
        &mut self,
        trace: &mut Trace,
        pod: &Host,
        at_pod: Tuple,
        arrived: &Packet,
        proxied: &http::Request,
        connection: u8,
        client: &Host,
        mtls: bool,
    ) -> Option<Packet> {
        let node = pod.name().to_string();
        let app_port = self.original_port(&node, at_pod)?;
        let app = SocketAddrV4::new(pod.ip(), app_port);
        let chain = format!(
            "0.0.0.0  15006  Trans: tls; App: istio-http/1.0,istio-http/1.1,istio-h2; Addr: *:{app_port}  {}",
            envoy::cluster_name("inbound", app_port, "", "")
        );
        let note = Text::new(
            format!(
                "In {}, nat PREROUTING sent the connection to Envoy's inbound listener virtualInbound (15006). Its filter chain for the original destination port {app_port} terminates the mutual TLS and reads the request.",
                pod.label()
            ),
            format!(
                "在 {} 中，nat PREROUTING 把连接送到 Envoy 的入站监听器 virtualInbound（15006）。原始目的端口 {app_port} 的过滤器链终结双向 TLS 并读取请求。",
                pod.label()
            ),
        );
        let mut s = proxy_step(&node, arrived, "listener", envoy::VIRTUAL_INBOUND, Some(chain), note);
        s.connection = Some(connection);
        trace.steps.push(s);
        let cluster = envoy::cluster_name("inbound", app_port, "", "");
        let note = Text::new(
            format!(
                "The inbound route sends the request to cluster {cluster}, an ORIGINAL_DST cluster bound to 127.0.0.6: Envoy connects to the app itself."
            ),
            format!("入站路由把请求交给集群 {cluster}，一个绑定 127.0.0.6 的 ORIGINAL_DST 集群：Envoy 自己连接应用。"),
        );
        let mut s = proxy_step(
            &node,
            arrived,
            "cluster",
            &cluster,
            Some(format!("{app_port}  -  inbound  ORIGINAL_DST")),
            note,
        );
        s.connection = Some(connection);
        trace.steps.push(s);
        let proxy = Proxy::Envoy { pod: node.clone(), inbound: true };
        let accepted = Accepted { proxy: &proxy, host: pod, client, received: at_pod, proto: Proto::Tcp };
        let dial = Dial {
            backend: app,
            note: Text::new(
                format!(
                    "Envoy (uid 1337) connects to the app at {app} from 127.0.0.6, over the pod's loopback. ISTIO_OUTPUT's first rule returns packets from 127.0.0.6, so they reach the app untouched."
                ),
                format!(
                    "Envoy（uid 1337）经 Pod 的回环接口从 127.0.0.6 连接应用 {app}。ISTIO_OUTPUT 的第一条规则让来自 127.0.0.6 的包返回，于是它们原样到达应用。"
                ),
            ),
            answer: DialResult::Connected,
            timeout_ms: CONNECT_TIMEOUT_MS,
        };
        let inner = connection.saturating_add(1);
        self.socket_owner = (PROXY_UID, PROXY_UID);
        let start = trace.steps.len();
        let connected = self.dial(trace, &accepted, &dial);
        mark_connection(trace, start, inner);
        let Some((app_host, dialed, at_app)) = connected else {
            self.socket_owner = (APP_UID, APP_UID);
            return None;
        };
        let namespace = self.cluster.pod(&node).map(|p| p.namespace.clone()).unwrap_or_default();
        let client_ns = match client {
            Host::Pod { name, .. } => self.cluster.pod(name).map(|p| p.namespace.clone()).unwrap_or_default(),
            _ => String::new(),
        };
        let (server_id, client_id) = (forward::spiffe(&namespace, "default"), forward::spiffe(&client_ns, "default"));
        let peers = forward::Peers { server: &server_id, client: &client_id };
        let handed = forward::inbound(proxied, mtls.then_some(&peers));
        let handed_bytes = super::streams::proxied_bytes(arrived.payload(), &handed, forward::request_bytes);
        let (seq, ack) = seq_ack(PROXY_ISN, BACKEND_ISN, 0, 0);
        let sent = self.data_packet(dialed.src, dialed.dst, seq, ack, &handed_bytes);
        let Some(sent) = sent else {
            self.socket_owner = (APP_UID, APP_UID);
            return None;
        };
        let note = Text::new(
            format!(
                "The inbound Envoy hands the request to the app in plain HTTP. It sets x-forwarded-proto to https (its downstream connection was TLS) and adds x-forwarded-client-cert, naming the client's identity {client_id}."
            ),
            format!(
                "入站 Envoy 以明文 HTTP 把请求交给应用。它把 x-forwarded-proto 设为 https（它的下游连接是 TLS），并加上 x-forwarded-client-cert，写明客户端身份 {client_id}。"
            ),
        );
        let mut s = step(&node, Direction::Original, StepKind::Proxy, arrived, &sent, "REQUEST →", note);
        s.stage = Some("relay");
        s.request = Some(Box::new(RequestChange { before: proxied.clone(), after: handed.clone() }));
        trace.steps.push(s);
        let start = trace.steps.len() - 1;
        let walked = self.walk(trace, pod.clone(), sent, Direction::Original);
        self.socket_owner = (APP_UID, APP_UID);
        let (_, at_the_app) = walked?;
        self.mark_request(trace, start + 1, &handed);
        let answered = self.answer(trace, &app_host, at_app, &at_the_app, (BACKEND_ISN, PROXY_ISN), Text::default());
        mark_connection(trace, start, inner);
        let answered = answered?;
        // The inbound Envoy writes the response back over the client sidecar's connection.
        let payload = answered.payload().to_vec();
        let (seq, ack) = seq_ack(BACKEND_ISN, PROXY_ISN, 0, 0);
        let back = self.data_packet(at_pod.dst, at_pod.src, seq, ack, &payload)?;
        let note = Text::new(
            format!(
                "The inbound Envoy writes the app's {}-byte response back to the client's sidecar, over the mutual-TLS connection.",
                payload.len()
            ),
            format!("入站 Envoy 把应用的 {} 字节响应经双向 TLS 连接写回客户端的边车。", payload.len()),
        );
        let mut s = step(&node, Direction::Reply, StepKind::Proxy, &answered, &back, "RESPONSE ←", note);
        s.stage = Some("relay");
        trace.steps.push(s);
        let start = trace.steps.len() - 1;
        self.socket_owner = (PROXY_UID, PROXY_UID);
        let walked = self.walk(trace, pod.clone(), back, Direction::Reply);
        self.socket_owner = (APP_UID, APP_UID);
        mark_connection(trace, start, connection);
        walked.map(|(_, packet)| packet)
    }

    /// The app's port before REDIRECT: the port the connection was opened to.
    fn original_port(&self, pod: &str, at_pod: Tuple) -> Option<u16> {
        self.pod_nat_original(pod, at_pod).map(|t| t.dst.port())
    }

    /// The client's sidecar writes the response back to the app.
    fn envoy_relays_back(
        &mut self,
        trace: &mut Trace,
        arrival: &Arrival<'_>,
        answered: &Packet,
        sent: usize,
        pod: &Host,
    ) {
        let Arrival { server, at_server, .. } = *arrival;
        let payload = answered.payload().to_vec();
        let (seq, ack) = seq_ack(SERVER_ISN, CLIENT_ISN, 0, sent);
        let Some(back) = self.data_packet(at_server.dst, at_server.src, seq, ack, &payload) else { return };
        let note = Text::new(
            format!(
                "Envoy reads the {}-byte response from {} and writes it to the app's connection; conntrack in the pod gives it the source address the app called.",
                payload.len(),
                pod.label()
            ),
            format!(
                "Envoy 从 {} 读到 {} 字节的响应，写回应用的连接；Pod 里的 conntrack 把源地址换回应用访问的地址。",
                pod.label(),
                payload.len()
            ),
        );
        let mut s = step(server.name(), Direction::Reply, StepKind::Proxy, answered, &back, "RESPONSE ←", note);
        s.stage = Some("relay");
        trace.steps.push(s);
        let start = trace.steps.len() - 1;
        let walked = self.walk(trace, server.clone(), back, Direction::Reply);
        mark_connection(trace, start, 0);
        if walked.is_some() {
            trace.outcome.http = Some(HttpOutcome { status: 0, backend: None, pod: None });
        } else if !trace.outcome.dropped {
            trace.outcome.reason = Some("the response did not reach the app".into());
        }
    }

    /// Envoy answers the app itself (a local reply), with `status` and its response flag.
    fn envoy_answers(
        &mut self,
        trace: &mut Trace,
        arrival: &Arrival<'_>,
        status: u16,
        flag: &str,
        why: &str,
        sent: usize,
    ) {
        let Arrival { server, at_server, .. } = *arrival;
        let node = server.name().to_string();
        let response = forward::local_reply(status, flag);
        let bytes = h1::response_bytes(&response);
        let (seq, ack) = seq_ack(SERVER_ISN, CLIENT_ISN, 0, sent);
        let Some(back) = self.data_packet(at_server.dst, at_server.src, seq, ack, &bytes) else { return };
        let note = Text::new(
            format!(
                "Envoy answers the app itself with {status} {}, response flag {flag}: {why}. No pod is asked.",
                http::reason(status)
            ),
            format!("Envoy 自己回答应用 {status} {}，响应标志 {flag}：{why}。没有询问任何 Pod。", http::reason(status)),
        );
        let mut s = step(&node, Direction::Reply, StepKind::Proxy, &back, &back, &format!("{status} {flag}"), note);
        s.stage = Some("respond");
        trace.steps.push(s);
        let start = trace.steps.len() - 1;
        let walked = self.walk(trace, server.clone(), back, Direction::Reply);
        mark_connection(trace, start, 0);
        trace.outcome.delivered_to = Some(server.label());
        trace.outcome.dropped = false;
        if walked.is_some() {
            trace.outcome.reason = None;
            trace.outcome.http = Some(HttpOutcome { status, backend: None, pod: Some(server.label()) });
        }
    }
}

/// The routing decisions before any endpoint is picked: the two listeners, the route
/// configuration, the virtual host, the route and the cluster, each as `istioctl proxy-config`
/// would print its line.
fn decision_steps(
    node: &str,
    arrived: &Packet,
    dst: SocketAddrV4,
    routed: &route::Routed,
    request: &http::Request,
) -> Vec<crate::trace::Step> {
    let mut out = Vec::new();
    let mut push = |stage: &'static str, verdict: &str, rule: String, en: String, zh: String| {
        let mut s = proxy_step(node, arrived, stage, verdict, Some(rule), Text::new(en, zh));
        s.connection = Some(0);
        out.push(s);
    };
    push(
        "listener",
        envoy::VIRTUAL_OUTBOUND,
        "0.0.0.0  15001  ALL  PassthroughCluster".into(),
        format!(
            "Envoy's listener virtualOutbound (0.0.0.0:15001) holds the connection. Its original-destination filter reads SO_ORIGINAL_DST from the pod's conntrack: {dst}, the address the app called."
        ),
        format!(
            "Envoy 的监听器 virtualOutbound（0.0.0.0:15001）接住了连接。它的原始目的地址过滤器从 Pod 的 conntrack 读出 SO_ORIGINAL_DST：{dst}，即应用访问的地址。"
        ),
    );
    push(
        "listener",
        &routed.listener,
        format!("0.0.0.0  {}  Trans: raw_buffer; App: http/1.1,h2c  Route: {}", dst.port(), routed.route_config),
        format!(
            "virtualOutbound hands the connection to the listener for that address, {}, whose HTTP connection manager reads the request {} {} (Host: {}).",
            routed.listener, request.method, request.path, request.authority
        ),
        format!(
            "virtualOutbound 把连接交给该地址的监听器 {}，其 HTTP 连接管理器读取请求 {} {}（Host: {}）。",
            routed.listener, request.method, request.path, request.authority
        ),
    );
    push(
        "route",
        &routed.route_config,
        format!("{}  {}  {}", routed.route_config, routed.virtual_host, routed.domain),
        format!(
            "The route configuration {} holds one virtual host per Service on the port; the Host header {} matches the domain {} of virtual host {}.",
            routed.route_config, request.authority, routed.domain, routed.virtual_host
        ),
        format!(
            "路由配置 {} 为该端口上的每个 Service 存一个虚拟主机；Host 头 {} 匹配虚拟主机 {} 的域名 {}。",
            routed.route_config, request.authority, routed.virtual_host, routed.domain
        ),
    );
    if let Some(route) = &routed.route {
        let from = route.virtual_service.clone().map_or_else(
            || "no VirtualService: Istio's default route".to_string(),
            |vs| format!("VirtualService {vs}"),
        );
        let split = if route.weighted.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = route.weighted.iter().map(|(c, w)| format!("{c} {w}%")).collect();
            format!(
                " Its destinations are weighted: {}; a random draw chose {}.",
                parts.join(", "),
                routed.cluster.as_ref().map_or("-", |c| c.name.as_str())
            )
        };
        push(
            "route",
            &route.name,
            format!("{}  {}  {}", route.name, route.matched, route.virtual_service.clone().unwrap_or_default()),
            format!(
                "The first route of the virtual host that matches wins: {} ({}), match {}.{split}",
                route.name, from, route.matched
            ),
            format!("虚拟主机中第一条匹配的路由胜出：{}（{}），匹配 {}。{split}", route.name, from, route.matched),
        );
    }
    if let Some(cluster) = &routed.cluster {
        let parts: Vec<&str> = cluster.name.split('|').collect();
        let rule = match parts.as_slice() {
            [direction, port, subset, host] => format!(
                "{host}  {port}  {}  {direction}  EDS  lbPolicy: {}",
                if subset.is_empty() { "-" } else { subset },
                cluster.policy.name()
            ),
            _ => format!("{}  ORIGINAL_DST", cluster.name),
        };
        push(
            "cluster",
            &cluster.name,
            rule,
            format!(
                "The route's cluster is {}, with {} endpoint(s) and load-balancing policy {} ({}).",
                cluster.name,
                cluster.endpoints.len(),
                cluster.policy.name(),
                cluster.policy_from
            ),
            format!(
                "路由的集群是 {}，有 {} 个端点，负载均衡策略为 {}（{}）。",
                cluster.name,
                cluster.endpoints.len(),
                cluster.policy.name(),
                cluster.policy_from
            ),
        );
    }
    out
}

/// The step that says Envoy retries.
fn retry_step(node: &str, packet: &Packet, attempt: u32, why: &str, backend: &SocketAddrV4) -> crate::trace::Step {
    let note = Text::new(
        format!(
            "Attempt {attempt} to {backend} failed ({why}). The route's retry policy (Istio's default: 2 retries, retry_on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes, no status codes listed) lets Envoy try again, and the previous_hosts predicate steers the next pick to another host."
        ),
        format!(
            "第 {attempt} 次尝试（{backend}）失败（{why}）。路由的重试策略（Istio 默认：重试 2 次，retry_on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes，未列出状态码）让 Envoy 再试一次，previous_hosts 谓词把下一次选择引向另一台主机。"
        ),
    );
    let mut s = proxy_step(
        node,
        packet,
        "retry",
        "RETRY",
        Some("retry_policy: {retry_on: connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes, num_retries: 2, retry_host_predicate: previous_hosts, host_selection_retry_max_attempts: 5}".into()),
        note,
    );
    s.connection = Some(0);
    s
}

/// The accept step's sentence for a sidecar.
pub(super) fn accept_note(pod: &str, inbound: bool, received: Tuple) -> Text {
    if inbound {
        return Text::new(
            format!(
                "Envoy in {pod} accepts the connection on its inbound listener {} and completes the handshake.",
                received.dst
            ),
            format!("{pod} 中的 Envoy 在入站监听器 {} 上接受连接并完成握手。", received.dst),
        );
    }
    Text::new(
        format!(
            "Envoy, the sidecar in {pod}, accepts the app's connection on {} (virtualOutbound) and completes the handshake; the app believes it is connected to the address it called. The connection ends here, in Envoy, which cannot route yet: the Host and path are in the request.",
            received.dst
        ),
        format!(
            "{pod} 的边车 Envoy 在 {}（virtualOutbound）上接受应用的连接并完成握手；应用以为自己连上了它访问的地址。连接到此为止，终结在 Envoy 里；它还不能路由：Host 和路径在请求里。",
            received.dst
        ),
    )
}

/// The relay step's sentence once a sidecar's dial connected.
pub(super) fn relaying_note(inbound: bool, pod: &Host, dialed: Tuple) -> Text {
    if inbound {
        return Text::new(
            format!(
                "The inbound Envoy's connection to the app is open: the app sees it coming from {}.",
                dialed.src.ip()
            ),
            format!("入站 Envoy 到应用的连接已建立：应用看到它来自 {}。", dialed.src.ip()),
        );
    }
    Text::new(
        format!(
            "Envoy's connection to {} is open, from the client pod's own address {} to {}: pod to pod, no Service address and no kube-proxy NAT on the way.",
            pod.label(),
            dialed.src.ip(),
            dialed.dst
        ),
        format!(
            "Envoy 到 {} 的连接已建立，从客户端 Pod 自己的地址 {} 到 {}：Pod 到 Pod，途中没有 Service 地址，也没有 kube-proxy 的 NAT。",
            pod.label(),
            dialed.src.ip(),
            dialed.dst
        ),
    )
}

/// The sentence of a refused sidecar dial.
pub(super) fn refused_note(pod: &Host, dialed: Tuple) -> Text {
    Text::new(
        format!(
            "Nothing listens on {} in {}: its kernel answers with a RST. For Envoy this is a connect failure, which Istio's default retry policy retries on another host.",
            dialed.dst,
            pod.label()
        ),
        format!(
            "{} 中没有进程监听 {}：它的内核回复 RST。对 Envoy 而言这是连接失败，Istio 的默认重试策略会换一台主机重试。",
            pod.label(),
            dialed.dst
        ),
    )
}
