//! Quick controls: small edits of the scenario's YAML text that the editor's buttons make (kube-proxy's
//! mode, the IPVS scheduler, a Deployment's replicas, a Pod's readiness or its deletion, a Service's
//! type, traffic policies and session affinity), so the result is ordinary edited YAML that
//! re-runs, shares and persists like typing. Each edit understands block-style YAML as the
//! lessons write it and returns `None` for any other shape, so a control never guesses.

/// The line index and indentation of the first line whose trimmed text is `key:` (nothing after),
/// searching `lines[from..until]` at exactly `indent` spaces.
fn find_block(lines: &[String], from: usize, until: usize, indent: usize, key: &str) -> Option<usize> {
    (from..until).find(|&index| {
        let line = &lines[index];
        line.len() > indent
            && line[..indent].bytes().all(|b| b == b' ')
            && line[indent..].trim_end() == format!("{key}:")
    })
}

/// The end (exclusive) of the block opened at `start` with `indent`: the next line indented no more.
fn block_end(lines: &[String], start: usize, indent: usize) -> usize {
    (start + 1..lines.len())
        .find(|&index| {
            let line = &lines[index];
            !line.trim().is_empty() && line.len() - line.trim_start().len() <= indent
        })
        .unwrap_or(lines.len())
}

/// Sets `key: value` among the block's direct children at `indent`, or inserts it first.
fn set_child(lines: &mut Vec<String>, start: usize, end: usize, indent: usize, key: &str, value: &str) {
    let prefix = format!("{}{key}:", " ".repeat(indent));
    let wanted = format!("{prefix} {value}");
    match (start + 1..end).find(|&index| lines[index].starts_with(&prefix)) {
        Some(index) => lines[index] = wanted,
        None => lines.insert(start + 1, wanted),
    }
}

fn split(yaml: &str) -> Vec<String> {
    yaml.split('\n').map(str::to_string).collect()
}

/// The `kubeProxy:` block of the Cluster object: its line and indentation.
fn kube_proxy(lines: &[String]) -> Option<(usize, usize)> {
    (0..8).find_map(|indent| find_block(lines, 0, lines.len(), indent, "kubeProxy").map(|index| (index, indent)))
}

/// Switches kube-proxy's mode in the Cluster object's `kubeProxy:` block.
pub fn set_mode(yaml: &str, mode: &str) -> Option<String> {
    let mut lines = split(yaml);
    let (start, indent) = kube_proxy(&lines)?;
    let end = block_end(&lines, start, indent);
    set_child(&mut lines, start, end, indent + 2, "mode", mode);
    Some(lines.join("\n"))
}

/// Switches kube-proxy to IPVS mode with `scheduler` (`kubeProxy: {mode: ipvs, ipvs: {scheduler: …}}`).
pub fn set_scheduler(yaml: &str, scheduler: &str) -> Option<String> {
    let yaml = set_mode(yaml, "ipvs")?;
    let mut lines = split(&yaml);
    let (start, indent) = kube_proxy(&lines)?;
    let end = block_end(&lines, start, indent);
    let ipvs = match find_block(&lines, start + 1, end, indent + 2, "ipvs") {
        Some(ipvs) => ipvs,
        None => {
            lines.insert(end, format!("{}ipvs:", " ".repeat(indent + 2)));
            end
        }
    };
    let ipvs_end = block_end(&lines, ipvs, indent + 2);
    set_child(&mut lines, ipvs, ipvs_end, indent + 4, "scheduler", scheduler);
    Some(lines.join("\n"))
}

/// The Deployments of the stream whose replicas a control can set: (name, replicas).
pub fn deployments(yaml: &str) -> Vec<(String, u32)> {
    documents(yaml)
        .into_iter()
        .filter_map(|(lines, _)| deployment(&lines))
        .map(|(name, replicas, _)| (name, replicas))
        .collect()
}

/// Sets the replicas of the Deployment named `name`.
pub fn set_replicas(yaml: &str, name: &str, replicas: u32) -> Option<String> {
    let mut out = Vec::new();
    let mut done = false;
    for (mut lines, separator) in documents(yaml) {
        if let Some((found, _, at)) = deployment(&lines)
            && found == name
            && !done
        {
            lines[at] = format!("  replicas: {replicas}");
            done = true;
        }
        out.push(lines.join("\n"));
        if let Some(separator) = separator {
            out.push(separator);
        }
    }
    done.then(|| out.concat())
}

/// The stream's documents, each with the `---` line that follows it.
fn documents(yaml: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = yaml;
    loop {
        match rest.find("\n---\n") {
            Some(at) => {
                out.push((split(&rest[..at]), Some("\n---\n".to_string())));
                rest = &rest[at + 5..];
            }
            None => {
                out.push((split(rest), None));
                return out;
            }
        }
    }
}

/// A Deployment document's name, replicas and the replicas line.
fn deployment(lines: &[String]) -> Option<(String, u32, usize)> {
    lines.iter().any(|line| line.trim_end() == "kind: Deployment").then_some(())?;
    let metadata = find_block(lines, 0, lines.len(), 0, "metadata")?;
    let end = block_end(lines, metadata, 0);
    let name = (metadata + 1..end).find_map(|index| lines[index].strip_prefix("  name: "))?.trim().to_string();
    let (at, replicas) = lines
        .iter()
        .enumerate()
        .find_map(|(index, line)| Some((index, line.strip_prefix("  replicas: ")?.trim().parse::<u32>().ok()?)))?;
    Some((name, replicas, at))
}

/// The value of `key:` among the block's direct children at `indent`, if it is there.
fn child_value(lines: &[String], start: usize, end: usize, indent: usize, key: &str) -> Option<String> {
    let prefix = format!("{}{key}:", " ".repeat(indent));
    (start + 1..end).find_map(|index| {
        let value = lines[index].strip_prefix(&prefix)?.trim();
        Some(value.trim_matches('"').trim_matches('\'').to_string())
    })
}

/// The line index where the block child `key:` at `indent` starts and where its block ends
/// (a list under it may sit at the key's own indentation, `- …`).
fn child_block(lines: &[String], start: usize, end: usize, indent: usize, key: &str) -> Option<(usize, usize)> {
    let prefix = format!("{}{key}:", " ".repeat(indent));
    let at = (start + 1..end).find(|&index| lines[index].starts_with(&prefix))?;
    let until = (at + 1..end)
        .find(|&index| {
            let line = &lines[index];
            let inner = line.len() - line.trim_start().len();
            !line.trim().is_empty() && inner <= indent && !(inner == indent && line.trim_start().starts_with("- "))
        })
        .unwrap_or(end);
    Some((at, until))
}

/// A document's `kind:` and `metadata.name`, read from block style at the top level.
fn kind_and_name(lines: &[String]) -> Option<(String, String)> {
    let kind = lines.iter().find_map(|line| line.strip_prefix("kind: "))?.trim().to_string();
    // `metadata: {name: cart, namespace: default}`, as several lessons write it.
    if let Some(flow) = lines.iter().find_map(|line| line.strip_prefix("metadata: {")) {
        let name = flow.split([',', '}']).find_map(|pair| pair.trim().strip_prefix("name:"))?;
        return Some((kind, name.trim().trim_matches('"').to_string()));
    }
    let metadata = find_block(lines, 0, lines.len(), 0, "metadata")?;
    let end = block_end(lines, metadata, 0);
    Some((kind, child_value(lines, metadata, end, 2, "name")?))
}

/// Rewrites the first document of `kind` named `name` with `edit`; `None` when there is none or
/// `edit` declines. A document `edit` empties is deleted with its separator.
fn edit_document(
    yaml: &str,
    kind: &str,
    name: &str,
    edit: impl FnOnce(Vec<String>) -> Option<Vec<String>>,
) -> Option<String> {
    let mut docs: Vec<Vec<String>> = documents(yaml).into_iter().map(|(lines, _)| lines).collect();
    let at = docs.iter().position(|lines| kind_and_name(lines).is_some_and(|(k, n)| k == kind && n == name))?;
    let edited = edit(std::mem::take(&mut docs[at]))?;
    if edited.is_empty() {
        docs.remove(at);
    } else {
        docs[at] = edited;
    }
    Some(docs.iter().map(|lines| lines.join("\n")).collect::<Vec<_>>().join("\n---\n"))
}

/// A Pod the controls can change: its name and whether its Ready condition holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodControl {
    pub name: String,
    pub ready: bool,
}

/// The stream's Pod documents (not the Pods a Deployment expands to, which have no text to edit).
pub fn pods(yaml: &str) -> Vec<PodControl> {
    documents(yaml)
        .into_iter()
        .filter_map(|(lines, _)| {
            let (kind, name) = kind_and_name(&lines)?;
            (kind == "Pod").then(|| PodControl { ready: pod_ready(&lines), name })
        })
        .collect()
}

/// A Pod is ready unless its Ready condition says otherwise, as the loader reads it.
fn pod_ready(lines: &[String]) -> bool {
    let Some(status) = find_block(lines, 0, lines.len(), 0, "status") else { return true };
    let end = block_end(lines, status, 0);
    let Some((at, until)) = child_block(lines, status, end, 2, "conditions") else { return true };
    !lines[at..until].iter().any(|line| line.contains("Ready") && (line.contains("False") || line.contains("Unknown")))
}

/// Sets the Ready condition of the Pod named `name` (`status.conditions`, replacing any there), as
/// the kubelet reports a failing readiness probe: the EndpointSlice controller then lists the pod
/// as not ready and kube-proxy stops sending it new connections.
pub fn set_pod_ready(yaml: &str, name: &str, ready: bool) -> Option<String> {
    let condition = format!("  - {{type: Ready, status: \"{}\"}}", if ready { "True" } else { "False" });
    edit_document(yaml, "Pod", name, |mut lines| {
        // `status: {podIP: 10.244.1.5}` becomes block style first, so a condition can join it.
        if let Some(at) = lines.iter().position(|line| line.starts_with("status: {")) {
            let inner = lines[at]["status: {".len()..].trim_end().strip_suffix('}')?;
            if inner.contains(['{', '[', '"', '\'']) {
                return None;
            }
            let pairs: Vec<String> = inner.split(',').map(|pair| format!("  {}", pair.trim())).collect();
            lines.splice(at..=at, std::iter::once("status:".to_string()).chain(pairs));
        }
        let status = match find_block(&lines, 0, lines.len(), 0, "status") {
            Some(status) => status,
            None => {
                let last = lines.iter().rposition(|line| !line.trim().is_empty()).map_or(0, |at| at + 1);
                lines.insert(last, "status:".to_string());
                last
            }
        };
        let end = block_end(&lines, status, 0);
        if let Some((at, until)) = child_block(&lines, status, end, 2, "conditions") {
            lines.drain(at..until);
        }
        lines.splice(status + 1..status + 1, ["  conditions:".to_string(), condition]);
        Some(lines)
    })
}

/// Deletes the Pod named `name`: its document goes, as `kubectl delete pod` removes the object.
pub fn delete_pod(yaml: &str, name: &str) -> Option<String> {
    edit_document(yaml, "Pod", name, |_| Some(Vec::new()))
}

/// A Service the controls can change, with the fields they set (`None`: not written, the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceControl {
    pub name: String,
    pub kind: String,
    pub external_policy: Option<String>,
    pub internal_policy: Option<String>,
    pub affinity: Option<String>,
}

/// The stream's Services of a type the controls switch between (ClusterIP, NodePort, LoadBalancer;
/// not ExternalName, and not a headless Service).
pub fn services(yaml: &str) -> Vec<ServiceControl> {
    documents(yaml)
        .into_iter()
        .filter_map(|(lines, _)| {
            let (kind, name) = kind_and_name(&lines)?;
            (kind == "Service").then_some(())?;
            let spec = find_block(&lines, 0, lines.len(), 0, "spec")?;
            let end = block_end(&lines, spec, 0);
            let value = |key: &str| child_value(&lines, spec, end, 2, key);
            let kind = value("type").unwrap_or_else(|| "ClusterIP".to_string());
            let headless = value("clusterIP").is_some_and(|ip| ip == "None");
            (matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") && !headless).then(|| ServiceControl {
                name,
                kind,
                external_policy: value("externalTrafficPolicy"),
                internal_policy: value("internalTrafficPolicy"),
                affinity: value("sessionAffinity"),
            })
        })
        .collect()
}

/// The Service fields a control sets, and the values each takes.
pub const SERVICE_FIELDS: [(&str, &[&str]); 4] = [
    ("type", &["ClusterIP", "NodePort", "LoadBalancer"]),
    ("externalTrafficPolicy", &["Cluster", "Local"]),
    ("internalTrafficPolicy", &["Cluster", "Local"]),
    ("sessionAffinity", &["None", "ClientIP"]),
];

/// Sets one of `SERVICE_FIELDS` in the spec of the Service named `name`. A ClusterIP Service keeps
/// no nodePort or healthCheckNodePort, as the API server wipes them when an update changes the
/// type (pkg/registry/core/service/strategy.go, `dropTypeDependentFields`). It also keeps no
/// externalTrafficPolicy, and a Service without session affinity no sessionAffinityConfig: the
/// API server does not wipe those but refuses them (validation.go), so the control removes them
/// as a learner running `kubectl edit` would have to.
pub fn set_service(yaml: &str, name: &str, field: &str, value: &str) -> Option<String> {
    SERVICE_FIELDS.iter().any(|(key, values)| *key == field && values.contains(&value)).then_some(())?;
    edit_document(yaml, "Service", name, |mut lines| {
        let spec = find_block(&lines, 0, lines.len(), 0, "spec")?;
        let end = block_end(&lines, spec, 0);
        set_child(&mut lines, spec, end, 2, field, value);
        let mut end = block_end(&lines, spec, 0);
        let drop = |lines: &mut Vec<String>, key: &str, end: &mut usize| {
            if let Some((at, until)) = child_block(lines, spec, *end, 2, key) {
                lines.drain(at..until);
                *end -= until - at;
            }
        };
        if field == "type" && value == "ClusterIP" {
            drop(&mut lines, "externalTrafficPolicy", &mut end);
            drop(&mut lines, "healthCheckNodePort", &mut end);
            lines = strip_node_ports(lines, spec, end)?;
        }
        if field == "sessionAffinity" && value == "None" {
            drop(&mut lines, "sessionAffinityConfig", &mut end);
        }
        Some(lines)
    })
}

/// Removes `nodePort: N` from the ports in `lines[spec..end]`, block style or flow style; `None`
/// for a port list item that starts with it (`- nodePort: …`), a shape the control leaves alone.
fn strip_node_ports(lines: Vec<String>, spec: usize, end: usize) -> Option<Vec<String>> {
    let mut out = Vec::with_capacity(lines.len());
    for (index, line) in lines.into_iter().enumerate() {
        let trimmed = line.trim_start();
        if index <= spec || index >= end || !line.contains("nodePort:") {
            out.push(line);
        } else if trimmed.starts_with("- nodePort:") {
            return None;
        } else if !trimmed.starts_with("nodePort:") {
            out.push(strip_flow_node_port(&line));
        }
    }
    Some(out)
}

/// `{port: 80, nodePort: 30080}` → `{port: 80}`; `{nodePort: 30080, port: 80}` → `{port: 80}`.
fn strip_flow_node_port(line: &str) -> String {
    let Some(at) = line.find("nodePort:") else { return line.to_string() };
    let after = &line[at + "nodePort:".len()..];
    let tail = &after[after.find([',', '}']).unwrap_or(after.len())..];
    match tail.strip_prefix(',') {
        Some(rest) => format!("{}{}", &line[..at], rest.trim_start()),
        None => format!("{}{tail}", line[..at].trim_end().trim_end_matches(',')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lbplay_core::lessons;
    use lbplay_core::scenario::{self, Source};

    fn loaded(yaml: &str) -> lbplay_core::model::Cluster {
        scenario::load(&[Source { name: "t", text: yaml }]).expect("the edit loads").cluster
    }

    #[test]
    fn test_every_lesson_can_switch_mode_and_scheduler_and_the_loader_agrees() {
        for lesson in lessons::all() {
            let Some(ipvs) = set_scheduler(lesson.yaml, "sh") else { continue };
            let cluster = loaded(&ipvs);
            assert_eq!(cluster.kube_proxy.mode.as_str(), "ipvs", "{}", lesson.id);
            assert_eq!(cluster.kube_proxy.ipvs_scheduler, "sh", "{}", lesson.id);
            let back = set_mode(&ipvs, "nftables").expect("the block is still there");
            assert_eq!(loaded(&back).kube_proxy.mode.as_str(), "nftables", "{}", lesson.id);
        }
        let changed = lessons::all().iter().filter(|lesson| set_mode(lesson.yaml, "ipvs").is_some()).count();
        assert!(changed >= 5, "most lessons have a kubeProxy block ({changed})");
    }

    #[test]
    fn test_shapes_it_does_not_understand_are_left_alone() {
        assert_eq!(set_mode("kind: Service\n", "ipvs"), None);
        assert_eq!(set_mode("spec: {kubeProxy: {mode: ipvs}}\n", "iptables"), None);
        assert_eq!(set_replicas("kind: Deployment\nmetadata:\n  name: a\n", "a", 3), None);
    }

    #[test]
    fn test_replicas_of_a_deployment() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n---\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n";
        assert_eq!(deployments(yaml), vec![("web".to_string(), 2), ("api".to_string(), 1)]);
        let scaled = set_replicas(yaml, "api", 5).expect("api is there");
        assert_eq!(deployments(&scaled), vec![("web".to_string(), 2), ("api".to_string(), 5)]);
        assert_eq!(set_replicas(yaml, "nope", 5), None);
        for lesson in lessons::all() {
            for (name, replicas) in deployments(lesson.yaml) {
                let scaled = set_replicas(lesson.yaml, &name, replicas + 1).expect("scales");
                let pods = loaded(&scaled).pods.iter().filter(|pod| pod.name.starts_with(&name)).count();
                let before = loaded(lesson.yaml).pods.iter().filter(|pod| pod.name.starts_with(&name)).count();
                assert_eq!(pods, before + 1, "{}: {name}", lesson.id);
            }
        }
    }

    #[test]
    fn test_pods_can_be_marked_not_ready_and_deleted() {
        let lesson = lessons::get("clusterip-iptables").expect("the lesson");
        let found = pods(lesson.yaml);
        assert_eq!(
            found.iter().map(|pod| pod.name.as_str()).collect::<Vec<_>>(),
            ["web-a", "web-b", "web-c", "client"]
        );
        assert!(found.iter().all(|pod| pod.ready));
        let ready = |cluster: &lbplay_core::model::Cluster, name: &str| {
            cluster.pods.iter().find(|pod| pod.name == name).map(|pod| pod.ready)
        };
        let down = set_pod_ready(lesson.yaml, "web-b", false).expect("web-b is there");
        assert_eq!(ready(&loaded(&down), "web-b"), Some(false));
        assert_eq!(ready(&loaded(&down), "web-a"), Some(true));
        assert!(!pods(&down)[1].ready);
        // Marking it again replaces the condition instead of adding a second one.
        let up = set_pod_ready(&down, "web-b", true).expect("still there");
        assert_eq!(up.matches("type: Ready").count(), 1);
        assert_eq!(ready(&loaded(&up), "web-b"), Some(true));
        let gone = delete_pod(lesson.yaml, "web-c").expect("web-c is there");
        assert_eq!(ready(&loaded(&gone), "web-c"), None);
        assert_eq!(loaded(&gone).pods.len(), loaded(lesson.yaml).pods.len() - 1);
        assert_eq!(delete_pod(lesson.yaml, "nope"), None);
        // Every lesson's Pod documents take both edits and still load.
        for lesson in lessons::all() {
            for pod in pods(lesson.yaml) {
                let down = set_pod_ready(lesson.yaml, &pod.name, false).expect("marks");
                assert_eq!(ready(&loaded(&down), &pod.name), Some(false), "{}: {}", lesson.id, pod.name);
                let _ = loaded(&delete_pod(lesson.yaml, &pod.name).expect("deletes"));
            }
        }
    }

    #[test]
    fn test_a_service_type_policies_and_affinity() {
        let lesson = lessons::get("clusterip-iptables").expect("the lesson");
        let web = &services(lesson.yaml)[0];
        assert_eq!((web.name.as_str(), web.kind.as_str(), web.external_policy.as_deref()), ("web", "NodePort", None));
        let service = |yaml: &str| loaded(yaml).services.into_iter().find(|s| s.name == "web").expect("web");
        let local = set_service(lesson.yaml, "web", "externalTrafficPolicy", "Local").expect("sets");
        assert_eq!(format!("{:?}", service(&local).external_traffic_policy), "Local");
        // Back to ClusterIP: the nodePort and the external policy go, and it loads.
        let cluster_ip = set_service(&local, "web", "type", "ClusterIP").expect("sets");
        assert!(!cluster_ip.contains("nodePort") && !cluster_ip.contains("externalTrafficPolicy"), "{cluster_ip}");
        assert!(service(&cluster_ip).ports.iter().all(|port| port.node_port.is_none()));
        assert_eq!(services(&cluster_ip)[0].kind, "ClusterIP");
        let internal = set_service(lesson.yaml, "web", "internalTrafficPolicy", "Local").expect("sets");
        assert_eq!(format!("{:?}", service(&internal).internal_traffic_policy), "Local");
        let affinity = lessons::get("affinity").expect("the lesson");
        let name = services(affinity.yaml)[0].name.clone();
        let none = set_service(affinity.yaml, &name, "sessionAffinity", "None").expect("sets");
        assert!(!none.contains("sessionAffinityConfig"));
        assert_eq!(services(&none)[0].affinity.as_deref(), Some("None"));
        let _ = loaded(&none);
        assert_eq!(set_service(lesson.yaml, "web", "type", "ExternalName"), None, "only the listed values");
        assert_eq!(strip_flow_node_port("  - {port: 80, nodePort: 30080}"), "  - {port: 80}");
        assert_eq!(strip_flow_node_port("  - {nodePort: 30080, port: 80}"), "  - {port: 80}");
        // Every lesson's Services take every value of every field, and still load.
        for lesson in lessons::all() {
            for svc in services(lesson.yaml) {
                for (field, values) in SERVICE_FIELDS {
                    for value in values {
                        let Some(edited) = set_service(lesson.yaml, &svc.name, field, value) else { continue };
                        // What the API server refuses stays refused (a ClusterIP Service keeps no
                        // loadBalancerSourceRanges; an internal Service no external policy).
                        if let Err(problems) = scenario::load(&[Source { name: "t", text: &edited }]) {
                            let errors = problems.iter().filter(|p| p.severity == scenario::Severity::Error);
                            for problem in errors {
                                let field = problem.field.as_deref().unwrap_or_default();
                                assert!(
                                    field.starts_with("spec.loadBalancer") || field == "spec.externalTrafficPolicy",
                                    "{}: {} {field}={value}: {problem}",
                                    lesson.id,
                                    svc.name
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
