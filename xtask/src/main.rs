//! `cargo xtask …`: the project's own set-up and test runner.
//!
//! Every machine that works on lbplay (a developer's, CI's, a new user's) starts without the tools
//! the web build and the test tiers need. `install` brings each one in when it is missing or of
//! another version, `serve` runs the page, `test` runs every tier of `../shared/design.md`
//! ("Testing tiers") and `bench` the benchmarks. Besides `std` it uses only `wasmparser`,
//! `rustc-demangle` and `miniz_oxide` (for `size`, the page's byte breakdown), and serde_json and
//! data-encoding (for ChromeDriver's JSON and screenshots), so it builds in seconds on a fresh clone.

mod bench;
mod dom;
mod editor;
mod install;
mod pages;
mod serve_dir;
mod tiers;
mod util;
mod wasm_size;
mod webdriver;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  install   install the pinned tools that are missing (wasm32 target, wasm-bindgen-cli, Trunk;
            as root on Debian also chromium, chromium-driver, iptables, ipset, tshark)
  editor    bundle the page's CodeMirror chunk (web/editor/: npm ci, then esbuild) if it is missing
            or older than its sources; install, serve, test and bench do this themselves
  page      install, then run tier 3 alone: build the page, check it in headless Chromium (the docs
            page's embeds, the editor) and write screenshots to target/screens/
  serve     install, then `trunk serve` the page on http://127.0.0.1:8080/
  test      install, then run every test tier and print one summary line per tier
  bench     install, then run every benchmark (native, WebAssembly in headless Chromium, the app's
            size, the editor's keystroke to re-run trace) and print a summary table of figures and
            targets; `bench --page` runs only the built page's stage (sizes and keystrokes)
  size      [FILE.wasm]: where a module's bytes go, by section, crate and function; without a
            file, the page's module built with its names (the bench prints the same)
  fuzz      [--inputs N] [--seed S]: run the mutational fuzzer (fuzz/) over N inputs, reporting
            panics, inputs over 1 s and allocations over 256 MiB; findings go to target/fuzz/
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "install" => install::run(install::Scope::Everything),
        "editor" => editor::ensure(),
        "serve" => serve(),
        "test" => tiers::run_all(),
        "page" => tiers::run_page(),
        "bench" => bench::run(args.get(1).is_some_and(|arg| arg == "--page")),
        "size" => match &args[1..] {
            [] => bench::page_breakdown().map(drop),
            [file] => bench::print_breakdown(std::path::Path::new(file)).map(drop),
            _ => Err(format!("usage: cargo xtask size [FILE.wasm]\n{USAGE}")),
        },
        "fuzz" => fuzz(&args[1..]),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask fuzz …`: the fuzzer, built optimised, with the arguments passed on.
pub(crate) fn fuzz(args: &[String]) -> Result<(), String> {
    let root = util::repo_root();
    let mut command = util::command("cargo");
    command.args(["run", "--release", "--quiet", "-p", "lbplay-fuzz", "--"]).args(args).current_dir(&root);
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("the fuzzer exited with {status}; see its output above")),
        Err(e) => Err(format!("could not start cargo run -p lbplay-fuzz: {e}")),
    }
}

/// `cargo xtask serve`: the tools Trunk needs, then Trunk's own development server.
fn serve() -> Result<(), String> {
    install::run(install::Scope::WebBuild)?;
    let root = util::repo_root();
    println!("serving lbplay on http://127.0.0.1:8080/ (Ctrl-C stops it)");
    let status = util::command("trunk")
        .args(["serve", "--offline", "--address", "127.0.0.1", "--port", "8080"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("could not start trunk ({e}); run `cargo xtask install` first"))?;
    if status.success() { Ok(()) } else { Err(format!("trunk serve exited with {status}")) }
}
