//! The Ingress room: what ingress-nginx does with a request once its controller pod has it.
//!
//! Self-contained and sans-IO, so the proxy hop (`walk`) can call it: `taken` says which
//! Ingresses the controller serves (ingressClassName, then the class annotation, as store.go's
//! `GetIngressClass` checks them, controller v1.15.1); `config::build` turns them into the nginx
//! configuration as data; `select::route` picks the server and the location the way nginx does
//! and says what the controller answers itself (400, 308, 404); `endpoints` and `respond` add
//! the 503 of an upstream without ready endpoints; `balance` is the Lua balancers' pick given
//! their random draws; `render` prints the configuration as ingress-nginx's template writes it.
//! `Decision::stages` gives the steps a proxy hop shows: server, location, balancer.

pub mod balance;
pub mod config;
pub mod forward;
pub mod kubectl;
pub mod render;
pub mod select;

use std::net::SocketAddrV4;

pub use config::{Config, DEFAULT_SERVER, DEFAULT_UPSTREAM, Location, Server, Upstream, build};
pub use select::{Candidate, Decision, LocationMatch, Request, Response, ServerMatch, route};

use crate::model::{Cluster, ClusterExtras, Ingress, IngressPort};

/// The controller ingress-nginx claims (internal/ingress/controller/ingressclass,
/// `DefaultControllerName`) and its class annotation value (`DefaultAnnotationValue`).
pub const CONTROLLER: &str = "k8s.io/ingress-nginx";
pub const ANNOTATION_VALUE: &str = "nginx";

/// Whether the controller takes this Ingress, or why not (store.go, `GetIngressClass`): a named
/// class must exist with `spec.controller: k8s.io/ingress-nginx`; otherwise the annotation must
/// be `nginx`; an Ingress with neither is ignored (`--watch-ingress-without-class` is off).
pub fn takes(ingress: &Ingress, extras: &ClusterExtras) -> Result<(), String> {
    if let Some(name) = &ingress.class_name {
        return match extras.ingress_classes.iter().find(|c| &c.name == name) {
            Some(c) if c.controller == CONTROLLER => Ok(()),
            Some(c) => Err(format!("IngressClass {name} belongs to the controller {}", c.controller)),
            None => Err(format!("IngressClass {name} does not exist")),
        };
    }
    match &ingress.class_annotation {
        Some(v) if v == ANNOTATION_VALUE => Ok(()),
        Some(v) => Err(format!("the ingress class annotation is {v}, not {ANNOTATION_VALUE}")),
        None => Err("the Ingress names no class and there is no default IngressClass".to_string()),
    }
}

/// The Ingresses the controller takes, in input order.
pub fn taken(extras: &ClusterExtras) -> Vec<&Ingress> {
    extras.ingresses.iter().filter(|i| takes(i, extras).is_ok()).collect()
}

/// The configuration for a loaded scenario.
pub fn config_for(extras: &ClusterExtras) -> Config {
    build(&taken(extras))
}

/// The configuration of the cluster's controller: what its pods run (empty without a controller).
pub fn cluster_config(cluster: &Cluster) -> Config {
    let taken: Vec<&Ingress> = cluster.ingress.iter().flat_map(|controller| controller.ingresses.iter()).collect();
    build(&taken)
}

/// The controller's pods: those in its namespace whose labels match its Service's selector.
pub fn controller_pods(cluster: &Cluster) -> impl Iterator<Item = &crate::model::Pod> {
    cluster.pods.iter().filter(move |pod| {
        cluster.ingress.as_ref().is_some_and(|controller| {
            pod.namespace == controller.namespace
                && !controller.selector.is_empty()
                && controller.selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
        })
    })
}

/// The ready endpoints (`ip:port`) of an upstream, in the order the controller lists them: the
/// Service port found by number or name, its endpoints merged from the slices and sorted by
/// `ip:port`. The controller's default backend is `127.0.0.1:8181`.
pub fn endpoints(cluster: &Cluster, upstream: &Upstream) -> Vec<SocketAddrV4> {
    let Upstream::Service { namespace, service, port } = upstream else {
        return vec![SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 8181)];
    };
    let Some(svc) = cluster.service(namespace, service) else { return Vec::new() };
    let Some(sp) = svc.ports.iter().find(|p| match port {
        IngressPort::Number(n) => p.port == *n,
        IngressPort::Name(name) => p.name.as_deref() == Some(name.as_str()),
    }) else {
        return Vec::new();
    };
    cluster.endpoints_for(svc, sp).into_iter().filter(|e| e.ready).map(|e| SocketAddrV4::new(e.ip, e.port)).collect()
}

/// The decision with the 503 ingress-nginx's balancer answers when the upstream has no ready
/// endpoint (rootfs/etc/nginx/lua/balancer.lua, `balance`: `ngx.HTTP_SERVICE_UNAVAILABLE`).
pub fn respond(mut decision: Decision, endpoints: &[SocketAddrV4]) -> Decision {
    if decision.response.is_none() && endpoints.is_empty() {
        decision.response = Some(Response {
            status: 503,
            location: None,
            why: "the backend Service has no ready endpoint".to_string(),
        });
    }
    decision
}

/// One step of the proxy hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `server`, `location` or `balancer`.
    pub stage: &'static str,
    /// The directive that decided.
    pub rule: Option<String>,
    /// Where that directive sits in `render::render_lines`.
    pub rule_at: Option<crate::trace::RuleAt>,
    /// The locations that were considered and lost, where they sit.
    pub skipped: Vec<crate::trace::RuleAt>,
    pub verdict: String,
    pub note: crate::trace::Text,
}

impl Decision {
    /// The server and location steps (the balancer step is the caller's, after `balance`).
    pub fn stages(&self) -> Vec<Stage> {
        let how = match self.server_match {
            ServerMatch::Exact => ("the Host equals this server_name", "Host 与这个 server_name 相同"),
            ServerMatch::Wildcard => {
                ("the wildcard's regex matches one label of the Host", "通配符的正则匹配了 Host 的一个标签")
            }
            ServerMatch::Default => {
                ("no server_name matches the Host: the default server", "没有 server_name 匹配 Host：落到默认 server")
            }
        };
        let mut out = vec![Stage {
            stage: "server",
            rule: Some(self.server_name.clone()),
            rule_at: Some(render::server_at(&self.hostname)),
            skipped: Vec::new(),
            verdict: self.hostname.clone(),
            note: crate::trace::Text::new(how.0, how.1),
        }];
        if let Some(directive) = &self.directive {
            let how = match self.location_match {
                Some(LocationMatch::Exact) => (
                    "an = location equals the URI, so nginx stops looking",
                    "= location 与 URI 完全相同，nginx 不再继续查找",
                ),
                Some(LocationMatch::Regex) => (
                    "the first regex location (case-insensitive) that matches the URI",
                    "第一个匹配 URI 的正则 location（不区分大小写）",
                ),
                _ => ("the longest prefix location that matches the URI", "匹配 URI 的最长前缀 location"),
            };
            let upstream = self.upstream.as_ref().map(Upstream::name).unwrap_or_default();
            out.push(Stage {
                stage: "location",
                rule: Some(directive.clone()),
                rule_at: self.location.map(|index| render::location_at(&self.hostname, index)),
                skipped: self.candidates.iter().map(|c| render::location_at(&self.hostname, c.index)).collect(),
                verdict: upstream,
                note: crate::trace::Text::new(
                    format!("{} ({})", how.0, self.uri),
                    format!("{}（{}）", how.1, self.uri),
                ),
            });
        }
        out
    }
}
