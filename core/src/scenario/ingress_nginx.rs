//! ingress-nginx as part of the cluster: the controller lbplay installs for a scenario's
//! Ingresses, and the `IngressController` the walk meets.
//!
//! The source text's Ingresses name no controller, and a real cluster needs one before they do
//! anything. When a scenario has Ingresses and no controller Service of its own
//! (`ingress-nginx/ingress-nginx-controller`), lbplay adds what `helm install ingress-nginx
//! ingress-nginx/ingress-nginx --namespace ingress-nginx` creates that matters here (chart
//! charts/ingress-nginx, controller v1.15.1): the Deployment `ingress-nginx-controller` with one
//! replica (`controller.replicaCount: 1`) whose container listens on `http` 80 and `https` 443,
//! and the Service of type LoadBalancer with the ports `http` 80 → `http` and `https` 443 →
//! `https`, selecting the labels `app.kubernetes.io/name: ingress-nginx`,
//! `app.kubernetes.io/instance: ingress-nginx`, `app.kubernetes.io/component: controller`
//! (templates/controller-service.yaml). The chart leaves `externalTrafficPolicy` unset, so it is
//! `Cluster`. The IngressClass `nginx` marked default comes from `scenario::ingress`.
//!
//! The `Cluster` object's `spec.ingressController` changes that: `install: false` (the scenario
//! brings its own or wants none), `replicas`, `externalTrafficPolicy`, `loadBalancerIP` (the
//! address the cloud gives the Service; 203.0.113.80 by default) and `loadBalance` (the
//! ConfigMap's `load-balance`: `round_robin` or `ewma`).

use std::collections::BTreeMap;

use super::fields::{Cx, Obj};
use crate::model::{Cluster, ClusterExtras, IngressBalance, IngressController};
use crate::yaml::{self, Value};

/// The controller's namespace and Service name, as the chart names them for release
/// `ingress-nginx` (`ingress-nginx.controller.fullname`).
pub const NAMESPACE: &str = "ingress-nginx";
pub const SERVICE: &str = "ingress-nginx-controller";
/// The name of the YAML stream lbplay adds, which problems and `check` name.
pub const SOURCE: &str = "ingress-nginx (installed by lbplay)";

/// The selector labels of the chart (`ingress-nginx.selectorLabels` plus the component).
const LABELS: [(&str, &str); 3] = [
    ("app.kubernetes.io/name", "ingress-nginx"),
    ("app.kubernetes.io/instance", "ingress-nginx"),
    ("app.kubernetes.io/component", "controller"),
];

/// `spec.ingressController`, as written or defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) install: bool,
    pub(crate) replicas: u8,
    pub(crate) external_traffic_policy: Option<String>,
    pub(crate) load_balancer_ip: String,
    pub(crate) load_balance: IngressBalance,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            install: true,
            replicas: 1,
            external_traffic_policy: None,
            load_balancer_ip: "203.0.113.80".into(),
            load_balance: IngressBalance::RoundRobin,
        }
    }
}

const FIELDS: [&str; 5] = ["install", "replicas", "externalTrafficPolicy", "loadBalancerIP", "loadBalance"];

/// Reads `spec.ingressController` of the scenario's Cluster object, if it has one.
pub(crate) fn settings(cx: &mut Cx, docs: &[(&str, &yaml::Node)]) -> Settings {
    let mut out = Settings::default();
    let Some((file, doc)) = docs.iter().find(|(_, doc)| kind(doc) == Some("Cluster")) else { return out };
    let name = doc.get("metadata").and_then(|m| m.get("name")).and_then(yaml::Node::as_str).unwrap_or("(no name)");
    let obj = Obj { file: file.to_string(), label: format!("Cluster/{name}"), node: doc };
    let Some(spec) = doc.get("spec") else { return out };
    let Some(node) = cx.map(&obj, spec.get("ingressController"), "spec.ingressController") else { return out };
    let path = |field: &str| format!("spec.ingressController.{field}");
    if let Value::Map(entries) = &node.value {
        for (key, value) in entries {
            if !FIELDS.contains(&key.name.as_str()) {
                cx.warn(
                    &obj,
                    value.pos,
                    &path(&key.name),
                    format!("unknown field; spec.ingressController takes {}", FIELDS.join(", ")),
                );
            }
        }
    }
    if let Some(install) = cx.boolean(&obj, node.get("install"), &path("install")) {
        out.install = install;
    }
    if let Some(replicas) = cx.int(&obj, node.get("replicas"), &path("replicas")) {
        match u8::try_from(replicas) {
            Ok(n @ 1..=10) => out.replicas = n,
            _ => {
                let pos = node.get("replicas").map_or(node.pos, |n| n.pos);
                cx.error(&obj, pos, &path("replicas"), format!("{replicas} controller replicas: lbplay runs 1 to 10"));
            }
        }
    }
    if let Some(policy) = cx.string(&obj, node.get("externalTrafficPolicy"), &path("externalTrafficPolicy")) {
        if policy == "Cluster" || policy == "Local" {
            out.external_traffic_policy = Some(policy);
        } else {
            let pos = node.get("externalTrafficPolicy").map_or(node.pos, |n| n.pos);
            cx.error(
                &obj,
                pos,
                &path("externalTrafficPolicy"),
                super::fields::unsupported(&policy, &["Cluster", "Local"]),
            );
        }
    }
    if let Some(ip) = cx.ipv4(&obj, node.get("loadBalancerIP"), &path("loadBalancerIP")) {
        out.load_balancer_ip = ip.to_string();
    }
    if let Some(balance) = cx.string(&obj, node.get("loadBalance"), &path("loadBalance")) {
        match balance.as_str() {
            "round_robin" => out.load_balance = IngressBalance::RoundRobin,
            "ewma" => out.load_balance = IngressBalance::Ewma,
            _ => {
                let pos = node.get("loadBalance").map_or(node.pos, |n| n.pos);
                cx.error(
                    &obj,
                    pos,
                    &path("loadBalance"),
                    super::fields::unsupported(&balance, &["round_robin", "ewma"]),
                );
            }
        }
    }
    out
}

fn kind(doc: &yaml::Node) -> Option<&str> {
    doc.get("kind").and_then(yaml::Node::as_str)
}

/// Whether lbplay installs the controller: the scenario has an Ingress, brings no controller
/// Service of its own, and does not say `install: false`.
pub(crate) fn wanted(docs: &[(&str, &yaml::Node)], settings: &Settings) -> bool {
    let has_ingress = docs.iter().any(|(_, doc)| kind(doc) == Some("Ingress"));
    let own = docs.iter().any(|(_, doc)| {
        let meta = doc.get("metadata");
        kind(doc) == Some("Service")
            && meta.and_then(|m| m.get("name")).and_then(yaml::Node::as_str) == Some(SERVICE)
            && meta.and_then(|m| m.get("namespace")).and_then(yaml::Node::as_str) == Some(NAMESPACE)
    });
    settings.install && has_ingress && !own
}

/// The manifests lbplay installs, as YAML the loader reads like any other.
pub(crate) fn manifests(settings: &Settings) -> String {
    let labels: String = LABELS.iter().map(|(k, v)| format!("{k}: {v}, ")).collect();
    let labels = format!("{{{}}}", labels.trim_end_matches(", "));
    let policy = settings
        .external_traffic_policy
        .as_ref()
        .map(|policy| format!("  externalTrafficPolicy: {policy}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {SERVICE}
  namespace: {NAMESPACE}
  labels: {labels}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {labels}
  template:
    metadata:
      labels: {labels}
    spec:
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.15.1
        ports:
        - {{name: http, containerPort: 80, protocol: TCP}}
        - {{name: https, containerPort: 443, protocol: TCP}}
        - {{name: webhook, containerPort: 8443, protocol: TCP}}
---
apiVersion: v1
kind: Service
metadata:
  name: {SERVICE}
  namespace: {NAMESPACE}
  labels: {labels}
spec:
  type: LoadBalancer
{policy}  selector: {labels}
  ports:
  - {{name: http, port: 80, protocol: TCP, targetPort: http}}
  - {{name: https, port: 443, protocol: TCP, targetPort: https}}
status:
  loadBalancer:
    ingress:
    - ip: {ip}
",
        replicas = settings.replicas,
        ip = settings.load_balancer_ip,
    )
}

/// The controller the walk meets: the Service `ingress-nginx/ingress-nginx-controller` (lbplay's
/// or the scenario's own) and the Ingresses it takes. `None` without Ingresses or without it.
pub(crate) fn attach(
    cluster: &Cluster,
    extras: &ClusterExtras,
    settings: &Settings,
    installed: bool,
) -> Option<IngressController> {
    if extras.ingresses.is_empty() {
        return None;
    }
    let service = cluster.service(NAMESPACE, SERVICE)?;
    let selector: BTreeMap<String, String> = service.selector.clone().unwrap_or_default();
    Some(IngressController {
        namespace: NAMESPACE.into(),
        service: SERVICE.into(),
        selector,
        load_balance: settings.load_balance,
        installed,
        ingresses: crate::ingress::taken(extras).into_iter().cloned().collect(),
    })
}

#[cfg(test)]
mod tests {
    use crate::scenario::{Source, load};

    const INGRESS: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
";

    fn load_with(cluster: &str) -> Result<crate::scenario::Loaded, String> {
        let text = format!("{cluster}{INGRESS}");
        load(&[Source { name: "t.yaml", text: &text }])
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    }

    #[test]
    fn an_ingress_brings_the_controller_as_helm_installs_it() {
        let loaded = load_with("").expect("loads");
        let cluster = &loaded.cluster;
        let service = cluster.service("ingress-nginx", "ingress-nginx-controller").expect("the Service");
        assert_eq!(service.kind, crate::model::ServiceType::LoadBalancer);
        assert_eq!(service.external_traffic_policy, crate::model::TrafficPolicy::Cluster);
        assert_eq!(service.load_balancer_ips, ["203.0.113.80".parse::<std::net::Ipv4Addr>().unwrap()]);
        let pods: Vec<&str> =
            cluster.pods.iter().filter(|p| p.namespace == "ingress-nginx").map(|p| p.name.as_str()).collect();
        assert_eq!(pods.len(), 1);
        assert!(pods[0].starts_with("ingress-nginx-controller-"), "{pods:?}");
        let controller = cluster.ingress.as_ref().expect("the controller");
        assert!(controller.installed);
        assert_eq!(controller.ingresses.len(), 1);
    }

    #[test]
    fn the_cluster_object_changes_the_install() {
        let cluster = "apiVersion: lbplay/v1alpha1
kind: Cluster
metadata: {name: t}
spec:
  ingressController: {replicas: 2, externalTrafficPolicy: Local, loadBalancerIP: 198.51.100.9, loadBalance: ewma}
---
";
        let loaded = load_with(cluster).expect("loads");
        let service = loaded.cluster.service("ingress-nginx", "ingress-nginx-controller").expect("the Service");
        assert_eq!(service.external_traffic_policy, crate::model::TrafficPolicy::Local);
        assert_eq!(loaded.cluster.pods.iter().filter(|p| p.namespace == "ingress-nginx").count(), 2);
        let controller = loaded.cluster.ingress.as_ref().expect("the controller");
        assert_eq!(controller.load_balance, crate::model::IngressBalance::Ewma);
        let none = load_with("apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  ingressController: {install: false}\n---\n")
            .expect("loads");
        assert!(none.cluster.ingress.is_none());
        assert!(none.cluster.service("ingress-nginx", "ingress-nginx-controller").is_none());
    }

    #[test]
    fn bad_settings_are_located() {
        let bad = "apiVersion: lbplay/v1alpha1
kind: Cluster
metadata: {name: t}
spec:
  ingressController: {replicas: 0, loadBalance: random, colour: blue}
---
";
        let err = load_with(bad).expect_err("refused");
        assert!(err.contains("t.yaml:5:"), "{err}");
        assert!(err.contains("spec.ingressController.replicas: 0 controller replicas"), "{err}");
        assert!(err.contains("spec.ingressController.loadBalance: Unsupported value: \"random\""), "{err}");
        assert!(err.contains("spec.ingressController.colour: unknown field"), "{err}");
    }

    #[test]
    fn without_ingresses_nothing_is_installed() {
        let text = INGRESS.split("---\n").nth(1).expect("the Service");
        let loaded = load(&[Source { name: "t.yaml", text }]).expect("loads");
        assert!(loaded.cluster.ingress.is_none());
        assert!(loaded.cluster.pods.iter().all(|p| p.namespace != "ingress-nginx"));
    }
}
