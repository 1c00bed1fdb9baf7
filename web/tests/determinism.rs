//! Determinism: the slice's trace computed here, in WebAssembly, is byte for byte the native
//! snapshot that `core/tests/slice.rs` checks (same scenario, same seed, same JSON rendering).

#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const NATIVE: &str = include_str!("../../core/tests/snapshots/clusterip-iptables.seed1.json");

#[wasm_bindgen_test]
fn wasm_trace_equals_the_native_snapshot() {
    let scenario = lbplay_web::run::load_builtin("clusterip-iptables");
    assert!(scenario.problems.is_empty(), "{:?}", scenario.problems);
    let json = serde_json::to_string_pretty(&scenario.trace.to_json()).expect("JSON") + "\n";
    if json != NATIVE {
        let line = json.lines().zip(NATIVE.lines()).position(|(a, b)| a != b);
        panic!("the wasm trace differs from the native snapshot, first at line {line:?}");
    }
}
