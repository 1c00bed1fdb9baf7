//! The scenario loader on whole scenarios: the built-in one, the source text's YAML, and the
//! controllers' semantics case by case.

use std::net::Ipv4Addr;

use lbplay_core::model::{ProxyMode, ServiceType, TargetPort};
use lbplay_core::net::Proto;
use lbplay_core::scenario::{Loaded, Source, load, report};

fn load_one(text: &str) -> Loaded {
    match load(&[Source { name: "test.yaml", text }]) {
        Ok(loaded) => loaded,
        Err(problems) => {
            let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!("the scenario did not load:\n{}", shown.join("\n"))
        }
    }
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

#[test]
fn builtin_clusterip_iptables_loads_as_written() {
    let text = include_str!("../scenarios/clusterip-iptables.yaml");
    let loaded = load_one(text);
    let cluster = &loaded.cluster;
    assert_eq!(cluster.name, "clusterip-iptables");
    assert_eq!(cluster.kube_proxy.mode, ProxyMode::Iptables);
    assert_eq!(cluster.service_cidr.to_string(), "10.96.0.0/12");
    assert_eq!(cluster.cluster_cidr.to_string(), "10.244.0.0/16");
    let nodes: Vec<(&str, Ipv4Addr, String)> =
        cluster.nodes.iter().map(|n| (n.name.as_str(), n.ip, n.pod_cidr.to_string())).collect();
    assert_eq!(
        nodes,
        vec![
            ("node-1", ip("192.168.1.10"), "10.244.1.0/24".to_string()),
            ("node-2", ip("192.168.1.11"), "10.244.2.0/24".to_string()),
            ("node-3", ip("192.168.1.12"), "10.244.3.0/24".to_string()),
        ]
    );
    assert_eq!(cluster.clients.len(), 1);
    assert_eq!((cluster.clients[0].name.as_str(), cluster.clients[0].ip), ("laptop", ip("192.168.1.50")));
    let pods: Vec<(&str, &str, Ipv4Addr, bool)> =
        cluster.pods.iter().map(|p| (p.name.as_str(), p.node.as_str(), p.ip, p.ready)).collect();
    assert_eq!(
        pods,
        vec![
            ("web-a", "node-1", ip("10.244.1.5"), true),
            ("web-b", "node-2", ip("10.244.2.7"), true),
            ("web-c", "node-3", ip("10.244.3.9"), true),
            ("client", "node-1", ip("10.244.1.20"), true),
        ]
    );
    assert_eq!(cluster.services.len(), 1);
    let web = &cluster.services[0];
    assert_eq!((web.namespace.as_str(), web.name.as_str()), ("default", "web"));
    assert_eq!(web.kind, ServiceType::NodePort);
    assert_eq!(web.cluster_ip, Some(ip("10.96.100.10")));
    assert_eq!(web.ports.len(), 1);
    let port = &web.ports[0];
    assert_eq!(port.name.as_deref(), Some("http"));
    assert_eq!(port.protocol, Proto::Tcp);
    assert_eq!(port.port, 80);
    assert_eq!(port.target_port, TargetPort::Name("http".into()));
    assert_eq!(port.node_port, Some(30080));
    // The controller's slices: the named port resolved per pod to 8080, ready, with node and pod.
    let endpoints = cluster.endpoints_for(web, port);
    let shown: Vec<String> = endpoints
        .iter()
        .map(|e| {
            format!(
                "{} ready={} serving={} terminating={} node={} pod={}",
                e.endpoint_string(),
                e.ready,
                e.serving,
                e.terminating,
                e.node_name.as_deref().unwrap_or("-"),
                e.pod.as_deref().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            "10.244.1.5:8080 ready=true serving=true terminating=false node=node-1 pod=default/web-a",
            "10.244.2.7:8080 ready=true serving=true terminating=false node=node-2 pod=default/web-b",
            "10.244.3.9:8080 ready=true serving=true terminating=false node=node-3 pod=default/web-c",
        ]
    );
    assert_eq!(cluster.endpoint_slices.len(), 1);
    assert!(cluster.endpoint_slices[0].name.starts_with("web-"));
    assert_eq!(cluster.endpoint_slices[0].name.len(), "web-".len() + 5);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(loaded.ignored.is_empty());
    // Loading twice gives the same model, byte for byte.
    assert_eq!(report(&load_one(text)), report(&loaded));
}

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/scenario/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn warnings(loaded: &Loaded) -> String {
    loaded.warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

#[test]
fn source_text_my_service_loads_as_printed() {
    let loaded = load_one(&data("source-my-service.yaml"));
    let cluster = &loaded.cluster;
    // No Cluster object: the default cluster.
    assert_eq!(cluster.nodes.len(), 3);
    assert_eq!(cluster.clients[0].name, "laptop");
    let service = &cluster.services[0];
    assert_eq!(service.name, "my-service");
    assert_eq!(service.kind, ServiceType::ClusterIp);
    assert!(cluster.service_cidr.contains(service.cluster_ip.unwrap()));
    assert_eq!(service.ports[0].port, 80);
    assert_eq!(service.ports[0].target_port, TargetPort::Number(9376));
    expect_test::expect!["test.yaml:7:5: warning: Service/default/my-service: spec.selector: selector app=MyApp matches no pods in namespace default; the Service has no endpoints"].assert_eq(&warnings(&loaded));
}

#[test]
fn source_text_ingresses_load_with_the_deprecation_hint() {
    for (file, rules, default_backend) in [
        ("source-ingress-single-service.yaml", 0, true),
        ("source-ingress-fanout.yaml", 1, false),
        ("source-ingress-name-based.yaml", 2, false),
    ] {
        let loaded = load_one(&data(file));
        let ingress = &loaded.extras.ingresses[0];
        assert_eq!(ingress.rules.len(), rules, "{file}");
        assert_eq!(ingress.default_backend.is_some(), default_backend, "{file}");
        assert!(
            loaded.warnings.iter().any(|w| w
                .message
                .starts_with("extensions/v1beta1 Ingress is no longer served since Kubernetes v1.22")),
            "{file}: {}",
            warnings(&loaded)
        );
    }
    let fanout = load_one(&data("source-ingress-fanout.yaml"));
    expect_test::expect![[r#"
        test.yaml:1:13: warning: Ingress/default/test: apiVersion: extensions/v1beta1 Ingress is no longer served since Kubernetes v1.22; lbplay converted it to networking.k8s.io/v1:
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: test
        spec:
          rules:
          - host: foo.bar.com
            http:
              paths:
              - path: /foo
                pathType: ImplementationSpecific
                backend:
                  service:
                    name: s1
                    port:
                      number: 80
              - path: /bar
                pathType: ImplementationSpecific
                backend:
                  service:
                    name: s2
                    port:
                      number: 80
        test.yaml:6:3: warning: Ingress/default/test: spec: backend Service default/s1 does not exist (yet); requests to it will fail
        test.yaml:6:3: warning: Ingress/default/test: spec: backend Service default/s2 does not exist (yet); requests to it will fail"#]].assert_eq(&warnings(&fanout));
}

/// A default cluster plus `body`.
fn pods_and_service(body: &str) -> Loaded {
    load_one(body)
}

fn slices(loaded: &Loaded) -> String {
    let mut out = String::new();
    for slice in &loaded.cluster.endpoint_slices {
        let ports: Vec<String> = slice.ports.iter().map(|p| format!("{:?}:{}", p.name, p.port)).collect();
        out.push_str(&format!("{} [{}]\n", slice.name, ports.join(",")));
        for e in &slice.endpoints {
            out.push_str(&format!(
                "  {} ready={} serving={} terminating={} {}\n",
                e.ip,
                e.ready,
                e.serving,
                e.terminating,
                e.pod.as_deref().unwrap_or("-")
            ));
        }
    }
    out
}

const WEB_SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: http}\n";

fn pod(name: &str, node: &str, port: u16, extra: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: web}}\n{extra}spec:\n  nodeName: {node}\n  containers:\n  - name: c\n    ports:\n    - {{name: http, containerPort: {port}}}\n"
    )
}

#[test]
fn a_named_target_port_resolves_per_pod_into_separate_slices() {
    let text = format!("{WEB_SERVICE}{}{}", pod("a", "node-1", 8080, ""), pod("b", "node-2", 9090, ""));
    let loaded = pods_and_service(&text);
    expect_test::expect![[r#"
        web-8kj9w [Some("http"):8080]
          10.244.1.2 ready=true serving=true terminating=false default/a
        web-gl862 [Some("http"):9090]
          10.244.2.2 ready=true serving=true terminating=false default/b
    "#]]
    .assert_eq(&slices(&loaded));
    let service = &loaded.cluster.services[0];
    let endpoints: Vec<String> =
        loaded.cluster.endpoints_for(service, &service.ports[0]).iter().map(|e| e.endpoint_string()).collect();
    assert_eq!(endpoints, ["10.244.1.2:8080", "10.244.2.2:9090"]);
}

#[test]
fn readiness_publish_not_ready_and_terminating() {
    let not_ready = "status:\n  conditions:\n  - {type: Ready, status: \"False\"}\n";
    let text = format!(
        "{WEB_SERVICE}{}{}---\n{}",
        pod("ready", "node-1", 8080, ""),
        pod("terminating", "node-2", 8080, "  deletionTimestamp: \"2024-01-01T00:00:00Z\"\n"),
        pod("unready", "node-3", 8080, "").trim_start_matches("---\n").to_string() + not_ready
    );
    let loaded = pods_and_service(&text);
    expect_test::expect![[r#"
        web-8kj9w [Some("http"):8080]
          10.244.1.2 ready=true serving=true terminating=false default/ready
          10.244.2.2 ready=false serving=true terminating=true default/terminating
          10.244.3.2 ready=false serving=false terminating=false default/unready
    "#]]
    .assert_eq(&slices(&loaded));
    let published =
        pods_and_service(&text.replace("spec:\n  selector", "spec:\n  publishNotReadyAddresses: true\n  selector"));
    expect_test::expect![[r#"
        web-8kj9w [Some("http"):8080]
          10.244.1.2 ready=true serving=true terminating=false default/ready
          10.244.2.2 ready=true serving=true terminating=true default/terminating
          10.244.3.2 ready=true serving=false terminating=false default/unready
    "#]]
    .assert_eq(&slices(&published));
}

#[test]
fn at_most_100_endpoints_per_slice() {
    let text = format!(
        "{}\n---\n{}",
        WEB_SERVICE.replace("targetPort: http", "targetPort: 8080"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 250\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n"
    );
    let text = text.replace("apiVersion: v1\nkind: Service", "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: big}\nspec:\n  nodes:\n  - {name: n1, ip: 192.168.1.10, podCIDR: 10.244.0.0/22}\n---\napiVersion: v1\nkind: Service");
    let loaded = load_one(&text);
    let sizes: Vec<usize> = loaded.cluster.endpoint_slices.iter().map(|s| s.endpoints.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let names: std::collections::BTreeSet<&str> =
        loaded.cluster.endpoint_slices.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 3);
}

#[test]
fn deployment_replicas_are_spread_and_addressed_deterministically() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 5\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers: [{name: db, image: postgres}]\n";
    let loaded = load_one(text);
    let pods: Vec<String> = loaded.cluster.pods.iter().map(|p| format!("{} {} {}", p.name, p.node, p.ip)).collect();
    expect_test::expect![[r#"
        web-7dbd8b7b5-7566x node-1 10.244.1.2
        web-7dbd8b7b5-974x6 node-2 10.244.2.2
        web-7dbd8b7b5-56n7s node-3 10.244.3.2
        web-7dbd8b7b5-45xh5 node-1 10.244.1.3
        web-7dbd8b7b5-fgdhj node-2 10.244.2.3
        db-0 node-3 10.244.3.3
        db-1 node-1 10.244.1.4"#]]
    .assert_eq(&pods.join("\n"));
    assert_eq!(report(&load_one(text)), report(&loaded));
}

#[test]
fn headless_and_external_name_dns() {
    let text = format!(
        "{}{}{}---\napiVersion: v1\nkind: Service\nmetadata: {{name: db}}\nspec:\n  type: ExternalName\n  externalName: db.example.com\n",
        WEB_SERVICE.replace("spec:\n", "spec:\n  clusterIP: None\n"),
        pod("a", "node-1", 8080, ""),
        pod("b", "node-2", 8080, "").replace(
            "spec:\n  nodeName",
            "status:\n  conditions: [{type: Ready, status: \"False\"}]\nspec:\n  nodeName"
        )
    );
    let loaded = load_one(&text);
    let dns: Vec<String> = loaded.extras.dns.iter().map(ToString::to_string).collect();
    expect_test::expect![[r#"
        db.default.svc.cluster.local CNAME db.example.com
        web.default.svc.cluster.local A 10.244.1.2"#]]
    .assert_eq(&dns.join("\n"));
    assert_eq!(loaded.cluster.services[0].cluster_ip, None);
    assert!(loaded.cluster.endpoint_slices.iter().all(|s| s.service != "db"));
}

#[test]
fn selector_less_services_use_hand_written_endpoints() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: legacy}\nspec:\n  ports: [{name: pg, port: 5432}]\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: legacy}\nsubsets:\n- addresses: [{ip: 192.168.9.1}]\n  notReadyAddresses: [{ip: 192.168.9.2}]\n  ports: [{name: pg, port: 5432}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec:\n  ports: [{port: 80}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ext-1\n  labels: {kubernetes.io/service-name: ext}\naddressType: IPv4\nports: [{port: 8080}]\nendpoints:\n- addresses: [203.0.113.5]\n- addresses: [203.0.113.6]\n  conditions: {ready: false}\n";
    let loaded = load_one(text);
    expect_test::expect![[r#"
        legacy-vj98r [Some("pg"):5432]
          192.168.9.1 ready=true serving=true terminating=false -
          192.168.9.2 ready=false serving=false terminating=false -
        ext-1 [None:8080]
          203.0.113.5 ready=true serving=true terminating=false -
          203.0.113.6 ready=false serving=false terminating=false -
    "#]]
    .assert_eq(&slices(&loaded));
}

#[test]
fn allocation_is_deterministic_and_explicit_values_win() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  type: NodePort\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  clusterIP: 10.96.0.100\n  loadBalancerSourceRanges: [203.0.113.0/24]\n  ports: [{port: 443, nodePort: 31443}]\nstatus:\n  loadBalancer:\n    ingress: [{ip: 198.51.100.7}]\n";
    let loaded = load_one(text);
    let shown: Vec<String> = loaded
        .cluster
        .services
        .iter()
        .map(|s| {
            format!(
                "{} {:?} nodePorts {:?} hc {:?} lb {:?} ranges {:?}",
                s.name,
                s.cluster_ip,
                s.ports.iter().map(|p| p.node_port).collect::<Vec<_>>(),
                s.health_check_node_port,
                s.load_balancer_ips,
                s.load_balancer_source_ranges.iter().map(ToString::to_string).collect::<Vec<_>>()
            )
        })
        .collect();
    expect_test::expect![[r#"
        a Some(10.110.207.38) nodePorts [Some(32696)] hc None lb [] ranges []
        b Some(10.96.0.100) nodePorts [Some(31443)] hc Some(31413) lb [198.51.100.7] ranges ["203.0.113.0/24"]"#]]
    .assert_eq(&shown.join("\n"));
    // Adding an unrelated Service first does not move the others' addresses.
    let more =
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: z}}\nspec:\n  ports: [{{port: 1}}]\n---\n{text}");
    let again = load_one(&more);
    assert_eq!(again.cluster.services[1], loaded.cluster.services[0]);
}

#[test]
fn host_network_pods_share_their_node_address() {
    let text = pod("agent", "node-2", 9100, "").replace("spec:\n  nodeName", "spec:\n  hostNetwork: true\n  nodeName");
    let loaded = load_one(&text);
    assert_eq!(loaded.cluster.pods[0].ip, ip("192.168.1.11"));
    assert!(loaded.cluster.pods[0].host_network);
}

#[test]
fn check_report_of_the_builtin_scenario() {
    let loaded = load_one(include_str!("../scenarios/clusterip-iptables.yaml"));
    expect_test::expect![[r#"
        Cluster clusterip-iptables: kube-proxy mode iptables, serviceCIDR 10.96.0.0/12, clusterCIDR 10.244.0.0/16

        Nodes (3):
          node-1       192.168.1.10    podCIDR 10.244.1.0/24
          node-2       192.168.1.11    podCIDR 10.244.2.0/24
          node-3       192.168.1.12    podCIDR 10.244.3.0/24

        Clients (1):
          laptop       192.168.1.50

        Pods (4):
          default/web-a  10.244.1.5  on node-1  ready  ports http:8080/TCP
          default/web-b  10.244.2.7  on node-2  ready  ports http:8080/TCP
          default/web-c  10.244.3.9  on node-3  ready  ports http:8080/TCP
          default/client  10.244.1.20  on node-1  ready

        Services (1):
          default/web  NodePort  clusterIP 10.96.100.10
            port http 80/TCP -> http  nodePort 30080
            selector app=web

        EndpointSlices (1):
          default/web-8kj9w  for Service web  ports http:8080/TCP
            10.244.1.5  ready,serving  node node-1  pod default/web-a
            10.244.2.7  ready,serving  node node-2  pod default/web-b
            10.244.3.9  ready,serving  node node-3  pod default/web-c

        DNS (1 records):
          web.default.svc.cluster.local A 10.96.100.10
    "#]]
    .assert_eq(&report(&loaded));
}

/// Dynamically allocated ClusterIPs and NodePorts come from the upper part of the range, above
/// upstream's static subrange (256 addresses of a /12; 86 ports of 30000-32767).
#[test]
fn allocation_avoids_the_static_subrange() {
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec:\n  type: NodePort\n  ports: [{{port: 80}}]\n---\n"
        ));
    }
    let loaded = lbplay_core::scenario::load(&[lbplay_core::scenario::Source { name: "in.yaml", text: &text }])
        .expect("200 NodePort Services load");
    let base = u32::from(std::net::Ipv4Addr::new(10, 96, 0, 0));
    for service in &loaded.cluster.services {
        let ip = u32::from(service.cluster_ip.expect("a ClusterIP is allocated"));
        assert!(ip - base > 256, "{} got {:?}", service.name, service.cluster_ip);
        let port = service.ports[0].node_port.expect("a NodePort is allocated");
        assert!(port >= 30086, "{} got {port}", service.name);
    }
}

/// A ReplicaSet `web` of `replicas` pods on two nodes with room for 65,534 pods each.
fn big_replica_set(replicas: usize) -> String {
    format!(
        "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {{name: big}}\nspec:\n  clusterCIDR: 10.128.0.0/9\n  nodes:\n  - {{name: n1, ip: 192.168.1.1, podCIDR: 10.128.0.0/16}}\n  - {{name: n2, ip: 192.168.1.2, podCIDR: 10.129.0.0/16}}\n---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: web}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: c, image: nginx}}]}}\n"
    )
}

#[test]
fn generated_pod_names_that_collide_are_drawn_again() {
    // Replicas 5,101 and 7,484 of ReplicaSet default/web draw the same suffix (`web-psvhn`), as
    // 4,892 replicas of a Deployment did in issue 17; the API server retries a generateName create
    // that conflicts, so every replica exists, each with its own name.
    let loaded = load_one(&big_replica_set(7500));
    let pods = &loaded.cluster.pods;
    assert_eq!(pods.len(), 7500);
    let mut names: Vec<&str> = pods.iter().map(|pod| pod.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 7500);
}
