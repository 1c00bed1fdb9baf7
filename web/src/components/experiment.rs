//! The "send N connections" experiment: a histogram of which backend served each connection, with
//! the count and share written on every bar (the bar length is never the only signal). In an L7
//! lesson it sends N requests instead, and adds the split over the controller pods that read them.

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
    // An L7 lesson sends requests, as `lbplay send --requests N` does: each is balanced again by
    // the proxy that reads it, and the controller pods that read them get a histogram too.
    let l7 = lbplay_core::http::url::Target::is_url(&props.scenario.to);
    let result = use_state(|| None::<Result<Vec<Histogram>, String>>);
    {
        // A new scenario clears the old result and starts from its own scheduler.
        let result = result.clone();
        let scheduler = scheduler.clone();
        let lesson = props.scenario.ipvs_scheduler().to_string();
        use_effect_with((props.scenario.id.clone(), props.scenario.to.clone(), lesson.clone()), move |_| {
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
            let Some(cluster) = &scenario.cluster else {
                result.set(Some(Err("no cluster model".to_string())));
                return;
            };
            let cluster = if ipvs { measure::with_scheduler(cluster, &scheduler) } else { cluster.clone() };
            let (from, to, seed) = (&scenario.from, &scenario.to, seed(&scenario));
            let outcome = if l7 {
                measure::send_requests(&cluster, from, to, &scenario.spec.headers, n, seed, *keep).map(|counts| {
                    let mut out = vec![Histogram { n, kind: Kind::Requests, counts: counts.backends }];
                    if !counts.proxies.is_empty() {
                        out.push(Histogram { n, kind: Kind::Proxies, counts: counts.proxies });
                    }
                    out
                })
            } else {
                measure::send(&cluster, from, to, scenario.proto, n, seed, *keep)
                    .map(|counts| vec![Histogram { n, kind: Kind::Connections, counts }])
            };
            result.set(Some(outcome));
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
                    measure::scaling(
                        cluster,
                        mode,
                        &scenario.from,
                        &scenario.to,
                        scenario.proto,
                        seed(&scenario),
                        &SCALE,
                    )
                    .map(|points| (mode.as_str(), points))
                })
                .collect();
            scaling.set(Some(outcome));
        })
    };
    html! {
        <div class="experiment" data-testid="experiment">
            <p class="muted small">{ if l7 { text.experiment_intro_l7 } else { text.experiment_intro } }</p>
            <div class="experiment-form">
                <label>{ if l7 { text.requests } else { text.connections } }
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
                <label title={if l7 { text.one_connection_hint } else { text.keep_hint }}>
                    <input type="checkbox" checked={*keep} onchange={onkeep} data-testid="experiment-keep" />
                    { if l7 { format!(" {}", text.one_connection) } else { " --keep".to_string() } }
                </label>
                <button class="btn primary" onclick={onsend} data-testid="experiment-send">{ text.send }</button>
                <code class="muted small">{ format!("{} → {}", props.scenario.from, props.scenario.to) }</code>
            </div>
            if let Some(outcome) = &*result {
                { histograms(props.lang, outcome) }
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

/// What a histogram counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The backend of each connection (`lbplay send`).
    Connections,
    /// The backend of each request (`lbplay send --requests`).
    Requests,
    /// The L7 proxy (an Ingress controller pod) that read each request.
    Proxies,
}

/// One histogram: `n` sent, and the count per name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Histogram {
    n: u32,
    kind: Kind,
    counts: Vec<(String, u64)>,
}

fn histograms(lang: Lang, outcome: &Result<Vec<Histogram>, String>) -> Html {
    match outcome {
        Ok(all) => all.iter().map(|one| histogram(lang, one)).collect(),
        Err(err) => html! { <p class="problems" role="alert">{ err.clone() }</p> },
    }
}

fn histogram(lang: Lang, one: &Histogram) -> Html {
    let text = i18n::text(lang);
    let (n, counts) = (one.n, &one.counts);
    let caption = match one.kind {
        Kind::Connections => (text.n_connections)(n),
        Kind::Requests => (text.n_requests)(n),
        Kind::Proxies => (text.n_requests_proxies)(n),
    };
    let testid = if one.kind == Kind::Proxies { "histogram-proxies" } else { "histogram" };
    let max = counts.iter().map(|(_, count)| *count).max().unwrap_or(1).max(1);
    html! {
        <table class="histogram" data-testid={testid}>
            <caption>{ caption }</caption>
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
