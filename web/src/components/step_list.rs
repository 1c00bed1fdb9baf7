//! The event list: one row per step (index, host, stage, packet, verdict), Packet Tracer's filters
//! above it, the selected row marked with `aria-current="step"` and kept in view.

use lbplay_core::Lang;
use lbplay_core::trace::StepKind;
use yew::prelude::*;

use crate::i18n;
use crate::run::ScenarioRef;
use crate::state::Filter;
use crate::view;

#[derive(Properties, PartialEq)]
pub struct StepListProps {
    pub lang: Lang,
    pub scenario: ScenarioRef,
    pub selected: usize,
    pub filter: Filter,
    pub onselect: Callback<usize>,
    pub onfilter: Callback<Filter>,
    /// Whether the pane is on screen; keeping the selected row in view waits until it is.
    #[prop_or(true)]
    pub shown: bool,
}

fn distinct<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn select_value(event: &Event) -> String {
    event.target_dyn_into::<web_sys::HtmlSelectElement>().map(|select| select.value()).unwrap_or_default()
}

const KINDS: [StepKind; 9] = [
    StepKind::Send,
    StepKind::Netfilter,
    StepKind::Ipvs,
    StepKind::Proxy,
    StepKind::Conntrack,
    StepKind::Routing,
    StepKind::Wire,
    StepKind::Deliver,
    StepKind::Drop,
];

/// The event list.
#[component]
pub fn StepList(props: &StepListProps) -> Html {
    let text = i18n::text(props.lang);
    let steps = &props.scenario.trace.steps;
    let body = use_node_ref();
    {
        let body = body.clone();
        use_effect_with((props.selected, props.scenario.id.clone(), props.shown), move |_| {
            keep_in_view(&body, "tr[aria-current]");
        });
    }
    let nodes = distinct(steps.iter().map(|step| step.node.clone()));
    let tables = distinct(steps.iter().filter_map(|step| step.table));
    let kinds: Vec<StepKind> = KINDS.into_iter().filter(|kind| steps.iter().any(|step| step.kind == *kind)).collect();

    let filter = props.filter.clone();
    let onnode = props.onfilter.reform({
        let filter = filter.clone();
        move |event: Event| {
            let value = select_value(&event);
            Filter { node: (!value.is_empty()).then_some(value), ..filter.clone() }
        }
    });
    let ontable = props.onfilter.reform({
        let filter = filter.clone();
        move |event: Event| {
            let value = select_value(&event);
            Filter { table: (!value.is_empty()).then_some(value), ..filter.clone() }
        }
    });
    let onkind = props.onfilter.reform({
        let filter = filter.clone();
        move |event: Event| {
            let value = select_value(&event);
            Filter { kind: KINDS.into_iter().find(|kind| kind.as_str() == value), ..filter.clone() }
        }
    });

    let visible = |step: &lbplay_core::Step| {
        filter.node.as_ref().is_none_or(|node| *node == step.node)
            && filter.table.as_ref().is_none_or(|table| Some(table.as_str()) == step.table)
            && filter.kind.is_none_or(|kind| kind == step.kind)
    };

    html! {
        <div class="step-list">
            <div class="filters" role="group" aria-label="filters">
                <label>{ text.filter_node }
                    <select onchange={onnode} data-testid="filter-node">
                        <option value="" selected={filter.node.is_none()}>{ text.filter_all }</option>
                        for node in nodes {
                            <option value={node.clone()} selected={filter.node.as_ref() == Some(&node)}>{ node.clone() }</option>
                        }
                    </select>
                </label>
                <label>{ text.filter_table }
                    <select onchange={ontable} data-testid="filter-table">
                        <option value="" selected={filter.table.is_none()}>{ text.filter_all }</option>
                        for table in tables {
                            <option value={table} selected={filter.table.as_deref() == Some(table)}>{ table }</option>
                        }
                    </select>
                </label>
                <label>{ text.filter_kind }
                    <select onchange={onkind} data-testid="filter-kind">
                        <option value="" selected={filter.kind.is_none()}>{ text.filter_all }</option>
                        for kind in kinds {
                            <option value={kind.as_str()} selected={filter.kind == Some(kind)}>{ i18n::kind_name(props.lang, kind) }</option>
                        }
                    </select>
                </label>
            </div>
            <div class="scroll" ref={body}>
                <table class="events" data-testid="step-list">
                    <thead>
                        <tr>
                            <th scope="col" class="num">{ "#" }</th>
                            <th scope="col">{ format!("{} · {}", text.col_node, text.col_stage) }</th>
                            <th scope="col" class="verdict">{ text.col_verdict }</th>
                        </tr>
                    </thead>
                    <tbody>
                        for (index, _) in steps.iter().enumerate().filter(|(_, step)| visible(step)) {
                            <EventRow key={index} lang={props.lang} scenario={props.scenario.clone()} {index}
                                selected={index == props.selected} onselect={props.onselect.clone()} />
                        }
                    </tbody>
                </table>
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct EventRowProps {
    lang: Lang,
    scenario: ScenarioRef,
    index: usize,
    selected: bool,
    onselect: Callback<usize>,
}

/// One row of the event list; a component so that stepping re-renders only the two rows whose
/// selection changed.
#[component]
fn EventRow(props: &EventRowProps) -> Html {
    let index = props.index;
    let Some(step) = props.scenario.trace.steps.get(index) else { return Html::default() };
    let selected = props.selected;
    let onclick = props.onselect.reform(move |_: MouseEvent| index);
    let rewrite = view::rewrite_summary(step);
    let kind = step.kind.as_str();
    let direction = step.direction.as_str();
    html! {
        <tr data-testid="step" class={classes!("kind-".to_string() + kind, direction, selected.then_some("selected"), rewrite.is_some().then_some("rewrites"))}
            aria-current={selected.then_some("step")} {onclick}>
            <td class="num">
                <button class="linklike" aria-label={format!("{} {}", index + 1, step.place())}>{ index + 1 }</button>
            </td>
            <td class="stage">
                <div class="where">
                    <span class="dir" aria-label={direction}>{ view::direction_arrow(step.direction) }</span>
                    { " " }<span class="host">{ step.node.clone() }</span>
                    { " · " }<span class="kind">{ i18n::kind_name(props.lang, step.kind) }</span>
                    if let Some(number) = step.connection.filter(|_| props.scenario.trace.steps.iter().any(|other| other.connection.is_some_and(|n| n > 0))) {
                        { " " }<span class={classes!("conn", format!("conn-{}", number.min(2)))} title={(i18n::text(props.lang).connection_n)(number)}>{ view::connection_mark(number) }</span>
                    }
                </div>
                <div class="stage-name">{ stage_detail(step) }</div>
                <div class="summary">{ view::summary(step) }</div>
            </td>
            <td class="verdict">
                { verdict_cell(&step.verdict) }
            </td>
        </tr>
    }
}

/// The stage without the step kind the row already shows: `nat PREROUTING KUBE-SERVICES`.
fn stage_detail(step: &lbplay_core::Step) -> String {
    let stage = step.place();
    if stage == step.kind.as_str() { String::new() } else { stage }
}

/// A verdict as a chip, with what it points at on a line of its own so that it is not cut: a jump's
/// target (iptables `JUMP:KUBE-SVC-…`, nft `jump services`), a base chain's policy (`policy accept`) or a
/// rewrite's (`MASQ → 10.244.3.9:8080`).
fn verdict_cell(verdict: &str) -> Html {
    let split = match verdict.split_once(':') {
        Some((action, target)) if matches!(action, "JUMP" | "GOTO") => Some((action, target.to_string())),
        _ => match verdict.split_once(' ') {
            Some((action, target)) if matches!(action, "jump" | "goto" | "policy") => {
                Some((action, target.to_string()))
            }
            _ => verdict.split_once(" → ").map(|(action, target)| (action, format!("→ {target}"))),
        },
    };
    match split {
        Some((action, target)) => html! {
            <>
                <span class={classes!("chip", verdict_class(verdict))}>{ action.to_string() }</span>
                <span class="target">{ target }</span>
            </>
        },
        None => {
            html! { <span class={classes!("chip", verdict_class(verdict))} title={verdict.to_string()}>{ verdict.to_string() }</span> }
        }
    }
}

/// The colour family of a verdict chip (the text always says the verdict too).
pub fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "DROP" | "REJECT" => "bad",
        "DNAT" | "SNAT" | "MASQUERADE" | "REDIRECT" => "nat",
        "ACCEPT" => "good",
        _ if verdict.starts_with("JUMP") || verdict.starts_with("GOTO") => "jump",
        _ if verdict.starts_with("jump ") || verdict.starts_with("goto ") => "jump",
        _ if verdict.contains("NAT") || verdict.contains("nat") => "nat",
        _ => "plain",
    }
}

/// Scrolls the scrolling container so that its child matching `selector` is visible, without
/// scrolling the page (as `scrollIntoView` would).
pub fn keep_in_view(container: &NodeRef, selector: &str) {
    let Some(container) = container.cast::<web_sys::HtmlElement>() else { return };
    let Ok(Some(target)) = container.query_selector(selector) else { return };
    let Ok(target) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(target) else { return };
    let top = target.offset_top();
    let bottom = top + target.offset_height();
    let view_top = container.scroll_top();
    let view_height = container.client_height();
    if top < view_top + 24 || bottom > view_top + view_height - 8 {
        container.set_scroll_top((top - view_height / 3).max(0));
    }
}
