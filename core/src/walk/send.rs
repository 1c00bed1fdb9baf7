//! Many connections in a row, as `lbplay send` and the page's experiments open them: which
//! backend served each, and how many each backend served. The one loop every front end uses.
//! For a URL, `send_requests` sends HTTP requests from several clients over keep-alive
//! connections, the way `lbplay send --requests` and the L7 experiments count them.

use std::collections::BTreeMap;

use std::net::SocketAddrV4;

use super::exchange::{HttpOptions, resolve_target};
use super::{Host, Opened, Request, Sim, WalkError, resolve_host};
use crate::http::url::{Scheme, Target};
use crate::model::Cluster;
use crate::trace::Trace;

/// At most this many connections in one `send`, so a page or a script asking for a billion is
/// refused at once rather than frozen.
pub const MAX_CONNECTIONS: usize = 100_000;

/// One connection of a `send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub index: usize,
    /// The host that served it (`pod/web-b`), or `dropped`.
    pub backend: String,
    pub dropped: bool,
    /// Why it was dropped or not delivered.
    pub reason: Option<String>,
}

/// What a `send` did: every connection in order, and the count per backend in the backends'
/// sorted order (`dropped` counts those that were not delivered).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sends {
    pub connections: Vec<Sent>,
    pub counts: BTreeMap<String, u64>,
}

/// Opens `n` connections of `request` (its seed seeds the whole run, its `now` is the first
/// connection's time), one second apart, each closed before the next unless `keep`: closing
/// changes nothing in iptables or nftables mode, but IPVS's lc, wlc, sed and nq count open (and
/// recently closed) connections.
/// A URL in `request.to` opens connections to where its name resolves from `request.from`.
pub fn send(cluster: &Cluster, request: &Request, n: usize, keep: bool) -> Result<Sends, WalkError> {
    if n > MAX_CONNECTIONS {
        return Err(WalkError(format!(
            "{n} connections is over lbplay's limit of {MAX_CONNECTIONS}: more would run for minutes"
        )));
    }
    let mut sim = Sim::new(cluster, request.seed, request.now)?;
    let mut sends = Sends::default();
    let to = if Target::is_url(&request.to) {
        let target = Target::parse(&request.to).map_err(|err| WalkError(err.0))?;
        let source = resolve_host(cluster, &request.from)?;
        let resolved = resolve_target(cluster, &source, &target, &[])?;
        SocketAddrV4::new(resolved.ip, target.port).to_string()
    } else {
        request.to.clone()
    };
    for index in 0..n {
        let trace = sim.connect(&request.from, &to, request.proto)?;
        let backend = trace.outcome.delivered_to.unwrap_or_else(|| "dropped".to_string());
        *sends.counts.entry(backend.clone()).or_default() += 1;
        sends.connections.push(Sent { index, backend, dropped: trace.outcome.dropped, reason: trace.outcome.reason });
        if !keep {
            sim.close_all();
        }
        sim.advance(1);
    }
    Ok(sends)
}

/// How `send_requests` spreads its requests: `requests` from each of `clients` clients, over
/// `connections` keep-alive connections per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    pub requests: usize,
    pub clients: usize,
    pub connections: usize,
}

/// One of a client's keep-alive connections.
enum Pooled {
    /// Opened to a pod (directly, or through an L4 proxy): every request goes there.
    Pinned(String),
    /// Accepted by an L7 proxy on this host, which picks a backend per request.
    Proxy(Host),
}

/// One request of a `send_requests`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    pub index: usize,
    /// The client that sent it, `pod/NAME`.
    pub client: String,
    /// Which of that client's connections carried it, from 0.
    pub connection: usize,
    /// The HTTP/2 stream it rode; `None` for HTTP/1.1, which has none.
    pub stream: Option<u32>,
    /// The pod that served it, or `dropped`.
    pub backend: String,
    /// The L7 proxy that read it and chose the backend (`pod/ingress-nginx-controller-…`), when
    /// its connection ended on one.
    pub proxy: Option<String>,
}

/// What a `send_requests` did: every request in order, and the count per backend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requests {
    pub requests: Vec<SentRequest>,
    pub counts: BTreeMap<String, u64>,
}

/// The clients of a load: `from` itself, then the other pods with exactly its labels (the
/// replicas of the same workload), by name, until there are `clients`.
fn clients_of(cluster: &Cluster, from: &str, clients: usize) -> Result<Vec<Host>, WalkError> {
    let first = resolve_host(cluster, from)?;
    if clients <= 1 {
        return Ok(vec![first]);
    }
    let Host::Pod { name, .. } = &first else {
        return Err(WalkError(format!(
            "--clients {clients}: the clients are the replicas of a pod, and {} is not a pod",
            first.label()
        )));
    };
    let labels = cluster.pod(name).map(|pod| pod.labels.clone()).unwrap_or_default();
    let mut hosts = vec![first.clone()];
    let mut peers: Vec<&crate::model::Pod> =
        cluster.pods.iter().filter(|pod| pod.name != *name && !pod.labels.is_empty() && pod.labels == labels).collect();
    peers.sort_by(|a, b| a.name.cmp(&b.name));
    for pod in peers.into_iter().take(clients - 1) {
        hosts.push(resolve_host(cluster, &format!("pod/{}", pod.name))?);
    }
    if hosts.len() < clients {
        let shown: Vec<String> = labels.iter().map(|(key, value)| format!("{key}={value}")).collect();
        return Err(WalkError(format!(
            "--clients {clients}: only {} pod(s) have the labels of {} ({}); scale its Deployment to {clients} replicas",
            hosts.len(),
            first.label(),
            if shown.is_empty() { "none".to_string() } else { shown.join(", ") }
        )));
    }
    Ok(hosts)
}

/// Sends HTTP/1.1 requests to the URL `request.to`: each client (see `clients_of`) keeps
/// `load.connections` connections and sends `load.requests` requests, request *i* on its
/// connection *i* mod C, as a pool of C connections serves C requests in flight at a time. Each
/// connection opens (one second after the previous) when its first request needs it and stays
/// open to the end, so every later request on it reaches the pod its first packet was balanced
/// to: kube-proxy balances connections, not requests.
pub fn send_requests(
    cluster: &Cluster,
    request: &Request,
    options: &HttpOptions,
    load: Load,
) -> Result<Requests, WalkError> {
    let target = Target::parse(&request.to).map_err(|err| WalkError(err.0))?;
    if target.scheme == Scheme::Https {
        return Err(WalkError(format!(
            "--to `{}`: `send --requests` sends http://, h2c:// and grpc:// requests; https:// is not walked yet",
            request.to
        )));
    }
    if load.requests == 0 {
        return Err(WalkError("--requests 0: send at least one request".into()));
    }
    let total = load.requests.saturating_mul(load.clients.max(1));
    if total > MAX_REQUESTS {
        return Err(WalkError(format!(
            "--requests {} × --clients {} is {total} requests; at most {MAX_REQUESTS} in one send",
            load.requests, load.clients
        )));
    }
    if matches!(target.scheme, Scheme::H2c | Scheme::Grpc) {
        return send_streams(cluster, request, options, load, &target);
    }
    let clients = clients_of(cluster, &request.from, load.clients)?;
    let mut sim = Sim::new(cluster, request.seed, request.now)?;
    let mut out = Requests::default();
    let connections = load.connections.max(1);
    for client in &clients {
        let resolved = resolve_target(cluster, client, &target, &options.resolve)?;
        let dst = SocketAddrV4::new(resolved.ip, target.port);
        let mut pool: Vec<Pooled> = Vec::with_capacity(connections);
        let http =
            crate::http::Request::curl(&options.method, &target, &options.headers).map_err(|err| WalkError(err.0))?;
        for i in 0..load.requests {
            let connection = i % connections;
            if connection == pool.len() {
                let mut trace = Trace::default();
                let opened = sim.open(&mut trace, client, dst, crate::net::Proto::Tcp)?;
                let pooled = match opened {
                    Opened::Accepted { server, .. } => Pooled::Proxy(server),
                    _ => {
                        let backend = if trace.outcome.dropped { None } else { trace.outcome.delivered_to };
                        Pooled::Pinned(backend.unwrap_or_else(|| "dropped".to_string()))
                    }
                };
                pool.push(pooled);
                sim.advance(1);
            }
            // An L4 connection is pinned to the pod its first packet was balanced to; an L7
            // proxy chooses again for every request it reads.
            let (backend, proxy) = match &pool[connection] {
                Pooled::Pinned(backend) => (backend.clone(), None),
                Pooled::Proxy(server) if sim.envoy_at(server.name(), envoy_listener()).is_some() => {
                    let server = server.clone();
                    (sim.envoy_backend(server.name(), dst, &http), Some(server.label()))
                }
                Pooled::Proxy(server) => {
                    let server = server.clone();
                    (sim.ingress_backend(&server, &http), Some(server.label()))
                }
            };
            *out.counts.entry(backend.clone()).or_default() += 1;
            out.requests.push(SentRequest {
                index: out.requests.len(),
                client: client.label(),
                connection,
                stream: None,
                backend,
                proxy,
            });
        }
    }
    Ok(out)
}

/// At most this many requests in one `send_requests`: experiment mode keeps no per-step trace,
/// so a million is about a second natively.
pub const MAX_REQUESTS: usize = 10_000_000;

/// One HTTP/2 connection of a client: where its requests go, and the next stream id on it.
struct Channel {
    pooled: Pooled,
    next_stream: u32,
}

/// `send_requests` for `h2c://` and `grpc://`: every request is a stream on a long-lived
/// connection. Each client keeps `load.connections` channels (the application's own pool, the
/// source text's remedy (c)); request *i* goes to channel *i* mod C. A channel to a name holds
/// one connection per address it balances over: `pick_first` (grpc's default, and what curl
/// does) connects to the first address the name resolves to; `round_robin` (grpc only) to every
/// A record, a headless Service's one per ready pod, starting at a random one (grpc-go
/// `balancer/roundrobin`: `rand.Intn` of the READY pickers) and rotating per call. A ClusterIP
/// name resolves to one address, so round_robin has one subchannel and every call still rides
/// the one connection kube-proxy balanced at its SYN. Through a sidecar each request is
/// balanced by Envoy, whatever the connection.
fn send_streams(
    cluster: &Cluster,
    request: &Request,
    options: &HttpOptions,
    load: Load,
    target: &Target,
) -> Result<Requests, WalkError> {
    let clients = clients_of(cluster, &request.from, load.clients)?;
    let mut sim = Sim::new(cluster, request.seed, request.now)?;
    let mut out = Requests::default();
    out.requests.reserve(load.requests.saturating_mul(clients.len()));
    let channels = load.connections.max(1);
    let lb = if target.scheme == Scheme::Grpc { options.grpc_lb } else { super::GrpcLb::PickFirst };
    let curl = crate::http::Request::curl(&options.method, target, &options.headers).map_err(|err| WalkError(err.0))?;
    let (_, http, _) = super::streams::stream_request(target, &curl);
    for client in &clients {
        let addresses = addresses_of(cluster, client, target, options)?;
        let label = client.label();
        // Each channel: its subchannels (one connection each) and its round-robin position.
        let mut pool: Vec<(Vec<Channel>, usize)> = Vec::with_capacity(channels);
        for i in 0..load.requests {
            let at = i % channels;
            if at == pool.len() {
                let dialed: Vec<std::net::Ipv4Addr> = match lb {
                    super::GrpcLb::PickFirst => addresses.iter().take(1).copied().collect(),
                    super::GrpcLb::RoundRobin => addresses.clone(),
                };
                let mut subchannels = Vec::with_capacity(dialed.len());
                for ip in dialed {
                    let dst = SocketAddrV4::new(ip, target.port);
                    let mut trace = Trace::default();
                    let opened = sim.open(&mut trace, client, dst, crate::net::Proto::Tcp)?;
                    let pooled = match opened {
                        Opened::Accepted { server, .. } if sim.envoy_at(server.name(), envoy_listener()).is_some() => {
                            Pooled::Proxy(server)
                        }
                        Opened::Accepted { server, .. } => {
                            return Err(WalkError(format!(
                                "--to `{}`: {} is ingress-nginx, which speaks HTTP/2 only over TLS; h2c and gRPC to it are not walked",
                                request.to,
                                server.label()
                            )));
                        }
                        _ => {
                            let backend = if trace.outcome.dropped { None } else { trace.outcome.delivered_to };
                            Pooled::Pinned(backend.unwrap_or_else(|| "dropped".to_string()))
                        }
                    };
                    subchannels.push(Channel { pooled, next_stream: 1 });
                    sim.advance(1);
                }
                let start = if subchannels.len() > 1 {
                    (sim.env.rng.next_u64() % subchannels.len() as u64) as usize
                } else {
                    0
                };
                pool.push((subchannels, start));
            }
            let before: usize = pool[..at].iter().map(|(subs, _)| subs.len()).sum();
            let (subchannels, next) = &mut pool[at];
            if subchannels.is_empty() {
                return Err(WalkError(format!("--to `{}`: the name resolves to no address", request.to)));
            }
            let pick = *next % subchannels.len();
            *next = next.wrapping_add(1);
            let channel = &mut subchannels[pick];
            let stream = channel.next_stream;
            channel.next_stream = channel.next_stream.saturating_add(2);
            let (backend, proxy) = match &channel.pooled {
                Pooled::Pinned(backend) => (backend.clone(), None),
                Pooled::Proxy(server) => {
                    let server = server.clone();
                    let dst = SocketAddrV4::new(addresses[0], target.port);
                    (sim.envoy_backend(server.name(), dst, &http), Some(server.label()))
                }
            };
            *out.counts.entry(backend.clone()).or_default() += 1;
            out.requests.push(SentRequest {
                index: out.requests.len(),
                client: label.clone(),
                connection: before + pick,
                stream: Some(stream),
                backend,
                proxy,
            });
        }
    }
    Ok(out)
}

/// Every address `target`'s host resolves to from `client`, in the DNS answer's order: one for
/// an IP, a ClusterIP name or a `--resolve` entry; one per ready pod for a headless Service.
fn addresses_of(
    cluster: &Cluster,
    client: &Host,
    target: &Target,
    options: &HttpOptions,
) -> Result<Vec<std::net::Ipv4Addr>, WalkError> {
    let first = resolve_target(cluster, client, target, &options.resolve)?.ip;
    let Host::Pod { name, .. } = client else { return Ok(vec![first]) };
    if target.host.parse::<std::net::Ipv4Addr>().is_ok()
        || options.resolve.iter().any(|entry| entry.host == target.host && entry.port == target.port)
    {
        return Ok(vec![first]);
    }
    let namespace = cluster.pod(name).map(|pod| pod.namespace.as_str()).unwrap_or("default");
    let records = crate::dns::records(cluster);
    let lookup = crate::dns::lookup_from_pod(&records, namespace, target.host.trim_end_matches('.'));
    let all: Vec<std::net::Ipv4Addr> = lookup
        .answer
        .map(|(_, data)| {
            data.into_iter()
                .filter_map(|d| match d {
                    crate::model::DnsData::A(ip) => Some(ip),
                    crate::model::DnsData::Cname(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(if all.first() == Some(&first) { all } else { vec![first] })
}

/// The tuple a sidecar's outbound listener accepts (REDIRECT at OUTPUT sends there).
fn envoy_listener() -> crate::packet::Tuple {
    crate::packet::Tuple {
        src: SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0),
        dst: SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 15001),
        proto: crate::packet::TupleProto::Tcp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProxyMode;
    use crate::net::Proto;

    /// The ClusterIP lesson's three pods behind one Service, in `mode`.
    fn lesson(mode: ProxyMode) -> Cluster {
        let builtin = crate::lessons::get("clusterip-iptables").expect("the lesson exists");
        let source = crate::scenario::Source { name: builtin.id, text: builtin.yaml };
        let mut cluster = crate::scenario::load(&[source]).expect("the lesson loads").cluster;
        cluster.kube_proxy.mode = mode;
        cluster
    }

    fn request(from: &str) -> Request {
        Request { from: from.into(), to: "10.96.100.10:80".into(), proto: Proto::Tcp, seed: 1, now: 0 }
    }

    fn check(mode: ProxyMode, n: usize, keep: bool, expect: &str) {
        let sends = send(&lesson(mode), &request("pod/client"), n, keep).expect("the walk runs");
        let order: Vec<&str> =
            sends.connections.iter().map(|sent| sent.backend.trim_start_matches("pod/web-")).collect();
        let counts: Vec<String> = sends.counts.iter().map(|(backend, count)| format!("{backend}={count}")).collect();
        assert_eq!(format!("{} | {}", order.join(" "), counts.join(" ")), expect);
        assert!(sends.connections.iter().enumerate().all(|(index, sent)| sent.index == index));
    }

    #[test]
    fn ipvs_round_robin_takes_each_in_turn() {
        check(ProxyMode::Ipvs, 4, false, "c b a c | pod/web-a=1 pod/web-b=1 pod/web-c=2");
    }

    #[test]
    fn no_connections_count_nothing() {
        check(ProxyMode::Iptables, 0, false, " | ");
    }

    #[test]
    fn an_unknown_source_is_an_error() {
        assert!(send(&lesson(ProxyMode::Iptables), &request("pod/nobody"), 3, false).is_err());
    }

    fn check_requests(mode: ProxyMode, from: &str, load: Load, expect: &str) {
        let request = Request { from: from.into(), to: "http://web/".into(), proto: Proto::Tcp, seed: 1, now: 0 };
        let got = match send_requests(&lesson(mode), &request, &HttpOptions::default(), load) {
            Ok(sent) => {
                let rows: Vec<String> = sent
                    .requests
                    .iter()
                    .map(|r| {
                        format!(
                            "{}:{}>{}",
                            r.client.trim_start_matches("pod/"),
                            r.connection,
                            r.backend.trim_start_matches("pod/web-")
                        )
                    })
                    .collect();
                rows.join(" ")
            }
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn requests_ride_their_connection_to_one_pod() {
        // One keep-alive connection: every request goes where its SYN went.
        check_requests(
            ProxyMode::Ipvs,
            "pod/client",
            Load { requests: 4, clients: 1, connections: 1 },
            "client:0>c client:0>c client:0>c client:0>c",
        );
        // Two connections, balanced separately; requests alternate between them.
        check_requests(
            ProxyMode::Ipvs,
            "pod/client",
            Load { requests: 4, clients: 1, connections: 2 },
            "client:0>c client:1>b client:0>c client:1>b",
        );
    }

    #[test]
    fn clients_are_replicas_of_the_source() {
        check_requests(
            ProxyMode::Iptables,
            "pod/client",
            Load { requests: 1, clients: 2, connections: 1 },
            "error: --clients 2: only 1 pod(s) have the labels of pod/client (app=client); scale its Deployment to 2 replicas",
        );
        check_requests(
            ProxyMode::Iptables,
            "node/node-1",
            Load { requests: 1, clients: 2, connections: 1 },
            "error: --clients 2: the clients are the replicas of a pod, and node/node-1 is not a pod",
        );
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;
    use crate::walk::GrpcLb;

    /// The gRPC lesson's scenario: three greeter pods behind a ClusterIP and a headless Service.
    fn scenario() -> Cluster {
        let source = crate::scenario::Source { name: "grpc.yaml", text: include_str!("../../scenarios/grpc.yaml") };
        crate::scenario::load(&[source]).expect("the scenario loads").cluster
    }

    /// Each request as `client:connection/stream>pod`, with names cut to their suffix.
    fn check(to: &str, lb: GrpcLb, load: Load, expect: &str) {
        let cluster = scenario();
        let from = cluster.pods.iter().find(|p| p.name.starts_with("client-")).map(|p| format!("pod/{}", p.name));
        let request = Request { from: from.expect("a client"), to: to.into(), proto: Proto::Tcp, seed: 1, now: 0 };
        let options = HttpOptions { grpc_lb: lb, ..HttpOptions::default() };
        let got = match send_requests(&cluster, &request, &options, load) {
            Ok(sent) => sent
                .requests
                .iter()
                .map(|r| {
                    let tail = |s: &str| s.rsplit('-').next().unwrap_or_default().to_string();
                    format!("{}:{}/{}>{}", tail(&r.client), r.connection, r.stream.unwrap_or(0), tail(&r.backend))
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(got, expect);
    }

    use crate::net::Proto;

    const CALL: &str = "grpc://greeter:50051/helloworld.Greeter/SayHello";
    const HEADLESS: &str = "grpc://greeter-headless:50051/helloworld.Greeter/SayHello";

    #[test]
    fn every_stream_of_a_connection_reaches_the_pod_its_syn_did() {
        let one = Load { requests: 4, clients: 1, connections: 1 };
        check(CALL, GrpcLb::PickFirst, one, "6pz62:0/1>nr7zp 6pz62:0/3>nr7zp 6pz62:0/5>nr7zp 6pz62:0/7>nr7zp");
        // A ClusterIP name is one address: round_robin has one subchannel and changes nothing.
        check(CALL, GrpcLb::RoundRobin, one, "6pz62:0/1>nr7zp 6pz62:0/3>nr7zp 6pz62:0/5>nr7zp 6pz62:0/7>nr7zp");
        // The application's own pool: two connections, each balanced once at its SYN (both
        // happen to draw the same pod with this seed, as 1 in 3 pairs do).
        let pool = Load { requests: 4, clients: 1, connections: 2 };
        check(CALL, GrpcLb::PickFirst, pool, "6pz62:0/1>nr7zp 6pz62:1/1>nr7zp 6pz62:0/3>nr7zp 6pz62:1/3>nr7zp");
    }

    #[test]
    fn a_headless_name_lets_round_robin_balance_every_call() {
        let load = Load { requests: 4, clients: 1, connections: 1 };
        // pick_first: the first A record only.
        check(HEADLESS, GrpcLb::PickFirst, load, "6pz62:0/1>ws4hh 6pz62:0/3>ws4hh 6pz62:0/5>ws4hh 6pz62:0/7>ws4hh");
        // round_robin: one connection per pod, from a random start, each call on the next.
        check(HEADLESS, GrpcLb::RoundRobin, load, "6pz62:2/1>nr7zp 6pz62:0/1>ws4hh 6pz62:1/1>vwlkd 6pz62:2/3>nr7zp");
    }

    #[test]
    fn bad_loads_are_refused() {
        check(
            CALL,
            GrpcLb::PickFirst,
            Load { requests: 0, clients: 1, connections: 1 },
            "error: --requests 0: send at least one request",
        );
        let huge = Load { requests: MAX_REQUESTS, clients: 2, connections: 1 };
        check(
            CALL,
            GrpcLb::PickFirst,
            huge,
            "error: --requests 10000000 × --clients 2 is 20000000 requests; at most 10000000 in one send",
        );
    }
}
