//! The "send N connections" experiment: a histogram of which backend served each connection, with
//! the count and share written on every bar (the bar length is never the only signal).

use lbplay_core::Lang;
use yew::prelude::*;

use crate::i18n;
use crate::measure::SIZES;
use crate::measure::{self, MODES, SCALE, ScalePoint};
use crate::run::{Scenario, ScenarioRef};

#[derive(Properties, PartialEq)]
pub struct ExperimentProps {
    pub lang: Lang,
    pub scenario: ScenarioRef,
}

/// The experiment pane.
#[component]
pub fn Experiment(props: &ExperimentProps) -> Html {
    let text = i18n::text(props.lang);
    let size = use_state(|| SIZES[1]);
    // The experiment starts from the scheduler the page's walk used, so the wrr lesson's histogram
    // shows its weights without the learner having to pick wrr again.
    let scheduler = use_state_eq(|| props.scenario.ipvs_scheduler().to_string());
    let keep = use_state(|| false);
    let ipvs = props.scenario.mode == Some(lbplay_core::model::ProxyMode::Ipvs);
    let result = use_state(|| None::<(u32, Result<Vec<(String, u64)>, String>)>);
    {
        // A new scenario clears the old result and starts from its own scheduler.
        let result = result.clone();
        let scheduler = scheduler.clone();
        let lesson = props.scenario.ipvs_scheduler().to_string();
        use_effect_with((props.scenario.id.clone(), lesson.clone()), move |_| {
            result.set(None);
            scheduler.set(lesson);
        });
    }
    let onsize = {
        let size = size.clone();
        Callback::from(move |event: Event| {
            let value = event.target_dyn_into::<web_sys::HtmlSelectElement>().map(|select| select.value());
            if let Some(n) = value.and_then(|value| value.parse::<u32>().ok()) {
                size.set(n);
            }
        })
    };
    let onscheduler = {
        let scheduler = scheduler.clone();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<web_sys::HtmlSelectElement>() {
                scheduler.set(select.value());
            }
        })
    };
    let onkeep = {
        let keep = keep.clone();
        Callback::from(move |_: Event| keep.set(!*keep))
    };
    let onsend = {
        let size = size.clone();
        let result = result.clone();
        let scenario = props.scenario.clone();
        let scheduler = scheduler.clone();
        let keep = keep.clone();
        Callback::from(move |_: MouseEvent| {
            let n = *size;
            let outcome = match &scenario.cluster {
                Some(cluster) => {
                    let cluster = if ipvs { measure::with_scheduler(cluster, &scheduler) } else { cluster.clone() };
                    measure::send(&cluster, &scenario.from, &scenario.to, n, seed(&scenario), *keep)
                }
                None => Err("no cluster model".to_string()),
            };
            result.set(Some((n, outcome)));
        })
    };
    let scaling = use_state(|| None::<Result<Vec<(&'static str, Vec<ScalePoint>)>, String>>);
    {
        let scaling = scaling.clone();
        use_effect_with(props.scenario.id.clone(), move |_| scaling.set(None));
    }
    let onmeasure = {
        let scaling = scaling.clone();
        let scenario = props.scenario.clone();
        Callback::from(move |_: MouseEvent| {
            let Some(cluster) = &scenario.cluster else { return };
            let outcome: Result<Vec<_>, String> = MODES
                .into_iter()
                .map(|mode| {
                    measure::scaling(cluster, mode, &scenario.from, &scenario.to, seed(&scenario), &SCALE)
                        .map(|points| (mode.as_str(), points))
                })
                .collect();
            scaling.set(Some(outcome));
        })
    };
    html! {
        <div class="experiment" data-testid="experiment">
            <p class="muted small">{ text.experiment_intro }</p>
            <div class="experiment-form">
                <label>{ text.connections }
                    <select onchange={onsize} data-testid="experiment-size">
                        for n in SIZES {
                            <option value={n.to_string()} selected={n == *size}>{ n }</option>
                        }
                    </select>
                </label>
                if ipvs {
                    <label>{ text.scheduler }
                        <select onchange={onscheduler} data-testid="experiment-scheduler">
                            for name in lbplay_core::ipvs::Scheduler::ALL.map(|scheduler| scheduler.name()) {
                                <option value={name} selected={*scheduler == name}>{ name }</option>
                            }
                        </select>
                    </label>
                }
                <label title={text.keep_hint}>
                    <input type="checkbox" checked={*keep} onchange={onkeep} data-testid="experiment-keep" />
                    { " --keep" }
                </label>
                <button class="btn primary" onclick={onsend} data-testid="experiment-send">{ text.send }</button>
                <code class="muted small">{ format!("{} → {}", props.scenario.from, props.scenario.to) }</code>
            </div>
            if let Some((n, outcome)) = &*result {
                { histogram(props.lang, *n, outcome) }
            }
            <h3 class="experiment-title">{ text.scaling_title }</h3>
            <p class="muted small">{ text.scaling_intro }</p>
            <button class="btn primary" onclick={onmeasure} data-testid="scaling-run">{ text.measure }</button>
            if let Some(outcome) = &*scaling {
                { scaling_table(props.lang, outcome) }
            }
        </div>
    }
}

/// The lesson's seed, so the experiment starts from the walk the page shows.
fn seed(scenario: &Scenario) -> u64 {
    lbplay_core::lessons::get(&scenario.id).map(|builtin| builtin.seed).unwrap_or(1)
}

fn histogram(lang: Lang, n: u32, outcome: &Result<Vec<(String, u64)>, String>) -> Html {
    let text = i18n::text(lang);
    let counts = match outcome {
        Ok(counts) => counts,
        Err(err) => return html! { <p class="problems" role="alert">{ err.clone() }</p> },
    };
    let max = counts.iter().map(|(_, count)| *count).max().unwrap_or(1).max(1);
    html! {
        <table class="histogram" data-testid="histogram">
            <caption>{ (text.n_connections)(n) }</caption>
            <tbody>
                for (backend, count) in counts.iter() {
                    <tr class={classes!((backend == "dropped").then_some("dropped"))}>
                        <th scope="row"><code>{ backend.clone() }</code></th>
                        <td class="bar-cell">
                            <span class="meter" style={format!("width: {:.1}%", *count as f64 * 100.0 / max as f64)}></span>
                        </td>
                        <td class="count">{ format!("{count} ({:.1}%)", *count as f64 * 100.0 / f64::from(n.max(1))) }</td>
                    </tr>
                }
            </tbody>
        </table>
    }
}

fn scaling_table(lang: Lang, outcome: &Result<Vec<(&'static str, Vec<ScalePoint>)>, String>) -> Html {
    let text = i18n::text(lang);
    let rows = match outcome {
        Ok(rows) => rows,
        Err(err) => return html! { <p class="problems" role="alert">{ err.clone() }</p> },
    };
    let max = rows.iter().flat_map(|(_, points)| points.iter().map(|point| point.evaluated)).max().unwrap_or(1).max(1);
    html! {
        <table class="scaling" data-testid="scaling">
            <caption>{ text.scaling_caption }</caption>
            <thead>
                <tr>
                    <th scope="col">{ text.mode_col }</th>
                    for n in SCALE {
                        <th scope="col">{ (text.n_services)(n) }</th>
                    }
                </tr>
            </thead>
            <tbody>
                for (mode, points) in rows.iter() {
                    <tr>
                        <th scope="row"><code>{ *mode }</code></th>
                        for point in points.iter() {
                            <td>
                                <span class="value">{ point.evaluated }</span>
                                <span class="meter" style={format!("width: {:.1}%", point.evaluated as f64 * 100.0 / max as f64)}></span>
                                <span class="muted small">{ (text.n_rules)(point.rules) }</span>
                            </td>
                        }
                    </tr>
                }
            </tbody>
        </table>
    }
}
