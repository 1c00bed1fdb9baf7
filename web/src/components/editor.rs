//! The scenario editor: CodeMirror 6 (YAML highlighting, line numbers, undo and redo, search),
//! with the loader's problems marked in its gutter and listed below (`3:7 …`, the messages of
//! `lbplay_core::scenario`). Clicking a listed problem puts the caret at its line and column.
//!
//! CodeMirror is a separate JavaScript chunk (`web/editor/`, bundled by `cargo xtask editor`)
//! that `editor_glue.js` imports the first time the learner focuses the text, so the page's first
//! paint does not carry it. Until it has loaded, and for good if it fails to, the editor is a
//! textarea beside a gutter of line numbers with the same marks and the browser's own undo.
//! Either way the page writes the text only when it changes from outside (a reset, a quick
//! control, another lesson), never while the learner types, so nothing typed is lost.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use lbplay_core::Lang;
use lbplay_core::scenario::{Problem, Severity};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

use crate::i18n;
use crate::quick;

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    pub lang: Lang,
    /// The text being edited (the draft, or the scenario's YAML before any edit).
    pub text: AttrValue,
    /// The loader's problems with the text, located by line and column.
    pub problems: Vec<Problem>,
    /// Problems without a location (a walk that cannot run in the edited cluster).
    pub other: Vec<String>,
    /// Whether the text is the learner's edit (the reset button shows then).
    pub edited: bool,
    /// The text loaded and its walk ran: the page shows it.
    pub valid: bool,
    pub oninput: Callback<String>,
    pub onreset: Callback<()>,
}

/// Where the CodeMirror chunk is served, relative to the page (index.html copies it there).
pub const CHUNK: &str = "editor/lbplay-editor.js";

#[wasm_bindgen(module = "/src/editor_glue.js")]
extern "C" {
    /// `startEditor(url, host, area, onchange, onready, onfail)` (`editor_glue.js`, kept tiny
    /// because it loads with the page): imports the chunk at `url` once, mounts CodeMirror in
    /// `host` with the textarea's text and caret (focused if the textarea was), and hands its
    /// handle to `onready`; a failed import calls `onfail` and lets a later focus try again.
    #[wasm_bindgen(js_name = startEditor)]
    fn start_editor(
        url: &str,
        host: &web_sys::Element,
        area: &web_sys::HtmlTextAreaElement,
        onchange: &JsValue,
        onready: &JsValue,
        onfail: &JsValue,
    );

    /// The handle of a mounted CodeMirror (`mount` in `web/editor/src/editor.js`).
    pub type CodeMirror;
    #[wasm_bindgen(method, js_name = setText)]
    fn set_text(this: &CodeMirror, text: &str);
    #[wasm_bindgen(method, js_name = setProblems)]
    fn set_problems(this: &CodeMirror, encoded: &str);
    #[wasm_bindgen(method)]
    fn goto(this: &CodeMirror, line: u32, column: u32);
}

thread_local! {
    /// Editing started once on this page: a later editor pane mounts CodeMirror at once.
    static STARTED: Cell<bool> = const { Cell::new(false) };
}

/// The problems as the chunk reads them: `line\tcolumn\tseverity\tmessage` lines.
pub fn encode_problems(problems: &[Problem]) -> String {
    let mut out = String::new();
    for problem in problems {
        let message = problem.to_string();
        let message = message.split_once(": ").map_or(problem.message.as_str(), |(_, rest)| rest);
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            problem.line,
            problem.column,
            problem.severity.as_str(),
            message.replace(['\n', '\t'], " ")
        ));
    }
    out
}

/// The mark a line's gutter shows: the worst problem on it, with every message on it as a tooltip.
pub fn marks(problems: &[Problem], lines: usize) -> Vec<Option<(Severity, String)>> {
    let mut out: Vec<Option<(Severity, String)>> = vec![None; lines];
    for problem in problems {
        let Some(slot) = out.get_mut(problem.line.clamp(1, lines.max(1)) - 1) else { continue };
        let message = format!("{}:{}: {}", problem.line, problem.column, problem.message);
        *slot = Some(match slot.take() {
            None => (problem.severity, message),
            Some((severity, before)) => (severity.max(problem.severity), format!("{before}\n{message}")),
        });
    }
    out
}

/// The byte offset of a 1-based line and column (columns count characters), for the caret; the
/// end of the text when the place is past it. Textareas count UTF-16 units, so it converts.
pub fn caret(text: &str, line: usize, column: usize) -> u32 {
    let mut units = 0usize;
    for (index, content) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            let within: usize = content.chars().take(column.saturating_sub(1)).map(char::len_utf16).sum();
            return u32::try_from(units + within).unwrap_or(u32::MAX);
        }
        units += content.encode_utf16().count();
    }
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The editor pane.
#[component]
pub fn Editor(props: &EditorProps) -> Html {
    let text = i18n::text(props.lang);
    let area = use_node_ref();
    let gutter = use_node_ref();
    let host = use_node_ref();
    // The mounted CodeMirror, once its chunk has loaded; the textarea is the editor until then.
    let codemirror: Rc<RefCell<Option<CodeMirror>>> = use_mut_ref(|| None);
    let ready = use_state(|| false);
    let starting = use_mut_ref(|| false);
    // The latest `oninput`, which CodeMirror's change listener (made once) calls.
    let latest = use_mut_ref(|| props.oninput.clone());
    *latest.borrow_mut() = props.oninput.clone();
    let start = {
        let (area, host, codemirror, ready, starting, latest) =
            (area.clone(), host.clone(), codemirror.clone(), ready.clone(), starting.clone(), latest.clone());
        Rc::new(move || {
            let (Some(area), Some(host)) =
                (area.cast::<web_sys::HtmlTextAreaElement>(), host.cast::<web_sys::Element>())
            else {
                return;
            };
            if std::mem::replace(&mut *starting.borrow_mut(), true) {
                return;
            }
            STARTED.with(|started| started.set(true));
            let latest = latest.clone();
            let onchange = Closure::<dyn FnMut(String)>::new(move |text: String| latest.borrow().emit(text));
            let (codemirror, ready) = (codemirror.clone(), ready.clone());
            let onready = Closure::once_into_js(move |handle: CodeMirror| {
                *codemirror.borrow_mut() = Some(handle);
                ready.set(true);
            });
            // The textarea stays the editor; a later focus tries again.
            let starting = starting.clone();
            let onfail = Closure::once_into_js(move |_reason: String| *starting.borrow_mut() = false);
            start_editor(CHUNK, &host, &area, &onchange.into_js_value(), &onready, &onfail);
        })
    };
    // Editing started earlier on this page (the pane was closed and opened again): at once.
    {
        let start = start.clone();
        use_effect_with((), move |_| {
            if STARTED.with(Cell::get) {
                start();
            }
        });
    }
    // Text changed from outside reaches CodeMirror; its own edits are already there (a no-op).
    {
        let codemirror = codemirror.clone();
        use_effect_with((props.text.clone(), *ready), move |(text, _)| {
            if let Some(editor) = codemirror.borrow().as_ref() {
                editor.set_text(text);
            }
        });
    }
    {
        let codemirror = codemirror.clone();
        use_effect_with((props.problems.clone(), *ready), move |(problems, _)| {
            if let Some(editor) = codemirror.borrow().as_ref() {
                editor.set_problems(&encode_problems(problems));
            }
        });
    }
    let onfocus = {
        let start = start.clone();
        Callback::from(move |_: FocusEvent| start())
    };
    let lines = props.text.split('\n').count().max(1);
    let marks = marks(&props.problems, lines);
    let oninput = {
        let callback = props.oninput.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(area) = event.target().and_then(|target| target.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
            {
                callback.emit(area.value());
            }
        })
    };
    let onscroll = {
        let gutter = gutter.clone();
        Callback::from(move |event: Event| {
            let Some(area) = event.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()) else {
                return;
            };
            if let Some(gutter) = gutter.cast::<web_sys::Element>() {
                gutter.set_scroll_top(area.scroll_top());
            }
        })
    };
    let area_ref = area.clone();
    let goto = |line: usize, column: usize| {
        let (area, source, codemirror) = (area_ref.clone(), props.text.to_string(), codemirror.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(editor) = codemirror.borrow().as_ref() {
                let number = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                editor.goto(number(line), number(column));
            } else if let Some(area) = area.cast::<web_sys::HtmlTextAreaElement>() {
                let at = caret(&source, line, column);
                let _ = area.focus();
                let _ = area.set_selection_range(at, at);
            }
        })
    };
    let status = if props.valid { text.editor_ok } else { text.editor_stale };
    // Quick controls: each rewrites the text (`quick`) and hands it on as if it were typed.
    let source = props.text.to_string();
    let can_switch = quick::set_mode(&source, "iptables").is_some();
    let select_value = |event: Event| {
        event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlSelectElement>().ok())
            .map(|select| select.value())
    };
    let onmode = {
        let (callback, source) = (props.oninput.clone(), source.clone());
        Callback::from(move |event: Event| {
            if let Some(edited) = select_value(event).and_then(|mode| quick::set_mode(&source, &mode)) {
                callback.emit(edited);
            }
        })
    };
    let onscheduler = {
        let (callback, source) = (props.oninput.clone(), source.clone());
        Callback::from(move |event: Event| {
            if let Some(edited) = select_value(event).and_then(|name| quick::set_scheduler(&source, &name)) {
                callback.emit(edited);
            }
        })
    };
    let replicas = |name: String| {
        let (callback, source) = (props.oninput.clone(), source.clone());
        Callback::from(move |event: Event| {
            let value = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
                .and_then(|input| input.value().parse::<u32>().ok());
            if let Some(edited) = value.and_then(|count| quick::set_replicas(&source, &name, count.min(50))) {
                callback.emit(edited);
            }
        })
    };
    // The Pod and Service controls share one callback each, which reads what to edit from the
    // element's `data-name` and `data-field` (one closure and one `html!` for all of them keeps
    // the page's WebAssembly small).
    let onobject = {
        let (callback, source) = (props.oninput.clone(), source.clone());
        Callback::from(move |event: Event| {
            let Some(element) = event.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()) else {
                return;
            };
            let (name, field) = (element.get_attribute("data-name"), element.get_attribute("data-field"));
            let (Some(name), Some(field)) = (name, field) else { return };
            let edited = match field.as_str() {
                "ready" => element
                    .dyn_ref::<web_sys::HtmlInputElement>()
                    .and_then(|input| quick::set_pod_ready(&source, &name, input.checked())),
                "delete" => quick::delete_pod(&source, &name),
                _ => element
                    .dyn_ref::<web_sys::HtmlSelectElement>()
                    .and_then(|select| quick::set_service(&source, &name, &field, &select.value())),
            };
            if let Some(edited) = edited {
                callback.emit(edited);
            }
        })
    };
    let services = quick::services(&source);
    let pods = quick::pods(&source);
    // Each Service's selects, flattened: (service, field, its values, the current value).
    let choices: Vec<(String, &'static str, &'static [&'static str], String)> = services
        .iter()
        .flat_map(|service| {
            let external = matches!(service.kind.as_str(), "NodePort" | "LoadBalancer");
            quick::SERVICE_FIELDS.iter().filter(move |(field, _)| external || *field != "externalTrafficPolicy").map(
                move |(field, values)| {
                    let current = match *field {
                        "type" => Some(service.kind.clone()),
                        "externalTrafficPolicy" => service.external_policy.clone(),
                        "internalTrafficPolicy" => service.internal_policy.clone(),
                        _ => service.affinity.clone(),
                    };
                    (service.name.clone(), *field, *values, current.unwrap_or_else(|| values[0].to_string()))
                },
            )
        })
        .collect();
    html! {
        <div class="editor" data-testid="editor">
            <div class="editor-bar">
                <span class={classes!("chip", if props.valid { "good" } else { "bad" })} data-testid="editor-status">{ status }</span>
                if props.edited {
                    <button class="btn small-btn" data-testid="reset-lesson" onclick={props.onreset.reform(|_: MouseEvent| ())}>{ text.reset_lesson }</button>
                }
            </div>
            if can_switch || !quick::deployments(&source).is_empty() {
                <div class="quick" data-testid="quick">
                    if can_switch {
                        <select onchange={onmode} aria-label="kube-proxy mode" data-testid="quick-mode">
                            <option value="" selected=true disabled=true>{ "kube-proxy mode…" }</option>
                            for mode in ["iptables", "nftables", "ipvs", "userspace"] {
                                <option value={mode}>{ mode }</option>
                            }
                        </select>
                        <select onchange={onscheduler} aria-label="IPVS scheduler" data-testid="quick-scheduler">
                            <option value="" selected=true disabled=true>{ "IPVS scheduler…" }</option>
                            // The kernel's schedulers, as the core models them.
                            for scheduler in lbplay_core::ipvs::sched::Scheduler::ALL {
                                <option value={scheduler.name()}>{ scheduler.name() }</option>
                            }
                        </select>
                    }
                    for (name, count) in quick::deployments(&source) {
                        <label class="replicas">{ format!("{name} ×") }
                            <input type="number" min="0" max="50" value={count.to_string()} onchange={replicas(name.clone())} />
                        </label>
                    }
                </div>
            }
            if !services.is_empty() || !pods.is_empty() {
                // Folded by default so the text keeps the pane's height; one click opens it.
                <details class="quick quick-objects" data-testid="quick-objects">
                    <summary>{ objects_summary(services.len(), pods.len()) }</summary>
                    <div class="quick-row">
                        for (name, field, values, current) in choices {
                            <select onchange={onobject.clone()} data-testid="quick-service" data-name={name.clone()} data-field={field}
                                aria-label={format!("svc/{name} {field}")} title={format!("svc/{name} {field}")}>
                                for value in values.iter() {
                                    <option value={*value} selected={current == *value}>{ option_text(&name, field, value) }</option>
                                }
                            </select>
                        }
                    </div>
                    <div class="quick-row">
                        for pod in pods.iter() {
                            <span class={classes!("quick-pod", (!pod.ready).then_some("not-ready"))}>
                                <label title="Ready condition">
                                    <input type="checkbox" checked={pod.ready} onchange={onobject.clone()} data-name={pod.name.clone()}
                                        data-field="ready" aria-label={format!("{} ready", pod.name)} data-testid="quick-pod-ready" />
                                    { pod.name.clone() }
                                </label>
                                <button class="link" onclick={onobject.reform(|event: MouseEvent| Event::from(event))} data-name={pod.name.clone()}
                                    data-field="delete" aria-label={format!("delete {}", pod.name)} data-testid="quick-pod-delete">{ "✕" }</button>
                            </span>
                        }
                    </div>
                </details>
            }
            <div class="cm-host" ref={host} hidden={!*ready} data-testid="cm-host" data-label={text.editor} />
            <div class="editor-body" hidden={*ready}>
                <div class="gutter" ref={gutter} aria-hidden="true" data-testid="gutter">
                    for (index, mark) in marks.into_iter().enumerate() {
                        <div class={classes!("ln", mark.as_ref().map(|(severity, _)| severity.as_str()))}
                            title={mark.as_ref().map(|(_, message)| message.clone())} data-line={(index + 1).to_string()}>{ index + 1 }</div>
                    }
                </div>
                <textarea ref={area} class="code yaml" spellcheck="false" autocapitalize="off" autocomplete="off" wrap="off"
                    aria-label={text.editor} data-testid="editor-text" value={props.text.clone()} {oninput} {onscroll} {onfocus} />
            </div>
            if !props.problems.is_empty() || !props.other.is_empty() {
                <ul class="editor-problems" data-testid="editor-problems">
                    for problem in props.problems.iter() {
                        <li class={problem.severity.as_str()}>
                            <button class="link" onclick={goto(problem.line, problem.column)}>{ format!("{}:{}", problem.line, problem.column) }</button>
                            { format!(" {}", problem.to_string().split_once(": ").map_or(problem.message.as_str(), |(_, rest)| rest)) }
                        </li>
                    }
                    for other in props.other.iter() {
                        <li class="error">{ other.clone() }</li>
                    }
                </ul>
            }
        </div>
    }
}

/// The folded quick controls' title: what they can change.
fn objects_summary(services: usize, pods: usize) -> String {
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match (services, pods) {
        (0, pods) => format!("{}: ready, delete", plural(pods, "Pod")),
        (services, 0) => format!("{}: type, policies, affinity", plural(services, "Service")),
        (services, pods) => {
            format!("{}, {}: type, policies, affinity, ready, delete", plural(services, "Service"), plural(pods, "Pod"))
        }
    }
}

/// What a Service field's option shows, short enough for a narrow pane; the type's options name
/// the Service, so each Service's selects start with its name.
fn option_text(service: &str, field: &str, value: &str) -> String {
    match field {
        "externalTrafficPolicy" => format!("external: {value}"),
        "internalTrafficPolicy" => format!("internal: {value}"),
        "sessionAffinity" => format!("affinity: {value}"),
        _ => format!("svc/{service}: {value}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: usize, column: usize, severity: Severity) -> Problem {
        Problem {
            severity,
            file: "editor".into(),
            line,
            column,
            object: None,
            field: None,
            message: format!("m{line}"),
        }
    }

    #[test]
    fn test_marks_take_the_worst_problem_of_a_line() {
        let problems =
            [problem(2, 1, Severity::Warning), problem(2, 5, Severity::Error), problem(9, 1, Severity::Warning)];
        let got = marks(&problems, 3);
        assert_eq!(got[0], None);
        assert_eq!(got[1], Some((Severity::Error, "2:1: m2\n2:5: m2".into())));
        // A line past the end (the loader points at the end of the stream) marks the last line.
        assert_eq!(got[2], Some((Severity::Warning, "9:1: m9".into())));
    }

    #[test]
    fn test_problems_reach_codemirror_one_per_line() {
        let mut two = problem(3, 7, Severity::Warning);
        two.message = "a\tb\nc".into();
        let encoded = encode_problems(&[problem(2, 5, Severity::Error), two]);
        assert_eq!(encoded, "2\t5\terror\terror: m2\n3\t7\twarning\twarning: a b c\n");
        assert_eq!(encode_problems(&[]), "");
    }

    #[test]
    fn test_caret_counts_utf16_units() {
        let text = "ab\n中文x\nlast";
        assert_eq!(caret(text, 1, 1), 0);
        assert_eq!(caret(text, 2, 1), 3);
        assert_eq!(caret(text, 2, 3), 5);
        assert_eq!(caret(text, 3, 2), 8);
        assert_eq!(caret(text, 99, 1), 11);
        assert_eq!(caret("😀x", 1, 2), 2, "an emoji is two units");
    }
}
