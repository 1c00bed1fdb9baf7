//! Small helpers shared by the subcommands: where the repository is, and how to run a tool.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The workspace root (the parent of `xtask/`).
pub(crate) fn repo_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(PathBuf::from).unwrap_or(manifest_dir)
}

/// Cargo's `bin` directory, where `cargo install` puts Trunk and wasm-bindgen.
pub(crate) fn cargo_bin_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return PathBuf::from(home).join("bin");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cargo").join("bin")
}

/// `PATH` with cargo's `bin` directory in front, so tools installed a moment ago are found even
/// when the shell that started us did not have it (a fresh CI machine).
pub(crate) fn path_with_cargo_bin() -> std::ffi::OsString {
    let bin = cargo_bin_dir();
    let current = std::env::var_os("PATH").unwrap_or_default();
    let mut parts: Vec<PathBuf> = std::env::split_paths(&current).collect();
    if !parts.contains(&bin) {
        parts.insert(0, bin);
    }
    std::env::join_paths(parts).unwrap_or(current)
}

/// A `Command` for `program` that sees cargo's `bin` directory on its `PATH`.
pub(crate) fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    command.env("PATH", path_with_cargo_bin());
    command
}

/// Runs `program args…` quietly and returns its trimmed standard output if it succeeded.
pub(crate) fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let output = command(program).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Whether `program` can be found on `PATH` (with cargo's `bin` directory added).
pub(crate) fn on_path(program: &str) -> bool {
    std::env::split_paths(&path_with_cargo_bin()).any(|dir| dir.join(program).is_file())
}

pub(crate) fn is_root() -> bool {
    output_of("id", &["-u"]).is_some_and(|uid| uid == "0")
}

pub(crate) fn is_debian() -> bool {
    std::path::Path::new("/etc/debian_version").exists()
}

/// Formats a duration as `1m23s` or `4.2s`.
pub(crate) fn human(duration: std::time::Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs >= 60.0 { format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64) } else { format!("{secs:.1}s") }
}
