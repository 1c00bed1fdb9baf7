//! The Envoy sidecar hop, walked whole: an injected client pod's request through its own nat
//! table, its sidecar's listener, route, cluster and endpoint, the server pod's sidecar, and
//! back; VirtualService routing, response flags, retries and the DestinationRule's balancer.
use expect_test::{Expect, expect};

use lbplay_core::http::Header;
use lbplay_core::model::Cluster;
use lbplay_core::scenario::{Source, load};
use lbplay_core::trace::{Direction, StepKind, Trace};
use lbplay_core::walk::{HttpOptions, Load, Request, fetch, send_requests};

const MESH: &str = include_str!("../scenarios/mesh.yaml");

/// A second web Deployment, `version: v2`, and the DestinationRule naming both subsets.
const V2: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-v2, namespace: default}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web, version: v2}}\n  template:\n    metadata: {labels: {app: web, version: v2}}\n    spec:\n      containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: default}\nspec:\n  host: web\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n";

/// The mesh scenario with `extra` documents after it.
fn cluster(extra: &str) -> Cluster {
    let text = if extra.is_empty() { MESH.to_string() } else { format!("{MESH}---\n{extra}") };
    load(&[Source { name: "mesh.yaml", text: &text }]).expect("the scenario loads").cluster
}

fn get(cluster: &Cluster, url: &str, headers: &[(&str, &str)]) -> Trace {
    let request =
        Request { from: "pod/client".into(), to: url.into(), proto: lbplay_core::net::Proto::Tcp, seed: 1, now: 0 };
    let options =
        HttpOptions { headers: headers.iter().map(|(n, v)| Header::new(*n, *v)).collect(), ..HttpOptions::default() };
    fetch(cluster, &request, &options).expect("walks")
}

/// The deployment a pod name belongs to (its generated suffixes dropped).
fn deployment(pod: &str) -> String {
    pod.trim_start_matches("pod/").rsplitn(3, '-').last().unwrap_or_default().to_string()
}

fn check_proxy(trace: &Trace, expect: Expect) {
    let mut out = String::new();
    for step in trace.steps.iter().filter(|s| s.kind == StepKind::Proxy) {
        out.push_str(&format!(
            "{} {} {} {} | {}\n",
            step.connection.unwrap_or(9),
            deployment(&step.node),
            step.stage.unwrap_or("-"),
            step.verdict,
            step.rule.as_deref().unwrap_or("-")
        ));
    }
    let http = trace.outcome.http.as_ref();
    out.push_str(&format!(
        "{} {} {}\n",
        http.map_or(0, |h| h.status),
        http.and_then(|h| h.backend.clone()).unwrap_or_else(|| "-".into()),
        deployment(&http.and_then(|h| h.pod.clone()).unwrap_or_default())
    ));
    expect.assert_eq(&out);
}

#[test]
fn a_meshed_call_meets_every_stage() {
    check_proxy(
        &get(&cluster(""), "http://web/hello", &[]),
        expect![[r#"
            0 client accept ACCEPTED | -
            0 client listener virtualOutbound | 0.0.0.0  15001  ALL  PassthroughCluster
            0 client listener 0.0.0.0_80 | 0.0.0.0  80  Trans: raw_buffer; App: http/1.1,h2c  Route: 80
            0 client route 80 | 80  web.default.svc.cluster.local:80  web
            0 client route default | default  prefix: "/"  
            0 client cluster outbound|80||web.default.svc.cluster.local | web.default.svc.cluster.local  80  -  outbound  EDS  lbPolicy: LEAST_REQUEST
            0 client endpoint 10.244.1.3:8080 | 10.244.1.3:8080  HEALTHY  OK  outbound|80||web.default.svc.cluster.local
            1 client dial DIAL 10.244.1.3:8080 | -
            1 client relay RELAYING | -
            1 client relay REQUEST → | -
            1 web listener virtualInbound | 0.0.0.0  15006  Trans: tls; App: istio-http/1.0,istio-http/1.1,istio-h2; Addr: *:8080  inbound|8080||
            1 web cluster inbound|8080|| | 8080  -  inbound  ORIGINAL_DST
            2 web dial DIAL 10.244.1.3:8080 | -
            2 web relay RELAYING | -
            2 web relay REQUEST → | -
            1 web relay RESPONSE ← | -
            0 client relay RESPONSE ← | -
            200 default/web:80 web
        "#]],
    );
}

#[test]
fn the_pods_own_nat_tables_capture_the_app_and_let_envoy_through() {
    let trace = get(&cluster(""), "http://web/hello", &[]);
    let mut out = String::new();
    for step in trace.steps.iter().filter(|s| s.kind == StepKind::Netfilter && !s.node.starts_with("node-")) {
        let moved = if step.before.tuple().ok() == step.after.tuple().ok() {
            String::new()
        } else {
            format!(" ⇒ {}", step.after.tuple().map(|t| t.dst.to_string()).unwrap_or_default())
        };
        out.push_str(&format!(
            "{} {} {} {}{moved} | {}\n",
            deployment(&step.node),
            step.hook.unwrap_or("-"),
            step.verdict,
            step.connection.unwrap_or(9),
            step.rule.as_deref().unwrap_or("policy")
        ));
    }
    expect![[r#"
        client OUTPUT JUMP:ISTIO_OUTPUT 0 | -A OUTPUT -j ISTIO_OUTPUT
        client OUTPUT JUMP:ISTIO_REDIRECT 0 | -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        client OUTPUT REDIRECT 0 ⇒ 127.0.0.1:15001 | -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        client POSTROUTING ACCEPT 0 | policy
        client OUTPUT JUMP:ISTIO_OUTPUT 1 | -A OUTPUT -j ISTIO_OUTPUT
        client OUTPUT RETURN 1 | -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        client OUTPUT ACCEPT 1 | policy
        client POSTROUTING ACCEPT 1 | policy
        web PREROUTING JUMP:ISTIO_INBOUND 1 | -A PREROUTING -p tcp -j ISTIO_INBOUND
        web PREROUTING JUMP:ISTIO_IN_REDIRECT 1 | -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
        web PREROUTING REDIRECT 1 ⇒ 10.244.1.3:15006 | -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        web INPUT ACCEPT 1 | policy
        web OUTPUT JUMP:ISTIO_OUTPUT 2 | -A OUTPUT -j ISTIO_OUTPUT
        web OUTPUT RETURN 2 | -A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
        web OUTPUT ACCEPT 2 | policy
        web POSTROUTING ACCEPT 2 | policy
    "#]]
    .assert_eq(&out);
}

#[test]
fn envoys_connection_goes_to_the_pod_ip_without_dnat() {
    let trace = get(&cluster(""), "http://web/hello", &[]);
    // The app's connection is redirected in its pod and never reaches a node; Envoy's goes
    // to the Pod IP and no node rewrites it.
    for step in trace.steps.iter().filter(|s| s.node.starts_with("node-")) {
        assert_ne!(step.connection, Some(0), "the app's connection stays in its pod: {}", step.place());
        if step.kind != StepKind::Proxy {
            assert_eq!(step.before.tuple().ok(), step.after.tuple().ok(), "{} rewrote Envoy's packet", step.place());
        }
    }
    let dial = trace.steps.iter().find(|s| s.stage == Some("dial")).expect("a dial");
    let dst = dial.after.tuple().expect("a tuple").dst;
    assert!(cluster("").pods.iter().any(|p| p.ip == *dst.ip()), "{dst} is a Pod IP");
}

/// The header names a REQUEST → step added, and the values of `shown`.
fn added(trace: &Trace, index: usize, shown: &[&str]) -> String {
    let step = trace.steps.iter().filter(|s| s.verdict == "REQUEST →").nth(index).expect("a relay");
    let change = step.request.as_ref().expect("a request diff");
    let names: Vec<String> = change
        .after
        .headers
        .iter()
        .filter(|h| change.before.header(&h.name) != Some(h.value.as_str()))
        .map(|h| if shown.contains(&h.name.as_str()) { format!("{}: {}", h.name, h.value) } else { h.name.clone() })
        .collect();
    names.join(", ")
}

#[test]
fn the_request_shows_the_headers_each_sidecar_adds() {
    let trace = get(&cluster(""), "http://web/hello", &[]);
    expect!["x-forwarded-proto: http, x-request-id, x-envoy-decorator-operation: web.default.svc.cluster.local:80/*, x-envoy-attempt-count: 1, x-b3-traceid, x-b3-spanid, x-b3-sampled: 0"]
        .assert_eq(&added(&trace, 0, &["x-forwarded-proto", "x-envoy-attempt-count", "x-envoy-decorator-operation", "x-b3-sampled"]));
    expect!["x-forwarded-proto: https, x-forwarded-client-cert"].assert_eq(&added(&trace, 1, &["x-forwarded-proto"]));
    // Without a sidecar on the server there is no inbound hop: plain HTTP, no client certificate.
    let text = MESH.replace(
        "labels: {app: web, version: v1}",
        "labels: {app: web, version: v1, sidecar.istio.io/inject: \"false\"}",
    );
    let plain_cluster = load(&[Source { name: "mesh.yaml", text: &text }]).expect("loads").cluster;
    let trace = get(&plain_cluster, "http://web/hello", &[]);
    assert_eq!(trace.steps.iter().filter(|s| s.verdict == "REQUEST →").count(), 1);
    assert!(!trace.steps.iter().any(|s| s.stage == Some("listener") && s.verdict == "virtualInbound"));
    assert_eq!(trace.outcome.http.as_ref().map(|h| h.status), Some(200));
}

#[test]
fn a_virtual_service_routes_by_accept_language() {
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: default}\nspec:\n  hosts: [web]\n  http:\n  - name: zh\n    match:\n    - headers:\n        accept-language: {prefix: zh}\n    route:\n    - destination: {host: web, subset: v2}\n  - name: en\n    route:\n    - destination: {host: web, subset: v1}\n";
    let cluster = cluster(&format!("{V2}---\n{vs}"));
    let zh = get(&cluster, "http://web/", &[("Accept-Language", "zh-CN,zh;q=0.9")]);
    let en = get(&cluster, "http://web/", &[("Accept-Language", "en-US")]);
    let route = |t: &Trace| {
        t.steps.iter().filter(|s| s.stage == Some("route")).nth(1).map(|s| s.rule.clone().unwrap_or_default())
    };
    expect![[r#"Some("zh  prefix: \"/\", headers: {name: \"accept-language\", prefix: \"zh\"}  default/web")"#]]
        .assert_eq(&format!("{:?}", route(&zh)));
    assert_eq!(deployment(zh.outcome.http.as_ref().and_then(|h| h.pod.as_deref()).unwrap_or("")), "web-v2");
    assert_eq!(deployment(en.outcome.http.as_ref().and_then(|h| h.pod.as_deref()).unwrap_or("")), "web");
    let cluster_step = |t: &Trace| t.steps.iter().find(|s| s.stage == Some("cluster")).map(|s| s.verdict.clone());
    assert_eq!(cluster_step(&zh).as_deref(), Some("outbound|80|v2|web.default.svc.cluster.local"));
    assert_eq!(cluster_step(&en).as_deref(), Some("outbound|80|v1|web.default.svc.cluster.local"));
}

#[test]
fn a_canary_takes_its_weight_of_the_requests() {
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: default}\nspec:\n  hosts: [web]\n  http:\n  - route:\n    - {destination: {host: web, subset: v1}, weight: 90}\n    - {destination: {host: web, subset: v2}, weight: 10}\n";
    let cluster = cluster(&format!("{V2}---\n{vs}"));
    let request = Request {
        from: "pod/client".into(),
        to: "http://web/".into(),
        proto: lbplay_core::net::Proto::Tcp,
        seed: 7,
        now: 0,
    };
    let load = Load { requests: 5000, clients: 1, connections: 1 };
    let sent = send_requests(&cluster, &request, &HttpOptions::default(), load).expect("sends");
    let v2: u64 = sent.counts.iter().filter(|(pod, _)| deployment(pod) == "web-v2").map(|(_, n)| *n).sum();
    let v1 = 5000 - v2;
    let p = lbplay_core::mesh::balance::chi_square_tail(&[v1, v2], &[4500.0, 500.0]);
    assert!(p > 1e-6, "v1 {v1}, v2 {v2}: p = {p}");
}

#[test]
fn envoy_answers_itself_with_its_response_flags() {
    // No route matches: 404 NR.
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: default}\nspec:\n  hosts: [web]\n  http:\n  - match: [{uri: {prefix: /api}}]\n    route: [{destination: {host: web, subset: v1}}]\n";
    let trace = get(&cluster(&format!("{V2}---\n{vs}")), "http://web/other", &[]);
    let respond = |t: &Trace| t.steps.iter().find(|s| s.stage == Some("respond")).map(|s| s.verdict.clone());
    assert_eq!(respond(&trace).as_deref(), Some("404 NR"));
    assert_eq!(trace.outcome.http.as_ref().map(|h| (h.status, h.backend.clone())), Some((404, None)));
    // A subset whose labels select no pod: 503 UH.
    let empty = V2.replace("{name: v2, labels: {version: v2}}", "{name: v2, labels: {version: v3}}");
    let vs2 = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: default}\nspec:\n  hosts: [web]\n  http:\n  - route: [{destination: {host: web, subset: v2}}]\n";
    let trace = get(&cluster(&format!("{empty}---\n{vs2}")), "http://web/", &[]);
    assert_eq!(respond(&trace).as_deref(), Some("503 UH"));
    let body = trace
        .steps
        .iter()
        .find(|s| s.stage == Some("respond"))
        .map(|s| String::from_utf8_lossy(s.after.payload()).to_string())
        .unwrap_or_default();
    assert!(body.ends_with("no healthy upstream"), "{body}");
    // A subset no DestinationRule defines: a located warning, and 503 NC.
    let vs3 = vs2.replace("subset: v2", "subset: v9");
    let text = format!("{MESH}---\n{V2}---\n{vs3}");
    let loaded = load(&[Source { name: "mesh.yaml", text: &text }]).expect("loads");
    let warnings: Vec<String> =
        loaded.warnings.iter().map(ToString::to_string).filter(|w| w.contains("IST0101")).collect();
    expect![[r#"["mesh.yaml:98:47: warning: VirtualService/default/web: spec.http[0].route[0].destination.subset: IST0101: referenced host+subset in destinationrule not found: \"web+v9\"; Envoy answers requests routed here with 503, response flag NC (no cluster)"]"#]]
        .assert_eq(&format!("{warnings:?}"));
    let trace = get(&loaded.cluster, "http://web/", &[]);
    assert_eq!(respond(&trace).as_deref(), Some("503 NC"));
}

#[test]
fn a_refused_connection_and_a_503_are_retried_on_another_host() {
    // Every v1 pod refuses but one; the balancer's first pick is retried elsewhere.
    let text = MESH.replace("replicas: 3", "replicas: 2").replace(
        "kind: Pod\nmetadata:\n  name: client",
        "kind: Pod\nmetadata:\n  name: broken\n  namespace: default\n  labels: {app: web, lbplay.dev/down: refuse}\nspec:\n  nodeName: node-2\n  containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: client",
    );
    let cluster = load(&[Source { name: "mesh.yaml", text: &text }]).expect("loads").cluster;
    let broken = cluster.pod("broken").map(|p| p.ip).expect("the broken pod");
    let mut retried = false;
    for seed in 1..20 {
        let request = Request {
            from: "pod/client".into(),
            to: "http://web/".into(),
            proto: lbplay_core::net::Proto::Tcp,
            seed,
            now: 0,
        };
        let trace = fetch(&cluster, &request, &HttpOptions::default()).expect("walks");
        assert_eq!(trace.outcome.http.as_ref().map(|h| h.status), Some(200), "seed {seed}");
        let endpoints: Vec<&str> =
            trace.steps.iter().filter(|s| s.stage == Some("endpoint")).map(|s| s.verdict.as_str()).collect();
        if endpoints.first().is_some_and(|e| e.starts_with(&broken.to_string())) {
            assert_eq!(endpoints.len(), 2, "{endpoints:?}");
            assert!(trace.steps.iter().any(|s| s.stage == Some("retry")));
            assert!(trace.steps.iter().any(|s| s.verdict == "RST" && s.direction == Direction::Reply));
            let second = trace.steps.iter().find(|s| s.verdict == "REQUEST →").and_then(|s| s.request.as_ref());
            assert_eq!(second.and_then(|r| r.after.header("x-envoy-attempt-count")), Some("2"));
            retried = true;
        }
    }
    assert!(retried, "some seed first picks the broken pod");
    // A pod answering 503 is not retried under Istio's default policy, which lists no retriable
    // status codes; with `retryOn: 5xx` it is, and the second attempt's response is returned.
    let text = text.replace("lbplay.dev/down: refuse", "lbplay.dev/down: \"503\"");
    let cluster = load(&[Source { name: "mesh.yaml", text: &text }]).expect("loads").cluster;
    let request = Request {
        from: "pod/client".into(),
        to: "http://web/".into(),
        proto: lbplay_core::net::Proto::Tcp,
        seed: 1,
        now: 0,
    };
    let sent =
        send_requests(&cluster, &request, &HttpOptions::default(), Load { requests: 300, clients: 1, connections: 1 })
            .expect("sends");
    assert!(sent.counts.get("503 from pod/broken").is_some_and(|n| *n > 50), "{:?}", sent.counts);
    let vs = "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: default}\nspec:\n  hosts: [web]\n  http:\n  - route: [{destination: {host: web}}]\n    retries: {attempts: 2, retryOn: 5xx}\n";
    let text = format!("{text}{vs}");
    let cluster = load(&[Source { name: "mesh.yaml", text: &text }]).expect("loads").cluster;
    for seed in 1..20 {
        let request = Request {
            from: "pod/client".into(),
            to: "http://web/".into(),
            proto: lbplay_core::net::Proto::Tcp,
            seed,
            now: 0,
        };
        let trace = fetch(&cluster, &request, &HttpOptions::default()).expect("walks");
        assert_eq!(trace.outcome.http.as_ref().map(|h| h.status), Some(200), "seed {seed}");
    }
    let request = Request {
        from: "pod/client".into(),
        to: "http://web/".into(),
        proto: lbplay_core::net::Proto::Tcp,
        seed: 1,
        now: 0,
    };
    let load = Load { requests: 300, clients: 1, connections: 1 };
    let sent = send_requests(&cluster, &request, &HttpOptions::default(), load).expect("sends");
    assert!(!sent.counts.contains_key("pod/broken"), "{:?}", sent.counts);
    assert!(!sent.counts.keys().any(|k| k.contains("envoy")), "{:?}", sent.counts);
}

#[test]
fn the_destination_rule_picks_the_balancer() {
    let rr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: default}\nspec:\n  host: web\n  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}\n";
    let cluster = cluster(rr);
    let trace = get(&cluster, "http://web/", &[]);
    let rule = trace.steps.iter().find(|s| s.stage == Some("cluster")).and_then(|s| s.rule.clone()).unwrap_or_default();
    assert!(rule.ends_with("lbPolicy: ROUND_ROBIN"), "{rule}");
    let request = Request {
        from: "pod/client".into(),
        to: "http://web/".into(),
        proto: lbplay_core::net::Proto::Tcp,
        seed: 3,
        now: 0,
    };
    let sent =
        send_requests(&cluster, &request, &HttpOptions::default(), Load { requests: 9, clients: 1, connections: 1 })
            .expect("sends");
    let order: Vec<&str> = sent.requests.iter().map(|r| r.backend.as_str()).collect();
    assert_eq!(order[0..3], order[3..6], "round robin cycles");
    assert_eq!(order[0..3], order[6..9]);
    // consistentHash on a header: the same user always reaches the same pod.
    let hash = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: default}\nspec:\n  host: web\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: {httpHeaderName: x-user}\n";
    let cluster = self::cluster(hash);
    for user in ["ann", "bob", "cy"] {
        let options = HttpOptions { headers: vec![Header::new("x-user", user)], ..HttpOptions::default() };
        let sent = send_requests(&cluster, &request, &options, Load { requests: 20, clients: 1, connections: 2 })
            .expect("sends");
        assert_eq!(sent.counts.len(), 1, "{user}: {:?}", sent.counts);
    }
}

#[test]
fn an_excluded_range_bypasses_the_sidecar_and_meets_kube_proxy() {
    // traffic.sidecar.istio.io/excludeOutboundIPRanges on the client: its ClusterIP connection
    // leaves the pod unredirected, and the node's KUBE-SERVICES rules DNAT it as without a mesh.
    let text = MESH.replace(
        "  name: client\n  namespace: default\n  labels: {app: client}\n",
        "  name: client\n  namespace: default\n  labels: {app: client}\n  annotations:\n    traffic.sidecar.istio.io/excludeOutboundIPRanges: 10.96.0.0/12\n",
    );
    let cluster = load(&[Source { name: "mesh.yaml", text: &text }]).expect("loads").cluster;
    let trace = get(&cluster, "http://web/hello", &[]);
    assert!(!trace.steps.iter().any(|s| s.kind == StepKind::Proxy && s.node == "client"), "no client sidecar hop");
    // The server's sidecar still takes the connection, in plain text and without a client certificate.
    let handed =
        trace.steps.iter().find(|s| s.verdict == "REQUEST →").and_then(|s| s.request.as_ref()).expect("handed on");
    assert_eq!(handed.after.header("x-forwarded-client-cert"), None);
    let in_pod: Vec<String> = trace
        .steps
        .iter()
        .filter(|s| s.node == "client" && s.kind == StepKind::Netfilter && s.direction == Direction::Original)
        .map(|s| format!("{} {}", s.verdict, s.rule.as_deref().unwrap_or("policy")))
        .take(2)
        .collect();
    expect![[r#"["JUMP:ISTIO_OUTPUT -A OUTPUT -j ISTIO_OUTPUT", "RETURN -A ISTIO_OUTPUT -d 10.96.0.0/12 -j RETURN"]"#]]
        .assert_eq(&format!("{in_pod:?}"));
    assert!(trace.steps.iter().any(|s| s.verdict == "DNAT"), "kube-proxy's DNAT chose the pod");
    assert_eq!(trace.outcome.http.as_ref().map(|h| h.status), Some(200));
}
