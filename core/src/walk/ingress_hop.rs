//! The ingress-nginx hop: a request that reached a controller pod, routed, balanced and proxied.
//!
//! The L4 walk brought the client's connection to a controller pod (through the controller
//! Service's LoadBalancer or NodePort rules, with their DNAT and, under `externalTrafficPolicy:
//! Cluster`, their SNAT); nginx accepted it there (`open`). This stage owns what follows once the
//! request arrives: nginx reads it, picks the `server` and the `location` (`ingress::route`), and
//! either answers itself (404, 308, 503, 400) or lets the Lua balancer pick one of the upstream's
//! endpoints (`ingress::balance`, with its state kept per controller pod and upstream, as each
//! nginx worker keeps its own), dials that pod's own address, sends the request with the headers
//! ingress-nginx adds (`ingress::forward`), and writes the pod's response back to the client's
//! connection. The controller's connection goes to the Pod IP and port, never to the Service's
//! ClusterIP, so kube-proxy's DNAT plays no part in it: the trace says so at the dial.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::Arc;

use super::exchange::{BACKEND_ISN, CLIENT_ISN, PROXY_ISN, SERVER_ISN, seq_ack};
use super::proxy::{Accepted, Dial, Proxy, mark_connection};
use super::{Host, Sim, step};
use crate::http::{self, h1};
use crate::ingress::{self, Config, Upstream, balance};
use crate::kubeproxy::userspace::DialResult;
use crate::model::{IngressBalance, IngressPort};
use crate::net::Proto;
use crate::packet::{Packet, Tuple, TupleProto};
use crate::trace::{Direction, HttpOutcome, RequestChange, StepKind, Text, Trace};

/// `proxy-connect-timeout`'s default, 5 s (config.go, `ProxyConnectTimeout`).
const CONNECT_TIMEOUT_MS: u64 = 5000;

/// What the controller pods keep between requests: the configuration they render (the same on
/// every pod), and each pod's balancer state per upstream.
#[derive(Debug, Clone, Default)]
pub(super) struct State {
    config: Option<Arc<Config>>,
    round_robin: BTreeMap<(String, String), balance::RoundRobin>,
    ewma: BTreeMap<(String, SocketAddrV4), balance::EwmaStat>,
}

/// The controller's decision for one request.
struct Routed {
    decision: ingress::Decision,
    endpoints: Vec<SocketAddrV4>,
    algorithm: IngressBalance,
    upstream: String,
    /// The endpoint the balancer picked, when the controller proxies.
    pick: Option<usize>,
}

/// One request the controller read, and where the client's connection stands.
pub(super) struct Arrival<'r> {
    pub(super) source: &'r Host,
    /// The controller pod and the client's connection as it sees it.
    pub(super) server: &'r Host,
    pub(super) at_server: Tuple,
    pub(super) proxy: &'r Proxy,
    /// `http` (TLS is not walked).
    pub(super) scheme: &'static str,
    /// The address the client called.
    pub(super) dst: SocketAddrV4,
}

impl<'a> Sim<'a> {
    /// Whether `pod` is an ingress-nginx controller pod and `tuple` reaches its nginx: the pod's
    /// labels match the controller Service's selector, and the port is its `http` port (80).
    pub(super) fn ingress_controller_at(&self, pod: &str, tuple: Tuple) -> bool {
        let Some(pod) = ingress::controller_pods(self.cluster).find(|candidate| candidate.name == pod) else {
            return false;
        };
        let http = pod.ports.iter().find(|port| port.name.as_deref() == Some("http")).map_or(80, |port| port.port);
        tuple.proto == TupleProto::Tcp && tuple.dst.port() == http
    }

    /// The configuration ingress-nginx renders for the Ingresses it takes, built once.
    fn ingress_config(&mut self) -> Arc<Config> {
        if let Some(config) = &self.ingress.config {
            return config.clone();
        }
        let config = Arc::new(ingress::cluster_config(self.cluster));
        self.ingress.config = Some(config.clone());
        config
    }

    /// The request `bytes` from the client, through the controller, to a pod and back.
    pub(super) fn exchange_ingress(
        &mut self,
        trace: &mut Trace,
        arrival: &Arrival<'_>,
        client: SocketAddrV4,
        bytes: &[u8],
    ) {
        let Arrival { source, server, at_server, proxy, scheme, dst } = *arrival;
        let node = server.name().to_string();
        // Everything so far is the client's connection.
        mark_connection(trace, 0, 0);
        // The client's leg: the request to nginx's socket.
        let (seq, ack) = seq_ack(CLIENT_ISN, SERVER_ISN, 0, 0);
        let Some(segment) = self.data_packet(client, dst, seq, ack, bytes) else {
            return;
        };
        let start = trace.steps.len();
        let walked = self.walk(trace, source.clone(), segment, Direction::Original);
        mark_connection(trace, start, 0);
        let Some((at, arrived)) = walked else { return };
        if let Ok(read) = h1::parse_request(bytes) {
            self.mark_request(trace, start, &read);
        }
        if at != *server {
            trace.outcome.dropped = true;
            trace.outcome.reason =
                Some(format!("the request reached {} but the connection was opened to {}", at.label(), server.label()));
            return;
        }
        // Read and route.
        let read = match h1::parse_request(arrived.payload()) {
            Ok(read) => read,
            Err(_) => {
                let response =
                    ingress::Response { status: 400, location: None, why: "nginx cannot read the request".into() };
                self.controller_answers(trace, arrival, &arrived, &response, bytes.len());
                return;
            }
        };
        let Routed { decision, endpoints, algorithm, upstream, pick } =
            self.ingress_route(server.name(), scheme, &read);
        let lines = decision.stages();
        let last = lines.len().saturating_sub(1);
        for (index, stage) in lines.into_iter().enumerate() {
            let mut note = stage.note;
            if index == 0 {
                note = Text::new(
                    format!(
                        "nginx reads the request {} {} with Host {}. {}.",
                        read.method, read.path, read.authority, note.en
                    ),
                    format!("nginx 读到请求 {} {}，Host 为 {}。{}。", read.method, read.path, read.authority, note.zh),
                );
            }
            if index == last && stage.stage == "location" && !decision.candidates.is_empty() {
                let lost = |zh: bool| -> Vec<String> {
                    let why = |c: &ingress::Candidate| if zh { c.why.zh.clone() } else { c.why.en.clone() };
                    decision.candidates.iter().map(|c| format!("`{}` ({})", c.directive, why(c))).collect()
                };
                note = Text::new(
                    format!("{}. The other locations lost: {}.", note.en, lost(false).join("; ")),
                    format!("{}。其他 location 落选：{}。", note.zh, lost(true).join("；")),
                );
            }
            let mut s = step(&node, Direction::Original, StepKind::Proxy, &arrived, &arrived, &stage.verdict, note);
            s.stage = Some(stage.stage);
            s.rule = stage.rule;
            s.rule_at = stage.rule_at;
            s.skipped = u32::try_from(stage.skipped.len()).unwrap_or(u32::MAX);
            s.skipped_rules = stage.skipped;
            if stage.stage == "location" {
                s.candidates = decision
                    .candidates
                    .iter()
                    .map(|c| crate::trace::Candidate { rule: c.directive.clone(), why: c.why.clone() })
                    .collect();
            }
            s.connection = Some(0);
            trace.steps.push(s);
        }
        if let Some(response) = &decision.response {
            self.controller_answers(trace, arrival, &arrived, response, bytes.len());
            return;
        }
        let Some(Upstream::Service { namespace, service, port }) = decision.upstream.clone() else { return };
        let Some(pick) = pick else { return };
        let backend = endpoints[pick];
        let owner = self.cluster.pods.iter().find(|p| p.ip == *backend.ip()).map(|p| format!("pod/{}", p.name));
        let listed: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
        let owner_label = owner.clone().unwrap_or_else(|| backend.ip().to_string());
        let how = match algorithm {
            IngressBalance::RoundRobin => (
                "round_robin takes the endpoint after the one it gave last (it started at a random one)",
                "round_robin 取上次给出的端点的下一个（起点是随机的）",
            ),
            IngressBalance::Ewma => (
                "ewma draws two endpoints and takes the one with the lower decayed response time",
                "ewma 随机抽两个端点，取衰减后响应时间较低的那个",
            ),
        };
        let note = Text::new(
            format!(
                "The Lua balancer of upstream {upstream} picks {backend} ({owner_label}) among its {} endpoints [{}]: {}. The controller watches the EndpointSlices itself and balances over Pod IPs; it does not use the Service's ClusterIP.",
                endpoints.len(),
                listed.join(", "),
                how.0
            ),
            format!(
                "上游 {upstream} 的 Lua 负载均衡器在它的 {} 个端点 [{}] 中选中 {backend}（{owner_label}）：{}。控制器自己监视 EndpointSlice，在 Pod IP 之间做均衡，不经过 Service 的 ClusterIP。",
                endpoints.len(),
                listed.join("，"),
                how.1
            ),
        );
        let mut s = step(&node, Direction::Original, StepKind::Proxy, &arrived, &arrived, &backend.to_string(), note);
        s.stage = Some("balancer");
        s.rule = Some(format!("load-balance: {}", algorithm.as_str()));
        s.connection = Some(0);
        trace.steps.push(s);
        // The dial: straight to the pod.
        let dial = Dial {
            backend,
            note: Text::new(
                format!(
                    "nginx opens its own connection from the controller pod {} to {backend}, the pod's own address and targetPort. This second connection bypasses the Service: no ClusterIP, so kube-proxy's KUBE-SERVICES rules match nothing and no DNAT happens.",
                    server.ip()
                ),
                format!(
                    "nginx 从控制器 Pod {} 另开一条连接，直连 {backend}——Pod 自己的地址和 targetPort。第二条连接绕过了 Service：没有 ClusterIP，kube-proxy 的 KUBE-SERVICES 规则什么也匹配不到，也没有 DNAT。",
                    server.ip()
                ),
            ),
            answer: DialResult::Connected,
            timeout_ms: CONNECT_TIMEOUT_MS,
        };
        let accepted = Accepted { proxy, host: server, client: source, received: at_server, proto: Proto::Tcp };
        let start = trace.steps.len();
        let connected = self.dial(trace, &accepted, &dial);
        mark_connection(trace, start, 1);
        let Some((pod, dialed, at_pod)) = connected else { return };
        // The proxied request, with ingress-nginx's headers.
        let remote = arrived.tuple().map(|t| t.src.ip().to_string()).unwrap_or_default();
        let request_id = format!("{:016x}{:016x}", self.env.rng.next_u64(), self.env.rng.next_u64());
        let client_view = ingress::forward::Client {
            remote_addr: &remote,
            scheme,
            port: at_server.dst.port(),
            request_id: &request_id,
        };
        let proxied = ingress::forward::proxied(&read, &client_view);
        let proxied_bytes = h1::request_bytes(&proxied);
        let (seq, ack) = seq_ack(PROXY_ISN, BACKEND_ISN, 0, 0);
        let Some(sent) = self.data_packet(dialed.src, dialed.dst, seq, ack, &proxied_bytes) else { return };
        let hidden = if remote != source.ip().to_string() {
            (
                format!(
                    " X-Forwarded-For and X-Real-IP say {remote}, the address the connection came from: kube-proxy masqueraded it on the way in (externalTrafficPolicy: Cluster), so the client's own address {} is lost.",
                    source.ip()
                ),
                format!(
                    "X-Forwarded-For 和 X-Real-IP 写的是 {remote}，即连接的来源地址：kube-proxy 在入口处做了伪装（externalTrafficPolicy: Cluster），客户端自己的地址 {} 丢失了。",
                    source.ip()
                ),
            )
        } else {
            (
                format!(" X-Forwarded-For and X-Real-IP carry the client's own address {remote}."),
                format!("X-Forwarded-For 和 X-Real-IP 带着客户端自己的地址 {remote}。"),
            )
        };
        let added: Vec<&str> = proxied
            .headers
            .iter()
            .filter(|h| read.header(&h.name) != Some(h.value.as_str()))
            .map(|h| h.name.as_str())
            .collect();
        let note = Text::new(
            format!(
                "nginx writes the request to its connection to {} ({} bytes), as HTTP/1.1 with the headers ingress-nginx adds: {}.{}",
                pod.label(),
                proxied_bytes.len(),
                added.join(", "),
                hidden.0
            ),
            format!(
                "nginx 把请求写进它到 {} 的连接（{} 字节），用 HTTP/1.1，并加上 ingress-nginx 添加的头：{}。{}",
                pod.label(),
                proxied_bytes.len(),
                added.join("、"),
                hidden.1
            ),
        );
        let mut s = step(&node, Direction::Original, StepKind::Proxy, &arrived, &sent, "REQUEST →", note);
        s.stage = Some("relay");
        s.request = Some(Box::new(RequestChange { before: read.clone(), after: proxied.clone() }));
        trace.steps.push(s);
        let Some(at_backend) = self.send_proxied(trace, server, sent, &proxied, &pod, 1) else { return };
        let start = trace.steps.len();
        let answered = self.answer(trace, &pod, at_pod, &at_backend, (BACKEND_ISN, PROXY_ISN), Text::default());
        mark_connection(trace, start, 1);
        let Some(answered) = answered else { return };
        let status = trace.outcome.http.as_ref().map(|http| http.status);
        trace.outcome.http = None;
        // The response, back over the client's connection.
        let payload = answered.payload().to_vec();
        let (seq, ack) = seq_ack(SERVER_ISN, CLIENT_ISN, 0, bytes.len());
        let Some(back) = self.data_packet(at_server.dst, at_server.src, seq, ack, &payload) else { return };
        let note = Text::new(
            format!(
                "nginx reads the {}-byte response from {} and writes it to the client's connection.",
                payload.len(),
                pod.label()
            ),
            format!("nginx 从 {} 读到 {} 字节的响应，写回客户端的连接。", pod.label(), payload.len()),
        );
        let mut s = step(&node, Direction::Reply, StepKind::Proxy, &answered, &back, "RESPONSE ←", note);
        s.stage = Some("relay");
        trace.steps.push(s);
        let start = trace.steps.len() - 1;
        let walked = self.walk(trace, server.clone(), back, Direction::Reply);
        mark_connection(trace, start, 0);
        if walked.is_some() {
            let port = match &port {
                IngressPort::Number(n) => n.to_string(),
                IngressPort::Name(name) => self
                    .cluster
                    .service(&namespace, &service)
                    .and_then(|svc| svc.ports.iter().find(|p| p.name.as_deref() == Some(name.as_str())))
                    .map_or_else(|| name.clone(), |p| p.port.to_string()),
            };
            trace.outcome.http = status.map(|status| HttpOutcome {
                status,
                backend: Some(format!("{namespace}/{service}:{port}")),
                pod: Some(pod.label()),
            });
        } else if !trace.outcome.dropped {
            trace.outcome.reason = Some("the response did not reach the client".into());
        }
    }

    /// What the controller pod `pod` decides for `read`: the server and location, the answer it
    /// gives itself if any, and otherwise the balancer's pick among the upstream's endpoints.
    fn ingress_route(&mut self, pod: &str, scheme: &str, read: &http::Request) -> Routed {
        let config = self.ingress_config();
        let decision =
            ingress::route(&config, &ingress::Request { scheme, host: Some(&read.authority), path: &read.path });
        let endpoints = match &decision.upstream {
            Some(upstream @ Upstream::Service { .. }) => ingress::endpoints(self.cluster, upstream),
            _ => Vec::new(),
        };
        let decision = match &decision.upstream {
            Some(Upstream::Service { .. }) => ingress::respond(decision, &endpoints),
            _ => decision,
        };
        let upstream = decision.upstream.as_ref().map(Upstream::name).unwrap_or_default();
        // The balancer: the location's `load-balance` annotation, else the ConfigMap's.
        let annotated = decision
            .ingress
            .as_deref()
            .and_then(|name| {
                self.cluster.ingress.as_ref()?.ingresses.iter().find(|i| format!("{}/{}", i.namespace, i.name) == name)
            })
            .and_then(|i| i.annotations.load_balance.clone());
        let algorithm = match annotated.as_deref() {
            Some("ewma") => IngressBalance::Ewma,
            Some(_) => IngressBalance::RoundRobin,
            None => self.cluster.ingress.as_ref().map(|c| c.load_balance).unwrap_or_default(),
        };
        let pick =
            if decision.response.is_none() { self.ingress_pick(pod, &upstream, &endpoints, algorithm) } else { None };
        Routed { decision, endpoints, algorithm, upstream, pick }
    }

    /// The pod (or the controller's own answer) that serves `read` on a connection the
    /// controller pod `server` accepted, for experiments that count backends without walking.
    pub(super) fn ingress_backend(&mut self, server: &Host, read: &http::Request) -> String {
        let routed = self.ingress_route(server.name(), "http", read);
        match (routed.pick, &routed.decision.response) {
            (Some(pick), _) => {
                let ip = *routed.endpoints[pick].ip();
                self.cluster
                    .pods
                    .iter()
                    .find(|p| p.ip == ip)
                    .map_or_else(|| ip.to_string(), |p| format!("pod/{}", p.name))
            }
            (None, Some(response)) => format!("{} from ingress-nginx", response.status),
            (None, None) => "dropped".into(),
        }
    }

    /// The balancer's pick among `endpoints` (non-empty) for `upstream` in controller `pod`.
    fn ingress_pick(
        &mut self,
        pod: &str,
        upstream: &str,
        endpoints: &[SocketAddrV4],
        algorithm: IngressBalance,
    ) -> Option<usize> {
        let n = endpoints.len();
        if n == 0 {
            return None;
        }
        let draw = |sim: &mut Sim, low: usize, high: usize| -> usize {
            // `math.random(low, high)`, 1-based, from the walk's seeded generator.
            let span = (high + 1).saturating_sub(low).max(1) as u64;
            low + (sim.env.rng.next_u64() % span) as usize
        };
        match algorithm {
            IngressBalance::RoundRobin => {
                let key = (pod.to_string(), upstream.to_string());
                if self.ingress.round_robin.get(&key).is_none_or(|rr| rr.nodes != n) {
                    let first = draw(self, 1, n);
                    let rr = balance::RoundRobin::new(n, first)?;
                    self.ingress.round_robin.insert(key.clone(), rr);
                }
                self.ingress.round_robin.get_mut(&key).map(balance::RoundRobin::find)
            }
            IngressBalance::Ewma => {
                let now = self.env.now as f64;
                let stats: Vec<balance::EwmaStat> = endpoints
                    .iter()
                    .map(|e| {
                        self.ingress
                            .ewma
                            .get(&(pod.to_string(), *e))
                            .copied()
                            .unwrap_or(balance::EwmaStat { ewma: 0.0, last_touched_at: now })
                    })
                    .collect();
                let draws = [draw(self, 1, n), draw(self, 2.min(n), n)];
                let (index, _) = balance::ewma_pick(&stats, draws, now)?;
                // Every pod answers alike here, so each response updates the score with the same
                // round trip; what differs between peers is only which two were drawn.
                let updated = balance::ewma_update(stats[index], 0.001, now);
                self.ingress.ewma.insert((pod.to_string(), endpoints[index]), updated);
                Some(index)
            }
        }
    }

    /// The controller answers `response` itself, back over the client's connection.
    fn controller_answers(
        &mut self,
        trace: &mut Trace,
        arrival: &Arrival<'_>,
        arrived: &Packet,
        response: &ingress::Response,
        received: usize,
    ) {
        let Arrival { server, at_server, .. } = *arrival;
        let node = server.name().to_string();
        let answer = ingress::forward::answer(response);
        let bytes = h1::response_bytes(&answer);
        let (seq, ack) = seq_ack(SERVER_ISN, CLIENT_ISN, 0, received);
        let Some(back) = self.data_packet(at_server.dst, at_server.src, seq, ack, &bytes) else { return };
        let note = Text::new(
            format!(
                "The controller answers itself with {} {}: {}. No pod is asked.",
                response.status,
                http::reason(response.status),
                response.why
            ),
            format!(
                "控制器自己回答 {} {}：{}。没有询问任何 Pod。",
                response.status,
                http::reason(response.status),
                response.why
            ),
        );
        let mut s = step(&node, Direction::Reply, StepKind::Proxy, arrived, &back, &response.status.to_string(), note);
        s.stage = Some("respond");
        trace.steps.push(s);
        let start = trace.steps.len() - 1;
        let walked = self.walk(trace, server.clone(), back, Direction::Reply);
        mark_connection(trace, start, 0);
        trace.outcome.delivered_to = Some(server.label());
        if walked.is_some() {
            trace.outcome.http =
                Some(HttpOutcome { status: response.status, backend: None, pod: Some(server.label()) });
        } else if !trace.outcome.dropped {
            trace.outcome.reason = Some("the response did not reach the client".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::scenario::{Source, load};
    use crate::trace::{StepKind, Trace};
    use crate::walk::{HttpOptions, Request, fetch};

    /// The source text's three Ingresses (core/scenarios/ingress.yaml), after `prefix`.
    fn scenario(prefix: &str) -> crate::model::Cluster {
        let text = format!("{prefix}{}", include_str!("../../scenarios/ingress.yaml"));
        load(&[Source { name: "ingress.yaml", text: &text }]).expect("the scenario loads").cluster
    }

    fn request(cluster: &crate::model::Cluster, from: &str, url: &str) -> Trace {
        let request = Request { from: from.into(), to: url.into(), proto: crate::net::Proto::Tcp, seed: 1, now: 0 };
        fetch(cluster, &request, &HttpOptions::default()).expect("walks")
    }

    /// `status backend pod-deployment` for each URL.
    fn check_routes(cluster: &crate::model::Cluster, urls: &[&str], expect: Expect) {
        let mut out = String::new();
        for url in urls {
            let trace = request(cluster, "client/laptop", url);
            let http = trace.outcome.http.as_ref();
            let pod = http.and_then(|h| h.pod.clone()).unwrap_or_default();
            // The generated suffixes say nothing here: the Deployment's name does.
            let deployment = pod.trim_start_matches("pod/").rsplitn(3, '-').last().unwrap_or_default().to_string();
            out.push_str(&format!(
                "{url} → {} {} {deployment}\n",
                http.map_or(0, |h| h.status),
                http.and_then(|h| h.backend.clone()).unwrap_or_else(|| "-".into()),
            ));
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn the_source_texts_ingresses_route_as_it_says() {
        check_routes(
            &scenario(""),
            &[
                "http://foo.bar.com/foo",
                "http://foo.bar.com/foo/",
                "http://foo.bar.com/foo/x",
                "http://foo.bar.com/foobar",
                "http://foo.bar.com/bar",
                "http://foo.bar.com/",
                "http://bar.foo.com/",
                "http://bar.foo.com/foo",
                "http://FOO.bar.com:80/bar",
                "http://other.example/",
            ],
            expect![[r#"
                http://foo.bar.com/foo → 200 default/s1:80 s1
                http://foo.bar.com/foo/ → 200 default/s1:80 s1
                http://foo.bar.com/foo/x → 200 default/s1:80 s1
                http://foo.bar.com/foobar → 200 default/s1:80 s1
                http://foo.bar.com/bar → 200 default/s2:80 s2
                http://foo.bar.com/ → 200 default/s1:80 s1
                http://bar.foo.com/ → 200 default/s2:80 s2
                http://bar.foo.com/foo → 200 default/s2:80 s2
                http://FOO.bar.com:80/bar → 200 default/s2:80 s2
                http://other.example/ → 200 default/testsvc:80 testsvc
            "#]],
        );
    }

    #[test]
    fn the_controller_answers_itself_where_nothing_serves() {
        // Without test-ingress's default backend an unknown Host gets the default server's 404;
        // s2 with no ready pod is a 503; a TLS host's plain HTTP is redirected.
        let text = include_str!("../../scenarios/ingress.yaml")
            .replace("  backend:\n    serviceName: testsvc\n    servicePort: 80\n", "  rules:\n  - host: tls.example\n    http:\n      paths:\n      - backend: {serviceName: s1, servicePort: 80}\n  tls:\n  - hosts: [tls.example]\n")
            .replace("name: s2}\nspec:\n  replicas: 2", "name: s2}\nspec:\n  replicas: 0");
        let cluster = load(&[Source { name: "ingress.yaml", text: &text }]).expect("loads").cluster;
        check_routes(
            &cluster,
            &["http://other.example/", "http://foo.bar.com/bar", "http://tls.example/a/", "http://foo.bar.com/foo"],
            expect![[r#"
                http://other.example/ → 404 - ingress-nginx-controller
                http://foo.bar.com/bar → 503 - ingress-nginx-controller
                http://tls.example/a/ → 308 - ingress-nginx-controller
                http://foo.bar.com/foo → 200 default/s1:80 s1
            "#]],
        );
        let trace = request(&cluster, "client/laptop", "http://tls.example/a/");
        let answered = trace.steps.iter().find(|s| s.stage == Some("respond")).expect("the controller answers");
        let text = String::from_utf8_lossy(answered.after.payload()).to_string();
        assert!(text.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"), "{text}");
        assert!(text.contains("Location: https://tls.example/a\r\n"), "{text}");
    }

    #[test]
    fn the_proxy_steps_say_what_decided() {
        let trace = request(&scenario(""), "client/laptop", "http://foo.bar.com/foo");
        let mut out = String::new();
        for step in trace.steps.iter().filter(|s| s.kind == StepKind::Proxy) {
            out.push_str(&format!(
                "{:?} {} {} | {}\n",
                step.connection.unwrap_or(9),
                step.stage.unwrap_or("-"),
                step.verdict,
                step.rule.as_deref().unwrap_or("-")
            ));
        }
        expect![[r#"
            0 accept ACCEPTED | -
            0 server foo.bar.com | server_name "foo.bar.com";
            0 location default-s1-80 | location = "/foo"
            0 balancer 10.244.3.2:8080 | load-balance: round_robin
            1 dial DIAL 10.244.3.2:8080 | -
            1 relay RELAYING | -
            1 relay REQUEST → | -
            0 relay RESPONSE ← | -
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn the_second_connection_bypasses_kube_proxys_dnat() {
        let trace = request(&scenario(""), "client/laptop", "http://foo.bar.com/foo");
        // The client's connection is DNATed to the controller pod; the controller's is not
        // rewritten anywhere.
        let dnat = |connection: u8| {
            trace.steps.iter().any(|s| {
                s.connection == Some(connection)
                    && s.direction == crate::trace::Direction::Original
                    && s.before.tuple().map(|t| t.dst).ok() != s.after.tuple().map(|t| t.dst).ok()
                    && s.kind != StepKind::Proxy
            })
        };
        assert!(dnat(0), "the client's connection meets the LoadBalancer's DNAT");
        assert!(!dnat(1), "the controller's connection is not rewritten");
    }

    /// The forwarding headers of the proxied request, as the backend pod received them.
    fn forwarded(cluster: &crate::model::Cluster) -> String {
        let trace = request(cluster, "client/laptop", "http://foo.bar.com/foo");
        let step = trace.steps.iter().find(|s| s.verdict == "REQUEST →").expect("proxied");
        let after = &step.request.as_ref().expect("a request change").after;
        ["X-Forwarded-For", "X-Real-IP", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Proto"]
            .iter()
            .map(|h| format!("{h}: {}", after.header(h).unwrap_or("-")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn the_client_address_survives_only_under_local_policy() {
        expect![[r#"X-Forwarded-For: 192.168.1.10, X-Real-IP: 192.168.1.10, X-Forwarded-Host: foo.bar.com, X-Forwarded-Port: 80, X-Forwarded-Proto: http"#]]
            .assert_eq(&forwarded(&scenario("")));
        let local = "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  ingressController: {externalTrafficPolicy: Local}\n---\n";
        expect![[r#"X-Forwarded-For: 192.168.1.50, X-Real-IP: 192.168.1.50, X-Forwarded-Host: foo.bar.com, X-Forwarded-Port: 80, X-Forwarded-Proto: http"#]]
            .assert_eq(&forwarded(&scenario(local)));
    }

    #[test]
    fn round_robin_rotates_over_the_endpoints_per_controller_pod() {
        let cluster = scenario("");
        let request = Request {
            from: "client/laptop".into(),
            to: "http://foo.bar.com/foo".into(),
            proto: crate::net::Proto::Tcp,
            seed: 1,
            now: 0,
        };
        let load = crate::walk::Load { requests: 6, clients: 1, connections: 1 };
        let sent = crate::walk::send_requests(&cluster, &request, &HttpOptions::default(), load).expect("sends");
        let pods: Vec<String> = sent.requests.iter().map(|r| r.backend.clone()).collect();
        assert_eq!(pods.len(), 6);
        for pair in pods.windows(2) {
            assert_ne!(pair[0], pair[1], "round robin alternates between the two s1 pods: {pods:?}");
        }
        assert_eq!(sent.counts.len(), 2, "{:?}", sent.counts);
    }
}
