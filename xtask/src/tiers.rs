//! `cargo xtask test`: the four tiers of `../shared/design.md` ("Testing tiers"), each run even
//! when an earlier one failed, then one summary line per tier.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{dom, install, pages, serve_dir, util};

enum Outcome {
    Passed(String),
    Failed(String),
    Skipped(String),
}

struct Tier {
    name: &'static str,
    run: fn(&Path) -> Outcome,
}

const TIERS: [Tier; 4] = [
    Tier { name: "tier 1 (cargo test --workspace)", run: tier1_native },
    Tier { name: "tier 2 (browser tests, headless Chromium)", run: tier2_browser },
    Tier { name: "tier 3 (trunk build --release, page rendered)", run: tier3_page },
    Tier { name: "tier 4 (differential tests: real nginx, the kernel)", run: tier4_kernel },
];

pub(crate) fn run_all() -> Result<(), String> {
    let started = Instant::now();
    install::run(install::Scope::Everything)?;
    let root = util::repo_root();
    let mut summary = Vec::new();
    let mut failed = false;
    for tier in &TIERS {
        println!("\n==> {}", tier.name);
        let tier_started = Instant::now();
        let outcome = (tier.run)(&root);
        let took = util::human(tier_started.elapsed());
        let line = match outcome {
            Outcome::Passed(detail) if detail.is_empty() => format!("{}: passed in {took}", tier.name),
            Outcome::Passed(detail) => format!("{}: passed in {took} ({detail})", tier.name),
            Outcome::Failed(reason) => {
                failed = true;
                format!("{}: FAILED in {took}: {reason}", tier.name)
            }
            Outcome::Skipped(reason) => format!("{}: skipped: {reason}", tier.name),
        };
        println!("{line}");
        summary.push(line);
    }
    println!("\n==> summary ({} in all)", util::human(started.elapsed()));
    for line in &summary {
        println!("{line}");
    }
    if failed { Err("at least one tier failed; its line above says what to look at".into()) } else { Ok(()) }
}

/// `cargo xtask page`: tier 3 alone, for work on the page.
pub(crate) fn run_page() -> Result<(), String> {
    install::run(install::Scope::WebBuild)?;
    let detail = page(&util::repo_root())?;
    println!("tier 3: passed ({detail})");
    Ok(())
}

/// Runs a command with its output streamed to ours (CI counts cargo's `test result:` lines).
fn streamed(mut command: Command, what: &str) -> Result<(), String> {
    command.stdin(Stdio::null());
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{what} exited with {status}; see its output above")),
        Err(e) => Err(format!("could not start {what}: {e}")),
    }
}

fn cargo(root: &Path, args: &[&str]) -> Command {
    let mut command = util::command("cargo");
    command.args(args).current_dir(root);
    command
}

/// The inputs of CI's fuzz pass: about a minute and a half, with the build, on a two-core machine.
const CI_FUZZ_INPUTS: &str = "20000";

fn tier1_native(root: &Path) -> Outcome {
    if let Err(e) = streamed(cargo(root, &["test", "--workspace"]), "cargo test --workspace") {
        return Outcome::Failed(e);
    }
    // A short fuzz pass (issue 17): `cargo xtask fuzz --inputs N` runs a longer one.
    match crate::fuzz(&["--inputs".into(), CI_FUZZ_INPUTS.into()]) {
        Ok(()) => Outcome::Passed(format!("and {CI_FUZZ_INPUTS} fuzzed inputs")),
        Err(e) => Outcome::Failed(e),
    }
}

pub(crate) fn chromedriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    let fixed = PathBuf::from("/usr/bin/chromedriver");
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::split_paths(&util::path_with_cargo_bin()).map(|d| d.join("chromedriver")).find(|p| p.is_file())
}

fn chromium() -> Option<String> {
    if let Ok(path) = std::env::var("CHROME") {
        return Some(path);
    }
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .into_iter()
        .find(|name| util::on_path(name))
        .map(String::from)
}

fn tier2_browser(root: &Path) -> Outcome {
    let Some(driver) = chromedriver() else {
        return Outcome::Failed(
            "chromedriver not found: install chromium and chromium-driver (`cargo xtask install` as root on Debian does it)".into(),
        );
    };
    let mut command = cargo(root, &["test", "--target", "wasm32-unknown-unknown", "-p", "lbplay-web"]);
    // wasm-bindgen-test-runner gives a whole test binary 20 s by default; the browser suite walks
    // every lesson several times and takes about that long on two cores, so it gets room.
    command
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
        .env("CHROMEDRIVER", driver)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300");
    match streamed(command, "the wasm-bindgen browser tests (cargo test --target wasm32-unknown-unknown -p lbplay-web)")
    {
        Ok(()) => Outcome::Passed(String::new()),
        Err(e) => Outcome::Failed(e),
    }
}

fn tier3_page(root: &Path) -> Outcome {
    match page(root) {
        Ok(detail) => Outcome::Passed(detail),
        Err(e) => Outcome::Failed(e),
    }
}

fn page(root: &Path) -> Result<String, String> {
    let mut build = util::command("trunk");
    build.args(["build", "--release", "--offline"]).current_dir(root);
    streamed(build, "trunk build --release --offline")?;

    let dist = root.join("dist");
    let measured = pages::sizes(&dist)?;
    for file in &measured.files {
        println!("built {file}");
    }
    if files_with_extension(&dist, "wasm").is_empty() {
        return Err("trunk built no .wasm into dist/: check the `data-trunk rel=\"rust\"` link in index.html".into());
    }
    if measured.editor_chunk == 0 {
        return Err(format!(
            "dist/ has no editor chunk: index.html's copy-file of {} is missing",
            crate::editor::CHUNK
        ));
    }
    let sizes = [
        format!("first paint {} KB gzipped", measured.first_paint / 1000),
        format!("editor chunk {} KB gzipped", measured.editor_chunk / 1000),
    ];

    let port = serve_dir::spawn(dist)?;
    let url = format!("http://127.0.0.1:{port}/");
    println!("serving dist/ on {url}");
    let browser = chromium().ok_or("chromium not found: install it (`apt-get install -y chromium` on Debian)")?;

    let dom = headless(&browser, &["--dump-dom", &url])?;
    let verdict = dom::check_slice(&dom);

    let screenshot = root.join("target").join("lbplay-page.png");
    let _ = std::fs::create_dir_all(root.join("target"));
    let shot_arg = format!("--screenshot={}", screenshot.display());
    match headless(&browser, &[&shot_arg, "--window-size=1400,900", &url]) {
        Ok(_) if screenshot.is_file() => println!("screenshot: {}", screenshot.display()),
        Ok(_) => println!("screenshot: chromium wrote no file (not a failure)"),
        Err(e) => println!("screenshot: {e} (not a failure)"),
    }

    // The docs page's embeds, the editor and the screenshots, driven as a learner would.
    let driver = chromedriver().ok_or("chromedriver not found: install chromium-driver")?;
    let seen = pages::check(root, &driver, &url)?;
    for line in &seen {
        println!("tier 3: {line}");
    }

    match verdict {
        Ok(found) => Ok(format!("{found}; {}; {}", seen.join("; "), sizes.join(", "))),
        Err(why) => {
            let dump = root.join("target").join("lbplay-page.html");
            let _ = std::fs::write(&dump, &dom);
            Err(format!("{why} (the rendered DOM is in {})", dump.display()))
        }
    }
}

pub(crate) fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|entries| entries.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == extension));
    files.sort();
    files
}

pub(crate) fn gzipped_size(file: &Path) -> Result<u64, String> {
    let output = Command::new("gzip")
        .arg("-c")
        .arg(file)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("could not run gzip ({e}); install gzip"))?;
    Ok(output.stdout.len() as u64)
}

/// Runs headless Chromium with the flags of `../shared/toolchain.md` and returns its standard
/// output; gives up after a minute so a hung browser cannot hang CI.
fn headless(browser: &str, extra: &[&str]) -> Result<String, String> {
    let profile = std::env::temp_dir().join(format!("lbplay-chromium-{}-{}", std::process::id(), extra.len()));
    let _ = std::fs::remove_dir_all(&profile);
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start {browser}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout from chromium")?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&profile);
                return Err(format!("{browser} did not finish within 60 s"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for {browser}: {e}")),
        }
    };
    let text = reader.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    if status.success() { Ok(text) } else { Err(format!("{browser} exited with {status}")) }
}

/// Why the kernel tier cannot run on this machine, if it cannot.
fn kernel_skip_reason() -> Option<String> {
    if !util::is_root() {
        return Some("not root: network namespaces need root (run `sudo -E cargo xtask test`)".into());
    }
    if !util::on_path("ip") && !Path::new("/usr/sbin/ip").is_file() && !Path::new("/sbin/ip").is_file() {
        return Some("the `ip` command (iproute2) is missing".into());
    }
    let probe = format!("lbplay-probe-{}", std::process::id());
    let added = Command::new("ip").args(["netns", "add", &probe]).stderr(Stdio::piped()).output();
    match added {
        Ok(output) if output.status.success() => {
            let _ = Command::new("ip").args(["netns", "delete", &probe]).status();
            None
        }
        Ok(output) => Some(format!("`ip netns add` failed: {}", String::from_utf8_lossy(&output.stderr).trim())),
        Err(e) => Some(format!("could not run `ip netns add`: {e}")),
    }
}

fn tier4_kernel(root: &Path) -> Outcome {
    // Real nginx needs no root: it runs first, on a loopback port, whatever the kernel tests do.
    let mut nginx = cargo(root, &["test", "-p", "lbplay-core", "--test", "ingress_nginx", "--", "--nocapture"]);
    nginx.env("LBPLAY_REQUIRE_NGINX", "1");
    if let Err(e) = streamed(nginx, "the nginx differential test (lbplay-core test ingress_nginx)") {
        return Outcome::Failed(e);
    }
    if let Some(reason) = kernel_skip_reason() {
        println!("tier 4: kernel tests skipped: {reason}");
        return Outcome::Skipped(format!("kernel tests: {reason} (the nginx differential ran and passed)"));
    }
    let args = [
        "test",
        "-p",
        "lbplay-cli",
        "--test",
        "kernel",
        "--test",
        "kernel_ipvs",
        "--test",
        "kernel_nft",
        "--test",
        "kernel_userspace",
        "--test",
        "kernel_mesh",
        "--test",
        "tshark",
        "--",
        "--nocapture",
        "--test-threads=1",
    ];
    let mut command = cargo(root, &args);
    command.env("LBPLAY_KERNEL_TESTS", "1");
    match streamed(
        command,
        "the differential tests (lbplay-cli tests kernel, kernel_ipvs, kernel_nft, kernel_userspace, kernel_mesh and tshark)",
    ) {
        Ok(()) => Outcome::Passed(String::new()),
        Err(e) => Outcome::Failed(e),
    }
}
