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
    if target.scheme != Scheme::Http {
        return Err(WalkError(format!(
            "--to `{}`: `send --requests` sends http:// (HTTP/1.1) requests so far",
            request.to
        )));
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
