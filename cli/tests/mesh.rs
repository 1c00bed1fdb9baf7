//! `lbplay rules --pod`: an injected pod's Istio table as iptables-save prints it, and the
//! messages for pods that have no sidecar table.

use std::process::Command;

use expect_test::{Expect, expect};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mesh/sidecars.yaml");

/// Runs `lbplay rules SCENARIO --pod POD` and compares its status, standard output and its
/// standard error without the load's warnings (about the pod `broken`) with `expected`.
fn check(pod: &str, expected: Expect) {
    check_args(&["--pod", pod], expected);
}

/// As `check`, with `extra` after `rules SCENARIO`.
fn check_args(extra: &[&str], expected: Expect) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_lbplay")).args(["rules", SCENARIO]).args(extra).output().expect("run lbplay");
    let status = output.status.code().map_or("killed".to_string(), |code| code.to_string());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().filter(|line| !line.contains(": warning: ")).collect::<Vec<_>>().join("\n");
    expected.assert_eq(&format!("status: {status}\n{}{last}", String::from_utf8_lossy(&output.stdout)));
}

#[test]
fn an_annotated_pod_gets_its_own_table() {
    check(
        "shop/client",
        expect![[r#"
            status: 0
            *nat
            :PREROUTING ACCEPT [0:0]
            :INPUT ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            :POSTROUTING ACCEPT [0:0]
            :ISTIO_INBOUND - [0:0]
            :ISTIO_IN_REDIRECT - [0:0]
            :ISTIO_OUTPUT - [0:0]
            :ISTIO_REDIRECT - [0:0]
            -A PREROUTING -p tcp -j ISTIO_INBOUND
            -A OUTPUT -j ISTIO_OUTPUT
            -A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN
            -A ISTIO_INBOUND -p tcp -m tcp --dport 8080 -j ISTIO_IN_REDIRECT
            -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
            -A ISTIO_OUTPUT -p tcp -m tcp --dport 5432 -j RETURN
            -A ISTIO_OUTPUT -p udp -m udp --dport 5432 -j RETURN
            -A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
            -A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
            -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
            -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
            -A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
            -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
            -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
            -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
            -A ISTIO_OUTPUT -d 10.0.0.0/8 -j RETURN
            -A ISTIO_OUTPUT -j ISTIO_REDIRECT
            -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
            COMMIT
        "#]],
    );
}

#[test]
fn envoy_clusters_print_as_istioctl_proxy_config_cluster() {
    check_args(
        &["--pod", "shop/client", "--envoy", "clusters"],
        expect![[r#"
        status: 0
        SERVICE FQDN                   PORT     SUBSET     DIRECTION     TYPE     DESTINATION RULE
        web.shop.svc.cluster.local     80       -          outbound      EDS      
    "#]],
    );
    // The pod checks come first: a pod without a sidecar has no Envoy to ask.
    check_args(
        &["--pod", "default/legacy", "--envoy", "clusters"],
        expect![[r#"
        status: 1
        --pod default/legacy: no Istio sidecar: namespace default has neither istio-injection=enabled nor istio.io/rev, and the pod has no sidecar.istio.io/inject=true"#]],
    );
}

#[test]
fn a_bare_name_finds_the_pod_in_any_namespace() {
    let output = Command::new(env!("CARGO_BIN_EXE_lbplay"))
        .args(["rules", SCENARIO, "--pod", "client"])
        .output()
        .expect("run lbplay");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("--dport 5432 -j RETURN"));
}

#[test]
fn pods_without_a_sidecar_are_explained() {
    check(
        "batch",
        expect![[r#"
            status: 1
            --pod shop/batch: no Istio sidecar: the pod's label sidecar.istio.io/inject=false keeps every injection webhook away"#]],
    );
    check(
        "legacy",
        expect![[r#"
            status: 1
            --pod default/legacy: no Istio sidecar: namespace default has neither istio-injection=enabled nor istio.io/rev, and the pod has no sidecar.istio.io/inject=true"#]],
    );
    check(
        "tproxy",
        expect![[r#"
        status: 1
        --pod shop/tproxy: sidecar.istio.io/interceptionMode TPROXY: lbplay writes only the default REDIRECT mode's rules"#]],
    );
    check(
        "nope",
        expect![[r#"
            status: 1
            --pod nope: no such pod; the scenario's pods are: shop/app, shop/batch, shop/client, default/legacy, shop/broken, shop/tproxy, shop/web-6d86b96469-gchnp, shop/web-6d86b96469-744pb"#]],
    );
}

#[test]
fn a_bad_traffic_annotation_is_bad_input_located_at_load() {
    let output = Command::new(env!("CARGO_BIN_EXE_lbplay"))
        .args(["rules", SCENARIO, "--pod", "broken"])
        .output()
        .expect("run lbplay");
    let stderr = String::from_utf8_lossy(&output.stderr);
    expect![[r#"
        status: 2
        sidecars.yaml:73:52: warning: Pod/shop/broken: metadata.annotations.traffic.sidecar.istio.io/excludeOutboundPorts: "postgres" is not a port (1-65535); an Istio sidecar's istio-init would fail on it
        pod shop/broken: metadata.annotations.traffic.sidecar.istio.io/excludeOutboundPorts: "postgres" is not a port (1-65535)"#]]
    .assert_eq(&format!(
        "status: {}\n{}",
        output.status.code().unwrap_or(-1),
        stderr.trim_end().replace(&format!("{}/tests/data/mesh/", env!("CARGO_MANIFEST_DIR")), "")
    ));
}

#[test]
fn check_shows_which_pods_gain_a_sidecar() {
    let output = Command::new(env!("CARGO_BIN_EXE_lbplay")).args(["check", SCENARIO]).output().expect("run lbplay");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let marked = |pod: &str| {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(&format!("  {pod}  ")))
            .unwrap_or_else(|| panic!("{pod} not listed:\n{stdout}"));
        line.ends_with("+ istio-proxy (uid 1337), istio-init")
    };
    assert!(marked("shop/app"));
    assert!(marked("shop/client"));
    assert!(!marked("shop/batch"), "inject=false");
    assert!(!marked("default/legacy"), "namespace not enabled");
}

/// The source of the sidecar-to-sidecar walk.
const MESH_CALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/scenarios/mesh.yaml");

/// Runs `lbplay ARGS…` and returns its status and standard output.
fn lbplay(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lbplay")).args(args).output().expect("run lbplay");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn trace_walks_a_request_through_both_sidecars() {
    let (status, text) =
        lbplay(&["trace", "--from", "pod/client", "--to", "http://web/hello", "--seed", "1", MESH_CALL]);
    assert_eq!(status, 0);
    expect_test::expect_file!["snapshots/mesh-call.seed1.txt"].assert_eq(&text);
    let (status, json) = lbplay(&[
        "trace",
        "--from",
        "pod/client",
        "--to",
        "http://web/hello",
        "--seed",
        "1",
        "--format",
        "json",
        MESH_CALL,
    ]);
    assert_eq!(status, 0);
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let stages: Vec<&str> =
        json["steps"].as_array().expect("steps").iter().filter_map(|step| step["stage"].as_str()).collect();
    for stage in ["accept", "listener", "route", "cluster", "endpoint", "dial", "relay"] {
        assert!(stages.contains(&stage), "{stage} in {stages:?}");
    }
    let relayed = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["verdict"] == "REQUEST →")
        .expect("a relay step");
    let after = relayed["request"]["after"]["headers"].to_string();
    assert!(after.contains("x-request-id") && after.contains("x-envoy-attempt-count"), "{after}");
    assert_eq!(json["outcome"]["http"]["status"], 200);
}
