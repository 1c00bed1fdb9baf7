//! Browser tests of the Ingress lessons: the source text's fan-out walked in the page, with the
//! nginx configuration in the rules pane (the matched server and location highlighted, the
//! locations that lost marked), the inspector's candidates, the request bar and the experiment's
//! split over the controller pods. Run as `browser.rs` says (tier 2).

#![cfg(target_arch = "wasm32")]

mod support;

use support::{hash, mount, settle};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The index of the first step of `stage` in the fan-out lesson's walk to `to`, computed by the
/// same core the page runs.
fn stage_step(to: &str, stage: &str) -> usize {
    let spec = lbplay_web::run::Spec {
        lesson: Some("ingress-fanout".into()),
        to: Some(to.into()),
        ..lbplay_web::run::Spec::default()
    };
    let scenario = lbplay_web::run::load(&spec);
    scenario.trace.steps.iter().position(|step| step.stage == Some(stage)).expect("the stage")
}

#[wasm_bindgen_test]
async fn the_fanout_lesson_shows_nginx_choosing_the_location() {
    let location = stage_step("http://foo.bar.com/foo", "location");
    let app = mount(&format!("#v=1&s=ingress-fanout&lang=en&step={}", location + 1), None).await;
    assert_eq!(app.selected(), (location + 1).to_string());
    // The rules pane shows the controller's nginx.conf, not kube-proxy's rules.
    let note = app.text(".rules-pane .pane-note");
    assert!(note.contains("ingress-nginx-controller") && note.contains("nginx.conf"), "{note}");
    let hit = app.text(r#"[data-testid="rules"] .hit .text"#);
    assert_eq!(hit.trim(), r#"location = "/foo" {"#);
    let lost = app.texts(r#"[data-testid="rules"] .skipped .text"#);
    assert_eq!(lost.len(), 4, "every other location of foo.bar.com lost: {lost:?}");
    assert!(lost.iter().any(|line| line.contains(r#"location "/bar/""#)), "{lost:?}");
    // The inspector lists them with the reason each lost.
    let candidates = app.texts(r#"[data-testid="candidates"] li"#);
    assert_eq!(candidates.len(), 4, "{candidates:?}");
    assert!(candidates.iter().any(|c| c.contains("/foo/ is not a prefix of /foo")), "{candidates:?}");
    // One step back, the server: its server_name is highlighted.
    app.click(r#"[data-testid="back"]"#);
    settle().await;
    assert_eq!(app.text(r#"[data-testid="rules"] .hit .text"#).trim(), r#"server_name "foo.bar.com" ;"#);
    // The walk ends at one of s1's pods, over the controller's own second connection.
    let outcome = app.text(".outcome");
    assert!(outcome.contains("pod/s1-"), "{outcome}");
}

#[wasm_bindgen_test]
async fn the_request_bar_sends_another_path_and_refuses_a_bad_header() {
    let app = mount("#v=1&s=ingress-fanout&lang=en", None).await;
    assert_eq!(app.value(r#"[data-testid="request-host"]"#), "foo.bar.com");
    assert_eq!(app.value(r#"[data-testid="request-path"]"#), "/foo");
    app.set_value(r#"[data-testid="request-path"]"#, "/bar");
    app.set_value(r#"[data-testid="request-headers"]"#, "X-Lesson: fanout");
    app.click(r#"[data-testid="request-send"]"#);
    settle().await;
    let outcome = app.text(".outcome");
    assert!(outcome.contains("pod/s2-"), "/bar goes to s2: {outcome}");
    let fragment = hash().await;
    assert!(fragment.contains("to=http://foo.bar.com/bar"), "{fragment}");
    assert!(fragment.contains("h=X-Lesson:%20fanout"), "{fragment}");
    // An unknown Host gets the controller's own 404: the source text's Ingress has no default
    // backend of its own.
    app.set_value(r#"[data-testid="request-host"]"#, "nobody.example");
    app.set_value(r#"[data-testid="request-headers"]"#, "");
    app.click(r#"[data-testid="request-send"]"#);
    settle().await;
    let responded = app.texts(r#"[data-testid="step-list"] [data-testid="step"]"#);
    assert!(responded.iter().any(|row| row.contains("404")), "{responded:?}");
    // A header curl would refuse is a message under the bar; the walk shown stays.
    app.set_value(r#"[data-testid="request-headers"]"#, "no colon here");
    app.click(r#"[data-testid="request-send"]"#);
    settle().await;
    let error = app.text(r#"[data-testid="request-error"]"#);
    assert!(error.contains("line 1") && error.contains("no colon"), "{error}");
    assert!(hash().await.contains("to=http://nobody.example/bar"));
}

#[wasm_bindgen_test]
async fn the_experiment_splits_requests_over_the_controller_pods_and_the_backends() {
    let app = mount("#v=1&s=ingress-fanout&lang=en", None).await;
    app.click(r#".right-tabs .tab:nth-child(3)"#);
    settle().await;
    app.click(r#"[data-testid="experiment-send"]"#);
    settle().await;
    let backends = app.text(r#"[data-testid="histogram"]"#);
    assert!(backends.contains("requests"), "{backends}");
    assert_eq!(app.count(r#"[data-testid="histogram"] tbody tr"#), 2, "s1's two pods: {backends}");
    let proxies = app.text(r#"[data-testid="histogram-proxies"]"#);
    assert!(proxies.contains("pod/ingress-nginx-controller-") && proxies.contains("100 (100.0%)"), "{proxies}");
}
