//! `cargo xtask install`: each pinned tool, only when it is missing or of another version.
//!
//! The recipes are those of `../shared/toolchain.md`: `wasm-bindgen-cli` must be exactly the
//! version of the `wasm-bindgen` crate in `Cargo.lock` and installs *without* `--locked`; Trunk is
//! pinned to 0.21.14 (0.22 needs a newer rustc) and installs *with* `--locked`; the browser and the
//! netfilter tools come from Debian's packages.

use crate::util;

/// Trunk's pinned version; see the module comment for why.
const TRUNK_VERSION: &str = "0.21.14";

/// Debian packages the browser tiers and the kernel tier use, and a program each one provides (or,
/// for a font, an absolute path to a file it installs). The CJK font is what headless Chromium
/// draws the Chinese page with; without one every Chinese character is a blank box in a screenshot.
const SYSTEM_PACKAGES: [(&str, &str); 7] = [
    ("chromium", "chromium"),
    ("chromium-driver", "chromedriver"),
    ("fonts-wqy-microhei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    ("iptables", "xtables-monitor"),
    ("ipset", "ipset"),
    ("tshark", "tshark"),
    // Real nginx for the Ingress differential test (core/tests/ingress_nginx.rs); nginx-light is
    // Debian's smallest nginx, 1.22.1 on Debian 12.
    ("nginx-light", "nginx"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// What `trunk build`/`trunk serve` need: the wasm target, wasm-bindgen-cli and Trunk.
    WebBuild,
    /// All of it, including the browser and the netfilter tools for the test tiers.
    Everything,
}

pub(crate) fn run(scope: Scope) -> Result<(), String> {
    wasm_target()?;
    wasm_bindgen_cli()?;
    trunk()?;
    // Trunk copies the editor chunk (index.html), so every command that runs Trunk needs it.
    crate::editor::ensure()?;
    if scope == Scope::Everything {
        system_packages()?;
    }
    Ok(())
}

fn wasm_target() -> Result<(), String> {
    let installed = util::output_of("rustup", &["target", "list", "--installed"])
        .ok_or("`rustup target list --installed` failed: install Rust with rustup (https://rustup.rs), then rerun")?;
    if installed.lines().any(|line| line.trim() == "wasm32-unknown-unknown") {
        println!("wasm32-unknown-unknown target: ok (installed)");
        return Ok(());
    }
    println!("wasm32-unknown-unknown target: installing …");
    run_visible("rustup", &["target", "add", "wasm32-unknown-unknown"])
}

/// The version of the `wasm-bindgen` crate that `Cargo.lock` resolved.
pub(crate) fn locked_wasm_bindgen_version() -> Result<String, String> {
    let lock_path = util::repo_root().join("Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path)
        .map_err(|e| format!("cannot read {} ({e}); run `cargo generate-lockfile`", lock_path.display()))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_string());
        }
    }
    Err("Cargo.lock has no `wasm-bindgen` package; build the web crate once (`cargo check -p lbplay-web`)".into())
}

fn wasm_bindgen_cli() -> Result<(), String> {
    let wanted = locked_wasm_bindgen_version()?;
    // `wasm-bindgen 0.2.130`; the test runner comes from the same crate and must be present too.
    let have =
        util::output_of("wasm-bindgen", &["--version"]).and_then(|v| v.split_whitespace().nth(1).map(String::from));
    if have.as_deref() == Some(wanted.as_str()) && util::on_path("wasm-bindgen-test-runner") {
        println!("wasm-bindgen-cli: ok ({wanted})");
        return Ok(());
    }
    match have {
        Some(other) => println!("wasm-bindgen-cli: installing {wanted} (found {other}) … (about 4 minutes)"),
        None => println!("wasm-bindgen-cli: installing {wanted} … (about 4 minutes)"),
    }
    // Without `--locked`: with it, the crate's own lock file pins a yanked webpki-roots.
    run_visible("cargo", &["install", "wasm-bindgen-cli", "--version", &wanted, "--force"])
}

fn trunk() -> Result<(), String> {
    let have = util::output_of("trunk", &["--version"]).and_then(|v| v.split_whitespace().nth(1).map(String::from));
    if have.as_deref() == Some(TRUNK_VERSION) {
        println!("trunk: ok ({TRUNK_VERSION})");
        return Ok(());
    }
    match have {
        Some(other) => println!("trunk: installing {TRUNK_VERSION} (found {other}) … (about 9 minutes)"),
        None => println!("trunk: installing {TRUNK_VERSION} … (about 9 minutes)"),
    }
    // With `--locked`: without it lightningcss and cssparser resolve to versions that do not compile.
    run_visible("cargo", &["install", "trunk", "--version", TRUNK_VERSION, "--locked", "--force"])
}

fn system_packages() -> Result<(), String> {
    let mut missing = Vec::new();
    for (package, program) in SYSTEM_PACKAGES {
        match installed_version(package, program) {
            Some(version) => println!("{package}: ok ({version})"),
            None => missing.push(package),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !(util::is_debian() && util::is_root()) {
        for package in &missing {
            println!("{package}: missing");
        }
        println!(
            "install them with your package manager, as root on Debian/Ubuntu: \
             `apt-get update && apt-get install -y {}`; the browser tiers (2, 3) and the differential tier (4) need them",
            missing.join(" ")
        );
        return Ok(());
    }
    for package in &missing {
        println!("{package}: installing …");
    }
    let apt = |args: &[&str]| -> Result<(), String> {
        let status = util::command("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("could not run apt-get: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`apt-get {}` failed ({status}); check the network and /etc/apt/sources.list", args.join(" ")))
        }
    };
    apt(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(missing.iter().copied());
    apt(&args)?;
    for package in missing {
        let program = SYSTEM_PACKAGES.iter().find(|(p, _)| *p == package).map(|(_, prog)| *prog).unwrap_or(package);
        match installed_version(package, program) {
            Some(version) => println!("{package}: ok ({version})"),
            None => return Err(format!("{package} was installed but `{program}` is still not found")),
        }
    }
    Ok(())
}

/// The installed version of a system package, if it and its program are there.
fn installed_version(package: &str, program: &str) -> Option<String> {
    let found = if program.starts_with('/') {
        std::path::Path::new(program).is_file()
    } else {
        util::on_path(program)
            || ["/usr/sbin", "/sbin", "/usr/bin"].iter().any(|d| std::path::Path::new(d).join(program).is_file())
    };
    if !found {
        return None;
    }
    if util::is_debian()
        && let Some(version) = util::output_of("dpkg-query", &["-W", "-f=${Version}", package])
        && !version.is_empty()
    {
        return Some(version);
    }
    Some("found on PATH".to_string())
}

fn run_visible(program: &str, args: &[&str]) -> Result<(), String> {
    let status = util::command(program)
        .args(args)
        .status()
        .map_err(|e| format!("could not run `{program}`: {e}; is it installed and on PATH?"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status}); see its output above, fix the cause and rerun", args.join(" ")))
    }
}
