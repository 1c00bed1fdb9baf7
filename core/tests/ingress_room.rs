//! `lbplay_core::ingress` case by case: the classes the controller takes, the configuration it
//! builds (as the template renders it), the URI and Host nginx matches, 503 without endpoints,
//! and the order Ingresses merge in.

mod ingress_support;

use ingress_support::{answer, load_yaml};
use lbplay_core::ingress::{self, Request, render, select};

/// `host path` → `status directive upstream` for each request, against the scenario `yaml`.
fn check(yaml: &str, requests: &[(&str, &str)], expect: expect_test::Expect) {
    let loaded = load_yaml(yaml).expect("loads");
    let config = ingress::config_for(&loaded.extras);
    let mut out = String::new();
    for (host, path) in requests {
        let host = (!host.is_empty()).then_some(*host);
        let (d, status, _) = answer(&loaded, &config, "http", host, path);
        let upstream = d.upstream.as_ref().map(ingress::Upstream::name).unwrap_or_default();
        out.push_str(&format!(
            "{} {path} -> {status} {} {} {upstream}\n",
            host.unwrap_or("-"),
            d.server_name,
            d.directive.unwrap_or_default()
        ));
    }
    expect.assert_eq(&out);
}

const SVC: &str = "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-0, labels: {app: web}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: empty}\nspec:\n  selector: {app: none}\n  ports: [{port: 80}]\n";

fn ing(name: &str, extra_meta: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n{extra_meta}spec:\n{spec}"
    )
}

fn rule(host: &str, path: &str, ty: &str, svc: &str) -> String {
    format!(
        "  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: \"{path}\", pathType: {ty}, backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}}}\n"
    )
}

#[test]
fn classes_decide_which_ingresses_the_controller_takes() {
    let y = format!(
        "{SVC}{}{}{}{}",
        ing("by-default", "", &rule("a.test", "/", "Prefix", "web")),
        ing(
            "by-annotation",
            "  annotations: {kubernetes.io/ingress.class: nginx}\n",
            &rule("b.test", "/", "Prefix", "web")
        ),
        ing(
            "other-annotation",
            "  annotations: {kubernetes.io/ingress.class: traefik}\n",
            &rule("c.test", "/", "Prefix", "web")
        ),
        ing("missing-class", "", &format!("  ingressClassName: gone\n{}", rule("d.test", "/", "Prefix", "web"))),
    );
    let loaded = load_yaml(&y).expect("loads");
    let verdicts: Vec<String> = loaded
        .extras
        .ingresses
        .iter()
        .map(|i| format!("{}: {:?}", i.name, ingress::takes(i, &loaded.extras)))
        .collect();
    expect_test::expect![[r#"
        by-default: Ok(())
        by-annotation: Ok(())
        other-annotation: Err("the ingress class annotation is traefik, not nginx")
        missing-class: Err("IngressClass gone does not exist")"#]]
    .assert_eq(&verdicts.join("\n"));
    // A written IngressClass replaces the implied `nginx`; the newest default wins.
    let classes = "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: old\n  creationTimestamp: \"2020-01-01T00:00:00Z\"\n  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}\nspec: {controller: k8s.io/ingress-nginx}\n---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: new\n  creationTimestamp: \"2024-01-01T00:00:00Z\"\n  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}\nspec: {controller: example.com/other}\n";
    let loaded =
        load_yaml(&format!("{SVC}{classes}{}", ing("x", "", &rule("a.test", "/", "Prefix", "web")))).expect("loads");
    assert_eq!(loaded.extras.ingresses[0].class_name.as_deref(), Some("new"));
    assert_eq!(
        ingress::takes(&loaded.extras.ingresses[0], &loaded.extras),
        Err("IngressClass new belongs to the controller example.com/other".to_string())
    );
}

#[test]
fn locations_are_chosen_as_nginx_chooses_them() {
    let y = format!(
        "{SVC}{}{}",
        ing(
            "a",
            "",
            &format!(
                "{}      - {{path: /foo, pathType: Exact, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}\n",
                rule("h.test", "/foo", "Prefix", "web")
            )
        ),
        ing(
            "b",
            "  annotations: {nginx.ingress.kubernetes.io/use-regex: \"true\"}\n",
            &rule("r.test", "/v[0-9]+/", "ImplementationSpecific", "web")
        ),
    );
    check(
        &y,
        &[
            ("h.test", "/foo"),
            ("h.test", "/foo/bar"),
            ("h.test", "/foobar"),
            ("H.TEST:8080", "/foo/"),
            ("r.test", "/V2/x"),
            ("r.test", "/x"),
            ("", "/foo"),
            ("h.test", "/../etc"),
        ],
        expect_test::expect![[r#"
            h.test /foo -> 200 server_name "h.test"; location = "/foo" default-web-80
            h.test /foo/bar -> 200 server_name "h.test"; location "/foo/" default-web-80
            h.test /foobar -> 404 server_name "h.test"; location "/" upstream-default-backend
            H.TEST:8080 /foo/ -> 200 server_name "h.test"; location "/foo/" default-web-80
            r.test /V2/x -> 200 server_name "r.test"; location ~* "^/v[0-9]+/" default-web-80
            r.test /x -> 404 server_name "r.test"; location ~* "^/" upstream-default-backend
            - /foo -> 404 server_name "_"; location "/" upstream-default-backend
            h.test /../etc -> 400 server_name "h.test";  
        "#]],
    );
}

#[test]
fn default_backends_and_missing_endpoints() {
    let y = format!(
        "{SVC}{}{}",
        ing("catch-all", "", "  defaultBackend: {service: {name: web, port: {number: 80}}}\n"),
        ing(
            "host-default",
            "",
            &format!(
                "  defaultBackend: {{service: {{name: web, port: {{name: http}}}}}}\n{}",
                rule("e.test", "/empty", "Prefix", "empty")
            )
        ),
    );
    check(
        &y,
        &[("any.test", "/x"), ("e.test", "/empty/x"), ("e.test", "/other")],
        expect_test::expect![[r#"
            any.test /x -> 200 server_name "_"; location "/" default-web-80
            e.test /empty/x -> 503 server_name "e.test"; location "/empty/" default-empty-80
            e.test /other -> 200 server_name "e.test"; location "/" default-web-http
        "#]],
    );
}

#[test]
fn the_oldest_ingress_keeps_a_shared_path() {
    // Explicit timestamps: `young` is written first but created later.
    let y = format!(
        "{SVC}{}{}",
        ing("young", "  creationTimestamp: \"2024-06-01T00:00:00Z\"\n", &rule("m.test", "/p", "Prefix", "empty")),
        ing("old", "  creationTimestamp: \"2024-01-01T00:00:00+02:00\"\n", &rule("m.test", "/p", "Prefix", "web")),
    );
    check(
        &y,
        &[("m.test", "/p/x")],
        expect_test::expect![[r#"
        m.test /p/x -> 200 server_name "m.test"; location "/p/" default-web-80
    "#]],
    );
    // Without timestamps they were created together: the greater namespace/name comes first
    // (store.go, sortIngressSlice).
    let y = format!(
        "{SVC}{}{}",
        ing("aa", "", &rule("m.test", "/p", "Prefix", "web")),
        ing("zz", "", &rule("m.test", "/p", "Prefix", "empty"))
    );
    check(
        &y,
        &[("m.test", "/p")],
        expect_test::expect![[r#"
        m.test /p -> 503 server_name "m.test"; location = "/p" default-empty-80
    "#]],
    );
}

#[test]
fn uris_and_hosts_are_normalised_as_nginx_does() {
    let cases = [
        ("/a//b", Some("/a/b")),
        ("/a/./b/", Some("/a/b/")),
        ("/a/b/..", Some("/a/")),
        ("/%41?x=/y", Some("/A")),
        ("/..", None),
        ("a", None),
        ("/%zz", None),
        ("/", Some("/")),
    ];
    for (raw, want) in cases {
        assert_eq!(select::normalize_path(raw).as_deref(), want, "{raw}");
    }
    assert_eq!(select::normalize_host("Foo.Bar.COM.:80").as_deref(), Some("foo.bar.com"));
    assert_eq!(select::normalize_host("a..b"), None);
    assert_eq!(select::server_name("*.foo.com"), "~^(?<subdomain>[\\w-]+)\\.foo\\.com$");
}

#[test]
fn the_nginx_view_of_the_source_texts_fanout() {
    let yaml = std::fs::read_to_string(format!(
        "{}/tests/data/scenario/source-ingress-fanout.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("file");
    let loaded = load_yaml(&yaml).expect("loads");
    let config = ingress::config_for(&loaded.extras);
    let text = render::render(&config);
    assert!(text.contains("server_name \"foo.bar.com\" ;"), "{text}");
    assert!(text.contains("location \"/foo/\" {") && text.contains("location = \"/foo\" {"), "{text}");
    assert!(text.contains("set $proxy_upstream_name \"default-s1-80\";"), "{text}");
    assert!(text.contains("listen 8181 default_server") && text.contains("return 404;"), "{text}");
    let d = ingress::route(&config, &Request { scheme: "http", host: Some("foo.bar.com"), path: "/bar/x" });
    let stages: Vec<String> = d.stages().iter().map(|s| format!("{} {:?} -> {}", s.stage, s.rule, s.verdict)).collect();
    expect_test::expect![[r#"
        server Some("server_name \"foo.bar.com\";") -> foo.bar.com
        location Some("location \"/bar/\"") -> default-s2-80"#]]
    .assert_eq(&stages.join("\n"));
}

#[test]
fn each_stage_points_at_its_line_of_the_rendered_configuration() {
    let yaml = include_str!("../scenarios/ingress.yaml");
    let loaded = load_yaml(yaml).expect("loads");
    let config = ingress::config_for(&loaded.extras);
    let lines = render::render_lines(&config);
    let text_at = |at: &lbplay_core::trace::RuleAt| -> String {
        let found: Vec<&str> =
            lines.iter().filter(|line| line.rule.as_ref() == Some(at)).map(|line| line.text.trim()).collect();
        assert_eq!(found.len(), 1, "{at:?} is one line: {found:?}");
        found[0].to_string()
    };
    for (host, path) in [("foo.bar.com", "/foo"), ("foo.bar.com", "/bar/x"), ("bar.foo.com", "/"), ("nope.test", "/x")]
    {
        let d = ingress::route(&config, &Request { scheme: "http", host: Some(host), path });
        let mut shown = Vec::new();
        for stage in d.stages() {
            let at = stage.rule_at.as_ref().expect("a server or location line");
            let line = text_at(at);
            // The step's directive is the rendered line (without the block's brace and spacing).
            let rule = stage.rule.clone().unwrap_or_default();
            assert_eq!(line.replace(' ', "").trim_end_matches('{'), rule.replace(' ', ""), "{host}{path}");
            let lost: Vec<String> = stage.skipped.iter().map(&text_at).collect();
            shown.push(format!("{} {line} lost={}", stage.stage, lost.len()));
        }
        assert_eq!(d.stages().last().map(|s| s.skipped.len()), Some(d.candidates.len()));
        eprintln!("{host}{path}: {shown:?}");
    }
}

#[test]
fn the_source_texts_ingress_lesson_routes_as_the_text_describes() {
    let yaml = include_str!("../scenarios/ingress.yaml");
    check(
        yaml,
        &[
            ("foo.bar.com", "/foo"),
            ("foo.bar.com", "/foo/x"),
            ("foo.bar.com", "/bar"),
            ("foo.bar.com", "/other"),
            ("bar.foo.com", "/anything"),
            ("unknown.test", "/"),
            ("", "/x"),
        ],
        expect_test::expect![[r#"
            foo.bar.com /foo -> 200 server_name "foo.bar.com"; location = "/foo" default-s1-80
            foo.bar.com /foo/x -> 200 server_name "foo.bar.com"; location "/foo/" default-s1-80
            foo.bar.com /bar -> 200 server_name "foo.bar.com"; location = "/bar" default-s2-80
            foo.bar.com /other -> 200 server_name "foo.bar.com"; location "/" default-s1-80
            bar.foo.com /anything -> 200 server_name "bar.foo.com"; location "/" default-s2-80
            unknown.test / -> 200 server_name "_"; location "/" default-testsvc-80
            - /x -> 200 server_name "_"; location "/" default-testsvc-80
        "#]],
    );
    let loaded = load_yaml(yaml).expect("loads");
    let hints =
        loaded.warnings.iter().filter(|w| w.message.contains("no longer served since Kubernetes v1.22")).count();
    assert_eq!(hints, 3, "each v1beta1 Ingress gets the conversion hint");
    // The balancer: two pods behind s1, round robin from one after the random start.
    let config = ingress::config_for(&loaded.extras);
    let d = ingress::route(&config, &Request { scheme: "http", host: Some("foo.bar.com"), path: "/foo" });
    let eps = ingress::endpoints(&loaded.cluster, d.upstream.as_ref().expect("upstream"));
    assert_eq!(eps.len(), 2);
    let mut rr = ingress::balance::RoundRobin::new(eps.len(), 2).expect("nodes");
    assert_eq!([rr.find(), rr.find(), rr.find()], [0, 1, 0]);
}

#[test]
fn an_ingress_the_api_server_refuses_is_left_out_and_the_rest_runs() {
    let yaml =
        std::fs::read_to_string(format!("{}/tests/data/scenario/ingress-rejected.yaml", env!("CARGO_MANIFEST_DIR")))
            .expect("file");
    let loaded = load_yaml(&yaml).expect("an invalid Ingress does not stop the scenario");
    let shown: Vec<String> = loaded
        .warnings
        .iter()
        .map(|p| {
            let message = p.message.split(" (the API server rejects").next().unwrap_or_default();
            let message: String = message.chars().take(60).collect();
            format!("{}:{} {:?} {} {}", p.line, p.column, p.severity, p.object.as_deref().unwrap_or("-"), message)
        })
        .collect();
    expect_test::expect![[r#"
        24:9 Rejected Ingress/default/nopathtype required value: supported values are "Exact", "Implementatio
        33:11 Rejected Ingress/default/badwild Invalid value: "foo.*.com": a wildcard DNS-1123 subdomain mu
        37:11 Rejected Ingress/default/badwild Invalid value: "*foo.com": a wildcard DNS-1123 subdomain mus
        51:16 Rejected Ingress/default/badpaths Invalid value: "/a//b": must not contain '//'
        52:16 Rejected Ingress/default/badpaths Invalid value: "/a/../b": must not contain '/../'
        58:3 Warning Ingress/other/missing backend Service other/web does not exist (yet); requests to 
        58:3 Warning Ingress/other/missing backend Service other/gone does not exist (yet); requests to
        70:3 Warning Ingress/default/badport backend Service default/web has no port grpc; ingress-nginx 
        81:3 Rejected Ingress/default/empty either `defaultBackend` or `rules` must be specified"#]]
    .assert_eq(&shown.join("\n"));
    let taken: Vec<&str> = loaded.extras.ingresses.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(taken, ["missing", "badport", "good"], "the refused Ingresses are not created");
    let config = ingress::config_for(&loaded.extras);
    for (host, path, status) in
        [("ok.test", "/", 200), ("b.test", "/a", 404), ("c.test", "/g", 503), ("d.test", "/", 503)]
    {
        let (_, got, _) = answer(&loaded, &config, "http", Some(host), path);
        assert_eq!(got, status, "{host}{path}");
    }
}
