//! Checks and measurements of the built page (`dist/`) driven through ChromeDriver
//! (`webdriver.rs`), as a learner or a docs reader would use it: tier 3 of `cargo xtask test`
//! (the docs page's three embeds, the CodeMirror editor, screenshots) and the keystroke bench of
//! `cargo xtask bench`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util;
use crate::webdriver::Driver;

/// The lesson the editor checks and the bench start from.
const LESSON: &str = "clusterip-iptables";

/// Clicks the visible tab named Manifests (the right column's, on a wide page).
const CLICK_MANIFESTS: &str = "const tab = [...document.querySelectorAll('button[role=tab]')]
    .find((b) => b.textContent.trim() === 'Manifests' && b.offsetParent !== null);
  if (tab) tab.click();
  return !!tab;";

/// Whether the page has fetched the editor chunk.
const CHUNK_FETCHED: &str =
    "return performance.getEntriesByType('resource').some((entry) => entry.name.includes('lbplay-editor.js'));";

/// The mounted CodeMirror's text, once it is mounted and shown.
const EDITOR_TEXT: &str = "const host = document.querySelector('[data-testid=cm-host]');
  return host && !host.hidden && host.lbplayEditor ? host.lbplayEditor.text() : null;";

/// Tier 3's checks of the served `dist/` at `base` (`http://127.0.0.1:PORT/`); the screenshots go
/// to `target/screens/`. Returns what was seen, one line per check.
pub(crate) fn check(root: &Path, chromedriver: &Path, base: &str) -> Result<Vec<String>, String> {
    let driver = Driver::start(chromedriver, 1400, 900)?;
    let mut seen = vec![embeds(root, &driver, base)?];
    seen.push(editor(&driver, base)?);
    seen.push(screenshots(root, &driver, base)?);
    Ok(seen)
}

/// The docs page shows, in each of its three embeds, the step its iframe asks for: the caption
/// under the topology is the narration the CLI prints for that step of that lesson, and the docs
/// page's own caption, fed by the embed's `lbplay:state` events, names the same step.
fn embeds(root: &Path, driver: &Driver, base: &str) -> Result<String, String> {
    driver.goto(&format!("{base}embed-demo.html"))?;
    let frames = driver.execute(
        "return [...document.querySelectorAll('iframe[data-lesson]')].map((f) => [f.dataset.lesson, Number(f.dataset.step)]);",
        Vec::new(),
    )?;
    let frames: Vec<(String, usize)> = frames
        .as_array()
        .map(|list| {
            list.iter().filter_map(|pair| Some((pair[0].as_str()?.to_string(), pair[1].as_u64()? as usize))).collect()
        })
        .unwrap_or_default();
    if frames.len() != 3 {
        return Err(format!("embed-demo.html has {} embeds with data-lesson; it should have 3", frames.len()));
    }
    let mut lessons = Vec::new();
    for (index, (lesson, step)) in frames.iter().enumerate() {
        // The iframes load lazily, as a docs author writes them: bring each into view.
        let script = format!(
            "const frame = document.querySelectorAll('iframe[data-lesson]')[{index}];
             frame.scrollIntoView();
             const doc = frame.contentDocument;
             const caption = doc && doc.querySelector('.topo-caption');
             const position = doc && doc.querySelector('[data-testid=position]');
             const own = frame.parentElement.querySelector('[data-caption]').textContent;
             return caption && position && own.includes('step ') ? [caption.textContent, position.textContent, own, doc.activeElement === doc.body] : null;"
        );
        let shown = driver.wait_for(&format!("embed {lesson}"), &script, Duration::from_secs(20))?;
        let (caption, position, own) =
            (shown[0].as_str().unwrap_or(""), shown[1].as_str().unwrap_or(""), shown[2].as_str().unwrap_or(""));
        let expected = cli_note(root, lesson, *step)?;
        if caption != expected {
            return Err(format!(
                "the {lesson} embed shows `{caption}` under its topology; step {step} of the lesson is `{expected}`"
            ));
        }
        let at_step = position.split_whitespace().any(|word| word == step.to_string());
        if !at_step || !own.contains(&format!("step {step} of")) {
            return Err(format!(
                "the {lesson} embed is at `{position}` (docs caption `{own}`); its iframe asks for step {step}"
            ));
        }
        lessons.push(format!("{lesson} step {step}"));
    }
    let focused = driver.execute("return document.activeElement === document.body;", Vec::new())?;
    if focused != Value::Bool(true) {
        return Err("an embed took the docs page's keyboard focus before it was clicked".into());
    }
    Ok(format!("docs page: the three embeds show {}", lessons.join(", ")))
}

/// The narration of step `step` (1-based) of a lesson's walk, as `lbplay trace` gives it.
fn cli_note(root: &Path, lesson: &str, step: usize) -> Result<String, String> {
    let output = util::command("cargo")
        .args(["run", "--quiet", "-p", "lbplay-cli", "--", "trace", "--format", "json", lesson])
        .current_dir(root)
        .output()
        .map_err(|e| format!("could not run the lbplay CLI: {e}"))?;
    let trace: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!("lbplay trace {lesson} printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stderr))
    })?;
    trace["steps"][step - 1]["note"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| format!("lbplay trace {lesson} has no step {step}"))
}

/// The editor as a learner meets it: the page paints without the CodeMirror chunk; focusing the
/// text loads it and CodeMirror takes over with the same text; a typed error is marked in its
/// gutter at the line the list names while the last good walk stays; undo brings the text back
/// and the walk re-runs.
fn editor(driver: &Driver, base: &str) -> Result<String, String> {
    driver.goto(&format!("{base}#v=1&s={LESSON}"))?;
    driver.execute("localStorage.clear(); return true;", Vec::new())?;
    driver.goto(&format!("{base}#v=1&s={LESSON}"))?;
    driver.wait_for(
        "the step list",
        "return document.querySelectorAll('[data-testid=step]').length;",
        Duration::from_secs(20),
    )?;
    driver.wait_for("a visible tab named Manifests", CLICK_MANIFESTS, Duration::from_secs(5))?;
    driver.wait_for(
        "the editor",
        "return !!document.querySelector('[data-testid=editor-text]');",
        Duration::from_secs(5),
    )?;
    if driver.execute(CHUNK_FETCHED, Vec::new())? == Value::Bool(true) {
        return Err("the page fetched the editor chunk before editing started".into());
    }
    let area = driver.find("[data-testid=editor-text]")?;
    let original = driver.execute("return document.querySelector('[data-testid=editor-text]').value;", Vec::new())?;
    driver.click(&area)?;
    let text = driver.wait_for("CodeMirror", EDITOR_TEXT, Duration::from_secs(20))?;
    if text != original {
        return Err("CodeMirror mounted with another text than the textarea held".into());
    }
    // The click that started editing leaves the caret in CodeMirror, so typing goes on there.
    let focused = driver.execute("return !!document.activeElement.closest('[data-testid=cm-host]');", Vec::new())?;
    if focused != Value::Bool(true) {
        return Err("after CodeMirror took over, the keyboard focus was not in it".into());
    }
    let steps_before = step_texts(driver)?;
    // An unclosed flow sequence on a new first line: a YAML error the loader locates.
    driver.execute(
        "const view = document.querySelector('[data-testid=cm-host]').lbplayEditor.view;
         view.dispatch({ selection: { anchor: 0 } }); view.focus(); return true;",
        Vec::new(),
    )?;
    driver.press("oops: [\u{E007}")?;
    let marked = driver.wait_for(
        "a located error",
        "const item = document.querySelector('[data-testid=editor-problems] li.error button');
         const status = document.querySelector('[data-testid=editor-status]');
         if (!item || !status.classList.contains('bad')) return null;
         const line = Number(item.textContent.split(':')[0]);
         const numbers = [...document.querySelectorAll('.cm-lineNumbers .cm-gutterElement')];
         const number = numbers.find((n) => n.textContent === String(line));
         const marker = [...document.querySelectorAll('.cm-gutter-lint .cm-gutterElement')]
           .find((m) => m.querySelector('.cm-lint-marker-error'));
         if (!number || !marker) return null;
         return [line, Math.abs(number.getBoundingClientRect().top - marker.getBoundingClientRect().top) < 2];",
        Duration::from_secs(10),
    )?;
    if marked[1] != Value::Bool(true) {
        return Err(format!("the error listed at line {} is marked on another line of CodeMirror's gutter", marked[0]));
    }
    if step_texts(driver)? != steps_before {
        return Err("while the YAML was invalid the walk changed; the last good scenario should keep running".into());
    }
    // Undo (Ctrl+Z) until the text is the lesson's again.
    for _ in 0..6 {
        if driver.execute(EDITOR_TEXT, Vec::new())? == original {
            break;
        }
        driver.press("\u{E009}z\u{E009}")?;
    }
    if driver.execute(EDITOR_TEXT, Vec::new())? != original {
        return Err("undo did not bring the lesson's text back".into());
    }
    driver.wait_for(
        "the walk re-run after the fix",
        "const status = document.querySelector('[data-testid=editor-status]');
         return status.classList.contains('good') && !document.querySelector('.cm-lint-marker-error');",
        Duration::from_secs(10),
    )?;
    Ok(format!(
        "editor: no chunk before editing, CodeMirror on focus, the error at line {} marked in its gutter, undo restored the text and the walk",
        marked[0]
    ))
}

/// The text of every row of the step list.
fn step_texts(driver: &Driver) -> Result<Value, String> {
    driver.execute(
        "return [...document.querySelectorAll('[data-testid=step]')].map((row) => row.textContent);",
        Vec::new(),
    )
}

/// The page as a learner sees it at three sizes, the embed (`ui=min`) at each, the editor with
/// CodeMirror and the docs page; PNGs in `target/screens/`.
fn screenshots(root: &Path, driver: &Driver, base: &str) -> Result<String, String> {
    let dir = root.join("target").join("screens");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    let shot = |name: &str, written: &mut Vec<String>| -> Result<(), String> {
        let file = dir.join(format!("{name}.png"));
        driver.screenshot(&file)?;
        written.push(file.display().to_string());
        Ok(())
    };
    // The editor with CodeMirror, as `editor` left it, with its quick controls unfolded, and at
    // a phone's width.
    driver.execute("document.querySelector('[data-testid=quick-objects]').open = true; return true;", Vec::new())?;
    shot("editor-1400x900", &mut written)?;
    driver.resize(390, 844)?;
    std::thread::sleep(Duration::from_millis(400));
    shot("editor-390x844", &mut written)?;
    for (width, height) in [(1400, 900), (390, 844), (800, 500)] {
        driver.resize(width, height)?;
        for (what, fragment) in
            [("page", format!("v=1&s={LESSON}&step=6")), ("embed", format!("v=1&s={LESSON}&step=6&ui=min"))]
        {
            driver.goto(&format!("{base}#{fragment}"))?;
            driver.execute("location.reload(); return true;", Vec::new())?;
            driver.wait_for("the page", "return document.querySelectorAll('[data-testid=step]').length || document.querySelector('.topo-caption');", Duration::from_secs(20))?;
            std::thread::sleep(Duration::from_millis(400));
            shot(&format!("{what}-{width}x{height}"), &mut written)?;
        }
    }
    // The gRPC lesson at the pod's answer to stream 1, in the page and in an 800 × 500 embed.
    for (width, height, ui) in [(1400, 900, "full"), (800, 500, "min")] {
        driver.resize(width, height)?;
        driver.goto(&format!("{base}#v=1&s=grpc-pinned&step=30&ui={ui}"))?;
        driver.execute("location.reload(); return true;", Vec::new())?;
        driver.wait_for(
            "the page",
            "return document.querySelectorAll('[data-testid=step]').length || document.querySelector('.topo-caption');",
            Duration::from_secs(20),
        )?;
        std::thread::sleep(Duration::from_millis(400));
        shot(&format!("grpc-{width}x{height}"), &mut written)?;
    }
    driver.resize(1400, 900)?;
    driver.goto(&format!("{base}embed-demo.html"))?;
    std::thread::sleep(Duration::from_millis(1500));
    shot("docs-embed-demo-1400x900", &mut written)?;
    Ok(format!("{} screenshots in {}", written.len(), dir.display()))
}

/// The gzipped bytes of what the page loads before its first paint (index.html, the app's
/// `.wasm`, its `.js` with wasm-bindgen's snippets such as the editor glue, and the `.css`), and of
/// the editor chunk, which loads only when editing starts.
pub(crate) struct Sizes {
    pub(crate) first_paint: u64,
    pub(crate) editor_chunk: u64,
    /// `name: N bytes gzipped` for each file counted.
    pub(crate) files: Vec<String>,
}

pub(crate) fn sizes(dist: &Path) -> Result<Sizes, String> {
    let mut sizes = Sizes { first_paint: 0, editor_chunk: 0, files: Vec::new() };
    let mut pending = vec![dist.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path.strip_prefix(dist).unwrap_or(&path).display().to_string();
            let counted = matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "js" | "css"))
                || name == "index.html";
            if !counted {
                continue;
            }
            let bytes = crate::tiers::gzipped_size(&path)?;
            sizes.files.push(format!("{name}: {bytes} bytes gzipped"));
            if name.starts_with("editor/") {
                sizes.editor_chunk += bytes;
            } else {
                sizes.first_paint += bytes;
            }
        }
    }
    Ok(sizes)
}

/// A 50-object scenario (a Cluster, 24 Services with a Deployment each, the client Pod) in
/// which the lesson's walk (pod/client → 10.96.100.10:80) still runs, with `targetPort: 8080`
/// on the walked Service for the keystrokes to edit.
pub(crate) fn fifty_objects() -> String {
    let mut out = String::from(
        "apiVersion: lbplay/v1alpha1\nkind: Cluster\nmetadata:\n  name: fifty\nspec:\n  serviceCIDR: 10.96.0.0/12\n  clusterCIDR: 10.244.0.0/16\n  kubeProxy:\n    mode: iptables\n  nodes:\n  - {name: node-1, ip: 192.168.1.10, podCIDR: 10.244.1.0/24}\n  - {name: node-2, ip: 192.168.1.11, podCIDR: 10.244.2.0/24}\n  - {name: node-3, ip: 192.168.1.12, podCIDR: 10.244.3.0/24}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: client\n  labels: {app: client}\nspec:\n  nodeName: node-1\n  containers:\n  - {name: c, image: curl}\n",
    );
    for index in 0..24 {
        let ip = if index == 0 { "10.96.100.10".to_string() } else { format!("10.96.101.{index}") };
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{index}\nspec:\n  clusterIP: {ip}\n  selector:\n    app: app-{index}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{index}\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: app-{index}\n  template:\n    metadata:\n      labels:\n        app: app-{index}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        ports:\n        - containerPort: 8080\n"
        ));
    }
    out
}

/// How many keystrokes the bench times.
const KEYSTROKES: usize = 12;

/// `cargo xtask bench`: the time from a key press in CodeMirror to the re-run trace painted, for
/// the 50-object scenario, in ms, one figure per key press.
pub(crate) fn keystrokes(chromedriver: &Path, base: &str) -> Result<Vec<f64>, String> {
    let driver = Driver::start(chromedriver, 1400, 900)?;
    driver.goto(&format!("{base}#v=1&s={LESSON}"))?;
    driver.execute("localStorage.clear(); return true;", Vec::new())?;
    driver.goto(&format!("{base}#v=1&s={LESSON}"))?;
    driver.wait_for(
        "the step list",
        "return document.querySelectorAll('[data-testid=step]').length;",
        Duration::from_secs(20),
    )?;
    driver.wait_for("a visible tab named Manifests", CLICK_MANIFESTS, Duration::from_secs(5))?;
    let area = driver.find("[data-testid=editor-text]")?;
    driver.click(&area)?;
    driver.wait_for("CodeMirror", EDITOR_TEXT, Duration::from_secs(20))?;
    // Paste the scenario, wait for its walk, and put the caret after the walked targetPort.
    driver.execute(
        "const view = document.querySelector('[data-testid=cm-host]').lbplayEditor.view;
         view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: arguments[0] } });
         const at = arguments[0].indexOf('targetPort: 8080') + 'targetPort: 8080'.length;
         view.dispatch({ selection: { anchor: at } }); view.focus();
         window.lbplayBench = { down: 0 };
         document.addEventListener('keydown', () => { window.lbplayBench.down = performance.now(); }, true);
         return true;",
        vec![Value::from(fifty_objects())],
    )?;
    driver.wait_for(
        "the 50-object scenario's walk",
        "return [...document.querySelectorAll('[data-testid=step]')].some((row) => row.textContent.includes(':8080'));",
        Duration::from_secs(20),
    )?;
    std::thread::sleep(Duration::from_millis(1000));
    let mut times = Vec::new();
    for index in 0..KEYSTROKES {
        // Backspace makes the port 808, typing 0 makes it 8080 again: each changes the DNAT step.
        let key = if index % 2 == 0 { "\u{E003}" } else { "0" };
        driver.execute(
            "const before = [...document.querySelectorAll('[data-testid=step]')].map((r) => r.textContent).join('\\n');
             window.lbplayBench.done = new Promise((resolve) => {
               const observer = new MutationObserver(() => {
                 const now = [...document.querySelectorAll('[data-testid=step]')].map((r) => r.textContent).join('\\n');
                 if (now === before) return;
                 observer.disconnect();
                 requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0));
               });
               observer.observe(document.body, { subtree: true, childList: true, characterData: true });
             });
             return true;",
            Vec::new(),
        )?;
        driver.press(key)?;
        let took = driver.execute(
            "return Promise.race([window.lbplayBench.done, new Promise((r) => setTimeout(() => r(null), 5000))])
               .then((end) => end === null ? null : end - window.lbplayBench.down);",
            Vec::new(),
        )?;
        times.push(took.as_f64().ok_or("a keystroke did not re-run the trace within 5 s")?);
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(times)
}
