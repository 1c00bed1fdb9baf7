//! Browser tests: the app mounted in a real DOM (headless Chromium through wasm-bindgen-test).
//! Each test mounts a fresh app into its own `<div>`, drives it like a user (key presses on the
//! document, clicks), asserts on the DOM and the URL, and unmounts it again.
//!
//! Run: `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! CHROMEDRIVER=/usr/bin/chromedriver cargo test --target wasm32-unknown-unknown -p lbplay-web`.

#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use lbplay_web::fixture;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, KeyboardEvent, KeyboardEventInit};

mod support;

use support::{Mounted, document, hash, mount, settle};

wasm_bindgen_test_configure!(run_in_browser);

async fn press(key: &str) {
    let init = KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let event = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).expect("a key event");
    document().dispatch_event(&event).expect("dispatch");
    settle().await;
}

#[wasm_bindgen_test]
async fn arrow_keys_move_the_selection_and_the_narration() {
    let app = mount("#v=1&lang=en", Some(Rc::new(fixture::scenario()))).await;
    let steps = fixture::trace().steps;
    assert_eq!(app.count(r#"[data-testid="step-list"] [data-testid="step"]"#), steps.len() as u32);
    assert_eq!(app.count(r#"[aria-current="step"]"#), 1);
    assert_eq!(app.selected(), "1");
    assert_eq!(app.text(r#"[data-testid="narration"]"#), steps[0].note.en);

    press("ArrowRight").await;
    assert_eq!(app.selected(), "2");
    assert_eq!(app.text(r#"[data-testid="narration"]"#), steps[1].note.en);
    assert!(app.text(r#"[data-testid="live"]"#).starts_with("Step 2 of 12: node-1"));
    // The matched rule of a netfilter step is highlighted in the rules pane.
    let hit = app.text(r#"[data-testid="rules"] .hit"#);
    assert!(hit.contains("-A PREROUTING"), "{hit}");

    press("End").await;
    assert_eq!(app.selected(), steps.len().to_string());
    press("ArrowRight").await;
    assert_eq!(app.selected(), steps.len().to_string(), "→ on the last step stays");
    press("Home").await;
    assert_eq!(app.selected(), "1");
    press("ArrowLeft").await;
    assert_eq!(app.selected(), "1", "← on the first step stays");
    press("ArrowRight").await;
    press("ArrowRight").await;
    press("r").await;
    assert_eq!(app.selected(), "1", "R resets");
}

#[wasm_bindgen_test]
async fn dnat_step_shows_the_rewrite_in_the_inspector() {
    let app = mount("#v=1&s=fixture&step=5&lang=en", Some(Rc::new(fixture::scenario()))).await;
    assert_eq!(app.selected(), "5");
    let changed: Vec<String> = {
        let list = app.root.query_selector_all(r#"[data-testid="fields"] tr.changed"#).expect("rows");
        (0..list.length())
            .filter_map(|index| list.item(index))
            .map(|row| row.text_content().unwrap_or_default())
            .collect()
    };
    assert!(
        changed
            .iter()
            .any(|row| row.contains("destination") && row.contains("10.96.100.10") && row.contains("10.244.2.7")),
        "{changed:?}"
    );
    assert!(changed.iter().all(|row| row.contains("changed")), "changed rows say so in text, not only colour");
    assert!(app.count(r#"[data-testid="hex"] .byte.chg"#) >= 4);
    assert_eq!(
        app.text(r#"[data-testid="rewrite"]"#).trim_start_matches("✎ "),
        "dst 10.96.100.10:80 → 10.244.2.7:8080"
    );
    // Selecting the destination field frames its four bytes.
    let buttons = app.root.query_selector_all(r#"[data-testid="fields"] tr.changed button"#).expect("buttons");
    let destination = (0..buttons.length())
        .filter_map(|index| buttons.item(index))
        .find(|button| button.text_content().unwrap_or_default() == "destination")
        .expect("a destination field");
    destination.dyn_into::<HtmlElement>().expect("a button").click();
    settle().await;
    assert_eq!(app.count(r#"[data-testid="hex"] .byte.sel"#), 4);
    // The changed fields come first; the unchanged ones are one click away.
    assert_eq!(app.count(r#"[data-testid="fields"] [data-testid="field"]"#), 4);
    app.click(r#"[data-testid="fields-toggle"]"#);
    settle().await;
    assert!(app.count(r#"[data-testid="fields"] [data-testid="field"]"#) > 12);
}

#[wasm_bindgen_test]
async fn an_embed_shows_the_lesson_and_links_to_the_full_page() {
    // design.md: the embed is the same app with ui=min and an "open in playground" link that
    // carries the exact state.
    let app = mount("#v=1&s=nodeport-local&step=5&lang=zh&ui=min", None).await;
    assert!(app.try_find(r#"[data-testid="scenario"]"#).is_none(), "an embed has no lesson picker");
    assert!(app.try_find(r#"[data-testid="mode"]"#).is_none(), "nor a mode picker");
    assert_eq!(app.selected(), "5");
    let link = app.find(r#"[data-testid="open-playground"]"#);
    assert_eq!(link.get_attribute("target").as_deref(), Some("_blank"));
    let href = link.get_attribute("href").unwrap_or_default();
    assert_eq!(href, "./#v=1&s=nodeport-local&step=5&lang=zh", "the full page at the same state, without ui=min");
    assert!(app.text(r#"[data-testid="open-playground"]"#).contains("playground"));
}

#[wasm_bindgen_test]
async fn url_fragment_round_trip() {
    let app = mount("#v=1&s=fixture&step=3&lang=zh", Some(Rc::new(fixture::scenario()))).await;
    assert_eq!(app.selected(), "3");
    assert_eq!(app.text(r#"[data-testid="narration"]"#), fixture::trace().steps[2].note.zh);
    assert_eq!(document().document_element().and_then(|root| root.get_attribute("lang")).as_deref(), Some("zh-CN"));
    press("ArrowRight").await;
    assert_eq!(hash().await, "#v=1&s=fixture&step=4&lang=zh");
    assert!(app.text(r#"[data-testid="live"]"#).starts_with("第 4 步，共 12 步"));
    drop(app);

    // A hostile fragment falls back to the defaults and the app still works.
    let app = mount("#v=1&s=%3Cscript%3E&step=-7&lang=xx&theme=%ZZ", Some(Rc::new(fixture::scenario()))).await;
    assert_eq!(app.selected(), "1");
    press("ArrowRight").await;
    assert_eq!(app.selected(), "2");
}

#[wasm_bindgen_test]
async fn language_switch() {
    let app = mount("#v=1&lang=en", Some(Rc::new(fixture::scenario()))).await;
    let steps = fixture::trace().steps;
    assert_eq!(app.text(r#"[data-testid="narration"]"#), steps[0].note.en);
    app.click(r#"[data-testid="lang"]"#);
    settle().await;
    assert_eq!(app.text(r#"[data-testid="narration"]"#), steps[0].note.zh);
    assert!(hash().await.contains("lang=zh"));
    assert_eq!(document().document_element().and_then(|root| root.get_attribute("lang")).as_deref(), Some("zh-CN"));
    assert_eq!(app.text(r#"[data-testid="lang"]"#), "English");
    app.click(r#"[data-testid="lang"]"#);
    settle().await;
    assert_eq!(app.text(r#"[data-testid="narration"]"#), steps[0].note.en);
}

#[wasm_bindgen_test]
async fn help_overlay_and_playback() {
    let app = mount("#v=1&lang=en", Some(Rc::new(fixture::scenario()))).await;
    assert!(app.try_find(r#"[data-testid="help"]"#).is_none());
    press("?").await;
    assert!(app.text(r#"[data-testid="help"]"#).contains("play / pause"));
    press("Escape").await;
    assert!(app.try_find(r#"[data-testid="help"]"#).is_none());
    press(" ").await;
    assert_eq!(app.find(r#"[data-testid="play"]"#).get_attribute("aria-pressed").as_deref(), Some("true"));
    TimeoutFuture::new(1400).await;
    let selected: usize = app.selected().parse().expect("a number");
    assert!(selected >= 2, "playback advanced to step {selected}");
    press(" ").await;
    assert_eq!(app.find(r#"[data-testid="play"]"#).get_attribute("aria-pressed").as_deref(), Some("false"));
}

#[wasm_bindgen_test]
async fn the_builtin_slice_renders_with_its_rules() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en", None).await;
    assert!(app.try_find(r#"[data-testid="problems"]"#).is_none());
    assert!(app.count(r#"[data-testid="step-list"] [data-testid="step"]"#) >= 5);
    assert!(app.text(r#"[data-testid="rules"]"#).contains("KUBE-SVC-CDGGSHYLG3RE2FKL"));
    // Walk to the first step with a highlighted rule: the highlight is there and in the pane.
    let mut seen = false;
    for _ in 0..40 {
        if app.try_find(r#"[data-testid="rules"] .hit"#).is_some() {
            seen = true;
            break;
        }
        press("ArrowRight").await;
    }
    assert!(seen, "some step of the slice highlights its rule");
    let narration = app.text(r#"[data-testid="narration"]"#);
    assert!(!narration.is_empty());
}

#[wasm_bindgen_test]
async fn every_builtin_scenario_mounts_and_steps() {
    for builtin in lbplay_core::lessons::all() {
        let app = mount(&format!("#v=1&s={}&lang=en", builtin.id), None).await;
        assert!(app.try_find(r#"[data-testid="problems"]"#).is_none(), "{}", builtin.id);
        let steps = app.count(r#"[data-testid="step-list"] [data-testid="step"]"#);
        assert!(steps >= 1, "{}", builtin.id);
        press("End").await;
        assert_eq!(app.selected(), steps.to_string(), "{}", builtin.id);
        assert!(!app.text(r#"[data-testid="narration"]"#).is_empty(), "{}", builtin.id);
    }
}

/// The on-screen box of an element (SVG elements included).
fn bounds(element: &Element) -> (f64, f64, f64, f64) {
    let rect = element.get_bounding_client_rect();
    (rect.left(), rect.top(), rect.right(), rect.bottom())
}

/// The page's stylesheet, added to the test page while the guard lives: the drawing's text sizes
/// (without it SVG text takes the browser's default 16 px serif, which nothing on the page uses).
struct Stylesheet(Element);

impl Stylesheet {
    fn add() -> Stylesheet {
        let style = document().create_element("style").expect("a style element");
        style.set_text_content(Some(include_str!("../../static/style.css")));
        document().head().expect("a head").append_child(&style).expect("append the stylesheet");
        Stylesheet(style)
    }
}

impl Drop for Stylesheet {
    fn drop(&mut self) {
        self.0.remove();
    }
}

#[wasm_bindgen_test]
async fn the_topology_fits_every_lesson() {
    // Every pod is drawn inside its node's box, and every Service's label inside its pill, with
    // the page's stylesheet and the topology pane on screen (a narrow test window shows it as
    // the first tab).
    let _style = Stylesheet::add();
    for builtin in lbplay_core::lessons::all() {
        let app = mount(&format!("#v=1&s={}&lang=en", builtin.id), None).await;
        let nodes = app.root.query_selector_all(".topology .node").expect("nodes");
        assert!(nodes.length() >= 1, "{}", builtin.id);
        for n in 0..nodes.length() {
            let node = nodes.get(n).expect("a node").dyn_into::<Element>().expect("an element");
            let frame = bounds(&node.query_selector(":scope > rect").expect("query").expect("the node's box"));
            assert!(frame.3 > frame.1, "{}: the node's box is drawn", builtin.id);
            let pods = node.query_selector_all(".pod rect").expect("pods");
            for p in 0..pods.length() {
                let pod = bounds(&pods.get(p).expect("a pod").dyn_into::<Element>().expect("an element"));
                assert!(
                    pod.0 >= frame.0 && pod.1 >= frame.1 && pod.2 <= frame.2 && pod.3 <= frame.3,
                    "{}: pod {pod:?} sticks out of its node {frame:?}",
                    builtin.id
                );
            }
        }
        let services = app.root.query_selector_all(".topology .service").expect("services");
        for n in 0..services.length() {
            let service = services.get(n).expect("a service").dyn_into::<Element>().expect("an element");
            let pill = bounds(&service.query_selector("rect").expect("query").expect("a pill"));
            let label = bounds(&service.query_selector("text.name").expect("query").expect("a label"));
            assert!(label.0 >= pill.0 && label.2 <= pill.2, "{}: {label:?} overflows its pill {pill:?}", builtin.id);
        }
    }
}

#[wasm_bindgen_test]
async fn the_packet_and_its_label_leave_every_name_readable() {
    // With the page's stylesheet (the drawing's text sizes) and reduced motion (no move to wait
    // for), at every step of lessons with a pod on each row, a client outside the cluster and IPVS:
    // neither the packet nor its `src → dst` label covers a hook's name or a pod's name or address.
    let style = Stylesheet::add();
    let overlap = |a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)| {
        a.0 < b.2 - 1.0 && b.0 < a.2 - 1.0 && a.1 < b.3 - 1.0 && b.1 < a.3 - 1.0
    };
    let mut covered = Vec::new();
    for lesson in ["clusterip-iptables", "nodeport-cluster", "clusterip-ipvs"] {
        let app = mount(&format!("#v=1&s={lesson}&lang=en"), None).await;
        app.click(r#"[data-testid="motion"]"#);
        settle().await;
        let rows = app.count(r#"[data-testid="step-list"] [data-testid="step"]"#);
        assert!(rows > 10, "{lesson} walks");
        for step in 1..=rows {
            let packet = bounds(&app.find(r#"[data-testid="packet"] circle"#));
            let label = bounds(&app.find(r#"[data-testid="packet"] .packet-label rect"#));
            let names = app.root.query_selector_all(".topology .hook text, .topology .pod text").expect("names");
            for n in 0..names.length() {
                let name = names.get(n).expect("a name").dyn_into::<Element>().expect("an element");
                let at = bounds(&name);
                for (what, by) in [("packet", packet), ("label", label)] {
                    if overlap(at, by) {
                        covered.push(format!("{lesson} step {step}: the {what} covers {:?}", name.text_content()));
                    }
                }
            }
            press("ArrowRight").await;
        }
    }
    drop(style);
    assert!(covered.is_empty(), "{covered:#?}");
}

#[wasm_bindgen_test]
async fn a_pod_reaches_its_node_over_its_veth_and_other_nodes_over_the_network() {
    // Step 2 is the client pod's packet on its way into node-1; a later wire step crosses to node-3.
    let center = |app: &Mounted| {
        let packet = bounds(&app.find(r#"[data-testid="packet"] circle"#));
        ((packet.0 + packet.2) / 2.0, (packet.1 + packet.3) / 2.0)
    };
    let node_box = |app: &Mounted, n: u32| {
        let nodes = app.root.query_selector_all(".topology .node > rect").expect("nodes");
        bounds(&nodes.get(n - 1).expect("the node").dyn_into::<Element>().expect("an element"))
    };
    let app = mount("#v=1&s=clusterip-iptables&step=2&lang=en", None).await;
    TimeoutFuture::new(600).await; // the packet's move is a 0.45 s transition
    let (x, y) = center(&app);
    let node1 = node_box(&app, 1);
    assert!(x > node1.0 && x < node1.2 && y > node1.1 && y < node1.3, "the veth is inside node-1 {node1:?}: {x},{y}");
    drop(app);
    let app = mount("#v=1&s=clusterip-iptables&lang=en", None).await;
    let rows = app.count(r#"[data-testid="step-list"] [data-testid="step"]"#);
    let crossing = (1..=rows)
        .find(|n| {
            let row = format!(r#"[data-testid="step"]:nth-child({n})"#);
            app.try_find(&format!("{row}.kind-wire")).is_some()
                && app.text(&format!("{row} td.verdict")).trim() == "→ node-3"
        })
        .expect("the packet crosses to node-3");
    app.click(&format!(r#"[data-testid="step"]:nth-child({crossing})"#));
    TimeoutFuture::new(600).await;
    let (x, y) = center(&app);
    let (node1, node3) = (node_box(&app, 1), node_box(&app, 3));
    assert!(y > node1.3 && x > node1.2 && x < node3.0, "between the nodes, below them: {x},{y}");
}

#[wasm_bindgen_test]
async fn verdicts_keep_their_target_on_a_line_of_their_own() {
    // nft's `jump X`, and IPVS's `MASQ → address`, are not cut off in the narrow verdict column.
    for (lesson, action, target) in
        [("clusterip-nftables", "jump", "services"), ("clusterip-ipvs", "MASQ", "→ 10.244.")]
    {
        let app = mount(&format!("#v=1&s={lesson}&lang=en"), None).await;
        let cells = app.root.query_selector_all(r#"[data-testid="step"] td.verdict"#).expect("verdicts");
        let found = (0..cells.length()).filter_map(|n| cells.get(n)?.dyn_into::<Element>().ok()).any(|cell| {
            let text = |selector: &str| cell.query_selector(selector).ok().flatten().and_then(|e| e.text_content());
            text(".chip").as_deref() == Some(action) && text(".target").is_some_and(|t| t.starts_with(target))
        });
        assert!(found, "{lesson}: a {action} chip with its target below");
    }
}

#[wasm_bindgen_test]
async fn ipvs_schedules_in_its_own_box() {
    // At an IPVS step the packet sits in the node's IPVS box, which names the scheduler.
    let app = mount("#v=1&s=ipvs-sh&lang=en", None).await;
    let first_ipvs = (1..=app.count(r#"[data-testid="step-list"] [data-testid="step"]"#))
        .find(|n| app.try_find(&format!(r#"[data-testid="step"]:nth-child({n}).kind-ipvs"#)).is_some())
        .expect("the IPVS lesson has an IPVS step");
    app.click(&format!(r#"[data-testid="step"]:nth-child({first_ipvs})"#));
    TimeoutFuture::new(600).await; // the packet's move is a 0.45 s transition
    let packet = bounds(&app.find(r#"[data-testid="packet"] circle"#));
    let (x, y) = ((packet.0 + packet.2) / 2.0, (packet.1 + packet.3) / 2.0);
    let engines = app.root.query_selector_all(".topology .proxy-sock").expect("IPVS boxes");
    assert!(engines.length() >= 1, "every node draws its IPVS box");
    let holding = (0..engines.length())
        .filter_map(|n| engines.get(n)?.dyn_into::<Element>().ok())
        .find(|engine| {
            let inside = bounds(&engine.query_selector("rect").ok().flatten().expect("a box"));
            x >= inside.0 && x <= inside.2 && y >= inside.1 && y <= inside.3
        })
        .unwrap_or_else(|| panic!("the packet at {x},{y} is in no IPVS box"));
    assert_eq!(holding.text_content().unwrap_or_default(), "IPVS sh");
    // The rules pane highlights the real server IPVS chose, in ipvsadm -Ln, as chosen (not matched).
    let hit = app.find(r#"[data-testid="rules"] .line.hit"#);
    let line = hit.query_selector(".text").ok().flatten().and_then(|text| text.text_content()).unwrap_or_default();
    assert!(line.starts_with("  -> 10.244."), "{line:?}");
    assert_eq!(hit.query_selector(".tag").ok().flatten().and_then(|tag| tag.text_content()).as_deref(), Some("chosen"));
}

#[wasm_bindgen_test]
async fn ipvs_real_servers_show_their_weight() {
    // The wrr lesson's pods weigh 3, 2 and 1 (lbplay's Pod label), as ipvsadm -Ln lists them; in
    // iptables mode there is no weight to show.
    let tags = |app: &Mounted| -> Vec<String> {
        let list = app.root.query_selector_all(".topology .pod .tag").expect("tags");
        (0..list.length()).filter_map(|n| list.get(n)?.text_content()).collect()
    };
    let app = mount("#v=1&s=ipvs-wrr&lang=en", None).await;
    let mut weights: Vec<String> =
        tags(&app).iter().filter_map(|tag| tag.split("weight ").nth(1).map(str::to_string)).collect();
    weights.sort();
    assert_eq!(weights, ["1", "2", "3"], "{:?}", tags(&app));
    let rules = app.text(r#"[data-testid="rules"]"#);
    assert!(rules.contains("Masq    3"), "ipvsadm -Ln lists weight 3: {rules}");
    drop(app);
    let app = mount("#v=1&s=clusterip-iptables&lang=en", None).await;
    assert!(tags(&app).iter().all(|tag| !tag.contains("weight")), "{:?}", tags(&app));
}

#[wasm_bindgen_test]
async fn library_cards_load_a_scenario() {
    let all = lbplay_core::lessons::all();
    let app = mount("#v=1&s=clusterip-iptables&lang=zh", None).await;
    press("s").await;
    assert_eq!(app.count(r#"[data-testid="library"] [data-testid="card"]"#), all.len() as u32);
    assert!(app.text(r#"[data-testid="library"]"#).contains(all[0].title_zh));
    for builtin in all {
        let card = app.text(&format!(r#"[data-testid="card"][data-id="{}"]"#, builtin.id));
        assert!(card.contains(builtin.watch_zh), "{}: {card}", builtin.id);
        let chapter = app
            .find(&format!(r#"[data-testid="card"][data-id="{}"]"#, builtin.id))
            .closest("section")
            .expect("closest")
            .expect("a chapter");
        let heading =
            chapter.query_selector("h3").expect("query").expect("a heading").text_content().unwrap_or_default();
        assert_eq!(heading, builtin.chapter.title().zh, "{}", builtin.id);
    }
    let Some(other) = all.iter().find(|builtin| builtin.id != "clusterip-iptables") else { return };
    app.click(&format!(r#"[data-testid="card"][data-id="{}"]"#, other.id));
    settle().await;
    assert!(app.try_find(r#"[data-testid="library"]"#).is_none(), "picking a card closes the library");
    let hash = hash().await;
    assert!(hash.contains(&format!("s={}", other.id)), "{hash}");
    assert_eq!(app.selected(), "1");
}

/// Pressing → once per step walks the whole slice and ends on its last step. (How fast each
/// re-render is, is measured by `cargo xtask bench` — web/tests/bench_wasm.rs — not asserted here.)
#[wasm_bindgen_test]
async fn stepping_through_the_whole_slice_reaches_the_last_step() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en", None).await;
    let steps = app.count(r#"[data-testid="step-list"] [data-testid="step"]"#);
    for _ in 1..steps {
        let init = KeyboardEventInit::new();
        init.set_key("ArrowRight");
        init.set_bubbles(true);
        let event = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).expect("a key event");
        document().dispatch_event(&event).expect("dispatch");
        TimeoutFuture::new(0).await;
    }
    settle().await;
    assert_eq!(app.selected(), steps.to_string());
}

#[wasm_bindgen_test]
async fn experiment_histogram_counts_every_connection() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en", None).await;
    app.click(r#".right-tabs .tab:nth-child(3)"#);
    settle().await;
    app.click(r#"[data-testid="experiment-send"]"#);
    settle().await;
    let rows = app.count(r#"[data-testid="histogram"] tbody tr"#);
    assert_eq!(rows, 3, "the three endpoints");
    let text = app.text(r#"[data-testid="histogram"]"#);
    assert!(text.contains("pod/web-a") && text.contains("pod/web-c"), "{text}");
}

#[wasm_bindgen_test]
async fn the_experiment_starts_from_the_lessons_scheduler() {
    // The wrr lesson's real servers weigh 3, 2 and 1, so its 100 connections split about 50, 33
    // and 17 (rr would give each a third).
    let app = mount("#v=1&s=ipvs-wrr&lang=en", None).await;
    app.click(r#".right-tabs .tab:nth-child(3)"#);
    settle().await;
    let select = app.find(r#"[data-testid="experiment-scheduler"]"#).dyn_into::<web_sys::HtmlSelectElement>();
    assert_eq!(select.expect("a select").value(), "wrr");
    app.click(r#"[data-testid="experiment-send"]"#);
    settle().await;
    let text = app.text(r#"[data-testid="histogram"]"#);
    let served = |pod: &str| -> u64 {
        let row = text.split(pod).nth(1).unwrap_or_default().trim_start();
        row.split_whitespace().next().and_then(|count| count.parse().ok()).unwrap_or(0)
    };
    let (a, b, c) = (served("pod/web-a"), served("pod/web-b"), served("pod/web-c"));
    assert_eq!(a + b + c, 100, "{text}");
    assert!(a >= 48 && b >= 31 && c >= 15 && a > b && b > c, "3 : 2 : 1, not a third each: {text}");
}

#[wasm_bindgen_test]
async fn a_pasted_link_moves_the_open_page() {
    let app = mount("#v=1&s=fixture&step=2&lang=en", Some(Rc::new(fixture::scenario()))).await;
    assert_eq!(app.selected(), "2");
    web_sys::window().expect("a window").location().set_hash("v=1&s=fixture&step=6&lang=zh").expect("set the hash");
    TimeoutFuture::new(100).await;
    assert_eq!(app.selected(), "6");
    assert_eq!(app.text(r#"[data-testid="narration"]"#), fixture::trace().steps[5].note.zh);
}

#[wasm_bindgen_test]
async fn reduced_motion_toggle() {
    // The stylesheet is not loaded in the test page, so check the class its rule keys on
    // (`.reduce-motion .topology .packet { transition: none }`), and the button's state.
    let app = mount("#v=1&lang=en", Some(Rc::new(fixture::scenario()))).await;
    app.click(r#"[data-testid="motion"]"#);
    settle().await;
    assert_eq!(app.find(r#"[data-testid="motion"]"#).get_attribute("aria-pressed").as_deref(), Some("true"));
    assert!(app.try_find(".app.reduce-motion [data-testid=\"packet\"]").is_some());
    app.click(r#"[data-testid="motion"]"#);
    settle().await;
    assert!(app.try_find(".app.reduce-motion").is_none());
}

#[wasm_bindgen_test]
async fn scaling_chart_compares_the_modes() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en", None).await;
    app.click(r#".right-tabs .tab:nth-child(3)"#);
    settle().await;
    app.click(r#"[data-testid="scaling-run"]"#);
    settle().await;
    let text = app.text(r#"[data-testid="scaling"]"#);
    for mode in ["userspace", "iptables", "nftables", "ipvs"] {
        assert!(text.contains(mode), "{text}");
    }
    assert_eq!(app.count(r#"[data-testid="scaling"] tbody tr"#), 4);
}

#[wasm_bindgen_test]
async fn the_same_service_in_another_proxy_mode() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en&mode=ipvs", None).await;
    assert!(app.try_find(r#"[data-testid="problems"]"#).is_none());
    assert!(app.count(r#"[data-testid="step-list"] tr.kind-ipvs"#) >= 1, "IPVS steps in the event list");
    assert!(app.text(r#"[data-testid="rules"]"#).contains("TCP  10.96.100.10:80"), "ipvsadm -Ln in the rules pane");
    press("ArrowRight").await;
    assert!(hash().await.contains("mode=ipvs"));
}

#[wasm_bindgen_test]
async fn userspace_mode_relays_through_kube_proxy_and_shows_conntrack() {
    let app = mount("#v=1&s=clusterip-iptables&lang=en&mode=userspace", None).await;
    assert!(app.try_find(r#"[data-testid="problems"]"#).is_none());
    assert!(app.text(r#"[data-testid="mode"]"#).contains("removed in v1.26"));
    assert!(app.count(r#"[data-testid="step-list"] tr.kind-proxy"#) >= 1, "the relay's steps in the event list");
    let steps = app.count(r#"[data-testid="step-list"] [data-testid="step"]"#);
    let mut seen = false;
    for _ in 1..steps {
        if let Some(entry) = app.try_find(r#"[data-testid="conntrack"]"#) {
            let text = entry.text_content().unwrap_or_default();
            assert!(text.starts_with("conntrack tcp") && text.contains("original") && text.contains("src="), "{text}");
            seen = true;
            break;
        }
        press("ArrowRight").await;
    }
    assert!(seen, "some step shows the connection's conntrack entry");
}

/// Issue 11: the request segment's payload reads as HTTP fields in the inspector, and clicking
/// the request line frames exactly its bytes; a proxied walk lists its two connections.
#[wasm_bindgen_test]
async fn an_http_request_shows_its_fields_and_bytes() {
    let scenario = lbplay_web::run::load_builtin("l4-http");
    let request = scenario
        .trace
        .steps
        .iter()
        .position(|step| step.kind == lbplay_core::StepKind::Send && !step.after.payload().is_empty())
        .expect("the request's send step");
    let app = mount(&format!("#v=1&s=l4-http&step={}&lang=en", request + 1), None).await;
    let rows = app.text(r#"[data-testid="fields"]"#);
    assert!(rows.contains("HTTP"), "an HTTP layer: {rows}");
    assert!(rows.contains("GET /hello HTTP/1.1"), "the request line: {rows}");
    assert!(rows.contains("web.default.svc.cluster.local"), "the Host header: {rows}");
    let buttons = app.root.query_selector_all(r#"[data-testid="fields"] button"#).expect("buttons");
    let line = (0..buttons.length())
        .filter_map(|index| buttons.item(index))
        .find(|button| button.text_content().unwrap_or_default() == "request line")
        .expect("a request line field");
    line.dyn_into::<HtmlElement>().expect("a button").click();
    settle().await;
    assert_eq!(app.count(r#"[data-testid="hex"] .byte.sel"#), "GET /hello HTTP/1.1\r\n".len() as u32);
    assert!(app.try_find(r#"[data-testid="connections"]"#).is_none(), "one connection, no legend");
    drop(app);
    let proxied = mount("#v=1&s=l4-http&mode=userspace&step=1&lang=en", None).await;
    let legend = proxied.text(r#"[data-testid="connections"]"#);
    assert!(legend.contains("①") && legend.contains("②"), "two connections: {legend}");
}

#[wasm_bindgen_test]
async fn a_meshed_pod_draws_its_sidecar_and_shows_its_own_nat_table() {
    let scenario = lbplay_web::run::load_builtin("mesh-sidecar");
    let redirect = scenario
        .trace
        .steps
        .iter()
        .position(|step| step.chain.as_deref() == Some("ISTIO_REDIRECT"))
        .expect("the client's connection meets ISTIO_REDIRECT");
    let app = mount(&format!("#v=1&s=mesh-sidecar&lang=en&step={}", redirect + 1), None).await;
    assert!(app.count(".topology .pod .sidecar") >= 1, "an injected pod holds its Envoy");
    let note = app.text(".rules-pane .pane-note");
    assert!(note.contains("the pod's network namespace"), "{note}");
    let hit = app.text(r#"[data-testid="rules"] .hit .text"#);
    assert!(hit.starts_with("-A ISTIO_REDIRECT") && hit.contains("--to-ports 15001"), "{hit}");
}
