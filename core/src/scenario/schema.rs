//! Strict field validation: a warning for every field the API server would not know, naming it and
//! suggesting the field that was meant.
//!
//! This module owns a small schema of the kinds lbplay decodes: for each object, the field names
//! Kubernetes' own types have at each level (k8s.io/api core/v1, apps/v1, discovery/v1 and
//! networking/v1 `types.go`, as of v1.33), and lbplay's `Cluster`. It is a list of names, not of
//! types: the decoders in `objects` check the values. A subtree lbplay does not model (a
//! container's `env`, a Pod's `affinity`, `status` of a Pod) is `Shape::Any` and is not checked.
//! `kubectl apply` with `--validate=strict` (the default since v1.27) warns the same way:
//! `unknown field "spec.ports[0].targetport"`; lbplay adds which field was probably meant, or that
//! a field sits at the wrong indentation, because that is the usual cause of a silently ignored
//! `selector`.

use super::fields::{Cx, Obj};
use crate::yaml::{Node, Value};

/// What a node of an object may hold.
#[derive(Debug)]
pub(crate) enum Shape {
    /// Anything: not modelled, so not checked.
    Any,
    /// A mapping with these fields.
    Fields(&'static [(&'static str, Shape)]),
    /// A list of one shape.
    List(&'static Shape),
    /// A mapping of free keys (labels, annotations, a selector): the keys are not checked.
    Strings,
}

use Shape::{Any, Fields, List, Strings};

const OBJECT_META: Shape = Fields(&[
    ("name", Any),
    ("generateName", Any),
    ("namespace", Any),
    ("selfLink", Any),
    ("uid", Any),
    ("resourceVersion", Any),
    ("generation", Any),
    ("creationTimestamp", Any),
    ("deletionTimestamp", Any),
    ("deletionGracePeriodSeconds", Any),
    ("labels", Strings),
    ("annotations", Strings),
    ("ownerReferences", Any),
    ("finalizers", Any),
    ("managedFields", Any),
]);

const LABEL_SELECTOR: Shape = Fields(&[("matchLabels", Strings), ("matchExpressions", Any)]);

const CONTAINER_PORT: Shape =
    Fields(&[("name", Any), ("hostPort", Any), ("containerPort", Any), ("protocol", Any), ("hostIP", Any)]);

const CONTAINER: Shape = Fields(&[
    ("name", Any),
    ("image", Any),
    ("command", Any),
    ("args", Any),
    ("workingDir", Any),
    ("ports", List(&CONTAINER_PORT)),
    ("envFrom", Any),
    ("env", Any),
    ("resources", Any),
    ("resizePolicy", Any),
    ("restartPolicy", Any),
    ("restartPolicyRules", Any),
    ("volumeMounts", Any),
    ("volumeDevices", Any),
    ("livenessProbe", Any),
    ("readinessProbe", Any),
    ("startupProbe", Any),
    ("lifecycle", Any),
    ("terminationMessagePath", Any),
    ("terminationMessagePolicy", Any),
    ("imagePullPolicy", Any),
    ("securityContext", Any),
    ("stdin", Any),
    ("stdinOnce", Any),
    ("tty", Any),
]);

const POD_SPEC: Shape = Fields(&[
    ("volumes", Any),
    ("initContainers", List(&CONTAINER)),
    ("containers", List(&CONTAINER)),
    ("ephemeralContainers", Any),
    ("restartPolicy", Any),
    ("terminationGracePeriodSeconds", Any),
    ("activeDeadlineSeconds", Any),
    ("dnsPolicy", Any),
    ("nodeSelector", Strings),
    ("serviceAccountName", Any),
    ("serviceAccount", Any),
    ("automountServiceAccountToken", Any),
    ("nodeName", Any),
    ("hostNetwork", Any),
    ("hostPID", Any),
    ("hostIPC", Any),
    ("shareProcessNamespace", Any),
    ("securityContext", Any),
    ("imagePullSecrets", Any),
    ("hostname", Any),
    ("subdomain", Any),
    ("affinity", Any),
    ("schedulerName", Any),
    ("tolerations", Any),
    ("hostAliases", Any),
    ("priorityClassName", Any),
    ("priority", Any),
    ("dnsConfig", Any),
    ("readinessGates", Any),
    ("runtimeClassName", Any),
    ("enableServiceLinks", Any),
    ("preemptionPolicy", Any),
    ("overhead", Any),
    ("topologySpreadConstraints", Any),
    ("setHostnameAsFQDN", Any),
    ("os", Any),
    ("hostUsers", Any),
    ("schedulingGates", Any),
    ("resourceClaims", Any),
    ("resources", Any),
    ("hostnameOverride", Any),
]);

const POD_TEMPLATE: Shape = Fields(&[("metadata", OBJECT_META), ("spec", POD_SPEC)]);

const POD: Shape =
    Fields(&[("apiVersion", Any), ("kind", Any), ("metadata", OBJECT_META), ("spec", POD_SPEC), ("status", Any)]);

const DEPLOYMENT_SPEC: Shape = Fields(&[
    ("replicas", Any),
    ("selector", LABEL_SELECTOR),
    ("template", POD_TEMPLATE),
    ("strategy", Any),
    ("minReadySeconds", Any),
    ("revisionHistoryLimit", Any),
    ("paused", Any),
    ("progressDeadlineSeconds", Any),
]);

const REPLICA_SET_SPEC: Shape =
    Fields(&[("replicas", Any), ("minReadySeconds", Any), ("selector", LABEL_SELECTOR), ("template", POD_TEMPLATE)]);

const STATEFUL_SET_SPEC: Shape = Fields(&[
    ("replicas", Any),
    ("selector", LABEL_SELECTOR),
    ("template", POD_TEMPLATE),
    ("volumeClaimTemplates", Any),
    ("serviceName", Any),
    ("podManagementPolicy", Any),
    ("updateStrategy", Any),
    ("revisionHistoryLimit", Any),
    ("minReadySeconds", Any),
    ("persistentVolumeClaimRetentionPolicy", Any),
    ("ordinals", Any),
]);

/// A workload of `spec`'s shape.
macro_rules! workload {
    ($spec:expr) => {
        Fields(&[("apiVersion", Any), ("kind", Any), ("metadata", OBJECT_META), ("spec", $spec), ("status", Any)])
    };
}

const SERVICE_PORT: Shape = Fields(&[
    ("name", Any),
    ("protocol", Any),
    ("appProtocol", Any),
    ("port", Any),
    ("targetPort", Any),
    ("nodePort", Any),
]);

const SERVICE_SPEC: Shape = Fields(&[
    ("ports", List(&SERVICE_PORT)),
    ("selector", Strings),
    ("clusterIP", Any),
    ("clusterIPs", Any),
    ("type", Any),
    ("externalIPs", Any),
    ("sessionAffinity", Any),
    ("loadBalancerIP", Any),
    ("loadBalancerSourceRanges", Any),
    ("externalName", Any),
    ("externalTrafficPolicy", Any),
    ("healthCheckNodePort", Any),
    ("publishNotReadyAddresses", Any),
    ("sessionAffinityConfig", Fields(&[("clientIP", Fields(&[("timeoutSeconds", Any)]))])),
    ("ipFamilies", Any),
    ("ipFamilyPolicy", Any),
    ("allocateLoadBalancerNodePorts", Any),
    ("loadBalancerClass", Any),
    ("internalTrafficPolicy", Any),
    ("trafficDistribution", Any),
]);

const SERVICE: Shape = Fields(&[
    ("apiVersion", Any),
    ("kind", Any),
    ("metadata", OBJECT_META),
    ("spec", SERVICE_SPEC),
    ("status", Fields(&[("loadBalancer", Fields(&[("ingress", Any)])), ("conditions", Any)])),
]);

const OBJECT_REFERENCE: Shape = Fields(&[
    ("kind", Any),
    ("namespace", Any),
    ("name", Any),
    ("uid", Any),
    ("apiVersion", Any),
    ("resourceVersion", Any),
    ("fieldPath", Any),
]);

const ENDPOINT_ADDRESS: Shape =
    Fields(&[("ip", Any), ("hostname", Any), ("nodeName", Any), ("targetRef", OBJECT_REFERENCE)]);

const ENDPOINT_PORT: Shape = Fields(&[("name", Any), ("port", Any), ("protocol", Any), ("appProtocol", Any)]);

const ENDPOINTS: Shape = Fields(&[
    ("apiVersion", Any),
    ("kind", Any),
    ("metadata", OBJECT_META),
    (
        "subsets",
        List(&Fields(&[
            ("addresses", List(&ENDPOINT_ADDRESS)),
            ("notReadyAddresses", List(&ENDPOINT_ADDRESS)),
            ("ports", List(&ENDPOINT_PORT)),
        ])),
    ),
]);

const ENDPOINT_SLICE: Shape = Fields(&[
    ("apiVersion", Any),
    ("kind", Any),
    ("metadata", OBJECT_META),
    ("addressType", Any),
    (
        "endpoints",
        List(&Fields(&[
            ("addresses", Any),
            ("conditions", Fields(&[("ready", Any), ("serving", Any), ("terminating", Any)])),
            ("hostname", Any),
            ("targetRef", OBJECT_REFERENCE),
            ("nodeName", Any),
            ("zone", Any),
            ("hints", Any),
            ("deprecatedTopology", Any),
        ])),
    ),
    ("ports", List(&ENDPOINT_PORT)),
]);

/// An Ingress backend of any served version: `networking.k8s.io/v1`'s `service` and the old
/// versions' `serviceName` and `servicePort` (the decoder tells the versions apart).
const INGRESS_BACKEND: Shape = Fields(&[
    ("service", Fields(&[("name", Any), ("port", Fields(&[("name", Any), ("number", Any)]))])),
    ("resource", Any),
    ("serviceName", Any),
    ("servicePort", Any),
]);

const INGRESS: Shape = Fields(&[
    ("apiVersion", Any),
    ("kind", Any),
    ("metadata", OBJECT_META),
    (
        "spec",
        Fields(&[
            ("ingressClassName", Any),
            ("defaultBackend", INGRESS_BACKEND),
            ("backend", INGRESS_BACKEND),
            ("tls", Any),
            (
                "rules",
                List(&Fields(&[
                    ("host", Any),
                    (
                        "http",
                        Fields(&[(
                            "paths",
                            List(&Fields(&[("path", Any), ("pathType", Any), ("backend", INGRESS_BACKEND)])),
                        )]),
                    ),
                ])),
            ),
        ]),
    ),
    ("status", Any),
]);

/// lbplay's own kind; `kubeProxy` holds KubeProxyConfiguration's fields
/// (pkg/proxy/apis/config/types.go) plus `masqueradeAll` and `masqueradeBit` at its top, where
/// lbplay reads them.
const CLUSTER: Shape = Fields(&[
    ("apiVersion", Any),
    ("kind", Any),
    ("metadata", OBJECT_META),
    (
        "spec",
        Fields(&[
            ("serviceCIDR", Any),
            ("clusterCIDR", Any),
            (
                "kubeProxy",
                Fields(&[
                    ("mode", Any),
                    ("masqueradeAll", Any),
                    ("masqueradeBit", Any),
                    (
                        "ipvs",
                        Fields(&[
                            ("scheduler", Any),
                            ("syncPeriod", Any),
                            ("minSyncPeriod", Any),
                            ("excludeCIDRs", Any),
                            ("strictARP", Any),
                            ("tcpTimeout", Any),
                            ("tcpFinTimeout", Any),
                            ("udpTimeout", Any),
                        ]),
                    ),
                    ("iptables", Any),
                    ("nftables", Any),
                    ("conntrack", Any),
                    ("featureGates", Any),
                    ("clusterCIDR", Any),
                    ("nodePortAddresses", Any),
                    ("detectLocalMode", Any),
                    ("detectLocal", Any),
                    ("bindAddress", Any),
                    ("healthzBindAddress", Any),
                    ("metricsBindAddress", Any),
                    ("hostnameOverride", Any),
                    ("configSyncPeriod", Any),
                    ("oomScoreAdj", Any),
                    ("portRange", Any),
                    ("logging", Any),
                ]),
            ),
            ("nodes", List(&Fields(&[("name", Any), ("ip", Any), ("podCIDR", Any)]))),
            ("clients", List(&Fields(&[("name", Any), ("ip", Any)]))),
            ("ingressController", Any),
        ]),
    ),
]);

/// The schema of a kind lbplay decodes field by field; `None` for the kinds it reads only in
/// part (Istio's, whose schema is large and open) and does not check.
pub(crate) fn of(kind: &str) -> Option<&'static Shape> {
    const DEPLOYMENT: Shape = workload!(DEPLOYMENT_SPEC);
    const REPLICA_SET: Shape = workload!(REPLICA_SET_SPEC);
    const STATEFUL_SET: Shape = workload!(STATEFUL_SET_SPEC);
    Some(match kind {
        "Cluster" => &CLUSTER,
        "Service" => &SERVICE,
        "Pod" => &POD,
        "Deployment" => &DEPLOYMENT,
        "ReplicaSet" => &REPLICA_SET,
        "StatefulSet" => &STATEFUL_SET,
        "Endpoints" => &ENDPOINTS,
        "EndpointSlice" => &ENDPOINT_SLICE,
        "Ingress" => &INGRESS,
        _ => return None,
    })
}

/// The known field names of a shape, when it is a mapping of fields.
fn names(shape: &Shape) -> &'static [(&'static str, Shape)] {
    match shape {
        Fields(fields) => fields,
        _ => &[],
    }
}

/// Warns about every unknown field of `obj` against `shape`.
pub(crate) fn check(cx: &mut Cx, obj: &Obj<'_>, shape: &'static Shape) {
    let mut walker = Walker { path: String::new(), ancestors: Vec::new() };
    walker.walk(cx, obj, obj.node, shape);
}

/// The walk's state: the path of the current node, grown and cut back in place so that checking
/// allocates only for a warning, and the enclosing mappings (the length of their path in `path`,
/// and their shape), for the "wrong indentation" hint.
struct Walker {
    path: String,
    ancestors: Vec<(usize, &'static Shape)>,
}

impl Walker {
    fn walk(&mut self, cx: &mut Cx, obj: &Obj<'_>, node: &Node, shape: &'static Shape) {
        let len = self.path.len();
        match (shape, &node.value) {
            (List(item), Value::Seq(items)) => {
                for (i, child) in items.iter().enumerate() {
                    use std::fmt::Write;
                    let _ = write!(self.path, "[{i}]");
                    self.walk(cx, obj, child, item);
                    self.path.truncate(len);
                }
            }
            (Fields(fields), Value::Map(entries)) => {
                for (index, (key, value)) in entries.iter().enumerate() {
                    if len > 0 {
                        self.path.push('.');
                    }
                    self.path.push_str(&key.name);
                    match fields.iter().find(|(name, _)| *name == key.name) {
                        Some((_, child)) => {
                            self.ancestors.push((len, shape));
                            self.walk(cx, obj, value, child);
                            self.ancestors.pop();
                        }
                        None => {
                            let hint = self.hint(&key.name, value, len, fields, &entries[..index]);
                            let message = format!(
                                "unknown field {:?}{hint}; it is ignored, as the API server drops unknown fields (kubectl warns of them)",
                                key.name
                            );
                            cx.warn(obj, key.pos, &self.path, message);
                        }
                    }
                    self.path.truncate(len);
                }
            }
            // A wrong type is the decoder's to report, with the value's own message.
            _ => {}
        }
    }

    /// Why the field is probably unknown: a misspelling of a known field, a key that should be
    /// indented under the empty mapping before it, or a field that belongs to an enclosing level.
    /// `len` is the length of the enclosing mapping's path in `self.path`.
    fn hint(
        &self,
        name: &str,
        value: &Node,
        len: usize,
        fields: &[(&str, Shape)],
        before: &[(crate::yaml::Key, Node)],
    ) -> String {
        if let Some(meant) = closest(name, fields.iter().map(|(n, _)| *n)) {
            return format!(" (did you mean {meant:?}?)");
        }
        let at = |outer: usize, field: &str| {
            let outer = &self.path[..outer];
            if outer.is_empty() { field.to_string() } else { format!("{outer}.{field}") }
        };
        // `selector:` with nothing under it, then `app: web` at the same indentation.
        if let Some((key, empty)) = before.last()
            && empty.is_null()
            && matches!(fields.iter().find(|(n, _)| *n == key.name), Some((_, Strings | Fields(_))))
            && !matches!(value.value, Value::Map(_) | Value::Seq(_))
        {
            return format!(" (`{}` above it is empty: indent this line under `{}:`)", at(len, &key.name), key.name);
        }
        for (outer, shape) in self.ancestors.iter().rev() {
            if names(shape).iter().any(|(n, _)| *n == name) {
                return format!(" (it belongs at `{}`: check this line's indentation)", at(*outer, name));
            }
        }
        String::new()
    }
}

/// The known name closest to `name`: equal but for case, or at most a third of its letters away
/// (at least one), as a spelling suggestion.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    if let Some(same) = known.clone().find(|k| k.eq_ignore_ascii_case(name)) {
        return Some(same);
    }
    let budget = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in known {
        let distance = edit_distance(&name.to_ascii_lowercase(), &candidate.to_ascii_lowercase());
        if distance <= budget && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// The edit distance of two names, counting a swap of two neighbouring letters as one edit
/// (optimal string alignment, so `prots` is one edit from `ports`). Names here are short, and a
/// hostile key is cut to 64 characters first so the work stays bounded.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best =
                (d[(i - 1) * width + j] + 1).min(d[i * width + j - 1] + 1).min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expect: Option<&str>) {
        let known = ["targetPort", "port", "ports", "nodePort", "selector", "protocol", "name"];
        assert_eq!(closest(name, known.iter().copied()), expect, "{name}");
    }

    #[test]
    fn misspellings_find_the_field_meant() {
        check("targetport", Some("targetPort"));
        check("TargetPort", Some("targetPort"));
        check("targetPot", Some("targetPort"));
        check("selectr", Some("selector"));
        check("pot", Some("port"));
        check("prots", Some("ports"));
        check("image", None);
        check("x", None);
    }
}
