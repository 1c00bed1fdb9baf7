//! `cargo xtask bench`: every benchmark of the project, then one summary table.
//!
//! Three stages run in turn, each even when an earlier one failed. The native benches
//! (`cargo bench -p lbplay-core`, in `core/benches/`) time the simulator and, where the machine
//! allows, the real `iptables-restore`. The browser bench (`web/tests/bench_wasm.rs`, built with
//! lbplay-web's `bench` feature) runs the same core timings compiled to wasm32 in headless
//! Chromium, at the native benches' optimisation level, then the stepping re-render, built as the
//! page ships. The page build (`trunk build --release --offline`)
//! gives the app's gzipped size, and a build of the same module with its function names kept
//! (the `wasm-names` profile) says where those bytes go, crate by crate (`wasm_size`). Every bench prints its figures as
//! `[figure] NAME | VALUE UNIT | ≤ TARGET UNIT` lines (see `core/benches/common/mod.rs`); this
//! module echoes all output as it comes, collects those lines, adds the wasm/native ratio of each
//! timing measured on both platforms, and prints the table.
//!
//! A figure that misses its target does not fail the command: benchmarks inform, and the table
//! says which targets were missed. A bench that does not run (a build error, a panic, a browser
//! that does not start) does fail it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{install, pages, serve_dir, tiers, util, wasm_size};

/// How many crates and functions the size breakdown lists.
const TOP_CRATES: usize = 25;
const TOP_FUNCTIONS: usize = 25;
/// How many of those crates also become figures in the summary table.
const TOP_CRATE_FIGURES: usize = 8;

/// The marker the benches start every figure line with.
const MARK: &str = "[figure] ";

/// The app's wasm and JavaScript together, gzipped, must stay under this (issue 17; issue 6 had
/// 400), in kB.
const SIZE_TARGET_KB: f64 = 300.0;

/// A key press in the editor should show its re-run trace within this (issue 15), in ms.
const KEYSTROKE_TARGET_MS: f64 = 50.0;

/// The wasm timings should stay within this factor of the native ones (issue 4).
const RATIO_TARGET: f64 = 2.0;

/// One figure read back from a bench's output.
#[derive(Debug, Clone, PartialEq)]
struct Figure {
    name: String,
    value: f64,
    unit: String,
    /// The most the value may be, in the same unit.
    target: Option<f64>,
}

pub(crate) fn run(page_only: bool) -> Result<(), String> {
    let started = Instant::now();
    install::run(install::Scope::Everything)?;
    let root = util::repo_root();
    let mut figures = Vec::new();
    let mut notes = vec![load_note("at the start")];
    let mut failures = Vec::new();

    if !page_only {
        native_and_wasm(&root, &mut figures, &mut notes, &mut failures);
    }

    println!("\n==> the built app's size and the editor's keystroke bench (trunk build --release --offline)");
    match app_size(&root) {
        Ok(sized) => {
            for figure in &sized {
                println!("{}", line(figure));
            }
            figures.extend(sized);
        }
        Err(e) => failures.push(e),
    }

    println!("\n==> where the page's wasm bytes go (the wasm-names profile, through wasm-bindgen)");
    match named_wasm(&root).and_then(|file| print_breakdown(&file)).map(|breakdown| breakdown_figures(&breakdown)) {
        Ok(sized) => figures.extend(sized),
        Err(e) => failures.push(e),
    }

    let ratios = ratios(&figures);
    figures.extend(ratios);
    notes.push(load_note("at the end"));
    print_summary(&figures, &notes, &failures);
    println!("\nbench took {}", util::human(started.elapsed()));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} bench stage(s) did not run to the end; see above", failures.len()))
    }
}

/// The native benches, then the core timings and the stepping bench in headless Chromium.
fn native_and_wasm(root: &Path, figures: &mut Vec<Figure>, notes: &mut Vec<String>, failures: &mut Vec<String>) {
    println!("\n==> native benches (cargo bench -p lbplay-core)");
    let mut native = util::command("cargo");
    native.args(["bench", "-p", "lbplay-core", "--bench", "*"]).current_dir(root);
    collect(native, "cargo bench -p lbplay-core", figures, notes, failures);
    // The core timings are built as the native benches are (`--release`), so that the wasm/native
    // ratios compare one optimisation level; the stepping bench is built as the page ships
    // (`wasm-release`, index.html's data-cargo-profile-release), since what it times is what a
    // learner's browser runs, V8's compilation of that code on its first call included.
    let wasm_runs: [(&str, &str, &str); 2] = [
        ("--release", "core_timings_in_wasm", "the browser core timings (bench_wasm, --release)"),
        (
            "--profile=wasm-release",
            "stepping",
            "the browser stepping bench (bench_wasm, the page's wasm-release build)",
        ),
    ];
    for (profile, filter, label) in wasm_runs {
        println!("\n==> {label}, in headless Chromium");
        let Some(driver) = tiers::chromedriver() else {
            failures.push(
                "chromedriver not found: install chromium and chromium-driver (`cargo xtask install` as root on Debian)"
                    .to_string(),
            );
            break;
        };
        let mut wasm = util::command("cargo");
        wasm.args([
            "test",
            profile,
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "lbplay-web",
            "--features",
            "bench",
            "--test",
            "bench_wasm",
            filter,
            "--",
            "--nocapture",
        ])
        .current_dir(root)
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", driver)
        // The model bench alone takes several seconds a run; the runner's default limit is 20 s.
        .env("WASM_BINDGEN_TEST_TIMEOUT", "600");
        collect(wasm, label, figures, notes, failures);
    }
}

/// Runs a bench command, echoing its standard output line by line while keeping the figure
/// lines and the `skipped:` notes; a failure to start or a non-zero exit is recorded.
fn collect(
    mut command: Command,
    what: &str,
    figures: &mut Vec<Figure>,
    notes: &mut Vec<String>,
    failures: &mut Vec<String>,
) {
    command.stdin(Stdio::null()).stdout(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            failures.push(format!("could not start {what}: {e}"));
            return;
        }
    };
    let before = figures.len();
    if let Some(stdout) = child.stdout.take() {
        for text in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{text}");
            if let Some(figure) = parse(&text) {
                figures.push(figure);
            } else if text.contains(": skipped: ") {
                notes.push(text.trim().to_string());
            }
        }
    }
    match child.wait() {
        // A test filter that matches nothing passes too: a bench that printed no figure did not run.
        Ok(status) if status.success() && figures.len() == before => failures.push(format!("{what} printed no figure")),
        Ok(status) if status.success() => {}
        Ok(status) => failures.push(format!("{what} exited with {status}")),
        Err(e) => failures.push(format!("{what}: {e}")),
    }
}

/// Reads `[figure] NAME | VALUE UNIT | ≤ TARGET UNIT` (or `| -`), wherever it sits in the line
/// (the browser runner may prefix console output).
fn parse(text: &str) -> Option<Figure> {
    let rest = &text[text.find(MARK)? + MARK.len()..];
    let mut parts = rest.split(" | ");
    let name = parts.next()?.trim().to_string();
    let (value, unit) = number_and_unit(parts.next()?)?;
    let target = match parts.next()?.trim() {
        "-" => None,
        bound => Some(number_and_unit(bound.trim_start_matches('≤'))?.0),
    };
    Some(Figure { name, value, unit, target })
}

/// `12.5 ms` → (12.5, "ms"); `343` → (343, "").
fn number_and_unit(text: &str) -> Option<(f64, String)> {
    let text = text.trim();
    let (number, unit) = text.split_once(' ').unwrap_or((text, ""));
    Some((number.parse().ok()?, unit.trim().to_string()))
}

/// The line a figure is printed as, in the benches' own format.
fn line(figure: &Figure) -> String {
    let value = format_value(figure.value, &figure.unit);
    let target = figure.target.map_or("-".to_string(), |t| format!("≤ {}", format_value(t, &figure.unit)));
    format!("{MARK}{} | {value} | {target}", figure.name)
}

fn format_value(value: f64, unit: &str) -> String {
    let decimals = match unit {
        "ms" => 3,
        "MiB" | "KiB" | "KB" | "kB" => 1,
        "x" => 2,
        _ => 0,
    };
    if unit.is_empty() { format!("{value:.decimals$}") } else { format!("{value:.decimals$} {unit}") }
}

/// The wasm/native ratio of every timing measured on both platforms (`wasm X` beside
/// `native X`), with issue 4's target of at most 2×.
fn ratios(figures: &[Figure]) -> Vec<Figure> {
    let mut out = Vec::new();
    for wasm in figures.iter().filter(|f| f.unit == "ms") {
        let Some(rest) = wasm.name.strip_prefix("wasm ") else { continue };
        let native_name = format!("native {rest}");
        let Some(native) = figures.iter().find(|f| f.name == native_name && f.unit == "ms") else { continue };
        if native.value > 0.0 {
            out.push(Figure {
                name: format!("wasm/native {rest}"),
                value: wasm.value / native.value,
                unit: "x".into(),
                target: Some(RATIO_TARGET),
            });
        }
    }
    out
}

/// `trunk build --release --offline`, then the gzipped size of what loads before the first
/// paint (the wasm, the JavaScript with wasm-bindgen's snippets, the CSS, index.html) against issue
/// 6's budget, and of the editor chunk (loaded only when editing starts); then the time from a
/// key press in CodeMirror to the re-run trace of a 50-object scenario on the built page
/// (`pages::keystrokes`), against issue 15's 50 ms.
fn app_size(root: &Path) -> Result<Vec<Figure>, String> {
    let status = util::command("trunk")
        .args(["build", "--release", "--offline"])
        .current_dir(root)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("could not start trunk ({e}); run `cargo xtask install`"))?;
    if !status.success() {
        return Err(format!("trunk build --release --offline exited with {status}"));
    }
    let dist = root.join("dist");
    let sizes = pages::sizes(&dist)?;
    for file in &sizes.files {
        println!("{file}");
    }
    if sizes.first_paint == 0 {
        return Err("trunk built nothing into dist/".into());
    }
    let kb = |bytes: u64| bytes as f64 / 1000.0;
    let mut figures = vec![
        Figure {
            name: "app first paint gzipped".into(),
            value: kb(sizes.first_paint),
            unit: "KB".into(),
            target: Some(SIZE_TARGET_KB),
        },
        Figure {
            name: "editor chunk gzipped (on first edit)".into(),
            value: kb(sizes.editor_chunk),
            unit: "KB".into(),
            target: None,
        },
    ];
    let driver = tiers::chromedriver().ok_or("chromedriver not found: install chromium-driver")?;
    let port = serve_dir::spawn(dist)?;
    let mut times = pages::keystrokes(&driver, &format!("http://127.0.0.1:{port}/"))?;
    println!("keystroke → re-run trace, ms: {}", times.iter().map(|t| format!("{t:.1}")).collect::<Vec<_>>().join(" "));
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let slowest = times[times.len() - 1];
    figures.push(Figure {
        name: "wasm keystroke to re-run trace, 50 objects (median)".into(),
        value: median,
        unit: "ms".into(),
        target: Some(KEYSTROKE_TARGET_MS),
    });
    figures.push(Figure {
        name: "wasm keystroke to re-run trace, 50 objects (slowest)".into(),
        value: slowest,
        unit: "ms".into(),
        target: None,
    });
    Ok(figures)
}

/// The page's module as it ships but with its function names: built with the `wasm-names`
/// profile (`wasm-release` without `strip`) and passed through wasm-bindgen as Trunk does, which
/// drops the bindings' descriptors so that what is measured is what the page loads.
fn named_wasm(root: &Path) -> Result<std::path::PathBuf, String> {
    let target = "wasm32-unknown-unknown";
    let status = util::command("cargo")
        .args(["build", "--profile", "wasm-names", "--target", target, "-p", "lbplay-web", "--bin", "lbplay-web"])
        .current_dir(root)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("could not start cargo build --profile wasm-names: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --profile wasm-names exited with {status}"));
    }
    let built = root.join("target").join(target).join("wasm-names").join("lbplay-web.wasm");
    let out = root.join("target").join("wasm-names-bindgen");
    let status = util::command("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(&out)
        .arg(&built)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("could not start wasm-bindgen ({e}); run `cargo xtask install`"))?;
    if !status.success() {
        return Err(format!("wasm-bindgen on {} exited with {status}", built.display()));
    }
    Ok(out.join("lbplay-web_bg.wasm"))
}

/// Builds the page's module with its names (`named_wasm`) and prints where its bytes go.
pub(crate) fn page_breakdown() -> Result<wasm_size::Breakdown, String> {
    install::run(install::Scope::WebBuild)?;
    print_breakdown(&named_wasm(&util::repo_root())?)
}

/// The gzipped size of each of the largest crates as a figure without a target (the budget is on
/// the whole page, above).
fn breakdown_figures(breakdown: &wasm_size::Breakdown) -> Vec<Figure> {
    let figures: Vec<Figure> = breakdown
        .crates
        .iter()
        .take(TOP_CRATE_FIGURES)
        .map(|part| Figure {
            name: format!("wasm gzipped: {}", part.name),
            value: part.gzipped as f64 / 1000.0,
            unit: "KB".into(),
            target: None,
        })
        .collect();
    for figure in &figures {
        println!("{}", line(figure));
    }
    figures
}

/// Prints where a module's bytes go (see `wasm_size`): its sections, the crates by gzipped size,
/// and the largest functions.
pub(crate) fn print_breakdown(file: &Path) -> Result<wasm_size::Breakdown, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let breakdown = wasm_size::breakdown(&bytes, TOP_FUNCTIONS)?;
    println!(
        "{}: {} KiB, {:.1} KB gzipped",
        file.display(),
        bytes.len() / 1024,
        tiers::gzipped_size(file)? as f64 / 1000.0
    );
    println!("{:>10}  {:>10}  section", "bytes", "gzipped");
    for part in &breakdown.sections {
        println!("{:>10}  {:>10}  {}", part.bytes, part.gzipped, part.name);
    }
    if breakdown.crates.is_empty() {
        println!("(no name section: build with the wasm-names profile to see crates and functions)");
        return Ok(breakdown);
    }
    println!("{:>10}  {:>10}  crate (function bodies; the data section as one)", "bytes", "gzipped");
    for part in breakdown.crates.iter().take(TOP_CRATES) {
        println!("{:>10}  {:>10}  {}", part.bytes, part.gzipped, part.name);
    }
    println!("{:>10}  {:>10}  function", "bytes", "");
    for part in &breakdown.functions {
        println!("{:>10}  {:>10}  {}", part.bytes, "", part.name);
    }
    Ok(breakdown)
}

/// The machine's load, so a reader can tell a slow figure from a busy machine: timings taken while
/// other work holds the cores (a load average above the number of cores) are not comparable.
fn load_note(when: &str) -> String {
    let load =
        std::fs::read_to_string("/proc/loadavg").ok().and_then(|text| text.split_whitespace().next().map(String::from));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    match load {
        Some(load) => {
            format!("load average {when}: {load} on {cores} cores (timings are noisy when it exceeds the cores)")
        }
        None => format!("load average {when}: unknown on {cores} cores"),
    }
}

/// The table: figure, value, target, and whether the value is within it.
fn print_summary(figures: &[Figure], notes: &[String], failures: &[String]) {
    println!("\n==> bench summary");
    let width = figures.iter().map(|f| f.name.chars().count()).max().unwrap_or(6).max(6);
    println!("{:<width$}  {:>16}  {:>14}  within target", "figure", "value", "target");
    for figure in figures {
        let target = figure.target.map_or("-".to_string(), |t| format!("≤ {}", format_value(t, &figure.unit)));
        let within = match figure.target {
            Some(t) if figure.value <= t => "yes",
            Some(_) => "NO",
            None => "-",
        };
        println!("{:<width$}  {:>16}  {:>14}  {within}", figure.name, format_value(figure.value, &figure.unit), target);
    }
    let missed = figures.iter().filter(|f| f.target.is_some_and(|t| f.value > t)).count();
    let targeted = figures.iter().filter(|f| f.target.is_some()).count();
    println!("{} of {targeted} targets met (a missed target is reported, not a failure)", targeted - missed);
    for note in notes {
        println!("{note}");
    }
    for failure in failures {
        println!("FAILED: {failure}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_benches_print() {
        let figure = parse("[figure] native iptables build (10k x 10) | 132.385 ms | ≤ 150.000 ms").expect("a figure");
        assert_eq!(figure.name, "native iptables build (10k x 10)");
        assert_eq!((figure.value, figure.unit.as_str(), figure.target), (132.385, "ms", Some(150.0)));
        let count = parse("[figure] native iptables rules written at 10000 Services | 320023 | -").expect("a count");
        assert_eq!((count.value, count.unit.as_str(), count.target), (320023.0, "", None));
        assert_eq!(line(&figure), "[figure] native iptables build (10k x 10) | 132.385 ms | ≤ 150.000 ms");
        assert_eq!(parse("model: 5108 KiB of YAML"), None);
    }

    #[test]
    fn pairs_wasm_with_native() {
        let figure = |name: &str, value: f64| Figure { name: name.into(), value, unit: "ms".into(), target: None };
        let figures = [figure("native walk", 0.25), figure("wasm walk", 0.5), figure("wasm stepping", 4.0)];
        let ratios = ratios(&figures);
        assert_eq!(ratios.len(), 1);
        assert_eq!((ratios[0].name.as_str(), ratios[0].value, ratios[0].target), ("wasm/native walk", 2.0, Some(2.0)));
    }
}
