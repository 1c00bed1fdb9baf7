//! The root component: holds the `State` reducer and wires everything that is not a pane — the
//! keyboard, the playback timer, the URL fragment, `<html lang>`, the theme, and the remembered
//! choices — then lays out the panes.

use std::rc::Rc;

use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::Timeout;
use lbplay_core::Lang;
use lbplay_core::lessons;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::components::controls::Controls;
use crate::components::editor::Editor;
use crate::components::experiment::Experiment;
use crate::components::help::Help;
use crate::components::inspector::Inspector;
use crate::components::library::Library;
use crate::components::manifests::Manifests;
use crate::components::request::{RequestBar, Sent};
use crate::components::rules::Rules;
use crate::components::share::Share;
use crate::components::step_list::StepList;
use crate::components::topology::Topology;
use crate::i18n;
use crate::run::{Scenario, ScenarioRef, Spec, load, load_builtin, load_builtin_in};
use crate::state::{Action, DEFAULT_SCENARIO, Draft, Filter, Fragment, Pane, Saved, State, Theme, Ui, parse_lang};
use crate::view;
use lbplay_core::model::ProxyMode;

const LANG_KEY: &str = "lbplay.lang";
/// The proxy modes the page can walk a scenario in.
const MODE_CHOICES: [ProxyMode; 4] = [ProxyMode::Iptables, ProxyMode::Nftables, ProxyMode::Ipvs, ProxyMode::Userspace];
const THEME_KEY: &str = "lbplay.theme";
const MOTION_KEY: &str = "lbplay.reduced-motion";
/// The learner's edit (`state::Saved`, versioned in its first line).
pub const EDIT_KEY: &str = "lbplay.edit";
/// The longest typing must pause before the edit is loaded and walked again. A scenario whose last
/// check took under `EDIT_AT_ONCE_MS` re-runs on every key press (key presses that arrive while it
/// waits for its turn still merge into one check); a larger one, whose check would hold up the
/// typing behind it, waits as long as its last check took, up to this.
pub const EDIT_DELAY_MS: u32 = 150;
/// See `EDIT_DELAY_MS`.
const EDIT_AT_ONCE_MS: u32 = 40;
/// How long the state must stay put before the URL fragment is rewritten.
pub const URL_DELAY_MS: u32 = 200;

#[derive(Properties, PartialEq, Default)]
pub struct AppProps {
    /// Show this scenario instead of the one the URL names (tests mount the app with a fixture).
    #[prop_or_default]
    pub scenario: Option<Rc<Scenario>>,
}

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

fn storage() -> Option<web_sys::Storage> {
    window()?.local_storage().ok().flatten()
}

fn stored(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

fn store(key: &str, value: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(key, value);
    }
}

fn current_hash() -> String {
    window().and_then(|window| window.location().hash().ok()).unwrap_or_default()
}

/// The first state: the URL's fragment, else the remembered choices, else the browser's language.
fn initial_state(preset: Option<Rc<Scenario>>) -> State {
    let fragment = Fragment::parse(&current_hash());
    let scenario = preset.unwrap_or_else(|| load_fragment(&fragment));
    let mut state = State::new(scenario);
    state.lang = stored(LANG_KEY)
        .as_deref()
        .and_then(parse_lang)
        .or_else(|| window().and_then(|window| window.navigator().language()).as_deref().and_then(parse_lang))
        .unwrap_or(Lang::En);
    state.theme = stored(THEME_KEY).as_deref().and_then(Theme::parse).unwrap_or_default();
    state.reduced_motion = match stored(MOTION_KEY).as_deref() {
        Some("1") => true,
        Some("0") => false,
        _ => window()
            .and_then(|window| window.match_media("(prefers-reduced-motion: reduce)").ok().flatten())
            .is_some_and(|query| query.matches()),
    };
    // The edit this very page had before a reload, even one that never loaded.
    let saved = stored(EDIT_KEY).as_deref().and_then(Saved::decode);
    let lesson = state.scenario.spec.lesson.clone().unwrap_or_default();
    if let Some(saved) = saved
        && saved.belongs_to(&lesson, state.scenario.edited.then_some(state.scenario.yaml.as_str()))
        && saved.draft != state.scenario.yaml
    {
        state.draft = Some(Rc::new(Draft { text: saved.draft, ..Draft::default() }));
    }
    state.with_fragment(&fragment)
}

/// The scenario a fragment names; the default lesson when it names none or was refused.
fn load_fragment(fragment: &Fragment) -> Rc<Scenario> {
    match fragment.spec() {
        Some(spec) => load(&spec),
        None => load_builtin_in(DEFAULT_SCENARIO, fragment.mode),
    }
}

/// The page's address without its fragment, which a share link's fragment is appended to.
fn page_base() -> String {
    let Some(location) = window().map(|window| window.location()) else { return "./".into() };
    let href = location.href().unwrap_or_default();
    href.split('#').next().unwrap_or_default().to_string()
}

/// The page's own origin (`http://127.0.0.1:8080`).
fn own_origin() -> String {
    window().and_then(|window| window.location().origin().ok()).unwrap_or_default()
}

/// What a key press asks for, if anything.
fn key_action(event: &KeyboardEvent) -> Option<Action> {
    if event.ctrl_key() || event.meta_key() || event.alt_key() {
        return None;
    }
    if let Some(target) = event.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()) {
        let tag = target.tag_name().to_ascii_lowercase();
        if matches!(tag.as_str(), "input" | "select" | "textarea")
            || target.closest("[contenteditable]").ok().flatten().is_some()
        {
            return None;
        }
        // Space on a focused button presses it; let the button have it.
        if tag == "button" && (event.key() == " " || event.key() == "Enter") {
            return None;
        }
    }
    match event.key().as_str() {
        "ArrowRight" => Some(Action::Next),
        "ArrowLeft" => Some(Action::Prev),
        "Home" => Some(Action::First),
        "End" => Some(Action::Last),
        " " | "Spacebar" => Some(Action::TogglePlay),
        "r" | "R" => Some(Action::Reset),
        "l" | "L" => Some(Action::ToggleLang),
        "?" => Some(Action::ToggleHelp),
        "s" | "S" => Some(Action::ToggleLibrary),
        "Escape" => Some(Action::CloseOverlays),
        _ => None,
    }
}

/// The whole page.
#[component]
pub fn App(props: &AppProps) -> Html {
    let preset = props.scenario.clone();
    let state = use_reducer(move || initial_state(preset));
    // The callbacks the panes get are made once: a `Callback` compares by identity, so making them
    // anew on every render would re-render every pane, and every row of the event list, on every step.
    let handlers = {
        let dispatcher = state.dispatcher();
        use_memo((), move |_| Handlers::new(Callback::from(move |action: Action| dispatcher.dispatch(action))))
    };
    let dispatch = handlers.dispatch.clone();

    // Keyboard: ← → Home End Space R L ? Esc, anywhere on the page but in form fields.
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let listener = window().and_then(|window| window.document()).map(|document| {
                EventListener::new_with_options(
                    &document,
                    "keydown",
                    EventListenerOptions::enable_prevent_default(),
                    move |event| {
                        let Some(event) = event.dyn_ref::<KeyboardEvent>() else { return };
                        if let Some(action) = key_action(event) {
                            event.prevent_default();
                            dispatcher.dispatch(action);
                        }
                    },
                )
            });
            move || drop(listener)
        });
    }

    // A link pasted into the address bar of an open page.
    {
        let dispatcher = state.dispatcher();
        let current = state.scenario.spec.clone();
        let preset = props.scenario.is_some();
        use_effect_with(current, move |current| {
            let current = current.clone();
            let listener = window().map(|window| {
                EventListener::new(&window, "hashchange", move |_| {
                    let fragment = Fragment::parse(&current_hash());
                    let wanted = fragment.spec();
                    if !preset && (wanted.as_ref().is_some_and(|spec| *spec != current) || fragment.refused.is_some()) {
                        dispatcher.dispatch(Action::LoadScenario(load_fragment(&fragment)));
                    }
                    dispatcher.dispatch(Action::ApplyFragment(fragment));
                })
            });
            move || drop(listener)
        });
    }

    // The editor: a moment after typing stops, load and walk the text; remember it at once.
    {
        let dispatcher = state.dispatcher();
        let draft = state.draft.clone();
        let spec = state.scenario.spec.clone();
        let good = state.scenario.edited.then(|| state.scenario.yaml.clone());
        let last_check = use_mut_ref(|| 0u32);
        use_effect_with(draft, move |draft| {
            let timer = draft.as_ref().map(|draft| {
                store(
                    EDIT_KEY,
                    &Saved { lesson: spec.lesson.clone().unwrap_or_default(), good, draft: draft.text.clone() }
                        .encode(),
                );
                let text = draft.text.clone();
                let checked = draft.checked;
                (!checked).then(|| {
                    let last = *last_check.borrow();
                    let delay = if last < EDIT_AT_ONCE_MS { 0 } else { last.min(EDIT_DELAY_MS) };
                    Timeout::new(delay, move || {
                        let clock = window().and_then(|window| window.performance());
                        let started = clock.as_ref().map_or(0.0, web_sys::Performance::now);
                        let scenario = load(&Spec { yaml: Some(text.clone()), ..spec });
                        let took = clock.as_ref().map_or(0.0, web_sys::Performance::now) - started;
                        *last_check.borrow_mut() = took.clamp(0.0, f64::from(EDIT_DELAY_MS)) as u32;
                        dispatcher.dispatch(Action::Checked { text, scenario });
                    })
                })
            });
            move || drop(timer)
        });
    }

    // The embed API (`embed`): commands from the one trusted origin, and a state event to it after
    // every change. The trusted origin is the fragment's `origin=`, else the page's own.
    let trusted = state.origin.clone().unwrap_or_else(own_origin);
    {
        let dispatcher = state.dispatcher();
        use_effect_with(trusted.clone(), move |trusted| {
            let trusted = trusted.clone();
            let listener = window().map(|window| {
                EventListener::new(&window, "message", move |event| {
                    let Some(event) = event.dyn_ref::<web_sys::MessageEvent>() else { return };
                    if event.origin() != trusted {
                        return;
                    }
                    if let Some(action) = event.data().as_string().as_deref().and_then(crate::embed::command) {
                        dispatcher.dispatch(action);
                    }
                })
            });
            move || drop(listener)
        });
        let event = crate::embed::state_event(&state.scenario.id, state.step, state.len(), state.playing);
        use_effect_with((event, trusted), |(event, trusted)| {
            let Some(window) = window() else { return };
            if let Ok(Some(parent)) = window.parent()
                && wasm_bindgen::JsValue::from(parent.clone()) != wasm_bindgen::JsValue::from(window)
            {
                let _ = parent.post_message(&wasm_bindgen::JsValue::from_str(event), trusted);
            }
        });
    }

    // Playback: one timer per step, dropped (cancelled) whenever anything it depends on changes.
    {
        let dispatcher = state.dispatcher();
        let millis = if state.reduced_motion { state.speed.millis().max(1200) } else { state.speed.millis() };
        use_effect_with((state.playing, state.step, millis), move |(playing, _, millis)| {
            let timer = playing.then(|| Timeout::new(*millis, move || dispatcher.dispatch(Action::Tick)));
            move || drop(timer)
        });
    }

    // <html lang> and the theme at once; the URL fragment and the title a moment after the state
    // settles: `history.replaceState` costs ~10 ms per call in Chromium, more than a whole step's
    // render, and is rate-limited, so writing it on every step of a playback would be wrong twice.
    {
        let lang = state.lang;
        let theme = state.theme;
        use_effect_with((lang, theme), move |(lang, theme)| {
            if let Some(root) =
                window().and_then(|window| window.document()).and_then(|document| document.document_element())
            {
                let _ = root.set_attribute("lang", i18n::text(*lang).lang_attr);
                let _ = root.set_attribute("data-theme", theme.code());
            }
        });
        let fragment = state.fragment();
        let title = state.scenario.title(lang).to_string();
        use_effect_with((fragment, title), move |(fragment, title)| {
            let fragment = fragment.clone();
            let title = if title.is_empty() { "lbplay".to_string() } else { format!("{title} · lbplay") };
            let timer = Timeout::new(URL_DELAY_MS, move || {
                let wanted = format!("#{}", fragment.format());
                let Some(window) = window() else { return };
                if current_hash() != wanted
                    && let Ok(history) = window.history()
                {
                    let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&wanted));
                }
                if let Some(document) = window.document() {
                    document.set_title(&title);
                }
            });
            move || drop(timer)
        });
    }
    {
        let lang = state.lang;
        use_effect_with(lang, |lang| store(LANG_KEY, lang.code()));
        let theme = state.theme;
        use_effect_with(theme, |theme| store(THEME_KEY, theme.code()));
    }
    {
        // Remember the in-page motion choice only once it was used; until then the OS setting rules.
        let motion = state.reduced_motion;
        let first = use_mut_ref(|| true);
        use_effect_with(motion, move |motion| {
            if !std::mem::replace(&mut *first.borrow_mut(), false) {
                store(MOTION_KEY, if *motion { "1" } else { "0" });
            }
        });
    }

    let text = i18n::text(state.lang);
    let scenario = state.scenario.clone();
    let current = state.current().cloned();
    let live =
        current.as_ref().map(|step| view::announcement(state.lang, state.step, state.len(), step)).unwrap_or_default();
    let rules_node = scenario.rules_for_step(state.step).map(|(node, _)| node.to_string()).unwrap_or_default();
    let rules_tool = scenario.rules_tool_for(&rules_node).to_string();
    let hit = current.as_ref().and_then(|step| step.rule_at.clone());
    let skipped = Rc::new(current.as_ref().map(|step| step.skipped_rules.clone()).unwrap_or_default());

    let onselect = handlers.onselect.clone();
    let onfilter = handlers.onfilter.clone();
    let onfield = handlers.onfield.clone();
    let onhelp_close = handlers.onclose.clone();
    let onlibrary = dispatch.reform(|_: MouseEvent| Action::ToggleLibrary);
    let onpick = handlers.onpick.clone();
    let onlang = dispatch.reform(|_: MouseEvent| Action::ToggleLang);
    let ontheme = dispatch.reform(|_: MouseEvent| Action::CycleTheme);
    let onmotion = dispatch.reform(|_: MouseEvent| Action::ToggleMotion);
    let onhelp = dispatch.reform(|_: MouseEvent| Action::ToggleHelp);
    let onshare = dispatch.reform(|_: MouseEvent| Action::ToggleShare);
    let (editor_text, editor_problems, editor_other, editor_valid) = match &state.draft {
        Some(draft) => (draft.text.clone(), draft.problems.clone(), draft.other.clone(), draft.valid || !draft.checked),
        None => (scenario.yaml.clone(), scenario.located.clone(), Vec::new(), scenario.runs()),
    };
    let onreset = {
        let dispatch = dispatch.clone();
        let spec = scenario.spec.clone();
        Callback::from(move |_: ()| {
            if let Some(storage) = storage() {
                let _ = storage.remove_item(EDIT_KEY);
            }
            let lesson = spec.lesson.clone().or_else(|| Some(DEFAULT_SCENARIO.to_string()));
            dispatch.emit(Action::LoadScenario(load(&Spec { lesson, yaml: None, ..spec.clone() })));
        })
    };
    // Encoding `y=` deflates the whole YAML, so links are written only while the dialog shows them.
    let links = state.share.then(|| {
        let fragment = state.fragment();
        let embed = Fragment { ui: Some(Ui::Min), ..fragment.clone() };
        (format!("{}#{}", page_base(), fragment.format()), format!("{}#{}", page_base(), embed.format()))
    });
    let onscenario = {
        let dispatch = dispatch.clone();
        Callback::from(move |event: Event| {
            let value =
                event.target_dyn_into::<web_sys::HtmlSelectElement>().map(|select| select.value()).unwrap_or_default();
            dispatch.emit(Action::LoadScenario(load_builtin(&value)));
        })
    };
    let onmode = {
        let dispatch = dispatch.clone();
        let spec = scenario.spec.clone();
        Callback::from(move |event: Event| {
            let value =
                event.target_dyn_into::<web_sys::HtmlSelectElement>().map(|select| select.value()).unwrap_or_default();
            let mode = ProxyMode::parse(&value);
            dispatch.emit(Action::LoadScenario(load(&Spec { mode, ..spec.clone() })));
        })
    };
    // The request bar sends the same scenario again, to the URL and with the headers typed.
    let onrequest = {
        let dispatch = dispatch.clone();
        let spec = scenario.spec.clone();
        Callback::from(move |sent: Sent| {
            let spec = Spec { to: Some(sent.to), headers: sent.headers, ..spec.clone() };
            dispatch.emit(Action::LoadScenario(load(&spec)));
        })
    };
    let theme_name = match state.theme {
        Theme::Auto => text.theme_auto,
        Theme::Light => text.theme_light,
        Theme::Dark => text.theme_dark,
    };
    let pane_name = |pane: Pane| match pane {
        Pane::Topology => text.topology,
        Pane::Events => text.events,
        Pane::Inspector => text.inspector,
        Pane::Rules => text.rules,
        Pane::Manifests => text.manifests,
        Pane::Experiment => text.experiment,
    };
    let pane_tab = |pane: Pane, extra: &'static str| {
        let selected = state.pane == pane;
        html! {
            <button role="tab" class={classes!("tab", extra, selected.then_some("on"))} aria-selected={selected.to_string()}
                onclick={dispatch.reform(move |_: MouseEvent| Action::SetPane(pane))}>{ pane_name(pane) }</button>
        }
    };
    // On wide screens the right column shows rules or manifests; the others are always visible.
    let right = match state.pane {
        Pane::Manifests | Pane::Experiment => state.pane,
        _ => Pane::Rules,
    };
    let shown =
        |pane: Pane| classes!("pane", format!("pane-{}", pane_class(pane)), (state.pane == pane).then_some("current"));
    let outcome = &scenario.trace.outcome;
    let min = state.ui == Ui::Min;

    html! {
        <div class={classes!("app", state.reduced_motion.then_some("reduce-motion"), min.then_some("ui-min"))}
            data-theme={state.theme.code()} lang={text.lang_attr}>
            <header class="top">
                <div class="brand">
                    <span class="logo" aria-hidden="true">{ "⇄" }</span>
                    <strong>{ "lbplay" }</strong>
                    <span class="tagline">{ text.tagline }</span>
                </div>
                if !min {
                    <label class="picker">
                        <span class="sr-only">{ text.scenario }</span>
                        <select onchange={onscenario} data-testid="scenario" aria-label={text.scenario}>
                            for builtin in lessons::all() {
                                <option value={builtin.id} selected={builtin.id == scenario.id}>
                                    { if state.lang == Lang::Zh { builtin.title_zh } else { builtin.title_en } }
                                </option>
                            }
                        </select>
                    </label>
                    <button class="btn" onclick={onlibrary} data-testid="library-button" title={text.library}>
                        <span class="ico-txt" aria-hidden="true">{ "☰" }</span>
                        <span class="label">{ text.library }</span>
                    </button>
                    <label class="mode-picker">
                        <span class="sr-only">{ text.proxy_mode }</span>
                        <select onchange={onmode} data-testid="mode" aria-label={text.proxy_mode} title={text.proxy_mode}>
                            for mode in MODE_CHOICES {
                                <option value={mode.as_str()} selected={scenario.mode == Some(mode)}>
                                    { format!("kube-proxy: {}{}", mode.as_str(), if mode == ProxyMode::Userspace { text.removed_126 } else { "" }) }
                                </option>
                            }
                        </select>
                    </label>
                }
                if min {
                    // An embed's way out, in sight without scrolling: the full page at this exact state.
                    <a class="btn open-full" data-testid="open-playground" target="_blank" rel="noopener"
                        href={format!("./#{}", Fragment { ui: None, ..state.fragment() }.format())}>
                        { format!("{} ↗", text.open_playground) }
                    </a>
                }
                <div class="tools">
                    <button class="btn" onclick={onlang} data-testid="lang" lang={if state.lang == Lang::Zh { "en" } else { "zh-CN" }}
                        aria-label={text.other_lang_label} title={text.other_lang_label}>{ text.other_lang }</button>
                    if !min {
                        <button class="btn" onclick={ontheme} data-testid="theme" title={text.theme} aria-label={text.theme}>
                            <span class="ico-txt" aria-hidden="true">{ "◐" }</span>
                            <span class="label">{ format!("{}: {theme_name}", text.theme) }</span>
                        </button>
                        <button class={classes!("btn", state.reduced_motion.then_some("on"))} onclick={onmotion}
                            aria-pressed={state.reduced_motion.to_string()} title={text.motion} data-testid="motion">
                            <span class="ico-txt" aria-hidden="true">{ "≋" }</span>
                            <span class="label">{ text.motion }</span>
                        </button>
                    }
                    if !min {
                        <button class="btn" onclick={onshare} data-testid="share-button" title={text.share}>
                            // A chain link, drawn: emoji fonts are missing on many Linux desktops.
                            <svg class="ico" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
                                <path d="M6.5 9.5l3-3M7.5 4.5l1-1a2.5 2.5 0 013.5 3.5l-1 1M8.5 11.5l-1 1A2.5 2.5 0 014 9l1-1"
                                    stroke="currentColor" fill="none" stroke-width="1.6" stroke-linecap="round" />
                            </svg>
                            <span class="label">{ text.share }</span>
                        </button>
                    }
                    <button class="btn icon" onclick={onhelp} aria-label={text.shortcuts} title={text.shortcuts} data-testid="help-button">{ "?" }</button>
                </div>
            </header>
            <div class="bar">
                <Controls lang={state.lang} step={state.step} len={state.len()} playing={state.playing}
                    speed={state.speed} ondispatch={dispatch.clone()} />
                <div class="outcome">
                    if outcome.dropped {
                        <span class="chip bad">{ format!("✗ {}", text.outcome_dropped) }</span>
                    } else if let Some(to) = &outcome.delivered_to {
                        <span class="chip good">{ format!("✓ {} {to}", text.outcome_delivered) }</span>
                    }
                </div>
            </div>
            if let Some(notice) = &state.notice {
                <div class="problems notice" role="alert" data-testid="notice">
                    <strong>{ text.refused_link }</strong>
                    <ul><li><code>{ notice.clone() }</code></li></ul>
                </div>
            }
            if !scenario.problems.is_empty() {
                <div class="problems" role="alert" data-testid="problems">
                    <strong>{ text.problems }</strong>
                    <ul>
                        for problem in scenario.problems.iter() {
                            <li><code>{ problem.clone() }</code></li>
                        }
                    </ul>
                </div>
            }
            if !min && !scenario.watch(state.lang).is_empty() {
                <p class="watch" data-testid="watch">
                    <strong>{ format!("{}: ", text.watch_for) }</strong>{ scenario.watch(state.lang).to_string() }
                    if let Some(note) = other_mode_note(&scenario, text) {
                        <em class="other-mode">{ format!(" {note}") }</em>
                    }
                </p>
            }
            if !min && lbplay_core::http::url::Target::is_url(&scenario.to) {
                <RequestBar lang={state.lang} to={AttrValue::from(scenario.to.clone())}
                    headers={scenario.spec.headers.clone()} onsend={onrequest} />
            }
            <nav class="tabs" role="tablist" aria-label="panes">
                for pane in Pane::ALL {
                    { pane_tab(pane, "") }
                }
            </nav>
            <main class="grid">
                <section class={shown(Pane::Topology)} aria-label={text.topology}>
                    <Topology lang={state.lang} scenario={ScenarioRef(scenario.clone())} step={state.step} shown={state.pane == Pane::Topology} />
                    if let Some(step) = &current {
                        <p class="topo-caption">{ step.note.get(state.lang).to_string() }</p>
                    }
                </section>
                <section class={shown(Pane::Events)} aria-label={text.events}>
                    <h2 class="pane-title">{ text.events }</h2>
                    <StepList lang={state.lang} scenario={ScenarioRef(scenario.clone())} selected={state.step}
                        filter={state.filter.clone()} {onselect} {onfilter} shown={state.pane == Pane::Events} />
                </section>
                <section class={shown(Pane::Inspector)} aria-label={text.inspector}>
                    <h2 class="pane-title">{ text.inspector }</h2>
                    <Inspector lang={state.lang} step={current.clone()} index={state.step} len={state.len()}
                        field={state.field} {onfield} />
                </section>
                <section class={classes!(shown(right), "right", (state.pane == Pane::Rules).then_some("current"))}
                    aria-label={pane_name(right)}>
                    <div class="pane-title right-tabs" role="tablist">
                        { pane_tab(Pane::Rules, "wide") }
                        { pane_tab(Pane::Manifests, "wide") }
                        { pane_tab(Pane::Experiment, "wide") }
                    </div>
                    if right == Pane::Manifests && !min {
                        <Editor lang={state.lang} text={AttrValue::from(editor_text)} problems={editor_problems}
                            other={editor_other} edited={scenario.edited || state.draft.is_some()} valid={editor_valid}
                            oninput={dispatch.reform(Action::Edit)} onreset={onreset} />
                    } else if right == Pane::Manifests {
                        <Manifests lang={state.lang} yaml={AttrValue::from(scenario.yaml.clone())} />
                    } else if right == Pane::Experiment {
                        <Experiment lang={state.lang} scenario={ScenarioRef(scenario.clone())} />
                    } else {
                        <Rules lang={state.lang} node={AttrValue::from(rules_node)} tool={AttrValue::from(rules_tool)}
                            scenario={ScenarioRef(scenario.clone())} {hit} {skipped} shown={state.pane == Pane::Rules} />
                    }
                </section>
            </main>
            <div class="sr-only" aria-live="polite" aria-atomic="true" data-testid="live">{ live }</div>
            if state.help {
                <Help lang={state.lang} onclose={onhelp_close.clone()} />
            }
            if let Some((share_link, embed_link)) = links {
                <Share lang={state.lang} link={AttrValue::from(share_link)} embed={AttrValue::from(embed_link)}
                    title={AttrValue::from(scenario.title(state.lang).to_string())} onclose={onhelp_close.clone()} />
            }
            if state.library {
                <Library lang={state.lang} current={AttrValue::from(scenario.id.clone())} {onpick} onclose={onhelp_close} />
            }
        </div>
    }
}

/// The callbacks handed to the panes, made once per mounted app.
struct Handlers {
    dispatch: Callback<Action>,
    onselect: Callback<usize>,
    onfilter: Callback<Filter>,
    onfield: Callback<Option<usize>>,
    onclose: Callback<()>,
    onpick: Callback<&'static str>,
}

impl Handlers {
    fn new(dispatch: Callback<Action>) -> Handlers {
        Handlers {
            onselect: dispatch.reform(Action::Select),
            onfilter: dispatch.reform(Action::SetFilter),
            onfield: dispatch.reform(Action::SelectField),
            onclose: dispatch.reform(|_| Action::CloseOverlays),
            onpick: dispatch.reform(|id: &'static str| Action::LoadScenario(load_builtin(id))),
            dispatch,
        }
    }
}

/// When the page walks a lesson in another mode than the one it was written for, say so.
fn other_mode_note(scenario: &Scenario, text: &i18n::Texts) -> Option<String> {
    let asked = scenario.mode_override?;
    let own = scenario.own_mode?;
    (own != asked).then(|| (text.other_mode)(own.as_str(), asked.as_str()))
}

fn pane_class(pane: Pane) -> &'static str {
    match pane {
        Pane::Topology => "topology",
        Pane::Events => "events",
        Pane::Inspector => "inspector",
        Pane::Rules => "rules",
        Pane::Manifests => "manifests",
        Pane::Experiment => "experiment",
    }
}
