//! Shared by the Ingress tests: the upstream cases of `data/ingress/` (copied from
//! ../shared/testdata/l7/, see its README for provenance) turned into scenarios, and lbplay's
//! answer for one request.

#![allow(dead_code, unreachable_pub)]

use lbplay_core::ingress::{self, Config, Decision, Request};
use lbplay_core::scenario::{Loaded, Source, load};
use serde_json::Value;

/// One upstream case: the scenario, the request and the expected answer.
pub struct Case {
    pub id: String,
    pub yaml: String,
    pub scheme: String,
    pub host: Option<String>,
    pub path: String,
    pub status: u16,
    pub service: Option<String>,
    pub port: Option<u16>,
}

/// Every case of both files.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for file in ["ingress-conformance.json", "ingress-nginx-e2e.json"] {
        let text = std::fs::read_to_string(format!("{}/tests/data/ingress/{file}", env!("CARGO_MANIFEST_DIR")))
            .expect("test data is in the repository");
        let doc: Value = serde_json::from_str(&text).expect("valid JSON");
        for c in doc["cases"].as_array().expect("cases") {
            let ingress = c
                .get("ingress_manifest_yaml")
                .and_then(Value::as_str)
                .unwrap_or_else(|| c["ingress_yaml"].as_str().unwrap_or(""));
            let mut yaml = ingress.to_string();
            for b in c["backends"].as_array().into_iter().flatten() {
                let service = b["service"].as_str().unwrap_or("");
                let port = b["port"].as_u64().unwrap_or(80);
                let name = b["port_name"].as_str().unwrap_or("http");
                let target = b["target_port"].as_u64().unwrap_or(8080);
                let replicas = b["replicas"].as_u64().unwrap_or(1);
                if yaml.contains(&format!("name: {service}\n---")) {
                    continue;
                }
                yaml.push_str(&format!(
                    "\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: {service}}}\nspec:\n  selector: {{app: {service}}}\n  ports:\n  - {{name: {name}, port: {port}, targetPort: {target}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {service}}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {service}}}}}\n  template:\n    metadata: {{labels: {{app: {service}}}}}\n    spec: {{containers: [{{name: app, image: echo}}]}}\n"
                ));
            }
            let req = &c["request"];
            out.push(Case {
                id: c["id"].as_str().unwrap_or("").to_string(),
                yaml,
                scheme: req["scheme"].as_str().unwrap_or("http").to_string(),
                host: req["host"].as_str().map(str::to_string),
                path: req["path"].as_str().unwrap_or("/").to_string(),
                status: c["expect"]["status"].as_u64().unwrap_or(0) as u16,
                service: c["expect"]["service"].as_str().map(str::to_string),
                port: c["expect"]["port"].as_u64().map(|p| p as u16),
            });
        }
    }
    out
}

/// A scenario loaded, or the problems as text.
pub fn load_yaml(yaml: &str) -> Result<Loaded, String> {
    // A case with no objects at all (ingress-nginx's "no default backend" cases) is a cluster with
    // nothing but its controller; an input with no objects is an error of its own, so such a case
    // is given the `Cluster` object, which changes nothing else.
    let empty =
        yaml.lines().all(|line| line.trim().is_empty() || line.trim_start().starts_with('#') || line.trim() == "---");
    let text = if empty { "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata:\n  name: case\n" } else { yaml };
    load(&[Source { name: "case.yaml", text }])
        .map_err(|p| p.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
}

/// What lbplay answers: the decision (with 503 applied) and, for a served request, the Service
/// and port that serve it.
pub fn answer(
    loaded: &Loaded,
    config: &Config,
    scheme: &str,
    host: Option<&str>,
    path: &str,
) -> (Decision, u16, Option<String>) {
    let d = ingress::route(config, &Request { scheme, host, path });
    let eps = d.upstream.as_ref().map(|u| ingress::endpoints(&loaded.cluster, u)).unwrap_or_default();
    let d = ingress::respond(d, &eps);
    let status = d.response.as_ref().map_or(200, |r| r.status);
    let served = match (&d.upstream, status) {
        (Some(ingress::Upstream::Service { namespace, service, port }), 200) => {
            // A named port is shown by its number, as the cases give it.
            let number = loaded.cluster.service(namespace, service).and_then(|svc| {
                svc.ports.iter().find(|p| match port {
                    lbplay_core::model::IngressPort::Number(n) => p.port == *n,
                    lbplay_core::model::IngressPort::Name(name) => p.name.as_deref() == Some(name.as_str()),
                })
            });
            Some(format!("{service}:{}", number.map_or(port.to_string(), |p| p.port.to_string())))
        }
        _ => None,
    };
    (d, status, served)
}
