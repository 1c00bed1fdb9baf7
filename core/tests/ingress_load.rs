//! Loading Ingresses: the API server's validation of hosts and paths, the old versions'
//! conversion, and the fields ingress-nginx reads (annotations, timestamps, TLS).

use lbplay_core::scenario::{Source, load};

/// The problems of loading `yaml`, one a line, or `ok` with the warnings.
fn problems(yaml: &str) -> String {
    match load(&[Source { name: "t.yaml", text: yaml }]) {
        Ok(l) => {
            let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
            format!("ok\n{}", w.join("\n"))
        }
        Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    }
}

fn ingress(host: &str, path: &str, ty: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: i}}\nspec:\n  rules:\n  - host: \"{host}\"\n    http:\n      paths:\n      - path: \"{path}\"\n        pathType: {ty}\n        backend: {{service: {{name: web, port: {{number: 80}}}}}}\n"
    )
}

fn check(yaml: &str, expect: &str) {
    let got = problems(yaml);
    assert!(got.contains(expect), "expected {expect:?} in:\n{got}");
}

#[test]
fn hosts_and_paths_are_validated_as_the_api_server_does() {
    let bad = [
        (
            ingress("*", "/", "Prefix"),
            "spec.rules[0].host: Invalid value: \"*\": a wildcard DNS-1123 subdomain must start with '*.'",
        ),
        (ingress("foo.*.com", "/", "Prefix"), "a wildcard DNS-1123 subdomain"),
        (ingress("*.*.com", "/", "Prefix"), "a wildcard DNS-1123 subdomain"),
        (ingress("10.0.0.1", "/", "Prefix"), "must be a DNS name, not an IP address"),
        (ingress("a.test:80", "/", "Prefix"), "Invalid value: \"a.test:80\": a lowercase RFC 1123 subdomain"),
        (ingress("a.test", "/a//b", "Prefix"), "Invalid value: \"/a//b\": must not contain '//'"),
        (ingress("a.test", "/a/../b", "Exact"), "must not contain '/../'"),
        (ingress("a.test", "/a%2Fb", "Exact"), "must not contain '%2F'"),
        (ingress("a.test", "/a/.", "Prefix"), "cannot end with '/.'"),
        (ingress("a.test", "foo", "ImplementationSpecific"), "must be an absolute path"),
        (ingress("a.test", "/", "Sometimes"), "unsupported value `Sometimes`"),
    ];
    for (yaml, want) in &bad {
        check(yaml, want);
        assert!(problems(yaml).contains(": error: Ingress/default/i: "), "{yaml}");
    }
    // ImplementationSpecific paths are not checked for sequences; `*.a.test` is a valid host.
    assert!(problems(&ingress("*.a.test", "/a//b", "ImplementationSpecific")).starts_with("ok"));
    // A v1 path without pathType, and an Ingress with neither rules nor defaultBackend.
    check(&ingress("a.test", "/", "null"), "pathType: required value");
    check(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec: {}\n",
        "either `defaultBackend` or `rules` must be specified",
    );
}

#[test]
fn backends_that_cannot_answer_are_warned_about() {
    let svc = "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80}]\n";
    let named = ingress("a.test", "/", "Prefix").replace("{number: 80}", "{name: grpc}");
    check(&format!("{named}{svc}"), "backend Service default/web has no port grpc");
    check(&ingress("a.test", "/", "Prefix"), "backend Service default/web does not exist (yet)");
}

#[test]
fn annotations_timestamps_and_tls_are_read() {
    let yaml = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: old\n  creationTimestamp: \"2021-03-04T05:06:07Z\"\n  annotations:\n    kubernetes.io/ingress.class: nginx\n    nginx.ingress.kubernetes.io/use-regex: \"True\"\n    nginx.ingress.kubernetes.io/load-balance: ewma\n    nginx.ingress.kubernetes.io/ssl-redirect: \"maybe\"\n    nginx.ingress.kubernetes.io/affinity: cookie\nspec:\n  tls:\n  - hosts: [a.test]\n    secretName: cert\n  rules:\n  - host: a.test\n    http:\n      paths:\n      - path: /x\n        backend: {serviceName: web, servicePort: 80}\n";
    let loaded = load(&[Source { name: "t.yaml", text: yaml }]).expect("loads");
    let i = &loaded.extras.ingresses[0];
    assert_eq!(i.created, Some(1_614_834_367));
    assert_eq!(i.class_annotation.as_deref(), Some("nginx"));
    assert_eq!(i.class_name, None, "the admission plugin leaves an annotated Ingress alone");
    assert!(i.annotations.use_regex);
    assert_eq!(i.annotations.load_balance.as_deref(), Some("ewma"));
    assert_eq!(i.annotations.ssl_redirect, None);
    assert_eq!(i.annotations.affinity.as_deref(), Some("cookie"));
    assert_eq!(i.tls[0].hosts, ["a.test"]);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    let all = warnings.join("\n");
    assert!(all.contains("`maybe` is not a boolean"), "{all}");
    assert!(
        all.contains("annotations:\n    kubernetes.io/ingress.class: nginx"),
        "the v1 hint keeps the annotation: {all}"
    );
    check(&yaml.replace("2021-03-04T05:06:07Z", "yesterday"), "`yesterday` is not an RFC 3339 time");
}
