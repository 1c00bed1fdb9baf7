//! The WebAssembly benchmarks, run by `cargo xtask bench` in headless Chromium: the same core
//! timings as the native benches (issue 3's model parse and build, issue 4's iptables build,
//! render and walk, with their peak heap), and issue 6's stepping re-render on a 60-step trace.
//!
//! They print figure lines in the native benches' format (`core/benches/common/mod.rs`, included
//! here by path so both platforms run exactly the same work) and assert nothing about time. The
//! file is a test target only with the `bench` feature (see `[[test]]` in `web/Cargo.toml`), so
//! tier 2's ordinary browser run has no timing tests. Run it optimised:
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! CHROMEDRIVER=/usr/bin/chromedriver cargo test --release --target wasm32-unknown-unknown
//! -p lbplay-web --features bench --test bench_wasm`.

#![cfg(target_arch = "wasm32")]

#[path = "../../core/benches/common/mod.rs"]
mod common;

use std::rc::Rc;

use gloo_timers::future::TimeoutFuture;
use lbplay_web::app::{App, AppProps};
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{KeyboardEvent, KeyboardEventInit};

wasm_bindgen_test_configure!(run_in_browser);

/// Counts the heap bytes in use, as the native benches do, so the peak figures compare.
#[global_allocator]
static ALLOCATOR: PeakMemAlloc<std::alloc::System> = PeakMemAlloc::new(std::alloc::System);

/// The page's monotonic clock in milliseconds (`Instant` panics in wasm32).
fn now() -> f64 {
    web_sys::window().and_then(|window| window.performance()).map(|performance| performance.now()).unwrap_or(0.0)
}

fn print(line: &str) {
    console_log!("{line}");
}

fn peak(work: &mut dyn FnMut()) -> Option<usize> {
    ALLOCATOR.reset_peak_memory();
    work();
    Some(ALLOCATOR.get_peak_memory())
}

/// Issue 3 and issue 4 in the browser, figure for figure beside the native benches.
#[wasm_bindgen_test]
fn core_timings_in_wasm() {
    let probe = common::Probe { platform: "wasm", clock: &now, peak: &peak, print: &print, timings: true };
    common::model_timings(&probe);
    common::iptables_timings(&probe);
}

/// The number of steps issue 6 asks the stepping benchmark for.
const STEPS: usize = 60;
/// How many times the 59 presses are repeated: the first round pays for warming up (the first
/// render of every row and node, the engine's compilation of the render paths), the later ones
/// (each from step 1 again, after Home) show what a learner going through the trace again sees.
const ROUNDS: usize = 5;

/// One → press: which step it selected and what that step changes on the page, and how long the
/// press took until Yew had rendered (`render`) and until the browser had also laid the page out
/// (`laid_out`).
struct Press {
    round: usize,
    step: usize,
    kind: &'static str,
    node: String,
    /// The rules pane shows another node's rules than for the step before.
    rules_node_changed: bool,
    /// The highlighted rule changed.
    hit_changed: bool,
    render: f64,
    laid_out: f64,
}

/// Resolves at the browser's next animation frame and then once the frame's work is done
/// (a timer queued from inside the frame callback runs after style, layout and paint).
async fn next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let window = web_sys::window().expect("a window");
        let frame = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ =
                web_sys::window().expect("a window").set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        });
        let _ = window.request_animation_frame(frame.unchecked_ref());
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Issue 6: the app mounted on a 60-step trace (the ClusterIP scenario's real steps, repeated to
/// reach 60 so that the rules pane, the inspector and the topology stay those of a real lesson),
/// styled with the page's own stylesheet (without it the panes are not scroll boxes and layout
/// costs nothing like the page's), then each → press timed.
///
/// The window a press is timed over: from dispatching the key event to the moment the page is
/// rendered *and laid out*. Yew renders in a microtask queued by the dispatch, so awaiting one more
/// microtask ends after Yew's diff, its DOM mutations and the effects' forced layouts (`render`);
/// reading `offsetHeight` then makes the browser recompute style and layout for whatever the
/// render dirtied, which it would otherwise do just before the next frame (`laid_out`). The figure
/// against issue 6's 16 ms is `laid_out`: a learner sees the step at the next frame, and a frame is
/// 16.7 ms at 60 Hz, so script, style and layout together must fit in it. Paint and compositing are
/// left out (they are not synchronous to script, and headless Chromium's are not the screen's). Each
/// press starts after a frame has been drawn, as a learner's key presses do.
///
/// The first round pays for warming up; every round's presses count in the worst figure. The
/// slowest presses are listed with the step they selected and what changed on the page.
#[wasm_bindgen_test]
async fn stepping_a_60_step_trace() {
    let builtin = lbplay_web::scenario::load_builtin("clusterip-iptables");
    let mut scenario = (*builtin).clone();
    let real = scenario.trace.steps.clone();
    assert!(!real.is_empty(), "the built-in scenario walks: {:?}", scenario.problems);
    while scenario.trace.steps.len() < STEPS {
        scenario.trace.steps.extend(real.iter().cloned());
    }
    scenario.trace.steps.truncate(STEPS);
    let scenario = Rc::new(scenario);

    let window = web_sys::window().expect("a window");
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.clear();
    }
    let history = window.history().expect("history");
    history
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("#v=1&s=clusterip-iptables&lang=en"))
        .expect("set the hash");
    let document = window.document().expect("a document");
    let style = document.create_element("style").expect("a style element");
    style.set_text_content(Some(include_str!("../../static/style.css")));
    let body = document.body().expect("a body");
    body.append_child(&style).expect("append the stylesheet");
    let root = document.create_element("div").expect("a div");
    body.append_child(&root).expect("append");
    let handle =
        yew::Renderer::<App>::with_root_and_props(root.clone(), AppProps { scenario: Some(scenario.clone()) }).render();
    TimeoutFuture::new(50).await;
    next_frame().await;

    let key = |name: &str| {
        let init = KeyboardEventInit::new();
        init.set_key(name);
        init.set_bubbles(true);
        KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).expect("a key event")
    };
    let shown = root.query_selector_all(r#"[data-testid="step-list"] [data-testid="step"]"#).map(|l| l.length());
    let mut presses = Vec::with_capacity(ROUNDS * (STEPS - 1));
    for round in 0..ROUNDS {
        document.dispatch_event(&key("Home")).expect("dispatch");
        next_frame().await;
        for step in 1..STEPS {
            let event = key("ArrowRight");
            let start = now();
            document.dispatch_event(&event).expect("dispatch");
            let _ = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL)).await;
            let rendered = now();
            let _ = body.offset_height();
            let laid_out = now();
            let selected = &scenario.trace.steps[step];
            let previous = &scenario.trace.steps[step - 1];
            let rules_node = |at: usize| scenario.rules_for_step(at).map(|(node, _)| node.to_string());
            presses.push(Press {
                round,
                step,
                kind: selected.kind.as_str(),
                node: selected.node.clone(),
                rules_node_changed: rules_node(step) != rules_node(step - 1),
                hit_changed: selected.rule_at != previous.rule_at,
                render: rendered - start,
                laid_out: laid_out - start,
            });
            next_frame().await;
        }
    }
    let position = root
        .query_selector(r#"[data-testid="position"]"#)
        .ok()
        .flatten()
        .and_then(|position| position.text_content())
        .unwrap_or_default();
    handle.destroy();
    root.remove();
    style.remove();

    print(&format!(
        "stepping: {} steps shown, {ROUNDS} rounds of {} → presses timed, ending at {position:?}",
        shown.unwrap_or(0),
        STEPS - 1
    ));
    print("round step kind       node            rules-node hit  render ms  +layout ms");
    let mut slowest: Vec<&Press> = presses.iter().collect();
    slowest.sort_by(|a, b| b.laid_out.total_cmp(&a.laid_out));
    for press in slowest.iter().take(12) {
        print(&format!(
            "{:>5} {:>4} {:<10} {:<15} {:<10} {:<4} {:>9.2} {:>11.2}",
            press.round + 1,
            press.step + 1,
            press.kind,
            press.node,
            if press.rules_node_changed { "changed" } else { "-" },
            if press.hit_changed { "new" } else { "-" },
            press.render,
            press.laid_out
        ));
    }
    if let Some(first) = presses.first() {
        print(&format!("first press after mounting: {:.2} ms (render alone {:.2} ms)", first.laid_out, first.render));
    }
    for round in 0..ROUNDS {
        let mut times: Vec<f64> =
            presses.iter().filter(|press| press.round == round).map(|press| press.laid_out).collect();
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        print(&format!(
            "round {}: median {:.2} ms, mean {mean:.2} ms, 90th percentile {:.2} ms, worst {:.2} ms",
            round + 1,
            times[times.len() / 2],
            times[times.len() * 9 / 10],
            times[times.len() - 1]
        ));
    }
    let worst = presses.iter().map(|press| press.laid_out).fold(0.0, f64::max);
    let mean = presses.iter().map(|press| press.laid_out).sum::<f64>() / presses.len() as f64;
    let count = presses.len();
    print(&common::figure(&format!("wasm stepping render + layout, worst of {count} steps"), worst, "ms", Some(16.0)));
    print(&common::figure(&format!("wasm stepping render + layout, mean of {count} steps"), mean, "ms", Some(16.0)));
}
