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

/// Issue 6: the app mounted on a 60-step trace (the ClusterIP scenario's real steps, repeated to
/// reach 60 so that the rules pane, the inspector and the topology stay those of a real lesson),
/// then each → press timed from the key event to the end of Yew's render, the way
/// `web/tests/browser.rs` measures it. Prints the worst and the mean step.
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

    let window = web_sys::window().expect("a window");
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.clear();
    }
    let history = window.history().expect("history");
    history
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("#v=1&s=clusterip-iptables&lang=en"))
        .expect("set the hash");
    let document = window.document().expect("a document");
    let root = document.create_element("div").expect("a div");
    document.body().expect("a body").append_child(&root).expect("append");
    let handle =
        yew::Renderer::<App>::with_root_and_props(root.clone(), AppProps { scenario: Some(Rc::new(scenario)) })
            .render();
    TimeoutFuture::new(50).await;

    let shown = root.query_selector_all(r#"[data-testid="step-list"] [data-testid="step"]"#).map(|l| l.length());
    let mut times = Vec::with_capacity(STEPS);
    for _ in 1..STEPS {
        let init = KeyboardEventInit::new();
        init.set_key("ArrowRight");
        init.set_bubbles(true);
        let event = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).expect("a key event");
        let start = now();
        document.dispatch_event(&event).expect("dispatch");
        // Yew renders in a microtask queued by the dispatch; this one runs after it.
        let _ = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL)).await;
        times.push(now() - start);
        TimeoutFuture::new(0).await;
    }
    handle.destroy();
    root.remove();

    let worst = times.iter().copied().fold(0.0, f64::max);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    print(&format!("stepping: {} steps shown, {} → presses timed", shown.unwrap_or(0), times.len()));
    print(&common::figure("wasm stepping re-render, worst of 59 steps", worst, "ms", Some(16.0)));
    print(&common::figure("wasm stepping re-render, mean of 59 steps", mean, "ms", Some(16.0)));
}
