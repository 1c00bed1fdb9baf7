//! Sidecar injection as Istio decides it, and the istio-init arguments it writes.
//!
//! The mesh lbplay models is one istiod of the default revision with the chart's defaults
//! (`sidecarInjectorWebhook.enableNamespacesByDefault: false`, injection policy `enabled`).
//! Whether the API server calls the webhook at all is the four webhooks' selectors in
//! manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml (istio/istio@86c9f01);
//! what the webhook then decides is pkg/kube/inject/inject.go `injectRequired`. An injected pod
//! gains the `istio-proxy` container running as uid 1337 and the `istio-init` container, whose
//! arguments come from the traffic annotations (files/injection-template.yaml); `capture` turns
//! those annotations into the `Capture` that `iptables::build` writes.

use std::collections::BTreeMap;

use super::iptables::{Capture, OrAll};
use crate::net::Ipv4Net;

/// The label (or annotation) a pod opts in or out with.
pub const INJECT_LABEL: &str = "sidecar.istio.io/inject";
/// The namespace label that enables injection for the default revision.
pub const NAMESPACE_LABEL: &str = "istio-injection";
/// The revision label, on a namespace or a pod.
pub const REV_LABEL: &str = "istio.io/rev";
/// The one revision lbplay's control plane has.
pub const DEFAULT_REVISION: &str = "default";
/// Envoy's user id (and group), the istio-proxy container's `runAsUser`.
pub const PROXY_UID: u32 = 1337;

/// Namespaces the injector never touches (pkg/kube/inject/initializer.go `IgnoredNamespaces`).
const IGNORED_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease", "local-path-storage"];

/// The traffic annotations, as the injection template reads them.
pub const INCLUDE_OUTBOUND_IP_RANGES: &str = "traffic.sidecar.istio.io/includeOutboundIPRanges";
pub const EXCLUDE_OUTBOUND_IP_RANGES: &str = "traffic.sidecar.istio.io/excludeOutboundIPRanges";
pub const INCLUDE_INBOUND_PORTS: &str = "traffic.sidecar.istio.io/includeInboundPorts";
pub const EXCLUDE_INBOUND_PORTS: &str = "traffic.sidecar.istio.io/excludeInboundPorts";
pub const INCLUDE_OUTBOUND_PORTS: &str = "traffic.sidecar.istio.io/includeOutboundPorts";
pub const EXCLUDE_OUTBOUND_PORTS: &str = "traffic.sidecar.istio.io/excludeOutboundPorts";

/// The pilot-agent's status port (`global.proxy.statusPort`), which the template always excludes.
const STATUS_PORT: u16 = 15020;

/// What a pod's metadata says about injection.
#[derive(Debug, Clone, Copy)]
pub struct PodMeta<'a> {
    pub namespace: &'a str,
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: Option<&'a BTreeMap<String, String>>,
    pub host_network: bool,
}

/// The injector's decision and the reason, in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub injected: bool,
    pub why: String,
}

fn decision(injected: bool, why: impl Into<String>) -> Decision {
    Decision { injected, why: why.into() }
}

/// Whether the sidecar is injected into the pod.
pub fn decide(pod: &PodMeta<'_>) -> Decision {
    let empty = BTreeMap::new();
    let ns = pod.namespace_labels.unwrap_or(&empty);
    let ns_injection = ns.get(NAMESPACE_LABEL).map(String::as_str);
    let ns_rev = ns.get(REV_LABEL).map(String::as_str);
    let pod_inject = pod.labels.get(INJECT_LABEL).map(String::as_str);
    let pod_rev = pod.labels.get(REV_LABEL).map(String::as_str);
    let not_false = pod_inject != Some("false");
    // mutatingwebhook.yaml: which of the four webhooks the API server calls, if any.
    let webhook = if ns_injection == Some("enabled") && not_false {
        Some("namespace.sidecar-injector.istio.io (namespace label istio-injection=enabled)")
    } else if ns_rev == Some(DEFAULT_REVISION) && ns_injection.is_none() && not_false {
        Some("rev.namespace.sidecar-injector.istio.io (namespace label istio.io/rev=default)")
    } else if ns_injection.is_none() && ns_rev.is_none() && not_false && pod_rev == Some(DEFAULT_REVISION) {
        Some("rev.object.sidecar-injector.istio.io (pod label istio.io/rev=default)")
    } else if ns_injection.is_none() && ns_rev.is_none() && pod_inject == Some("true") && pod_rev.is_none() {
        Some("object.sidecar-injector.istio.io (pod label sidecar.istio.io/inject=true)")
    } else {
        None
    };
    let Some(webhook) = webhook else {
        let why = if pod_inject == Some("false") {
            "the pod's label sidecar.istio.io/inject=false keeps every injection webhook away".to_string()
        } else if let Some(rev) = ns_rev.or(pod_rev).filter(|rev| *rev != DEFAULT_REVISION) {
            format!("no istiod of revision {rev:?} is installed (only {DEFAULT_REVISION:?})")
        } else if let Some(value) = ns_injection.filter(|value| *value != "enabled") {
            format!("the namespace's label istio-injection={value} enables no injection")
        } else {
            format!(
                "namespace {} has neither istio-injection=enabled nor istio.io/rev, and the pod has no sidecar.istio.io/inject=true",
                pod.namespace
            )
        };
        return decision(false, why);
    };
    // inject.go `injectRequired`.
    if pod.host_network {
        return decision(false, "the pod uses the host's network (hostNetwork), which is never injected");
    }
    if IGNORED_NAMESPACES.contains(&pod.namespace) {
        return decision(false, format!("the injector ignores namespace {}", pod.namespace));
    }
    // The label wins over the annotation of the same name; with neither the policy (enabled) injects.
    let selector = pod.labels.get(INJECT_LABEL).or_else(|| pod.annotations.and_then(|a| a.get(INJECT_LABEL)));
    match selector.map(String::as_str) {
        Some("false") => decision(false, format!("called by {webhook}, but sidecar.istio.io/inject is false")),
        _ => decision(true, format!("injected by {webhook}")),
    }
}

/// A bad annotation: its name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationError {
    pub annotation: String,
    pub message: String,
}

fn split(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|item| !item.is_empty())
}

fn ports(name: &str, text: &str) -> Result<Vec<u16>, AnnotationError> {
    split(text)
        .map(|item| {
            item.parse::<u16>().ok().filter(|port| *port != 0).ok_or_else(|| AnnotationError {
                annotation: name.to_string(),
                message: format!("{item:?} is not a port (1-65535)"),
            })
        })
        .collect()
}

fn nets(name: &str, text: &str) -> Result<Vec<Ipv4Net>, AnnotationError> {
    split(text)
        .map(|item| {
            item.parse::<Ipv4Net>().map_err(|_| AnnotationError {
                annotation: name.to_string(),
                message: format!("{item:?} is not an IPv4 CIDR such as 10.96.0.0/12"),
            })
        })
        .collect()
}

/// The `Capture` istio-init runs with for an injected pod with these annotations: the
/// template's `-i`, `-x`, `-b`, `-d` (15090, 15021, then the annotation's ports with the status
/// port 15020 appended unless listed, template.go `excludeInboundPort`), `-q` and `-o`, with
/// the chart's defaults (`includeIPRanges: "*"`, `includeInboundPorts: "*"`).
pub fn capture(annotations: Option<&BTreeMap<String, String>>) -> Result<Capture, AnnotationError> {
    let empty = BTreeMap::new();
    let annotations = annotations.unwrap_or(&empty);
    let get = |name: &str, default: &'static str| annotations.get(name).map(String::as_str).unwrap_or(default);
    let include_ranges = get(INCLUDE_OUTBOUND_IP_RANGES, "*");
    let include_ports = get(INCLUDE_INBOUND_PORTS, "*");
    let mut exclude_inbound = vec![15090, 15021];
    let mut listed = ports(EXCLUDE_INBOUND_PORTS, get(EXCLUDE_INBOUND_PORTS, ""))?;
    if !listed.contains(&STATUS_PORT) {
        listed.push(STATUS_PORT);
    }
    exclude_inbound.extend(listed);
    let exclude_ranges = get(EXCLUDE_OUTBOUND_IP_RANGES, "");
    if exclude_ranges.trim() == "*" {
        // run.go `Run`: "invalid value for OUTBOUND_IP_RANGES_EXCLUDE".
        return Err(AnnotationError {
            annotation: EXCLUDE_OUTBOUND_IP_RANGES.to_string(),
            message: "\"*\" is not allowed (istio-iptables: invalid value for OUTBOUND_IP_RANGES_EXCLUDE)".to_string(),
        });
    }
    Ok(Capture {
        inbound_ports_include: if include_ports.trim() == "*" {
            OrAll::All
        } else {
            OrAll::Only(ports(INCLUDE_INBOUND_PORTS, include_ports)?)
        },
        inbound_ports_exclude: exclude_inbound,
        outbound_ip_ranges_include: if include_ranges.trim() == "*" {
            OrAll::All
        } else {
            OrAll::Only(nets(INCLUDE_OUTBOUND_IP_RANGES, include_ranges)?)
        },
        outbound_ip_ranges_exclude: nets(EXCLUDE_OUTBOUND_IP_RANGES, exclude_ranges)?,
        outbound_ports_include: ports(INCLUDE_OUTBOUND_PORTS, get(INCLUDE_OUTBOUND_PORTS, ""))?,
        outbound_ports_exclude: ports(EXCLUDE_OUTBOUND_PORTS, get(EXCLUDE_OUTBOUND_PORTS, ""))?,
        ..Capture::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            map.insert(key.to_string(), value.to_string());
        }
        map
    }

    /// `(namespace, namespace labels, pod labels, pod annotations, hostNetwork)` → injected?, and
    /// a word the reason must contain.
    fn check(
        ns: &str,
        ns_labels: &[(&str, &str)],
        pod: &[(&str, &str)],
        annos: &[(&str, &str)],
        host: bool,
        expect: (bool, &str),
    ) {
        let (ns_labels, pod, annos) = (labels(ns_labels), labels(pod), labels(annos));
        let got = decide(&PodMeta {
            namespace: ns,
            namespace_labels: Some(&ns_labels),
            labels: &pod,
            annotations: Some(&annos),
            host_network: host,
        });
        assert_eq!(got.injected, expect.0, "{got:?}");
        assert!(got.why.contains(expect.1), "{:?} lacks {:?}", got.why, expect.1);
    }

    #[test]
    fn injection_follows_the_webhooks_and_inject_required() {
        let enabled = [("istio-injection", "enabled")];
        check("default", &enabled, &[], &[], false, (true, "namespace.sidecar-injector"));
        check("default", &enabled, &[("sidecar.istio.io/inject", "false")], &[], false, (false, "inject=false"));
        // The annotation is read by the webhook, after the selectors let it be called.
        check("default", &enabled, &[], &[("sidecar.istio.io/inject", "false")], false, (false, "is false"));
        // The label wins over the annotation.
        check(
            "default",
            &enabled,
            &[("sidecar.istio.io/inject", "true")],
            &[("sidecar.istio.io/inject", "false")],
            false,
            (true, "injected"),
        );
        check("default", &enabled, &[], &[], true, (false, "hostNetwork"));
        check(
            "default",
            &[("istio-injection", "disabled")],
            &[("sidecar.istio.io/inject", "true")],
            &[],
            false,
            (false, "istio-injection=disabled"),
        );
        check("default", &[], &[], &[], false, (false, "neither"));
        check("default", &[], &[("sidecar.istio.io/inject", "true")], &[], false, (true, "object.sidecar-injector"));
        check("default", &[("istio.io/rev", "default")], &[], &[], false, (true, "rev.namespace"));
        check("default", &[("istio.io/rev", "canary")], &[], &[], false, (false, "\"canary\""));
        check("default", &[], &[("istio.io/rev", "default")], &[], false, (true, "rev.object"));
        // istio-injection takes precedence over istio.io/rev on a namespace.
        check(
            "default",
            &[("istio-injection", "enabled"), ("istio.io/rev", "canary")],
            &[],
            &[],
            false,
            (true, "istio-injection=enabled"),
        );
        check("kube-system", &enabled, &[], &[], false, (false, "ignores"));
    }

    #[test]
    fn annotations_become_istio_init_arguments() {
        let capture = |annos: &[(&str, &str)]| super::capture(Some(&labels(annos)));
        let got = capture(&[]).expect("no annotations is fine");
        assert_eq!(got.inbound_ports_include, OrAll::All);
        assert_eq!(got.inbound_ports_exclude, vec![15090, 15021, 15020]);
        assert_eq!(got.outbound_ip_ranges_include, OrAll::All);
        let got = capture(&[(EXCLUDE_INBOUND_PORTS, "15020, 8080")]).expect("ports");
        assert_eq!(got.inbound_ports_exclude, vec![15090, 15021, 15020, 8080]);
        let got = capture(&[(INCLUDE_OUTBOUND_IP_RANGES, "")]).expect("empty");
        assert_eq!(got.outbound_ip_ranges_include, OrAll::Only(vec![]));
        let bad = capture(&[(EXCLUDE_OUTBOUND_PORTS, "80,http")]).expect_err("not a port");
        assert_eq!(bad.annotation, EXCLUDE_OUTBOUND_PORTS);
        assert!(bad.message.contains("\"http\""), "{}", bad.message);
        let bad = capture(&[(INCLUDE_OUTBOUND_IP_RANGES, "10.0.0.0/33")]).expect_err("not a CIDR");
        assert_eq!(bad.annotation, INCLUDE_OUTBOUND_IP_RANGES);
        assert!(capture(&[(EXCLUDE_OUTBOUND_IP_RANGES, "*")]).is_err());
    }
}
