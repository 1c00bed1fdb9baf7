//! Browser tests of the playground's editing and sharing: a share link reproduces the trace, a
//! hostile fragment is refused, an error is marked at its line and fixing it re-runs, and a
//! reload restores the edit. Run as `browser.rs` says (tier 2).

#![cfg(target_arch = "wasm32")]

use gloo_timers::future::TimeoutFuture;
use lbplay_web::app::{App, AppProps, EDIT_DELAY_MS, EDIT_KEY};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlTextAreaElement};

wasm_bindgen_test_configure!(run_in_browser);

fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

fn document() -> web_sys::Document {
    window().document().expect("a document")
}

async fn settle(millis: u32) {
    TimeoutFuture::new(millis).await;
    for _ in 0..3 {
        TimeoutFuture::new(10).await;
    }
}

struct Mounted {
    root: Element,
    handle: Option<yew::AppHandle<App>>,
}

impl Mounted {
    fn try_find(&self, selector: &str) -> Option<Element> {
        self.root.query_selector(selector).ok().flatten()
    }

    fn find(&self, selector: &str) -> Element {
        self.try_find(selector).unwrap_or_else(|| panic!("no element matches {selector}"))
    }

    fn text(&self, selector: &str) -> String {
        self.find(selector).text_content().unwrap_or_default()
    }

    fn click(&self, selector: &str) {
        self.find(selector).dyn_into::<HtmlElement>().expect("an HTML element").click();
    }

    /// Every event-list row's text, in order: the trace as the page shows it.
    fn trace(&self) -> Vec<String> {
        let rows = self.root.query_selector_all(r#"[data-testid="step-list"] [data-testid="step"]"#).expect("rows");
        (0..rows.length()).filter_map(|index| rows.item(index)).filter_map(|row| row.text_content()).collect()
    }

    fn editor(&self) -> HtmlTextAreaElement {
        self.find(r#"[data-testid="editor-text"]"#).dyn_into().expect("a textarea")
    }

    /// Types `text` into the editor as a user's edit arrives (an `input` event), then waits for
    /// the check that follows a pause in typing.
    async fn type_text(&self, text: &str) {
        let editor = self.editor();
        editor.set_value(text);
        let event = web_sys::Event::new("input").expect("an input event");
        editor.dispatch_event(&event).expect("dispatch");
        settle(EDIT_DELAY_MS + 100).await;
    }

    fn error_lines(&self) -> Vec<String> {
        let marks = self.root.query_selector_all(r#"[data-testid="gutter"] .ln.error"#).expect("marks");
        (0..marks.length())
            .filter_map(|index| marks.item(index))
            .filter_map(|mark| mark.dyn_into::<Element>().ok()?.get_attribute("data-line"))
            .collect()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.destroy();
        }
        self.root.remove();
    }
}

/// Mounts the app at `hash`; `fresh` clears localStorage first (a reload keeps it).
async fn mount(hash: &str, fresh: bool) -> Mounted {
    if fresh && let Ok(Some(storage)) = window().local_storage() {
        let _ = storage.clear();
    }
    window()
        .history()
        .expect("history")
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(hash))
        .expect("hash");
    let root = document().create_element("div").expect("a div");
    document().body().expect("a body").append_child(&root).expect("append");
    let handle = yew::Renderer::<App>::with_root_and_props(root.clone(), AppProps::default()).render();
    settle(0).await;
    Mounted { root, handle: Some(handle) }
}

/// The URL fragment, once the app has written it.
async fn hash() -> String {
    settle(lbplay_web::app::URL_DELAY_MS + 100).await;
    window().location().hash().unwrap_or_default()
}

fn lesson_yaml() -> &'static str {
    lbplay_core::lessons::get("clusterip-iptables").expect("the lesson").yaml
}

#[wasm_bindgen_test]
async fn a_share_link_reproduces_the_trace() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en", true).await;
    app.click(r#"[role="tab"].wide:nth-child(2)"#);
    settle(0).await;
    let before = app.trace();
    // web-c leaves: the Service has two endpoints, so the walk's statistic rules differ.
    let from = "  name: web-c\n  namespace: default\n  labels: {app: web}\n";
    assert!(lesson_yaml().contains(from));
    let yaml = lesson_yaml().replace(from, "  name: web-c\n  namespace: default\n  labels: {app: other}\n");
    app.type_text(&yaml).await;
    let edited = app.trace();
    assert_ne!(edited, before, "the edit re-ran the walk");
    assert!(app.text(r#"[data-testid="editor-status"]"#).contains("Valid"));
    // Step 4, then share: the link carries the YAML as y=.
    for _ in 0..3 {
        app.click(r#"[data-testid="forward"]"#);
    }
    app.click(r#"[data-testid="share-button"]"#);
    settle(0).await;
    let link =
        app.find(r#"[data-testid="share-link"]"#).dyn_into::<web_sys::HtmlInputElement>().expect("input").value();
    assert!(link.contains("&y=") && link.contains("step=4"), "{link}");
    drop(app);
    let fragment = format!("#{}", link.split_once('#').expect("a fragment").1);
    let opened = mount(&fragment, true).await;
    assert_eq!(opened.trace(), edited, "the link shows the same trace");
    let selected = opened.text(r#"[data-testid="step-list"] [aria-current="step"] td.num"#);
    assert_eq!(selected.trim(), "4");
}

#[wasm_bindgen_test]
async fn a_hostile_fragment_is_refused_with_a_message() {
    let bomb = lbplay_core::share::encode_yaml(&"\0".repeat(1 << 20));
    for (fragment, reason) in [
        ("#v=1&s=clusterip-iptables&y=!!!!&step=3".to_string(), "base64url"),
        (format!("#v=1&y={bomb}"), "64 KB"),
        ("#v=1&y=bm90LWRlZmxhdGU".to_string(), "DEFLATE"),
    ] {
        let app = mount(&fragment, true).await;
        let notice = app.text(r#"[data-testid="notice"]"#);
        assert!(notice.contains(reason), "{fragment}: {notice}");
        // The default lesson is shown and steps.
        assert!(!app.trace().is_empty(), "{fragment}");
        let select = app.find(r#"[data-testid="scenario"]"#).dyn_into::<web_sys::HtmlSelectElement>().expect("select");
        assert_eq!(select.value(), lbplay_web::state::DEFAULT_SCENARIO);
    }
}

#[wasm_bindgen_test]
async fn an_error_is_marked_at_its_line_and_fixing_it_re_runs() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en", true).await;
    app.click(r#"[role="tab"].wide:nth-child(2)"#);
    settle(0).await;
    let good = app.trace();
    // Line 32 is the Service's `port: 80`.
    assert_eq!(lesson_yaml().lines().nth(31), Some("    port: 80"));
    let broken = lesson_yaml().replace("    port: 80\n", "    port: eighty\n");
    app.type_text(&broken).await;
    assert_eq!(app.error_lines(), vec!["32".to_string()]);
    let listed = app.text(r#"[data-testid="editor-problems"]"#);
    assert!(listed.contains("32:11") && listed.contains("expected an integer"), "{listed}");
    assert!(app.text(r#"[data-testid="editor-status"]"#).contains("last good"));
    assert_eq!(app.trace(), good, "the last good scenario keeps running");
    assert_eq!(app.editor().value(), broken, "nothing typed is lost");
    // Fixed (port 81): the marks go and the walk re-runs with the new port.
    let fixed = lesson_yaml().replace("    port: 80\n", "    port: 81\n");
    app.type_text(&fixed).await;
    assert!(app.error_lines().is_empty());
    assert!(app.text(r#"[data-testid="editor-status"]"#).contains("Valid"));
    assert_ne!(app.trace(), good, "the walk re-ran");
}

#[wasm_bindgen_test]
async fn a_reload_restores_the_edit_and_reset_returns_to_the_lesson() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en", true).await;
    app.click(r#"[role="tab"].wide:nth-child(2)"#);
    settle(0).await;
    let typed = format!("{}\n  half-typed: [", lesson_yaml());
    app.type_text(&typed).await;
    let at = hash().await;
    assert!(window().local_storage().ok().flatten().and_then(|s| s.get_item(EDIT_KEY).ok().flatten()).is_some());
    drop(app);
    // The reload: same URL, same storage.
    let app = mount(&at, false).await;
    app.click(r#"[role="tab"].wide:nth-child(2)"#);
    settle(EDIT_DELAY_MS + 100).await;
    assert_eq!(app.editor().value(), typed, "the edit survived the reload");
    assert!(!app.error_lines().is_empty(), "and is checked again");
    app.click(r#"[data-testid="reset-lesson"]"#);
    settle(0).await;
    assert_eq!(app.editor().value(), lesson_yaml());
    assert!(window().local_storage().ok().flatten().and_then(|s| s.get_item(EDIT_KEY).ok().flatten()).is_none());
}

/// Sends `data` to the page as a `message` event from `origin`.
async fn post(data: &str, origin: &str) {
    let init = web_sys::MessageEventInit::new();
    init.set_data(&wasm_bindgen::JsValue::from_str(data));
    init.set_origin(origin);
    let event = web_sys::MessageEvent::new_with_event_init_dict("message", &init).expect("a message event");
    window().dispatch_event(&event).expect("dispatch");
    settle(0).await;
}

#[wasm_bindgen_test]
async fn an_embed_takes_no_focus_and_obeys_only_its_trusted_origin() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en&ui=min", true).await;
    let focused = document().active_element();
    assert!(focused.is_none_or(|element| !app.root.contains(Some(&element))), "the embed took focus");
    let own = window().location().origin().expect("an origin");
    let selected = |app: &Mounted| app.text(r#"[data-testid="position"]"#);
    post("lbplay:step:3", "https://evil.example").await;
    assert!(selected(&app).starts_with("Step 1 "), "{}", selected(&app));
    post("lbplay:step:3", &own).await;
    assert!(selected(&app).starts_with("Step 3 "), "{}", selected(&app));
    post("lbplay:reset", &own).await;
    assert!(selected(&app).starts_with("Step 1 "), "{}", selected(&app));
    drop(app);
    // With origin= only that origin is trusted, the page's own no longer.
    let app = mount("#v=1&s=clusterip-iptables&lang=en&ui=min&origin=https://docs.example", true).await;
    post("lbplay:step:2", &own).await;
    assert!(selected(&app).starts_with("Step 1 "), "{}", selected(&app));
    post("lbplay:step:2", "https://docs.example").await;
    assert!(selected(&app).starts_with("Step 2 "), "{}", selected(&app));
}

/// Picks `value` in the `select` matching `selector`, as a learner's choice arrives (a `change`).
fn choose(app: &Mounted, selector: &str, value: &str) {
    let select: web_sys::HtmlSelectElement = app.find(selector).dyn_into().expect("a select");
    select.set_value(value);
    select.dispatch_event(&web_sys::Event::new("change").expect("a change event")).expect("dispatch");
}

#[wasm_bindgen_test]
async fn quick_controls_edit_the_yaml_and_re_run() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en", true).await;
    app.click(r#"[role="tab"].wide:nth-child(2)"#);
    settle(0).await;
    let good = app.trace();
    let pod = |name: &str, part: &str| format!(r#"[data-testid="{part}"][data-name="{name}"]"#);
    // web-b fails its readiness probe: the YAML says so and the walk re-runs without it.
    app.click(&pod("web-b", "quick-pod-ready"));
    settle(EDIT_DELAY_MS + 100).await;
    assert!(app.editor().value().contains("  - {type: Ready, status: \"False\"}"), "{}", app.editor().value());
    assert!(app.text(r#"[data-testid="editor-status"]"#).contains("Valid"));
    let without_b = app.trace();
    assert_ne!(without_b, good, "the walk re-ran with two endpoints");
    assert!(!without_b.iter().any(|row| row.contains("web-b")));
    // Deleting web-a, the pod the walk reached, removes its document; the walk goes to web-c.
    assert!(without_b.iter().any(|row| row.contains("web-a")));
    app.click(&pod("web-a", "quick-pod-delete"));
    settle(EDIT_DELAY_MS + 100).await;
    assert!(!app.editor().value().contains("name: web-a"));
    assert!(app.try_find(&pod("web-a", "quick-pod-ready")).is_none());
    assert!(app.trace().iter().any(|row| row.contains("web-c")), "{:?}", app.trace());
    // The Service becomes a ClusterIP: its nodePort goes with its type, and it still loads.
    let service = r#"select[data-testid="quick-service"][data-name="web"]"#;
    choose(&app, &format!(r#"{service}[data-field="type"]"#), "ClusterIP");
    settle(EDIT_DELAY_MS + 100).await;
    let yaml = app.editor().value();
    assert!(yaml.contains("  type: ClusterIP") && !yaml.contains("nodePort"), "{yaml}");
    assert!(app.text(r#"[data-testid="editor-status"]"#).contains("Valid"));
    assert!(app.try_find(&format!(r#"{service}[data-field="externalTrafficPolicy"]"#)).is_none());
    // Session affinity and the internal policy are written where the Service's spec has them.
    choose(&app, &format!(r#"{service}[data-field="sessionAffinity"]"#), "ClientIP");
    settle(EDIT_DELAY_MS + 100).await;
    assert!(app.editor().value().contains("  sessionAffinity: ClientIP"));
    let before = app.trace();
    choose(&app, &format!(r#"{service}[data-field="internalTrafficPolicy"]"#), "Local");
    settle(EDIT_DELAY_MS + 100).await;
    assert!(app.editor().value().contains("  internalTrafficPolicy: Local"));
    assert!(app.text(r#"[data-testid="editor-status"]"#).contains("Valid"));
    assert_ne!(app.trace(), before, "only node-local endpoints count now, and the client's node has none left");
}

#[wasm_bindgen_test]
async fn the_textarea_stays_the_editor_when_the_codemirror_chunk_cannot_load() {
    // The test runner serves no editor chunk, so the import on focus fails, as it would offline.
    let app = mount("#v=1&s=clusterip-iptables&lang=en", true).await;
    app.click(r#"[role="tab"].wide:nth-child(2)"#);
    settle(0).await;
    app.editor().focus().expect("focus");
    settle(500).await;
    let host = app.find(r#"[data-testid="cm-host"]"#);
    assert!(host.has_attribute("hidden"), "no CodeMirror was mounted");
    assert!(host.child_element_count() == 0);
    let typed = format!("{}\n# still editable\n", lesson_yaml());
    app.type_text(&typed).await;
    assert_eq!(app.editor().value(), typed);
    assert!(app.text(r#"[data-testid="editor-status"]"#).contains("Valid"));
}
