//! The scenario editor: the YAML in a textarea beside a gutter of line numbers, with the loader's
//! problems marked on their lines and listed below (`editor:3:7: error: …`, the messages of
//! `lbplay_core::scenario`). Clicking a listed problem puts the caret at its line and column.
//!
//! The textarea keeps the browser's own undo and redo: the page writes its value only when the
//! text it shows changes from outside (a reset, another lesson), never while the learner types.
//! It is a hand-made editor, not CodeMirror: it has no syntax highlighting (see ARCHITECTURE.md).

use lbplay_core::Lang;
use lbplay_core::scenario::{Problem, Severity};
use wasm_bindgen::JsCast;
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
        let (area, source) = (area_ref.clone(), props.text.to_string());
        Callback::from(move |_: MouseEvent| {
            if let Some(area) = area.cast::<web_sys::HtmlTextAreaElement>() {
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
            <div class="editor-body">
                <div class="gutter" ref={gutter} aria-hidden="true" data-testid="gutter">
                    for (index, mark) in marks.into_iter().enumerate() {
                        <div class={classes!("ln", mark.as_ref().map(|(severity, _)| severity.as_str()))}
                            title={mark.as_ref().map(|(_, message)| message.clone())} data-line={(index + 1).to_string()}>{ index + 1 }</div>
                    }
                </div>
                <textarea ref={area} class="code yaml" spellcheck="false" autocapitalize="off" autocomplete="off" wrap="off"
                    aria-label={text.editor} data-testid="editor-text" value={props.text.clone()} {oninput} {onscroll} />
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
