//! The hosts and subsets Istio objects name, checked against the scenario as `istioctl analyze`
//! does (analyzer `ReferencedResourceNotFound`, IST0101). The API server accepts such objects,
//! and so does lbplay: each reference that names nothing is a warning at its place, and a
//! request routed there shows what Envoy does (503 with response flag `NC`, no cluster).

use super::fields::{Cx, Obj};
use crate::mesh::route::names;
use crate::model::{Cluster, DestinationRule};

/// Warns at every VirtualService destination whose host is no Service or whose subset no
/// DestinationRule for that host defines, and at every DestinationRule whose host is no Service.
pub(crate) fn check(cx: &mut Cx, objects: &[(Obj<'_>, String)], cluster: &Cluster, rules: &[DestinationRule]) {
    for (obj, namespace) in objects {
        let Some(spec) = obj.node.get("spec") else { continue };
        let kind = obj.node.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind == "DestinationRule" {
            let Some(host) = spec.get("host") else { continue };
            let Some(name) = host.as_str() else { continue };
            if !cluster.services.iter().any(|s| names(name, namespace, s)) {
                cx.warn(
                    obj,
                    host.pos,
                    "spec.host",
                    format!(
                        "IST0101: referenced host not found: \"{name}\"; this DestinationRule applies to no Service"
                    ),
                );
            }
            continue;
        }
        let Some(crate::yaml::Value::Seq(http)) = spec.get("http").map(|h| &h.value) else { continue };
        for (r, route) in http.iter().enumerate() {
            let Some(crate::yaml::Value::Seq(dests)) = route.get("route").map(|d| &d.value) else { continue };
            for (d, dest) in dests.iter().enumerate() {
                let Some(destination) = dest.get("destination") else { continue };
                let path = format!("spec.http[{r}].route[{d}].destination");
                let Some(host) = destination.get("host") else { continue };
                let Some(name) = host.as_str() else { continue };
                let Some(service) = cluster.services.iter().find(|s| names(name, namespace, s)) else {
                    cx.warn(
                        obj,
                        host.pos,
                        &format!("{path}.host"),
                        format!(
                            "IST0101: referenced host not found: \"{name}\"; Envoy answers requests routed here with 503, response flag NC (no cluster)"
                        ),
                    );
                    continue;
                };
                let Some(subset) = destination.get("subset") else { continue };
                let Some(subset_name) = subset.as_str() else { continue };
                let defined = rules
                    .iter()
                    .filter(|rule| names(&rule.host, &rule.namespace, service))
                    .any(|rule| rule.subsets.iter().any(|s| s.name == subset_name));
                if !defined {
                    cx.warn(
                        obj,
                        subset.pos,
                        &format!("{path}.subset"),
                        format!(
                            "IST0101: referenced host+subset in destinationrule not found: \"{name}+{subset_name}\"; Envoy answers requests routed here with 503, response flag NC (no cluster)"
                        ),
                    );
                }
            }
        }
    }
}
