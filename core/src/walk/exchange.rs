//! One HTTP/1.1 request over a connection the walk opens (design.md, "Contract: L7 requests").
//!
//! This stage owns what happens after a handshake when the destination is a URL: the name
//! resolved as a client in that place would (`resolve_target`), the request as the payload of a
//! PSH|ACK segment that every hop meets as ESTABLISHED (so conntrack's stored NAT carries it, not
//! the nat table's rules), the pod's answer, and the way back. With no L7 proxy on the path the
//! request rides the L4 walk unchanged, and the narration says that kube-proxy chose the pod from
//! the connection's first packet without reading a byte of HTTP. With a proxy on the path
//! (userspace kube-proxy today), the bytes ride both of its connections: the client's, which ends
//! on the proxy's socket, and the proxy's own to the backend.
//!
//! The handshake's last ACK is not walked: it meets the same rules as the request segment that
//! follows it, so the trace shows the segment that carries something.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::ingress_hop::Arrival;
use super::proxy::{Proxy, Relay, mark_connection};
use super::{Host, Opened, Request, Sim, WalkError, resolve_host};
use crate::http::url::{Resolve, Scheme, Target};
use crate::http::{self, Header, h1, h2};
use crate::model::{Cluster, DnsData};
use crate::net::Proto;
use crate::packet::{Packet, Tuple};
use crate::trace::{Direction, HttpOutcome, RequestChange, Step, StepKind, Text, Trace};

/// The client's first sequence number (its SYN's), and the server's; the walk's TCP segments
/// count from them so that tshark follows the stream.
pub(super) const CLIENT_ISN: u32 = 1000;
pub(super) const SERVER_ISN: u32 = 5000;
/// The same for a proxy's own connection (see `proxy.rs`, whose SYN and SYN-ACK use them).
pub(super) const PROXY_ISN: u32 = 7000;
pub(super) const BACKEND_ISN: u32 = 9000;

/// What the request carries besides its URL, as curl's options say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// `-X`; `GET` when not given.
    pub method: String,
    /// Each `-H 'Name: value'`, in order.
    pub headers: Vec<Header>,
    /// Each `--resolve HOST:PORT:ADDRESS`.
    pub resolve: Vec<Resolve>,
    /// How many requests ride the one connection (`trace --requests N`): HTTP/2 streams 1, 3,
    /// 5 … for `h2c://` and `grpc://`; 1 for HTTP/1.1.
    pub requests: usize,
    /// The gRPC client's load-balancing policy (`--grpc-lb`), for `grpc://` sends.
    pub grpc_lb: GrpcLb,
}

/// A gRPC client channel's load-balancing policy (grpc's `load-balancing.md`; grpc-go
/// `balancer/pickfirst`, `balancer/roundrobin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GrpcLb {
    /// The default in every language: connect to the first address that works, send every RPC
    /// there.
    #[default]
    PickFirst,
    /// One subchannel per address, each RPC on the next READY one, from a random start.
    RoundRobin,
}

impl GrpcLb {
    pub fn parse(text: &str) -> Result<GrpcLb, String> {
        match text {
            "pick_first" => Ok(GrpcLb::PickFirst),
            "round_robin" => Ok(GrpcLb::RoundRobin),
            other => Err(format!(
                "`{other}` is not a gRPC load-balancing policy lbplay models: use pick_first or round_robin"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GrpcLb::PickFirst => "pick_first",
            GrpcLb::RoundRobin => "round_robin",
        }
    }
}

/// At most this many streams in one traced connection: a trace shows every step of each.
pub const MAX_TRACE_REQUESTS: usize = 100;

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            method: "GET".into(),
            headers: Vec::new(),
            resolve: Vec::new(),
            requests: 1,
            grpc_lb: GrpcLb::PickFirst,
        }
    }
}

/// Where a URL's host took the client, and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub ip: Ipv4Addr,
    /// How the name was resolved, for the first step's narration.
    pub note: Text,
}

/// Sends one HTTP request: `request.to` is the URL, `request.from` the client.
pub fn fetch(cluster: &Cluster, request: &Request, options: &HttpOptions) -> Result<Trace, WalkError> {
    let mut sim = Sim::new(cluster, request.seed, request.now)?;
    sim.fetch(&request.from, &request.to, options)
}

/// Resolves a URL's host from `source` as a client there would: an IP literal as it is; a
/// `--resolve` entry for that host and port first, as curl's; a cluster DNS name through the
/// pod's resolver (its `ndots:5` search path, `crate::dns`). A node or an outside client does not
/// use cluster DNS, and a name nothing answers is an error that names `--to` and the way out.
pub fn resolve_target(
    cluster: &Cluster,
    source: &Host,
    target: &Target,
    resolve: &[Resolve],
) -> Result<Resolved, WalkError> {
    if let Ok(ip) = target.host.parse::<Ipv4Addr>() {
        return Ok(Resolved { ip, note: Text::new(String::new(), String::new()) });
    }
    let host = target.host.trim_end_matches('.');
    if let Some(entry) = resolve.iter().find(|entry| entry.host == host && entry.port == target.port) {
        return Ok(Resolved {
            ip: entry.ip,
            note: Text::new(
                format!("--resolve gives {host}:{} the address {}, so no DNS query is made.", target.port, entry.ip),
                format!("--resolve 把 {host}:{} 指向 {}，因此不查询 DNS。", target.port, entry.ip),
            ),
        });
    }
    let hint = format!("use an IP address, or --resolve {host}:{}:ADDRESS", target.port);
    // A name that is not the cluster's resolves, through public DNS, to the Ingress
    // controller's external address, as its owner would have set it up (design.md).
    let public = || -> Option<Resolved> {
        let controller = cluster.ingress.as_ref()?;
        let service = cluster.service(&controller.namespace, &controller.service)?;
        let ip = *service.load_balancer_ips.first()?;
        Some(Resolved {
            ip,
            note: Text::new(
                format!(
                    "`{host}` is not a cluster name: public DNS answers it with {ip}, the external address of the ingress-nginx controller's LoadBalancer Service, as the site's owner set it up."
                ),
                format!(
                    "`{host}` 不是集群内的名字：公共 DNS 把它解析为 {ip}，即 ingress-nginx 控制器 LoadBalancer Service 的外部地址，正如站点所有者所配置的。"
                ),
            ),
        })
    };
    let Host::Pod { name, .. } = source else {
        let records = crate::dns::records(cluster);
        let cluster_name = crate::dns::lookup_from_pod(&records, "default", host).answer.is_some();
        if !cluster_name && let Some(resolved) = public() {
            return Ok(resolved);
        }
        return Err(WalkError(format!(
            "--to: `{host}` does not resolve from {}: cluster DNS answers pods, and a node or a client outside the cluster asks its own resolver; {hint}",
            source.label()
        )));
    };
    let namespace = cluster.pod(name).map(|pod| pod.namespace.as_str()).unwrap_or("default");
    let records = crate::dns::records(cluster);
    let lookup = crate::dns::lookup_from_pod(&records, namespace, host);
    let Some((answered, data)) = lookup.answer else {
        if let Some(resolved) = public() {
            return Ok(resolved);
        }
        return Err(WalkError(format!(
            "--to: `{host}` does not resolve from {}: cluster DNS answered NXDOMAIN for {}; {hint}",
            source.label(),
            lookup.tried.join(", ")
        )));
    };
    let addresses: Vec<Ipv4Addr> = data
        .iter()
        .filter_map(|data| match data {
            DnsData::A(ip) => Some(*ip),
            DnsData::Cname(_) => None,
        })
        .collect();
    let Some(&ip) = addresses.first() else {
        return Err(WalkError(format!(
            "--to: `{answered}` is a CNAME to a name outside the cluster (an ExternalName Service), which lbplay does not follow; {hint}"
        )));
    };
    let tried = lookup.tried.join(" → ");
    let many = addresses.len() > 1;
    let list: Vec<String> = addresses.iter().map(Ipv4Addr::to_string).collect();
    let (more_en, more_zh) = if many {
        (
            format!(
                " The answer holds {} addresses ({}), one per pod of a headless Service; the client takes the first.",
                list.len(),
                list.join(", ")
            ),
            format!(
                "应答含 {} 个地址（{}），无头 Service 的每个 Pod 一个；客户端取第一个。",
                list.len(),
                list.join("、")
            ),
        )
    } else {
        (String::new(), String::new())
    };
    Ok(Resolved {
        ip,
        note: Text::new(
            format!(
                "The client first resolves `{host}` through cluster DNS, with the pod's search path and ndots:5 (asked: {tried}); the answer is {answered} A {ip}.{more_en} The DNS query itself is a UDP exchange with kube-dns, walked in the DNS lesson."
            ),
            format!(
                "客户端先通过集群 DNS 解析 `{host}`，使用 Pod 的搜索域和 ndots:5（依次查询：{tried}）；应答为 {answered} A {ip}。{more_zh}DNS 查询本身是与 kube-dns 的一次 UDP 往返，见 DNS 一课。"
            ),
        ),
    })
}

/// The Service whose address and port the client called, `namespace/name:port`, as the outcome
/// names the backend: its ClusterIP, an external or load-balancer IP, or a node's NodePort.
fn service_at(cluster: &Cluster, dst: SocketAddrV4) -> Option<String> {
    let node_ip = cluster.nodes.iter().any(|node| node.ip == *dst.ip());
    cluster.services.iter().find_map(|service| {
        let port = service.ports.iter().find(|port| {
            port.protocol == Proto::Tcp
                && ((port.port == dst.port()
                    && (service.cluster_ip == Some(*dst.ip())
                        || service.external_ips.contains(dst.ip())
                        || service.load_balancer_ips.contains(dst.ip())))
                    || (node_ip && port.node_port == Some(dst.port())))
        })?;
        Some(format!("{}:{}", service.namespaced_name(), port.port))
    })
}

/// What a pod's web server answers: 200 with a short body naming the pod, or 400 for bytes that
/// are not an HTTP/1.1 request.
fn pod_answer(pod: &Host, bytes: &[u8], status: u16) -> (http::Response, Option<http::Request>) {
    match h1::parse_request(bytes) {
        Ok(request) => {
            let body = format!("{} answered {} {}\n", pod.label(), request.method, request.path);
            let response = http::Response {
                status,
                headers: vec![Header::new("Content-Type", "text/plain; charset=utf-8")],
                body: body.into_bytes(),
            };
            (response, Some(request))
        }
        Err(_) => (http::Response { status: 400, headers: Vec::new(), body: Vec::new() }, None),
    }
}

/// A TCP segment's `(seq, ack)` after `sent` bytes from one side and `received` from the other.
pub(super) fn seq_ack(isn: u32, peer_isn: u32, sent: usize, received: usize) -> (u32, u32) {
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (isn.wrapping_add(1).wrapping_add(len(sent)), peer_isn.wrapping_add(1).wrapping_add(len(received)))
}

impl<'a> Sim<'a> {
    /// Sends one HTTP request from `from` to the URL `to`: resolve, open the connection, carry
    /// the request there and the response back.
    pub fn fetch(&mut self, from: &str, to: &str, options: &HttpOptions) -> Result<Trace, WalkError> {
        let target = Target::parse(to).map_err(|err| WalkError(err.0))?;
        if target.scheme == Scheme::Https {
            return Err(WalkError(format!(
                "--to `{to}`: lbplay walks http://, h2c:// and grpc:// requests; https:// (TLS) is not walked yet"
            )));
        }
        let streams = matches!(target.scheme, Scheme::H2c | Scheme::Grpc);
        if options.requests == 0 || options.requests > MAX_TRACE_REQUESTS {
            return Err(WalkError(format!(
                "--requests {}: a trace sends 1 to {MAX_TRACE_REQUESTS} requests over its connection",
                options.requests
            )));
        }
        if options.requests > 1 && !streams {
            return Err(WalkError(format!(
                "--requests {}: a traced http:// connection carries one request; use h2c:// or grpc:// for streams on one connection, or `lbplay send --requests` for HTTP/1.1's pool",
                options.requests
            )));
        }
        let curl = http::Request::curl(&options.method, &target, &options.headers).map_err(|err| WalkError(err.0))?;
        let (client_kind, request, body) =
            if streams { super::streams::stream_request(&target, &curl) } else { (h2::Client::Curl, curl, Vec::new()) };
        let source = resolve_host(self.cluster, from)?;
        let resolved = resolve_target(self.cluster, &source, &target, &options.resolve)?;
        let dst = SocketAddrV4::new(resolved.ip, target.port);
        let mut trace = Trace::default();
        let opened = self.open(&mut trace, &source, dst, Proto::Tcp)?;
        if !resolved.note.en.is_empty()
            && let Some(first) = trace.steps.first_mut()
        {
            first.note = Text::new(
                format!("{} {}", resolved.note.en, first.note.en),
                format!("{}{}", resolved.note.zh, first.note.zh),
            );
        }
        let bytes = if streams {
            let mut end = h2::ClientEnd::new(client_kind);
            end.send(&h2::Outgoing { fields: h2::request_fields(&request, client_kind), body: body.clone() }).1
        } else {
            h1::request_bytes(&request)
        };
        match opened {
            Opened::Failed => {}
            Opened::Direct { client, server, at_server } if streams => {
                let shown = (client_kind, &request, body.as_slice());
                self.exchange_streams(&mut trace, &source, client, dst, &server, at_server, shown, options.requests);
            }
            Opened::Direct { client, server, at_server } => {
                self.exchange_direct(&mut trace, &source, client, dst, &server, at_server, &request, &bytes);
            }
            Opened::Relayed { relay, .. } if options.requests > 1 => {
                return Err(WalkError(format!(
                    "--requests {}: lbplay walks one stream through {}'s userspace proxy; `lbplay send --requests` counts many",
                    options.requests,
                    relay.host.label()
                )));
            }
            Opened::Relayed { client, relay } => {
                self.exchange_relayed(&mut trace, &source, client, dst, &relay, &request, &bytes);
            }
            Opened::Accepted { client, proxy, server, at_server } => {
                let arrival =
                    Arrival { source: &source, server: &server, at_server, proxy: &proxy, scheme: "http", dst };
                if streams && options.requests > 1 {
                    return Err(WalkError(format!(
                        "--requests {}: lbplay walks one stream through {}; `lbplay send --requests` counts many",
                        options.requests,
                        proxy.host(self).map_or_else(|| server.label(), |h| h.label())
                    )));
                }
                if let Proxy::Envoy { .. } = proxy {
                    self.exchange_envoy(&mut trace, &arrival, client, &request, &bytes);
                    return Ok(trace);
                }
                self.exchange_ingress(&mut trace, &arrival, client, &bytes);
                // The backend is the Ingress's, which the hop named.
                return Ok(trace);
            }
        }
        if let Some(http) = &mut trace.outcome.http {
            http.backend = service_at(self.cluster, dst);
        }
        Ok(trace)
    }

    /// The request and response over a connection the client opened to the server itself.
    #[allow(clippy::too_many_arguments)]
    fn exchange_direct(
        &mut self,
        trace: &mut Trace,
        source: &Host,
        client: SocketAddrV4,
        dst: SocketAddrV4,
        server: &Host,
        at_server: Tuple,
        request: &http::Request,
        bytes: &[u8],
    ) {
        let (seq, ack) = seq_ack(CLIENT_ISN, SERVER_ISN, 0, 0);
        let Some(segment) = self.data_packet(client, dst, seq, ack, bytes) else { return };
        let start = trace.steps.len();
        let Some((at, arrived)) = self.walk(trace, source.clone(), segment, Direction::Original) else { return };
        self.mark_request(trace, start, request);
        if at != *server {
            trace.outcome.dropped = true;
            trace.outcome.reason =
                Some(format!("the request reached {} but the connection was opened to {}", at.label(), server.label()));
            return;
        }
        let l4 = Text::new(
            format!(
                " kube-proxy chose {} from the connection's first packet (the SYN) and never read the path or the Host header: every request on this connection goes to the same pod.",
                server.label()
            ),
            format!(
                "kube-proxy 在连接的第一个包（SYN）时就选定了 {}，从未读取路径或 Host 头：这条连接上的每个请求都去往同一个 Pod。",
                server.label()
            ),
        );
        self.answer(trace, server, at_server, &arrived, (SERVER_ISN, CLIENT_ISN), l4);
    }

    /// The request and response through a proxy that relays between the client's connection and
    /// its own.
    #[allow(clippy::too_many_arguments)]
    fn exchange_relayed(
        &mut self,
        trace: &mut Trace,
        source: &Host,
        client: SocketAddrV4,
        dst: SocketAddrV4,
        relay: &Relay,
        request: &http::Request,
        bytes: &[u8],
    ) {
        let node = relay.host.name().to_string();
        let theirs = relay.connection;
        if self.proxy_at(&relay.pod, relay.at_pod).is_some() {
            // Userspace kube-proxy (removed in v1.26) in front of an Ingress controller: two
            // proxies in a row, which lbplay does not walk rather than walk wrongly.
            trace.outcome.dropped = true;
            trace.outcome.reason = Some(format!(
                "userspace kube-proxy relayed the connection to {}, an L7 proxy; lbplay does not walk a proxy behind userspace kube-proxy: use iptables, IPVS or nftables mode",
                relay.pod.label()
            ));
            return;
        }
        // The client's leg: the request to the proxy's socket.
        let (seq, ack) = seq_ack(CLIENT_ISN, SERVER_ISN, 0, 0);
        let Some(segment) = self.data_packet(client, dst, seq, ack, bytes) else { return };
        let start = trace.steps.len();
        let walked = self.walk(trace, source.clone(), segment, Direction::Original);
        mark_connection(trace, start, 0);
        let Some((_, read)) = walked else { return };
        self.mark_request(trace, start, request);
        // The proxy copies the bytes to its own connection.
        let (seq, ack) = seq_ack(PROXY_ISN, BACKEND_ISN, 0, 0);
        let Some(copied) = self.data_packet(relay.dialed.src, relay.dialed.dst, seq, ack, bytes) else { return };
        let note = relay_note(&relay.proxy, bytes.len(), source, &relay.pod, true);
        let mut s = super::step(&node, Direction::Original, StepKind::Proxy, &read, &copied, "COPY →", note);
        s.stage = Some("relay");
        trace.steps.push(s);
        let start = trace.steps.len() - 1;
        let walked = self.walk(trace, relay.host.clone(), copied, Direction::Original);
        let Some((at, arrived)) = walked else {
            mark_connection(trace, start, theirs);
            return;
        };
        self.mark_request(trace, start + 1, request);
        if at != relay.pod {
            mark_connection(trace, start, theirs);
            trace.outcome.dropped = true;
            trace.outcome.reason =
                Some(format!("the relayed request reached {} instead of {}", at.label(), relay.pod.label()));
            return;
        }
        let answered =
            self.answer(trace, &relay.pod, relay.at_pod, &arrived, (BACKEND_ISN, PROXY_ISN), Text::default());
        mark_connection(trace, start, theirs);
        let Some(answered) = answered else { return };
        // The proxy copies the response back to the client's connection.
        let (seq, ack) = seq_ack(SERVER_ISN, CLIENT_ISN, 0, bytes.len());
        let payload = answered.payload().to_vec();
        let Some(back) = self.data_packet(relay.accepted.dst, relay.accepted.src, seq, ack, &payload) else { return };
        let note = relay_note(&relay.proxy, payload.len(), source, &relay.pod, false);
        let mut s = super::step(&node, Direction::Reply, StepKind::Proxy, &answered, &back, "COPY ←", note);
        s.stage = Some("relay");
        trace.steps.push(s);
        let start = trace.steps.len() - 1;
        let status = trace.outcome.http.as_ref().map(|http| http.status);
        trace.outcome.http = None;
        let walked = self.walk(trace, relay.host.clone(), back, Direction::Reply);
        mark_connection(trace, start, 0);
        if walked.is_some() {
            trace.outcome.http =
                status.map(|status| HttpOutcome { status, backend: None, pod: Some(relay.pod.label()) });
        } else if !trace.outcome.dropped {
            trace.outcome.reason = Some("the response did not reach the client".into());
        }
    }

    /// The server's answer to the request that `arrived`, walked back to whoever sent it. `isns`
    /// are the server's and its peer's first sequence numbers. Returns the response as it arrived.
    pub(super) fn answer(
        &mut self,
        trace: &mut Trace,
        server: &Host,
        at_server: Tuple,
        arrived: &Packet,
        isns: (u32, u32),
        why: Text,
    ) -> Option<Packet> {
        let payload = arrived.payload().to_vec();
        // `lbplay.dev/down: "503"` makes a pod's web server answer 503 Service Unavailable.
        let failing = match server {
            Host::Pod { name, .. } => self.cluster.pod(name).is_some_and(|pod| {
                pod.labels.get(crate::kubeproxy::userspace::DOWN_LABEL).map(String::as_str) == Some("503")
            }),
            _ => false,
        };
        let (reply, status, said) = if h2::is_frames(&payload) {
            let answered = self.answer_streams(server, at_server, arrived, isns, failing);
            let Some(answered) = answered else {
                trace.outcome.dropped = true;
                trace.outcome.reason = Some(format!(
                    "{} could not read the HTTP/2 frames (a stream's header block refers to HPACK state it never saw)",
                    server.label()
                ));
                return None;
            };
            answered
        } else {
            let (response, read) = pod_answer(server, &payload, if failing { 503 } else { 200 });
            let said = match &read {
                Some(request) => Text::new(
                    format!(
                        " Its web server reads the request {} {} (Host: {}) and answers {} {}.",
                        request.method,
                        request.path,
                        request.authority,
                        response.status,
                        http::reason(response.status)
                    ),
                    format!(
                        "其中的 Web 服务器读到请求 {} {}（Host: {}），回答 {} {}。",
                        request.method,
                        request.path,
                        request.authority,
                        response.status,
                        http::reason(response.status)
                    ),
                ),
                None => Text::new(
                    " Its web server cannot read an HTTP/1.1 request in the payload and answers 400.",
                    "其中的 Web 服务器无法把载荷读成 HTTP/1.1 请求，回答 400。",
                ),
            };
            let bytes = h1::response_bytes(&response);
            let (seq, ack) = seq_ack(isns.0, isns.1, 0, payload.len());
            let reply = self.data_packet(at_server.dst, at_server.src, seq, ack, &bytes)?;
            (reply, response.status, said)
        };
        if let Some(last) = trace.steps.last_mut() {
            last.note = Text::new(
                format!("{}{}{}", last.note.en, said.en, why.en),
                format!("{}{}{}", last.note.zh, said.zh, why.zh),
            );
        }
        let back = self.walk(trace, server.clone(), reply, Direction::Reply);
        match back {
            Some((_, arrived)) => {
                trace.outcome.http = Some(HttpOutcome { status, backend: None, pod: Some(server.label()) });
                Some(arrived)
            }
            None => {
                if !trace.outcome.dropped {
                    trace.outcome.reason = Some("the response did not reach the client".into());
                }
                None
            }
        }
    }

    /// A PSH|ACK segment carrying `payload`, with the next IP identification.
    pub(super) fn data_packet(
        &mut self,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) -> Option<Packet> {
        let ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        Packet::tcp_data(src, dst, seq, ack, ident, payload).ok()
    }

    /// Tags the first and last step of a request segment's walk with the request it carries.
    pub(super) fn mark_request(&self, trace: &mut Trace, start: usize, request: &http::Request) {
        let change = || Some(Box::new(RequestChange { before: request.clone(), after: request.clone() }));
        let len = trace.steps.len();
        for index in [start, len.saturating_sub(1)] {
            if let Some(step) = trace.steps.get_mut(index).filter(|step| is_end(step)) {
                step.request = change();
            }
        }
    }
}

/// The send and delivery steps of a walk are where a request is shown.
fn is_end(step: &Step) -> bool {
    matches!(step.kind, StepKind::Send | StepKind::Deliver)
}

/// The note of a proxy copying `len` bytes from one connection to the other.
fn relay_note(proxy: &Proxy, len: usize, client: &Host, pod: &Host, forward: bool) -> Text {
    match proxy {
        Proxy::Userspace { .. } if forward => Text::new(
            format!(
                "kube-proxy reads {len} bytes from the client's connection and writes them, unchanged, to its own connection to {}. It is an L4 proxy: it does not parse HTTP, and it chose the pod before the first byte of the request arrived.",
                pod.label()
            ),
            format!(
                "kube-proxy 从客户端的连接读到 {len} 字节，原样写入它到 {} 的连接。它是 L4 代理：不解析 HTTP，在请求的第一个字节到达之前就已选定 Pod。",
                pod.label()
            ),
        ),
        Proxy::Userspace { .. } => Text::new(
            format!(
                "kube-proxy reads the {len}-byte response from {} and writes it to the client's connection, back to {}.",
                pod.label(),
                client.label()
            ),
            format!("kube-proxy 从 {} 读到 {len} 字节的响应，写回客户端 {} 的连接。", pod.label(), client.label()),
        ),
        // ingress-nginx and Envoy do not copy bytes: their hops narrate what they rewrite.
        Proxy::IngressNginx { .. } | Proxy::Envoy { .. } => Text::default(),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;
    use crate::model::ProxyMode;
    use crate::walk::fixture;

    /// The request's walk in `mode`: each step that sends, delivers, proxies or rewrites, and the
    /// outcome.
    fn check(id: &str, mode: ProxyMode, from: &str, url: &str, expect: Expect) {
        let cluster = fixture::lesson(id, mode);
        let request = Request { from: from.into(), to: url.into(), proto: Proto::Tcp, seed: 1, now: 0 };
        let got = match fetch(&cluster, &request, &HttpOptions::default()) {
            Ok(trace) => {
                let shown = |step: &Step| {
                    matches!(step.kind, StepKind::Send | StepKind::Deliver | StepKind::Proxy)
                        || step.before.bytes() != step.after.bytes()
                };
                let mut out = fixture::lines(&trace, shown);
                out.push_str(&format!(
                    "{:?} {:?} {:?}\n",
                    trace.outcome.delivered_to, trace.outcome.reason, trace.outcome.http
                ));
                out
            }
            Err(err) => format!("error: {err}\n"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn a_request_rides_the_l4_walk() {
        check(
            "clusterip-iptables",
            ProxyMode::Iptables,
            "pod/client",
            "http://web.default.svc.cluster.local/hello",
            expect![[r#"
                client send SEND
                node-1 nat PREROUTING KUBE-SEP-RBX5X5TOEG5GD3RO DNAT | tcp 10.244.1.20:42361 → 10.96.100.10:80 ⇒ tcp 10.244.1.20:42361 → 10.244.3.9:8080
                node-1 routing FORWARD → node/node-3
                node-3 routing FORWARD → pod/web-c
                web-c deliver DELIVERED
                web-c send SEND
                node-3 routing FORWARD → node/node-1
                node-1 routing FORWARD → pod/client
                node-1 nat POSTROUTING UN-DNAT | tcp 10.244.3.9:8080 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
                client deliver DELIVERED
                client send SEND
                node-1 nat PREROUTING DNAT | tcp 10.244.1.20:42361 → 10.96.100.10:80 ⇒ tcp 10.244.1.20:42361 → 10.244.3.9:8080
                node-1 routing FORWARD → node/node-3
                node-3 routing FORWARD → pod/web-c
                web-c deliver DELIVERED
                web-c send SEND
                node-3 routing FORWARD → node/node-1
                node-1 routing FORWARD → pod/client
                node-1 nat POSTROUTING UN-DNAT | tcp 10.244.3.9:8080 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
                client deliver DELIVERED
                Some("pod/web-c") None Some(HttpOutcome { status: 200, backend: Some("default/web:80"), pod: Some("pod/web-c") })
            "#]],
        );
    }

    #[test]
    fn userspace_relays_the_bytes_over_both_connections() {
        check(
            "clusterip-iptables",
            ProxyMode::Userspace,
            "pod/client",
            "http://web/hello",
            expect![[r#"
                client send SEND
                node-1 nat PREROUTING KUBE-PORTALS-CONTAINER REDIRECT | tcp 10.244.1.20:42361 → 10.96.100.10:80 ⇒ tcp 10.244.1.20:42361 → 10.244.1.1:52655
                node-1 deliver DELIVERED
                node-1 proxy ACCEPTED
                node-1 send SEND
                node-1 nat POSTROUTING UN-DNAT | tcp 10.244.1.1:52655 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
                client deliver DELIVERED
                node-1 proxy DIAL 10.244.1.5:8080
                node-1 send SEND
                web-a deliver DELIVERED
                web-a send SEND
                node-1 deliver DELIVERED
                node-1 proxy RELAYING
                client send SEND
                node-1 nat PREROUTING DNAT | tcp 10.244.1.20:42361 → 10.96.100.10:80 ⇒ tcp 10.244.1.20:42361 → 10.244.1.1:52655
                node-1 deliver DELIVERED
                node-1 proxy COPY → | tcp 10.244.1.20:42361 → 10.244.1.1:52655 ⇒ tcp 10.244.1.1:52887 → 10.244.1.5:8080
                node-1 send SEND
                web-a deliver DELIVERED
                web-a send SEND
                node-1 deliver DELIVERED
                node-1 proxy COPY ← | tcp 10.244.1.5:8080 → 10.244.1.1:52887 ⇒ tcp 10.244.1.1:52655 → 10.244.1.20:42361
                node-1 send SEND
                node-1 nat POSTROUTING UN-DNAT | tcp 10.244.1.1:52655 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
                client deliver DELIVERED
                Some("pod/web-a") None Some(HttpOutcome { status: 200, backend: Some("default/web:80"), pod: Some("pod/web-a") })
            "#]],
        );
    }

    #[test]
    fn ipvs_carries_the_request_to_the_scheduled_server() {
        check(
            "clusterip-ipvs",
            ProxyMode::Ipvs,
            "pod/client",
            "http://10.96.100.10/",
            expect![[r#"
            client send SEND
            node-1 INPUT MASQ → 10.244.3.9:8080 | tcp 10.244.1.20:42361 → 10.96.100.10:80 ⇒ tcp 10.244.1.20:42361 → 10.244.3.9:8080
            node-3 routing FORWARD → pod/web-c
            web-c deliver DELIVERED
            web-c send SEND
            node-3 routing FORWARD → node/node-1
            node-1 routing FORWARD → pod/client
            node-1 FORWARD UN-MASQ | tcp 10.244.3.9:8080 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
            client deliver DELIVERED
            client send SEND
            node-1 INPUT MASQ → 10.244.3.9:8080 | tcp 10.244.1.20:42361 → 10.96.100.10:80 ⇒ tcp 10.244.1.20:42361 → 10.244.3.9:8080
            node-3 routing FORWARD → pod/web-c
            web-c deliver DELIVERED
            web-c send SEND
            node-3 routing FORWARD → node/node-1
            node-1 routing FORWARD → pod/client
            node-1 FORWARD UN-MASQ | tcp 10.244.3.9:8080 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
            client deliver DELIVERED
            Some("pod/web-c") None Some(HttpOutcome { status: 200, backend: Some("default/web:80"), pod: Some("pod/web-c") })
        "#]],
        );
    }

    #[test]
    fn names_resolve_as_the_client_would() {
        check(
            "clusterip-iptables",
            ProxyMode::Iptables,
            "node/node-1",
            "http://web/",
            expect![[r#"
            error: --to: `web` does not resolve from node/node-1: cluster DNS answers pods, and a node or a client outside the cluster asks its own resolver; use an IP address, or --resolve web:80:ADDRESS
        "#]],
        );
        check(
            "clusterip-iptables",
            ProxyMode::Iptables,
            "pod/client",
            "http://nothing-here/",
            expect![[r#"
            error: --to: `nothing-here` does not resolve from pod/client: cluster DNS answered NXDOMAIN for nothing-here.default.svc.cluster.local, nothing-here.svc.cluster.local, nothing-here.cluster.local, nothing-here; use an IP address, or --resolve nothing-here:80:ADDRESS
        "#]],
        );
        check(
            "clusterip-iptables",
            ProxyMode::Iptables,
            "pod/client",
            "https://web/",
            expect![[r#"
                error: --to `https://web/`: lbplay walks http://, h2c:// and grpc:// requests; https:// (TLS) is not walked yet
            "#]],
        );
    }

    #[test]
    fn resolve_overrides_dns() {
        let cluster = fixture::lesson("clusterip-iptables", ProxyMode::Iptables);
        let source = resolve_host(&cluster, "node/node-1").expect("a node");
        let target = Target::parse("http://web.example:80/").expect("a URL");
        let resolve = [Resolve { host: "web.example".into(), port: 80, ip: Ipv4Addr::new(10, 96, 100, 10) }];
        let got = resolve_target(&cluster, &source, &target, &resolve).expect("resolved");
        assert_eq!(got.ip, Ipv4Addr::new(10, 96, 100, 10));
        let other_port = Target::parse("http://web.example:8080/").expect("a URL");
        assert!(resolve_target(&cluster, &source, &other_port, &resolve).is_err());
    }

    #[test]
    fn sequence_numbers_follow_the_bytes() {
        assert_eq!(seq_ack(1000, 5000, 0, 0), (1001, 5001));
        assert_eq!(seq_ack(5000, 1000, 0, 78), (5001, 1079));
    }
}
