//! A catalogue of malformed and tricky scenarios, each with the exact text `lbplay check` shows.
//!
//! One `check` helper, many tiny cases (the rust-analyzer style with `expect-test`). Run with
//! `UPDATE_EXPECT=1 cargo test -p lbplay-core --test scenario_catalogue` to refresh the texts
//! after a deliberate change of wording, then read the diff.

use expect_test::{Expect, expect};
use lbplay_core::scenario::{Source, load};

/// Loads `input` as `in.yaml` and prints either `ok` and the warnings, or every problem.
fn check(input: &str, expect: Expect) {
    let out = match load(&[Source { name: "in.yaml", text: input }]) {
        Ok(loaded) => {
            let mut lines = vec!["ok".to_string()];
            lines.extend(loaded.warnings.iter().map(ToString::to_string));
            if !loaded.ignored.is_empty() {
                lines.push(format!("ignored: {}", loaded.ignored.join(", ")));
            }
            lines.join("\n")
        }
        Err(problems) => problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    };
    expect.assert_eq(&out);
}

/// A Service `web` without a selector, with whatever `spec` lines follow.
fn service(extra: &str) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n{extra}")
}

/// A Service `web` with the selector `app: web`, with whatever `spec` lines follow.
fn selected(extra: &str) -> String {
    service(&format!("  selector: {{app: web}}\n{extra}"))
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-a\n  labels: {app: web}\nspec:\n  containers:\n  - name: web\n    image: nginx\n    ports:\n    - {name: http, containerPort: 8080}\n";

#[test]
fn bad_indentation() {
    check(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n   namespace: default\n",
        expect!["in.yaml:5:13: error: invalid YAML: mapping values are not allowed in this context"],
    );
}

#[test]
fn tab_indentation() {
    check(
        "apiVersion: v1\nkind: Service\nmetadata:\n\tname: web\n",
        expect!["in.yaml:4:2: error: invalid YAML: tabs disallowed within this context (block indentation)"],
    );
}

#[test]
fn port_as_a_quoted_string() {
    check(
        &service("  ports:\n  - port: \"80\"\n"),
        expect![[
            r#"in.yaml:7:11: error: Service/default/web: spec.ports[0].port: expected an integer, got a string ("80")"#
        ]],
    );
}

#[test]
fn port_out_of_range() {
    check(
        &service("  ports:\n  - port: 70000\n"),
        expect![[
            r#"in.yaml:7:11: error: Service/default/web: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"#
        ]],
    );
}

#[test]
fn target_port_name_no_pod_has() {
    check(
        &format!("{}---\n{POD}", selected("  ports:\n  - port: 80\n    targetPort: grpc\n")),
        expect![[r#"
        ok
        in.yaml:8:5: warning: Service/default/web: spec.ports: pod web-a has no container port named `grpc` (TCP); the controller leaves this port out for it"#]],
    );
}

#[test]
fn target_port_quoted_number() {
    check(
        &service("  ports:\n  - port: 80\n    targetPort: \"8080\"\n"),
        expect![[
            r#"in.yaml:8:17: error: Service/default/web: spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z) (a quoted number is a port name; write 8080 without quotes)"#
        ]],
    );
}

#[test]
fn selector_matching_nothing() {
    check(
        &selected("  ports:\n  - port: 80\n"),
        expect![[r#"
        ok
        in.yaml:6:13: warning: Service/default/web: spec.selector: selector app=web matches no pods in namespace default; the Service has no endpoints"#]],
    );
}

#[test]
fn duplicate_service_names() {
    let one = service("  ports:\n  - port: 80\n");
    check(
        &format!("{one}---\n{one}"),
        expect![
            "in.yaml:12:9: error: Service/default/web: metadata.name: Service default/web is defined twice; the first is at in.yaml:1:1"
        ],
    );
}

#[test]
fn missing_kind() {
    check(
        "apiVersion: v1\nmetadata:\n  name: web\n",
        expect![
            "in.yaml:1:1: error: kind: the object (metadata.name web) has no `kind`; every object needs `apiVersion` and `kind`"
        ],
    );
}

#[test]
fn missing_api_version() {
    check(
        "kind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n",
        expect!["in.yaml:1:1: error: Service/default/web: apiVersion: the object has no `apiVersion`; Service is `v1`"],
    );
}

#[test]
fn missing_name() {
    check(
        "apiVersion: v1\nkind: Service\nspec:\n  ports:\n  - port: 80\n",
        expect!["in.yaml:1:1: error: Service/default/(no name): metadata.name: name or generateName is required"],
    );
}

#[test]
fn empty_input_is_an_error_not_a_default_cluster() {
    check(
        "---\n---\n",
        expect![
            "in.yaml:1:1: error: the input holds no Kubernetes objects (it is empty, or only comments and `---`); kubectl says `no objects passed to apply`"
        ],
    );
    check(
        "",
        expect![
            "in.yaml:1:1: error: the input holds no Kubernetes objects (it is empty, or only comments and `---`); kubectl says `no objects passed to apply`"
        ],
    );
    check(
        "# only a comment\n",
        expect![
            "in.yaml:1:1: error: the input holds no Kubernetes objects (it is empty, or only comments and `---`); kubectl says `no objects passed to apply`"
        ],
    );
}

#[test]
fn kinds_are_case_sensitive() {
    check(
        "apiVersion: v1\nkind: service\nmetadata: {name: web}\n",
        expect![[
            r#"in.yaml:2:7: error: service/default/web: kind: no kind "service" is served in v1; kinds are case-sensitive: did you mean "Service"?"#
        ]],
    );
    // Another group's kind of a similar name is a custom resource, ignored as before.
    check(
        "apiVersion: example.com/v1\nkind: service\nmetadata: {name: web}\n",
        expect!["ok\nignored: service/default/web"],
    );
}

#[test]
fn an_ipvs_scheduler_the_kernel_lacks_is_refused_where_it_is_written() {
    check(
        "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: c}\nspec:\n  kubeProxy: {mode: ipvs, ipvs: {scheduler: RR}}\n",
        expect![[
            r#"in.yaml:5:45: error: Cluster/c: spec.kubeProxy.ipvs.scheduler: Unsupported value: "RR": supported values: "rr", "wrr", "lc", "wlc", "sed", "nq", "dh", "sh", "lblc", "lblcr", "mh", "fo", "ovf", "twos" (the kernel's IPVS schedulers); scheduler names are lower case: "rr""#
        ]],
    );
}

#[test]
fn a_document_that_is_a_list() {
    check(
        "- apiVersion: v1\n  kind: Service\n",
        expect![
            "in.yaml:1:1: error: a document must be a Kubernetes object (a mapping with `apiVersion` and `kind`), got a list"
        ],
    );
}

#[test]
fn huge_document() {
    let text = format!("# {}\n", "x".repeat(33 * 1024 * 1024));
    check(
        &text,
        expect!["in.yaml:1:1: error: the input is 34603011 bytes, over lbplay's limit of 33554432 bytes (32 MiB)"],
    );
}

#[test]
fn deep_nesting() {
    let text = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
    check(&text, expect!["in.yaml:1:68: error: the YAML is nested more than 64 levels deep"]);
}

#[test]
fn deep_block_nesting() {
    let mut text = String::new();
    for depth in 0..300 {
        text.push_str(&" ".repeat(depth * 2));
        text.push_str("a:\n");
    }
    check(&text, expect!["in.yaml:66:131: error: the YAML is nested more than 64 levels deep"]);
}

#[test]
fn duplicate_key() {
    check(
        "apiVersion: v1\nkind: Service\nkind: Pod\nmetadata: {name: web}\n",
        expect!["in.yaml:3:1: error: invalid YAML: duplicated key in mapping"],
    );
}

#[test]
fn wrong_api_version_for_a_kind() {
    check(
        "apiVersion: apps/v1\nkind: Service\nmetadata: {name: web}\n",
        expect!["in.yaml:1:13: error: Service/default/web: apiVersion: Service `apps/v1` is not served; use `v1`"],
    );
}

#[test]
fn unknown_kinds_are_ignored() {
    check(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\napiVersion: example.com/v1\nkind: Service\nmetadata: {name: crd}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
        expect![[r#"
            ok
            ignored: ConfigMap/default/settings, Service/default/crd"#]],
    );
}

#[test]
fn cluster_ip_outside_the_service_cidr() {
    check(
        &service("  clusterIP: 10.0.0.5\n  ports:\n  - port: 80\n"),
        expect![[
            r#"in.yaml:6:14: error: Service/default/web: spec.clusterIP: Invalid value: []string{"10.0.0.5"}: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12"#
        ]],
    );
}

#[test]
fn two_services_on_one_cluster_ip() {
    let one = service("  clusterIP: 10.96.0.50\n  ports:\n  - port: 80\n");
    let two = one.replace("name: web", "name: api");
    check(
        &format!("{one}---\n{two}"),
        expect![[
            r#"in.yaml:15:14: error: Service/default/api: spec.clusterIP: Invalid value: []string{"10.96.0.50"}: failed to allocate IP 10.96.0.50: provided IP is already allocated (to Service default/web)"#
        ]],
    );
}

#[test]
fn ipv6_cluster_ip() {
    check(
        &service("  clusterIP: fd00::10\n  ports:\n  - port: 80\n"),
        expect![
            "in.yaml:6:14: error: Service/default/web: spec.clusterIP: `fd00::10` is an IPv6 address; lbplay models IPv4 only"
        ],
    );
}

#[test]
fn ipv6_family_is_not_modelled() {
    check(
        &service("  ipFamilyPolicy: PreferDualStack\n  ipFamilies: [IPv4, IPv6]\n  ports:\n  - port: 80\n"),
        expect![[r#"
            ok
            in.yaml:7:22: warning: Service/default/web: spec.ipFamilies[1]: IPv6 is not modelled: lbplay gives this Service its IPv4 address only"#]],
    );
}

#[test]
fn node_port_out_of_range() {
    check(
        &service("  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 8080\n"),
        expect![[
            r#"in.yaml:9:15: error: Service/default/web: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"#
        ]],
    );
}

#[test]
fn node_port_used_twice() {
    let one = service("  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 30080\n");
    let two = one.replace("name: web", "name: api");
    check(
        &format!("{one}---\n{two}"),
        expect![[
            r#"in.yaml:19:15: error: Service/default/api: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated (to Service default/web)"#
        ]],
    );
}

#[test]
fn node_port_on_a_cluster_ip_service() {
    check(
        &service("  ports:\n  - port: 80\n    nodePort: 30080\n"),
        expect![[
            r#"in.yaml:8:15: error: Service/default/web: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"#
        ]],
    );
}

#[test]
fn headless_node_port() {
    check(
        &service("  type: NodePort\n  clusterIP: None\n  ports:\n  - port: 80\n"),
        expect![[
            r#"in.yaml:7:14: error: Service/default/web: spec.clusterIP: Invalid value: "None": may not be set to 'None' for NodePort services"#
        ]],
    );
}

#[test]
fn external_name_without_a_name() {
    check(
        "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n  type: ExternalName\n",
        expect![[r#"in.yaml:5:3: error: Service/default/db: spec.externalName: Required value"#]],
    );
}

#[test]
fn multi_port_without_names() {
    check(
        &service("  ports:\n  - port: 80\n  - port: 443\n"),
        expect![[r#"
            in.yaml:7:5: error: Service/default/web: spec.ports[0].name: Required value
            in.yaml:8:5: error: Service/default/web: spec.ports[1].name: Required value"#]],
    );
}

#[test]
fn unknown_service_type() {
    check(
        &service("  type: Nodeport\n  ports:\n  - port: 80\n"),
        expect![[
            r#"in.yaml:6:9: error: Service/default/web: spec.type: Unsupported value: "Nodeport": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#
        ]],
    );
}

#[test]
fn invalid_service_name() {
    check(
        "apiVersion: v1\nkind: Service\nmetadata: {name: Web_1}\nspec:\n  ports:\n  - port: 80\n",
        expect![[
            r#"in.yaml:3:18: error: Service/default/Web_1: metadata.name: Invalid value: "Web_1": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#
        ]],
    );
}

#[test]
fn session_affinity_timeout_zero() {
    check(
        &service(
            "  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP: {timeoutSeconds: 0}\n  ports:\n  - port: 80\n",
        ),
        expect![[
            r#"in.yaml:8:32: error: Service/default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"#
        ]],
    );
}

#[test]
fn external_traffic_policy_on_cluster_ip() {
    check(
        &service("  externalTrafficPolicy: Local\n  ports:\n  - port: 80\n"),
        expect![[
            r#"in.yaml:6:26: error: Service/default/web: spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services"#
        ]],
    );
}

#[test]
fn health_check_node_port_on_node_port_service() {
    check(
        &service("  type: NodePort\n  healthCheckNodePort: 32000\n  ports:\n  - port: 80\n"),
        expect![[
            r#"in.yaml:7:24: error: Service/default/web: spec.healthCheckNodePort: Invalid value: 32000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"#
        ]],
    );
}

#[test]
fn billion_replicas() {
    check(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1000000000\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n",
        expect![
            "in.yaml:5:13: error: Deployment/default/web: spec.replicas: 1000000000 replicas is over lbplay's limit of 200000 pods in a scenario"
        ],
    );
}

#[test]
fn deployment_selector_not_matching_template() {
    check(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers: [{name: web, image: nginx}]\n",
        expect![
            "in.yaml:6:13: error: Deployment/default/web: spec.template.metadata.labels: `selector` does not match template `labels`"
        ],
    );
}

#[test]
fn pod_on_an_unknown_node() {
    check(
        &POD.replace("spec:\n", "spec:\n  nodeName: node-9\n"),
        expect![
            "in.yaml:7:13: error: Pod/default/web-a: spec.nodeName: node `node-9` is not in the cluster (nodes: node-1, node-2, node-3)"
        ],
    );
}

#[test]
fn pod_ip_outside_its_node_pod_cidr() {
    check(
        &format!("{}status:\n  podIP: 10.244.2.5\n", POD.replace("spec:\n", "spec:\n  nodeName: node-1\n")),
        expect![
            "in.yaml:14:10: error: Pod/default/web-a: status.podIP: 10.244.2.5 is not in node-1's podCIDR 10.244.1.0/24"
        ],
    );
}

#[test]
fn two_pods_on_one_ip() {
    let a = format!("{}status:\n  podIP: 10.244.1.5\n", POD.replace("spec:\n", "spec:\n  nodeName: node-1\n"));
    let b = a.replace("web-a", "web-b");
    check(
        &format!("{a}---\n{b}"),
        expect![
            "in.yaml:29:10: error: Pod/default/web-b: status.podIP: 10.244.1.5 is already the address of pod default/web-a"
        ],
    );
}

#[test]
fn label_value_that_is_a_number() {
    check(
        &POD.replace("labels: {app: web}", "labels: {app: web, version: 2}"),
        expect![
            "in.yaml:5:31: error: Pod/default/web-a: metadata.labels.version: a label value must be a string, got an integer (2); quote it"
        ],
    );
}

#[test]
fn ready_condition_unquoted() {
    check(
        &format!("{POD}status:\n  conditions:\n  - type: Ready\n    status: True\n"),
        expect![[
            r#"in.yaml:15:13: error: Pod/default/web-a: status.conditions[0].status: expected a string, got a boolean (true); write "True" in quotes"#
        ]],
    );
}

#[test]
fn two_cluster_objects() {
    let cluster = "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: a}\nspec: {}\n";
    check(
        &format!("{cluster}---\n{cluster}"),
        expect!["in.yaml:6:1: error: Cluster/a: a scenario holds at most one Cluster object"],
    );
}

#[test]
fn too_many_nodes() {
    let mut text = String::from("apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: big}\nspec:\n  nodes:\n");
    for i in 0..101 {
        text.push_str(&format!("  - {{name: n{i}, ip: 192.168.{}.{}}}\n", i / 200, i % 200 + 1));
    }
    check(&text, expect!["in.yaml:6:5: error: Cluster/big: spec.nodes: 101 nodes is over lbplay's limit of 100"]);
}

#[test]
fn node_pod_cidr_outside_cluster_cidr() {
    check(
        "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: c}\nspec:\n  nodes:\n  - {name: n1, ip: 192.168.1.10, podCIDR: 10.10.0.0/24}\n",
        expect![
            "in.yaml:6:43: error: Cluster/c: spec.nodes[0].podCIDR: podCIDR 10.10.0.0/24 is not inside the clusterCIDR 10.244.0.0/16"
        ],
    );
}

#[test]
fn unknown_proxy_mode() {
    check(
        "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata: {name: c}\nspec:\n  kubeProxy: {mode: ebpf}\n",
        expect![[
            r#"in.yaml:5:21: error: Cluster/c: spec.kubeProxy.mode: unknown proxy mode `ebpf`: supported values are "iptables", "ipvs", "nftables", "userspace""#
        ]],
    );
}

#[test]
fn v1_ingress_written_the_old_way() {
    check(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  rules:\n  - http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          serviceName: web\n          servicePort: 80\n",
        expect![[r#"
            ok
            in.yaml:11:11: error: Ingress/default/web: spec.rules[0].http.paths[0].backend.serviceName: `serviceName` is the old v1beta1 form; in networking.k8s.io/v1 write `service: {name: ..., port: {number: ...}}` (the API server rejects this Ingress; the rest of the scenario runs without it)"#]],
    );
}

#[test]
fn v1_ingress_without_path_type() {
    check(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  rules:\n  - http:\n      paths:\n      - path: /\n        backend:\n          service: {name: web, port: {number: 80}}\n",
        expect![[r#"
            ok
            in.yaml:8:9: error: Ingress/default/web: spec.rules[0].http.paths[0].pathType: required value: supported values are "Exact", "ImplementationSpecific", "Prefix" (the API server rejects this Ingress; the rest of the scenario runs without it)"#]],
    );
}

#[test]
fn virtual_service_weights_not_100() {
    check(
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 50\n    - destination: {host: reviews, subset: v2}\n      weight: 40\n",
        expect![[r#"
            in.yaml:7:5: error: VirtualService/default/reviews: spec.http[0].route: total destination weight = 90 != 100
            in.yaml:8:27: warning: VirtualService/default/reviews: spec.http[0].route[0].destination.host: IST0101: referenced host not found: "reviews"; Envoy answers requests routed here with 503, response flag NC (no cluster)
            in.yaml:10:27: warning: VirtualService/default/reviews: spec.http[0].route[1].destination.host: IST0101: referenced host not found: "reviews"; Envoy answers requests routed here with 503, response flag NC (no cluster)"#]],
    );
}

#[test]
fn destination_rule_unknown_load_balancer() {
    check(
        "apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy:\n    loadBalancer: {simple: FASTEST}\n",
        expect![[r#"
            in.yaml:5:9: warning: DestinationRule/default/reviews: spec.host: IST0101: referenced host not found: "reviews"; this DestinationRule applies to no Service
            in.yaml:7:28: error: DestinationRule/default/reviews: spec.trafficPolicy.loadBalancer.simple: unknown load balancer `FASTEST`: supported values are UNSPECIFIED, ROUND_ROBIN, LEAST_CONN, LEAST_REQUEST, RANDOM, PASSTHROUGH"#]],
    );
}

#[test]
fn endpoint_slice_without_service_label() {
    check(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: db-1}\naddressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n",
        expect![[r#"
            ok
            in.yaml:3:11: warning: EndpointSlice/default/db-1: metadata.labels: this EndpointSlice has no `kubernetes.io/service-name` label, so kube-proxy ignores it"#]],
    );
}

#[test]
fn several_problems_are_reported_together() {
    check(
        &format!(
            "{}---\n{}",
            service("  type: NodePort\n  ports:\n  - port: 0\n    nodePort: 99999\n"),
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n"
        ),
        expect![[r#"
            in.yaml:8:11: error: Service/default/web: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive
            in.yaml:14:7: error: Pod/default/p: spec.containers: a Pod needs at least one container"#]],
    );
}

#[test]
fn a_problem_in_the_second_file_names_that_file() {
    let ok = service("  ports:\n  - port: 80\n");
    let out = load(&[
        Source { name: "a.yaml", text: &ok },
        Source {
            name: "b.yaml",
            text: "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
        },
    ]);
    let problems = out.unwrap_err();
    expect!["b.yaml:3:18: error: Service/default/web: metadata.name: Service default/web is defined twice; the first is at a.yaml:1:1"].assert_eq(&problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
}

#[test]
fn service_name_starting_with_a_digit() {
    // Service names are DNS-1035 labels: `1web` is a fine Pod name but not a Service name.
    check(
        &service("  ports:\n  - port: 80\n").replace("name: web", "name: 1web"),
        expect![[
            r#"in.yaml:4:9: error: Service/default/1web: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#
        ]],
    );
}

#[test]
fn target_port_zero_defaults_to_port() {
    check(&service("  ports:\n  - port: 80\n    targetPort: 0\n"), expect![[r#"ok"#]]);
}

#[test]
fn session_affinity_config_without_client_ip() {
    check(
        &service("  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n  ports:\n  - port: 80\n"),
        expect![[
            r#"in.yaml:6:26: error: Service/default/web: spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None"#
        ]],
    );
}

#[test]
fn allocate_load_balancer_node_ports_on_cluster_ip() {
    check(
        &service("  allocateLoadBalancerNodePorts: false\n  ports:\n  - port: 80\n"),
        expect![[
            r#"in.yaml:6:34: error: Service/default/web: spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"#
        ]],
    );
}

#[test]
fn node_port_twice_in_one_service() {
    check(
        &service(
            "  type: NodePort\n  ports:\n  - {name: a, port: 80, nodePort: 30080}\n  - {name: b, port: 81, nodePort: 30080}\n  - {name: c, port: 80, protocol: UDP, nodePort: 30080}\n",
        ),
        expect![[r#"in.yaml:9:35: error: Service/default/web: spec.ports[1].nodePort: Duplicate value: 30080"#]],
    );
}

#[test]
fn endpoints_without_a_service() {
    check(
        "apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: db\nsubsets:\n- addresses: [{ip: 10.0.0.9}]\n  ports: [{port: 5432}]\n",
        expect![[r#"ok
in.yaml:1:1: warning: Endpoints/default/db: no Service default/db to go with these endpoints; these Endpoints are not mirrored"#]],
    );
}

#[test]
fn unknown_fields_are_warned_of_with_the_field_meant() {
    // kubectl's strict field validation warns `unknown field "spec.ports[0].targetport"`; lbplay
    // says which field was probably meant.
    check(
        &selected("  ports:\n  - port: 80\n    targetport: 8080\n"),
        expect![[r#"
            ok
            in.yaml:6:13: warning: Service/default/web: spec.selector: selector app=web matches no pods in namespace default; the Service has no endpoints
            in.yaml:9:5: warning: Service/default/web: spec.ports[0].targetport: unknown field "targetport" (did you mean "targetPort"?); it is ignored, as the API server drops unknown fields (kubectl warns of them)"#]],
    );
    check(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  lables: {app: web}\nspec:\n  containers:\n  - name: c\n    image: nginx\n    env: [{name: X, valeu: 1}]\n    prots: []\n",
        expect![[r#"
            ok
            in.yaml:5:3: warning: Pod/default/a: metadata.lables: unknown field "lables" (did you mean "labels"?); it is ignored, as the API server drops unknown fields (kubectl warns of them)
            in.yaml:11:5: warning: Pod/default/a: spec.containers[0].prots: unknown field "prots" (did you mean "ports"?); it is ignored, as the API server drops unknown fields (kubectl warns of them)"#]],
    );
}

#[test]
fn a_mis_indented_selector_is_pointed_at() {
    // `app: web` at the level of `selector:` leaves the selector empty.
    check(
        &service("  ports:\n  - port: 80\n  selector:\n  app: web\n"),
        expect![[r#"
            ok
            in.yaml:9:3: warning: Service/default/web: spec.app: unknown field "app" (`spec.selector` above it is empty: indent this line under `selector:`); it is ignored, as the API server drops unknown fields (kubectl warns of them)"#]],
    );
    // `selector:` indented into the port's mapping.
    check(
        &service("  ports:\n  - port: 80\n    selector:\n      app: web\n"),
        expect![[r#"
            ok
            in.yaml:8:5: warning: Service/default/web: spec.ports[0].selector: unknown field "selector" (it belongs at `spec.selector`: check this line's indentation); it is ignored, as the API server drops unknown fields (kubectl warns of them)"#]],
    );
}
