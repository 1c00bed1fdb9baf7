//! The Istio sidecar room: which pods get a sidecar, and the nat table istio-init leaves in
//! an injected pod's network namespace.
//!
//! `inject` decides injection from the namespace's and the pod's labels as Istio's webhooks do,
//! and reads the traffic annotations into istio-iptables' configuration; `iptables` builds that
//! configuration's rules as a `netfilter::Ruleset`. `pod_rules` ties both to a scenario's pod.
//! `envoy` names the Envoy configuration (listeners, route configurations, virtual hosts,
//! clusters) a sidecar's connection meets, as data for the proxy hop to come.

pub mod balance;
pub mod envoy;
pub mod forward;
pub mod inject;
pub mod iptables;
pub mod proxy_config;
pub mod route;

use std::collections::BTreeMap;

use crate::model::{Cluster, ClusterExtras, DestinationRule, Pod, VirtualService};

/// The container an injected pod gains, and the user it runs as.
pub const PROXY_CONTAINER: &str = "istio-proxy";
/// The annotation that picks istio-init's interception mode.
pub const INTERCEPTION_MODE: &str = "sidecar.istio.io/interceptionMode";

/// The init container that writes the pod's nat table.
pub const INIT_CONTAINER: &str = "istio-init";

/// The mesh as the walk meets it: the injected pods with the nat table istio-init wrote in each,
/// and the routing objects istiod turns into every sidecar's Envoy configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mesh {
    /// Injected pods by name, each with its network namespace's nat table.
    pub sidecars: BTreeMap<String, Ruleset>,
    pub virtual_services: Vec<VirtualService>,
    pub destination_rules: Vec<DestinationRule>,
}

impl Mesh {
    /// The nat table of `pod`'s network namespace, when it has a sidecar.
    pub fn sidecar(&self, pod: &str) -> Option<&Ruleset> {
        self.sidecars.get(pod)
    }
}

/// The mesh of a loaded scenario: `None` when no pod is injected. A pod whose capture
/// istio-init could not write (TPROXY, `NONE`, a bad annotation) has no table here; `lbplay
/// rules --pod` says why.
pub fn attach(cluster: &Cluster, extras: &ClusterExtras) -> Option<std::sync::Arc<Mesh>> {
    let mut sidecars = BTreeMap::new();
    for pod in &cluster.pods {
        if let Ok(rules) = pod_table(pod, extras) {
            sidecars.insert(pod.name.clone(), rules);
        }
    }
    if sidecars.is_empty() {
        return None;
    }
    Some(std::sync::Arc::new(Mesh {
        sidecars,
        virtual_services: extras.virtual_services.clone(),
        destination_rules: extras.destination_rules.clone(),
    }))
}

/// Whether Istio injects a sidecar into `pod` of this scenario, and why.
pub fn injection(pod: &Pod, extras: &ClusterExtras) -> inject::Decision {
    let key = format!("{}/{}", pod.namespace, pod.name);
    inject::decide(&inject::PodMeta {
        namespace: &pod.namespace,
        namespace_labels: extras.namespace_labels.get(&pod.namespace),
        labels: &pod.labels,
        annotations: extras.pod_annotations.get(&key),
        host_network: pod.host_network,
    })
}
use crate::netfilter::Ruleset;

/// Why a pod has no sidecar table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodRulesError {
    /// No pod of that name (`namespace/name`, or a bare name in any namespace).
    UnknownPod { name: String, known: Vec<String> },
    /// Two namespaces hold a pod of that bare name.
    Ambiguous { name: String, candidates: Vec<String> },
    /// The pod is not injected; the injector's reason.
    NotInjected { pod: String, why: String },
    /// The pod's `sidecar.istio.io/interceptionMode` is one lbplay does not write (TPROXY), or
    /// `NONE`, under which no istio-init runs.
    Interception { pod: String, mode: String },
    /// A traffic annotation istio-init could not use.
    BadAnnotation { pod: String, error: inject::AnnotationError },
}

impl std::fmt::Display for PodRulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PodRulesError::UnknownPod { name, known } => {
                write!(f, "--pod {name}: no such pod; the scenario's pods are: {}", known.join(", "))
            }
            PodRulesError::Ambiguous { name, candidates } => {
                write!(f, "--pod {name}: several pods have that name, write one of {}", candidates.join(", "))
            }
            PodRulesError::NotInjected { pod, why } => write!(f, "--pod {pod}: no Istio sidecar: {why}"),
            PodRulesError::Interception { pod, mode } if mode == "NONE" => write!(
                f,
                "--pod {pod}: sidecar.istio.io/interceptionMode is NONE: no istio-init runs, so the pod has no capture rules"
            ),
            PodRulesError::Interception { pod, mode } => write!(
                f,
                "--pod {pod}: sidecar.istio.io/interceptionMode {mode}: lbplay writes only the default REDIRECT mode's rules"
            ),
            PodRulesError::BadAnnotation { pod, error } => {
                write!(f, "pod {pod}: metadata.annotations.{}: {}", error.annotation, error.message)
            }
        }
    }
}

/// A pod's sidecar table: `name` is `namespace/name` or a bare pod name.
pub fn pod_rules(cluster: &Cluster, extras: &ClusterExtras, name: &str) -> Result<Ruleset, PodRulesError> {
    let matches: Vec<_> = cluster
        .pods
        .iter()
        .filter(|pod| format!("{}/{}", pod.namespace, pod.name) == name || pod.name == name)
        .collect();
    let pod = match matches.as_slice() {
        [pod] => *pod,
        [] => {
            let known = cluster.pods.iter().map(|pod| format!("{}/{}", pod.namespace, pod.name)).collect();
            return Err(PodRulesError::UnknownPod { name: name.to_string(), known });
        }
        many => {
            let candidates = many.iter().map(|pod| format!("{}/{}", pod.namespace, pod.name)).collect();
            return Err(PodRulesError::Ambiguous { name: name.to_string(), candidates });
        }
    };
    pod_table(pod, extras)
}

/// The sidecar table of one pod, or why it has none.
fn pod_table(pod: &Pod, extras: &ClusterExtras) -> Result<Ruleset, PodRulesError> {
    let key = format!("{}/{}", pod.namespace, pod.name);
    let annotations = extras.pod_annotations.get(&key);
    let decision = injection(pod, extras);
    if !decision.injected {
        return Err(PodRulesError::NotInjected { pod: key, why: decision.why });
    }
    // injection-template.yaml: `-m` is the annotation, else the mesh's REDIRECT.
    if let Some(mode) = annotations.and_then(|a| a.get(INTERCEPTION_MODE)).filter(|mode| *mode != "REDIRECT") {
        return Err(PodRulesError::Interception { pod: key, mode: mode.clone() });
    }
    let capture = inject::capture(annotations).map_err(|error| PodRulesError::BadAnnotation { pod: key, error })?;
    Ok(iptables::build(&capture))
}
