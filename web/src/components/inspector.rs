//! The inspector: the narration of the selected step, every header field before → after with the
//! changed ones marked by text and colour, and the bytes in hex with changed bytes highlighted and
//! the selected field's bytes framed, as Wireshark does.

use lbplay_core::Lang;
use lbplay_core::Step;
use yew::prelude::*;

use crate::i18n;
use crate::view;

#[derive(Properties, PartialEq)]
pub struct InspectorProps {
    pub lang: Lang,
    pub step: Option<Step>,
    pub index: usize,
    pub len: usize,
    pub field: Option<usize>,
    pub onfield: Callback<Option<usize>>,
}

/// The inspector pane.
#[component]
pub fn Inspector(props: &InspectorProps) -> Html {
    let text = i18n::text(props.lang);
    let props_show_all = use_state(|| false);
    let Some(step) = &props.step else {
        return html! { <div class="inspector"><p data-testid="narration" class="narration">{ text.no_steps }</p></div> };
    };
    let diffs = view::field_diffs(&step.before, &step.after);
    let changed = view::changed_bytes(&step.before, &step.after);
    let selected_range = props.field.and_then(|index| diffs.get(index)).map(|diff| diff.bytes.clone());
    let direction = match step.direction {
        lbplay_core::trace::Direction::Original => text.original,
        lbplay_core::trace::Direction::Reply => text.reply,
    };
    // A step that rewrote something shows the changed fields first; the rest are one click away.
    let any_changed = diffs.iter().any(|diff| diff.changed);
    let show_all = *props_show_all || !any_changed;
    let shown: Vec<usize> = (0..diffs.len()).filter(|&index| show_all || diffs[index].changed).collect();
    let layer_starts: Vec<bool> = shown
        .iter()
        .enumerate()
        .map(|(at, &index)| at == 0 || diffs[shown[at - 1]].layer != diffs[index].layer)
        .collect();
    let hidden = diffs.len() - shown.len();
    let ontoggle = {
        let props_show_all = props_show_all.clone();
        Callback::from(move |_: MouseEvent| props_show_all.set(!*props_show_all))
    };
    html! {
        <div class="inspector">
            <div class="step-head">
                <span class="badge">{ (text.step_of)(props.index + 1, props.len) }</span>
                <span class="where">{ format!("{} · {} · {}", step.node, direction, step.place()) }</span>
                <span class={classes!("chip", crate::components::step_list::verdict_class(&step.verdict))}>{ step.verdict.clone() }</span>
            </div>
            <p class="narration" data-testid="narration" lang={text.lang_attr}>{ step.note.get(props.lang).to_string() }</p>
            if let Some(line) = &step.conntrack {
                { conntrack_box(props.lang, line) }
            }
            if let Some(rule) = &step.rule {
                <pre class="code rule" data-testid="step-rule">{ rule.clone() }</pre>
            }
            if !step.candidates.is_empty() {
                // nginx weighed these locations against the URI too; each says why it lost.
                <div class="candidates" data-testid="candidates">
                    <strong>{ (text.candidates_lost)(step.candidates.len()) }</strong>
                    <ul>
                        for candidate in step.candidates.iter() {
                            <li><code>{ candidate.rule.clone() }</code>{ " — " }{ candidate.why.get(props.lang).to_string() }</li>
                        }
                    </ul>
                </div>
            } else if step.skipped > 0 {
                <p class="muted">{ (text.skipped_n)(step.skipped) }</p>
            }
            if let Some(rewrite) = view::rewrite_summary(step) {
                <p class="rewrite" data-testid="rewrite"><span class="mark" aria-hidden="true">{ "✎ " }</span>{ rewrite }</p>
            }
            <h3>{ text.headers }</h3>
            <table class="fields" data-testid="fields">
                <thead>
                    <tr>
                        <th scope="col">{ text.field }</th>
                        <th scope="col">{ text.before }</th>
                        <th scope="col">{ text.after }</th>
                    </tr>
                </thead>
                <tbody>
                    for (at, &index) in shown.iter().enumerate() {
                        if layer_starts[at] {
                            <tr class="layer"><th colspan="3" scope="rowgroup">{ diffs[index].layer }</th></tr>
                        }
                        { field_row(props, index, &diffs[index]) }
                    }
                </tbody>
            </table>
            if any_changed {
                <button class="btn small-btn" onclick={ontoggle} data-testid="fields-toggle" aria-pressed={show_all.to_string()}>
                    { if show_all { text.only_changed.to_string() } else { (text.show_all_fields)(hidden) } }
                </button>
            }
            <h3>{ text.bytes }</h3>
            <p class="muted small">{ text.bytes_hint }</p>
            <div class="hex" data-testid="hex" role="group" aria-label={text.bytes}>
                for (offset, chunk) in view::hex_rows(step.after.bytes()) {
                    <div class="hex-row">
                        <span class="offset">{ format!("{offset:04x}") }</span>
                        for (column, byte) in chunk.iter().enumerate() {
                            { byte_cell(props, &diffs, offset + column, *byte, changed.get(offset + column).copied().unwrap_or(false), selected_range.as_ref().is_some_and(|range| range.contains(&(offset + column)))) }
                        }
                    </div>
                }
            </div>
        </div>
    }
}

fn field_row(props: &InspectorProps, index: usize, diff: &view::FieldDiff) -> Html {
    let text = i18n::text(props.lang);
    let selected = props.field == Some(index);
    let onfield = props.onfield.clone();
    let onclick = Callback::from(move |_: MouseEvent| onfield.emit(if selected { None } else { Some(index) }));
    let onenter = props.onfield.reform(move |_: FocusEvent| Some(index));
    let before = diff.before.clone().unwrap_or_else(|| "—".into());
    html! {
        <tr class={classes!(diff.changed.then_some("changed"), selected.then_some("selected"))} data-testid="field">
            <th scope="row">
                <button class="linklike" {onclick} onfocus={onenter} aria-pressed={selected.to_string()}>
                    { i18n::field_name(props.lang, &diff.name).to_string() }
                </button>
                if diff.changed && diff.before.is_none() {
                    <span class="tag added">{ text.added }</span>
                } else if diff.changed {
                    <span class="tag">{ text.changed }</span>
                }
            </th>
            if diff.changed {
                <td class="old"><del>{ before }</del></td>
                <td class="new"><span aria-hidden="true">{ "→ " }</span><ins>{ diff.after.clone() }</ins></td>
            } else {
                <td class="same">{ before }</td>
                <td class="same">{ diff.after.clone() }</td>
            }
        </tr>
    }
}

fn byte_cell(
    props: &InspectorProps,
    diffs: &[view::FieldDiff],
    offset: usize,
    byte: u8,
    changed: bool,
    selected: bool,
) -> Html {
    // Clicking a byte selects the narrowest field that holds it, as Wireshark's bytes pane does.
    let field = diffs
        .iter()
        .enumerate()
        .filter(|(_, diff)| diff.bytes.contains(&offset))
        .min_by_key(|(_, diff)| diff.bytes.len())
        .map(|(index, diff)| (index, diff.name.as_str()));
    let title = match field {
        Some((_, name)) => format!("0x{offset:02x}: {}", i18n::field_name(props.lang, name)),
        None => format!("0x{offset:02x}"),
    };
    let index = field.map(|(index, _)| index);
    let onclick = props.onfield.reform(move |_: MouseEvent| index);
    html! {
        <span class={classes!("byte", changed.then_some("chg"), selected.then_some("sel"))} {title} {onclick}>
            { format!("{byte:02x}") }
        </span>
    }
}

/// The connection's conntrack entry after the step, one tuple per row, the whole line in `title`.
fn conntrack_box(lang: Lang, line: &str) -> Html {
    let text = i18n::text(lang);
    let parts = view::conntrack_parts(line);
    let labels = [text.original, text.reply];
    html! {
        <div class="ct" data-testid="conntrack" title={line.to_string()}>
            <div class="ct-head"><b>{ "conntrack" }</b>{ " " }{ parts.head.join(" ") }{ " " }{ parts.flags.join(" ") }</div>
            for (at, tuple) in parts.tuples.iter().enumerate() {
                <div class="ct-row"><span class="ct-dir">{ labels.get(at).copied().unwrap_or_default() }</span>{ tuple.join(" ") }</div>
            }
            if !parts.rest.is_empty() {
                <div class="ct-row muted">{ parts.rest.join(" ") }</div>
            }
        </div>
    }
}
