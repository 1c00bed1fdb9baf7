//! `cargo xtask editor`: the CodeMirror chunk of the page (`web/editor/`), bundled from npm.
//!
//! The chunk is built, not committed: `npm ci` installs exactly what `package-lock.json` pins
//! (node_modules is not committed either) and esbuild bundles `src/editor.js` into
//! `build/lbplay-editor.js`, which index.html's `copy-file` link hands to Trunk. Both steps run
//! only when their inputs changed: a stamp beside each output holds a hash of the files it was
//! made from, so a fresh clone builds once and later runs cost nothing. `install` calls this for
//! every command that runs Trunk (`serve`, `test`, `bench`).

use std::path::{Path, PathBuf};

use crate::util;

/// The chunk Trunk copies, relative to the repository root.
pub(crate) const CHUNK: &str = "web/editor/build/lbplay-editor.js";

/// Makes sure the chunk exists and matches its sources.
pub(crate) fn ensure() -> Result<(), String> {
    let dir = util::repo_root().join("web").join("editor");
    let lock = [dir.join("package.json"), dir.join("package-lock.json")];
    let modules = dir.join("node_modules");
    let modules_stamp = modules.join(".lbplay-stamp");
    let lock_hash = hash_files(&lock)?;
    let mut sources = lock.to_vec();
    sources.extend(files_under(&dir.join("src")));
    let build_hash = hash_files(&sources)?;
    let chunk = util::repo_root().join(CHUNK);
    let build_stamp = dir.join("build").join(".lbplay-stamp");
    if chunk.is_file() && read(&build_stamp) == build_hash && read(&modules_stamp) == lock_hash {
        println!("editor chunk: ok ({CHUNK})");
        return Ok(());
    }
    if !util::on_path("npm") {
        return Err(
            "npm not found: the page's editor chunk is bundled from npm at build time; install Node.js 18 or later (`apt-get install -y nodejs npm` on Debian)".into(),
        );
    }
    if read(&modules_stamp) != lock_hash {
        println!("editor chunk: npm ci (web/editor/package-lock.json) …");
        npm(&dir, &["ci", "--no-audit", "--no-fund"])?;
        std::fs::write(&modules_stamp, &lock_hash).map_err(|e| format!("writing {}: {e}", modules_stamp.display()))?;
    }
    println!("editor chunk: bundling with esbuild …");
    npm(&dir, &["run", "--silent", "build"])?;
    if !chunk.is_file() {
        return Err(format!("`npm run build` in web/editor wrote no {CHUNK}"));
    }
    std::fs::write(&build_stamp, &build_hash).map_err(|e| format!("writing {}: {e}", build_stamp.display()))?;
    println!("editor chunk: built {CHUNK}");
    Ok(())
}

fn npm(dir: &Path, args: &[&str]) -> Result<(), String> {
    let status =
        util::command("npm").args(args).current_dir(dir).status().map_err(|e| format!("could not run npm: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`npm {}` in web/editor failed ({status})", args.join(" "))) }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { pending.push(path) } else { out.push(path) }
        }
    }
    out.sort();
    out
}

/// FNV-1a over each file's name and bytes: a change detector, not a security measure.
fn hash_files(files: &[PathBuf]) -> Result<String, String> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let name = file.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        for byte in name.bytes().chain([0]).chain(bytes) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("{hash:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_names_and_contents() {
        let dir = std::env::temp_dir().join(format!("xtask-editor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (a, b) = (dir.join("a.js"), dir.join("b.js"));
        std::fs::write(&a, "x").expect("write");
        std::fs::write(&b, "x").expect("write");
        let one = hash_files(std::slice::from_ref(&a)).expect("hash");
        assert_ne!(one, hash_files(std::slice::from_ref(&b)).expect("hash"), "the name counts");
        std::fs::write(&a, "y").expect("write");
        assert_ne!(one, hash_files(std::slice::from_ref(&a)).expect("hash"), "the contents count");
        assert!(hash_files(&[dir.join("missing")]).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
