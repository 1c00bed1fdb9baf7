//! Ingresses as kubectl shows them, because learners compare lbplay with their own cluster.
//!
//! `get` prints `kubectl get ingress -A`'s table (k8s.io/kubernetes pkg/printers/internalversion,
//! `printIngress`): NAMESPACE, NAME, CLASS (`<none>` without `spec.ingressClassName`), HOSTS (up
//! to four, then `+ N more...`, `*` without rules), ADDRESS (the controller's external address,
//! which ingress-nginx writes into the status of the Ingresses it takes, `--publish-service`),
//! PORTS (`80`, or `80, 443` with TLS) and AGE (`<unknown>`: lbplay has no wall clock).
//! `describe` prints `kubectl describe ingress` (k8s.io/kubectl pkg/describe,
//! `describeIngressV1`), with each backend's ready endpoints as `formatEndpointSlices` lists them.

use super::{Ingress, taken};
use crate::model::{Cluster, ClusterExtras, IngressBackend, IngressPort};
use crate::tabwrite::align;

/// The controller's external address, for the Ingresses it takes.
fn address(cluster: &Cluster, extras: &ClusterExtras, ingress: &Ingress) -> String {
    let Some(controller) = &cluster.ingress else { return String::new() };
    if !taken(extras).iter().any(|i| i.namespace == ingress.namespace && i.name == ingress.name) {
        return String::new();
    }
    cluster
        .service(&controller.namespace, &controller.service)
        .map(|s| s.load_balancer_ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// `kubectl get ingress -A`.
pub fn get(cluster: &Cluster, extras: &ClusterExtras) -> String {
    let mut text = String::from("NAMESPACE\tNAME\tCLASS\tHOSTS\tADDRESS\tPORTS\tAGE\n");
    for ingress in &extras.ingresses {
        let hosts: Vec<&str> = ingress.rules.iter().filter_map(|r| r.host.as_deref()).collect();
        let shown = match hosts.len() {
            0 => "*".to_string(),
            1..=4 => hosts.join(","),
            n => format!("{} + {} more...", hosts[..4].join(","), n - 4),
        };
        let ports = if ingress.tls.is_empty() { "80" } else { "80, 443" };
        text.push_str(&format!(
            "{}\t{}\t{}\t{shown}\t{}\t{ports}\t<unknown>\n",
            ingress.namespace,
            ingress.name,
            ingress.class_name.as_deref().unwrap_or("<none>"),
            address(cluster, extras, ingress)
        ));
    }
    align(&text, 6, 3)
}

/// A backend as `describeBackendV1` prints it: `service:port (endpoints)`.
fn backend(cluster: &Cluster, namespace: &str, backend: &IngressBackend) -> String {
    let named = format!("{}:{}", backend.service, backend.port);
    let Some(service) = cluster.service(namespace, &backend.service) else {
        return format!("{named} (<error: services \"{}\" not found>)", backend.service);
    };
    let port = service.ports.iter().find(|p| match &backend.port {
        IngressPort::Number(n) => p.port == *n,
        IngressPort::Name(name) => p.name.as_deref() == Some(name.as_str()),
    });
    let slices = cluster.endpoint_slices.iter().filter(|s| s.namespace == namespace && s.service == backend.service);
    let mut list = Vec::new();
    let mut any = false;
    for slice in slices {
        any = true;
        let Some(slice_port) = slice.ports.iter().find(|p| p.name == port.and_then(|p| p.name.clone())) else {
            continue;
        };
        for endpoint in slice.endpoints.iter().filter(|e| e.ready) {
            list.push(format!("{}:{}", endpoint.ip, slice_port.port));
        }
    }
    if !any {
        return format!("{named} (<none>)");
    }
    let mut shown = list.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if list.len() > 3 {
        shown.push_str(&format!(" + {} more...", list.len() - 3));
    }
    format!("{named} ({shown})")
}

/// `kubectl describe ingress` for each Ingress, separated by a blank line.
pub fn describe(cluster: &Cluster, extras: &ClusterExtras) -> String {
    let mut out = Vec::new();
    for ingress in &extras.ingresses {
        let default = ingress
            .default_backend
            .as_ref()
            .map_or_else(|| "<default>".to_string(), |b| backend(cluster, &ingress.namespace, b));
        let mut text = format!(
            "Name:\t{}\nLabels:\t<none>\nNamespace:\t{}\nAddress:\t{}\nIngress Class:\t{}\nDefault backend:\t{default}\n",
            ingress.name,
            ingress.namespace,
            address(cluster, extras, ingress),
            ingress.class_name.as_deref().unwrap_or("<none>"),
        );
        if !ingress.tls.is_empty() {
            text.push_str("TLS:\n");
            for tls in &ingress.tls {
                match &tls.secret_name {
                    Some(secret) => text.push_str(&format!("  {secret} terminates {}\n", tls.hosts.join(","))),
                    None => text.push_str(&format!("  SNI routes {}\n", tls.hosts.join(","))),
                }
            }
        }
        text.push_str("Rules:\n  Host\tPath\tBackends\n  ----\t----\t--------\n");
        for rule in &ingress.rules {
            text.push_str(&format!("  {}\t\n", rule.host.as_deref().unwrap_or("*")));
            for path in &rule.paths {
                text.push_str(&format!(
                    "    \t{} \t{}\n",
                    path.path,
                    backend(cluster, &ingress.namespace, &path.backend)
                ));
            }
        }
        if ingress.rules.is_empty() {
            text.push_str(&format!("  *\t*\t{default}\n"));
        }
        text.push_str("Annotations:\t<none>\nEvents:\t<none>\n");
        out.push(align(&text, 0, 2));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use crate::scenario::{Source, load};

    #[test]
    fn the_source_texts_ingresses_as_kubectl_shows_them() {
        let text = include_str!("../../scenarios/ingress.yaml");
        let loaded = load(&[Source { name: "ingress.yaml", text }]).expect("loads");
        expect![[r#"
            NAMESPACE   NAME           CLASS   HOSTS                     ADDRESS        PORTS   AGE
            default     test-ingress   nginx   *                         203.0.113.80   80      <unknown>
            default     test           nginx   foo.bar.com               203.0.113.80   80      <unknown>
            default     test-vhosts    nginx   foo.bar.com,bar.foo.com   203.0.113.80   80      <unknown>
        "#]]
        .assert_eq(&super::get(&loaded.cluster, &loaded.extras));
        let described = super::describe(&loaded.cluster, &loaded.extras);
        let test = described.split("\n\n").nth(1).map(|t| format!("{t}\n")).expect("the second Ingress");
        expect![[r#"
            Name:             test
            Labels:           <none>
            Namespace:        default
            Address:          203.0.113.80
            Ingress Class:    nginx
            Default backend:  <default>
            Rules:
              Host         Path  Backends
              ----         ----  --------
              foo.bar.com  
                           /foo   s1:80 (10.244.2.2:8080,10.244.3.2:8080)
                           /bar   s2:80 (10.244.1.3:8080,10.244.2.3:8080)
            Annotations:   <none>
            Events:        <none>
        "#]]
        .assert_eq(&test);
    }
}
