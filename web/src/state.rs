//! The playground's state: which scenario, which step, which language, and what the controls say.
//!
//! Plain Rust with no DOM, so `cargo test -p lbplay-web` checks it natively. `State` is a Yew
//! `Reducible`: the root component holds it with `use_reducer` and every control dispatches an
//! `Action`. A reduction that changes nothing returns the same `Rc`, so Yew skips the re-render.
//!
//! The URL fragment and the saved edit are read and written in `fragment` (re-exported here);
//! `State::fragment` and `State::with_fragment` connect them to the state.

use std::rc::Rc;

use lbplay_core::Lang;
use lbplay_core::trace::StepKind;
use yew::Reducible;

pub use crate::fragment::{Fragment, Saved, parse_lang};
use crate::run::Scenario;

/// The fragment format version this build writes.
pub const FRAGMENT_VERSION: u32 = 1;
/// The scenario shown when the fragment names none.
pub const DEFAULT_SCENARIO: &str = "clusterip-iptables";

/// The colour scheme: follow the OS, or force one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub fn code(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(text: &str) -> Option<Theme> {
        match text {
            "auto" => Some(Theme::Auto),
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    /// The next theme in the toggle's cycle.
    pub fn next(self) -> Theme {
        match self {
            Theme::Auto => Theme::Light,
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Auto,
        }
    }
}

/// `full` is the playground; `min` is the embed (no library, no header controls beyond stepping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ui {
    #[default]
    Full,
    Min,
}

impl Ui {
    pub fn code(self) -> &'static str {
        match self {
            Ui::Full => "full",
            Ui::Min => "min",
        }
    }

    pub fn parse(text: &str) -> Option<Ui> {
        match text {
            "full" => Some(Ui::Full),
            "min" => Some(Ui::Min),
            _ => None,
        }
    }
}

/// How long playback stays on each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Speed {
    Slow,
    #[default]
    Normal,
    Fast,
}

impl Speed {
    pub const ALL: [Speed; 3] = [Speed::Slow, Speed::Normal, Speed::Fast];

    pub fn millis(self) -> u32 {
        match self {
            Speed::Slow => 2400,
            Speed::Normal => 1200,
            Speed::Fast => 500,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Speed::Slow => "slow",
            Speed::Normal => "normal",
            Speed::Fast => "fast",
        }
    }

    pub fn parse(text: &str) -> Option<Speed> {
        Speed::ALL.into_iter().find(|speed| speed.code() == text)
    }
}

/// The panes; on a narrow screen one of them is shown at a time, as tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    /// The first pane a phone or an embed shows: the packet crossing the node is what a learner
    /// came to see (Packet Tracer opens on its topology too); the event list is one tab away.
    #[default]
    Topology,
    Events,
    Inspector,
    Rules,
    Manifests,
    Experiment,
}

impl Pane {
    pub const ALL: [Pane; 6] =
        [Pane::Topology, Pane::Events, Pane::Inspector, Pane::Rules, Pane::Manifests, Pane::Experiment];
}

/// Which steps the event list shows (Packet Tracer's event-list filters). `None` shows all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub node: Option<String>,
    pub table: Option<String>,
    pub kind: Option<StepKind>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.node.is_none() && self.table.is_none() && self.kind.is_none()
    }
}

/// Everything the page shows, apart from what is derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub scenario: Rc<Scenario>,
    /// The selected step, 0-based; always a valid index when the trace has steps.
    pub step: usize,
    pub lang: Lang,
    pub theme: Theme,
    pub ui: Ui,
    pub playing: bool,
    pub speed: Speed,
    /// The keyboard-shortcut overlay is open.
    pub help: bool,
    /// The scenario library is open.
    pub library: bool,
    /// The Share dialog (link and embed snippet) is open.
    pub share: bool,
    /// The inspector's selected header field, by index into `Packet::fields()`.
    pub field: Option<usize>,
    pub filter: Filter,
    /// The pane shown on narrow screens, and the right-hand pane (rules or manifests) on wide ones.
    pub pane: Pane,
    /// Snap to each step's end state instead of animating (an in-page override of the OS setting).
    pub reduced_motion: bool,
    /// The learner's edit of the YAML, kept whole even while it does not load (nothing typed is
    /// lost); `None` before any edit.
    pub draft: Option<Rc<Draft>>,
    /// The host page's origin an embed trusts (`Fragment::origin`).
    pub origin: Option<String>,
    /// A message about the link the page was opened with (a refused `y=`), shown until the next
    /// scenario is loaded.
    pub notice: Option<String>,
}

/// The editor's text and what the loader last said about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Draft {
    pub text: String,
    /// The loader's located problems (errors when it did not load, else warnings).
    pub problems: Vec<lbplay_core::scenario::Problem>,
    /// Problems without a location: the walk or the rules failed in the edited cluster.
    pub other: Vec<String>,
    /// The text as last checked loaded and walked, so the page shows it; while `false` the page
    /// keeps showing the last good scenario.
    pub valid: bool,
    /// `text` has been checked (problems and `valid` are about it, not an older text).
    pub checked: bool,
}

/// Everything a control can ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Next,
    Prev,
    First,
    Last,
    Select(usize),
    /// Back to the first step and stop playing (the R key).
    Reset,
    TogglePlay,
    /// Start or stop playback whatever it is doing now (the embed API's play and pause).
    Play,
    Pause,
    /// Playback's timer fired: advance, and stop at the last step.
    Tick,
    SetSpeed(Speed),
    SetLang(Lang),
    ToggleLang,
    SetTheme(Theme),
    CycleTheme,
    ToggleHelp,
    ToggleLibrary,
    ToggleShare,
    /// Escape: close whichever overlay is open.
    CloseOverlays,
    SelectField(Option<usize>),
    SetFilter(Filter),
    SetPane(Pane),
    ToggleMotion,
    LoadScenario(Rc<Scenario>),
    /// The learner typed: keep the text (it is checked a moment later).
    Edit(String),
    /// The check of `text` finished: when it runs, show it (keeping the step where it can); else
    /// keep the last good scenario and list the problems.
    Checked {
        text: String,
        scenario: Rc<Scenario>,
    },
    /// A fragment arrived (a pasted link): apply what it says, except the scenario, which the
    /// caller loads first with `LoadScenario` (loading runs the simulator; reducing does not).
    ApplyFragment(Fragment),
}

impl State {
    pub fn new(scenario: Rc<Scenario>) -> State {
        State {
            scenario,
            step: 0,
            lang: Lang::En,
            theme: Theme::Auto,
            ui: Ui::Full,
            playing: false,
            speed: Speed::Normal,
            help: false,
            library: false,
            share: false,
            field: None,
            filter: Filter::default(),
            pane: Pane::default(),
            reduced_motion: false,
            notice: None,
            draft: None,
            origin: None,
        }
    }

    /// The number of steps of the current trace.
    pub fn len(&self) -> usize {
        self.scenario.trace.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The selected step, if the trace has any.
    pub fn current(&self) -> Option<&lbplay_core::Step> {
        self.scenario.trace.steps.get(self.step)
    }

    /// Whether the event list shows step `index` under the current filter.
    pub fn visible(&self, index: usize) -> bool {
        let Some(step) = self.scenario.trace.steps.get(index) else { return false };
        let filter = &self.filter;
        filter.node.as_ref().is_none_or(|node| *node == step.node)
            && filter.table.as_ref().is_none_or(|table| Some(table.as_str()) == step.table)
            && filter.kind.is_none_or(|kind| kind == step.kind)
    }

    /// The indices the event list shows.
    pub fn visible_steps(&self) -> Vec<usize> {
        (0..self.len()).filter(|&index| self.visible(index)).collect()
    }

    fn next_index(&self) -> Option<usize> {
        (self.step + 1..self.len()).find(|&index| self.visible(index))
    }

    fn prev_index(&self) -> Option<usize> {
        (0..self.step.min(self.len())).rev().find(|&index| self.visible(index))
    }

    fn first_index(&self) -> Option<usize> {
        (0..self.len()).find(|&index| self.visible(index))
    }

    fn last_index(&self) -> Option<usize> {
        (0..self.len()).rev().find(|&index| self.visible(index))
    }

    /// The fragment that restores this view.
    pub fn fragment(&self) -> Fragment {
        let scenario = &self.scenario;
        Fragment {
            scenario: (!scenario.id.is_empty()).then(|| scenario.id.clone()),
            yaml: scenario.edited.then(|| scenario.yaml.clone()),
            from: scenario.spec.from.clone(),
            to: scenario.spec.to.clone(),
            headers: scenario.spec.headers.clone(),
            refused: None,
            origin: self.origin.clone(),
            step: if self.is_empty() { None } else { Some(self.step + 1) },
            lang: Some(self.lang),
            theme: (self.theme != Theme::Auto).then_some(self.theme),
            ui: (self.ui != Ui::Full).then_some(self.ui),
            mode: self.scenario.mode_override,
        }
    }

    /// Applies a fragment's step, language, theme and ui (not its scenario).
    pub fn with_fragment(mut self, fragment: &Fragment) -> State {
        if let Some(step) = fragment.step {
            self.step = step.saturating_sub(1).min(self.len().saturating_sub(1));
            self.field = None;
        }
        if let Some(lang) = fragment.lang {
            self.lang = lang;
        }
        if let Some(theme) = fragment.theme {
            self.theme = theme;
        }
        if let Some(ui) = fragment.ui {
            self.ui = ui;
        }
        if let Some(origin) = &fragment.origin {
            self.origin = Some(origin.clone());
        }
        if let Some(refused) = &fragment.refused {
            self.notice = Some(refused.clone());
        }
        self
    }

    fn with_step(&self, step: Option<usize>) -> Option<State> {
        let step = step?;
        (step != self.step).then(|| State { step, field: None, ..self.clone() })
    }
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let next = match action {
            Action::Next => self.with_step(self.next_index()),
            Action::Prev => self.with_step(self.prev_index()),
            Action::First => self.with_step(self.first_index()),
            Action::Last => self.with_step(self.last_index()),
            Action::Select(index) => self.with_step((index < self.len()).then_some(index)),
            Action::Reset => {
                let first = self.first_index().unwrap_or(0);
                (self.step != first || self.playing || self.field.is_some()).then(|| State {
                    step: first,
                    playing: false,
                    field: None,
                    ..(*self).clone()
                })
            }
            Action::TogglePlay => {
                if self.playing {
                    Some(State { playing: false, ..(*self).clone() })
                } else if self.is_empty() {
                    None
                } else {
                    // Playing from the last step starts over, as a media player does.
                    let step = if self.next_index().is_none() { self.first_index().unwrap_or(0) } else { self.step };
                    Some(State { playing: true, step, ..(*self).clone() })
                }
            }
            Action::Play if self.playing => None,
            Action::Play => return self.reduce(Action::TogglePlay),
            Action::Pause => self.playing.then(|| State { playing: false, ..(*self).clone() }),
            Action::Tick => {
                if !self.playing {
                    None
                } else {
                    match self.next_index() {
                        Some(step) => {
                            let playing = (step + 1..self.len()).any(|index| self.visible(index));
                            Some(State { step, playing, field: None, ..(*self).clone() })
                        }
                        None => Some(State { playing: false, ..(*self).clone() }),
                    }
                }
            }
            Action::SetSpeed(speed) => (speed != self.speed).then(|| State { speed, ..(*self).clone() }),
            Action::SetLang(lang) => (lang != self.lang).then(|| State { lang, ..(*self).clone() }),
            Action::ToggleLang => {
                let lang = if self.lang == Lang::En { Lang::Zh } else { Lang::En };
                Some(State { lang, ..(*self).clone() })
            }
            Action::SetTheme(theme) => (theme != self.theme).then(|| State { theme, ..(*self).clone() }),
            Action::CycleTheme => Some(State { theme: self.theme.next(), ..(*self).clone() }),
            Action::ToggleHelp => Some(State { help: !self.help, library: false, share: false, ..(*self).clone() }),
            Action::ToggleLibrary => {
                Some(State { library: !self.library, help: false, share: false, ..(*self).clone() })
            }
            Action::ToggleShare => Some(State { share: !self.share, help: false, library: false, ..(*self).clone() }),
            Action::CloseOverlays => (self.help || self.library || self.share).then(|| State {
                help: false,
                library: false,
                share: false,
                ..(*self).clone()
            }),
            Action::SelectField(field) => (field != self.field).then(|| State { field, ..(*self).clone() }),
            Action::SetFilter(filter) => (filter != self.filter).then(|| {
                let mut next = State { filter, ..(*self).clone() };
                // Keep the selection on a shown step when there is one.
                if !next.visible(next.step)
                    && let Some(step) = next.next_index().or_else(|| next.prev_index())
                {
                    next.step = step;
                    next.field = None;
                }
                next
            }),
            Action::SetPane(pane) => (pane != self.pane).then(|| State { pane, ..(*self).clone() }),
            Action::ToggleMotion => Some(State { reduced_motion: !self.reduced_motion, ..(*self).clone() }),
            Action::LoadScenario(scenario) => {
                (scenario != self.scenario || self.library || self.draft.is_some()).then(|| State {
                    scenario,
                    library: false,
                    step: 0,
                    playing: false,
                    field: None,
                    filter: Filter::default(),
                    notice: None,
                    draft: None,
                    ..(*self).clone()
                })
            }
            Action::Edit(text) => {
                let unchanged = self.draft.as_ref().is_some_and(|draft| draft.text == text);
                (!unchanged).then(|| {
                    let before = self.draft.as_deref().cloned().unwrap_or_default();
                    let draft = Draft { text, checked: false, ..before };
                    State { draft: Some(Rc::new(draft)), ..(*self).clone() }
                })
            }
            Action::Checked { text, scenario } => {
                let current = self.draft.as_ref().is_some_and(|draft| draft.text == text);
                current.then(|| {
                    let valid = scenario.runs();
                    let located = scenario.located.clone();
                    let other = scenario
                        .problems
                        .iter()
                        .filter(|line| !located.iter().any(|p| p.to_string() == **line))
                        .cloned()
                        .collect();
                    let draft = Draft { text, problems: located, other, valid, checked: true };
                    let mut next = State { draft: Some(Rc::new(draft)), ..(*self).clone() };
                    if valid {
                        next.step = self.step.min(scenario.trace.steps.len().saturating_sub(1));
                        next.field = None;
                        next.playing = false;
                        next.scenario = scenario;
                    }
                    next
                })
            }
            Action::ApplyFragment(fragment) => {
                let next = (*self).clone().with_fragment(&fragment);
                (next != *self).then_some(next)
            }
        };
        match next {
            Some(next) => Rc::new(next),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn state() -> Rc<State> {
        Rc::new(State::new(Rc::new(fixture::scenario())))
    }

    fn run(state: Rc<State>, actions: &[Action]) -> Rc<State> {
        actions.iter().cloned().fold(state, |state, action| state.reduce(action))
    }

    #[test]
    fn test_next_and_prev_stay_in_bounds() {
        let start = state();
        let len = start.len();
        assert!(len >= 4, "the fixture has a few steps");
        let state = run(start.clone(), &[Action::Prev]);
        assert!(Rc::ptr_eq(&state, &start), "Prev on the first step changes nothing");
        let state = run(state, &vec![Action::Next; len + 5]);
        assert_eq!(state.step, len - 1);
        let before = state.clone();
        let state = state.reduce(Action::Next);
        assert!(Rc::ptr_eq(&state, &before), "Next on the last step changes nothing");
        let state = run(state, &[Action::Prev, Action::Prev]);
        assert_eq!(state.step, len - 3);
        assert_eq!(run(state.clone(), &[Action::First]).step, 0);
        assert_eq!(run(state, &[Action::Last]).step, len - 1);
    }

    #[test]
    fn test_select_ignores_out_of_range() {
        let start = state();
        let state = start.clone().reduce(Action::Select(usize::MAX));
        assert!(Rc::ptr_eq(&state, &start));
        assert_eq!(start.reduce(Action::Select(2)).step, 2);
    }

    #[test]
    fn test_empty_trace_never_panics() {
        let state = Rc::new(State::new(Rc::new(Scenario::failed("x", vec!["broken".into()]))));
        let actions = [
            Action::Next,
            Action::Prev,
            Action::First,
            Action::Last,
            Action::Select(3),
            Action::TogglePlay,
            Action::Tick,
            Action::Reset,
            Action::ToggleLibrary,
            Action::CloseOverlays,
        ];
        let state = run(state, &actions);
        assert_eq!(state.step, 0);
        assert!(!state.playing);
        assert!(state.current().is_none());
        assert_eq!(state.fragment().format(), "v=1&s=x&lang=en");
    }

    #[test]
    fn test_play_ticks_to_the_end_and_stops() {
        let state = run(state(), &[Action::TogglePlay]);
        assert!(state.playing);
        let len = state.len();
        let state = run(state, &vec![Action::Tick; len - 1]);
        assert_eq!(state.step, len - 1);
        assert!(!state.playing, "playback stops on the last step");
        let state = run(state, &[Action::TogglePlay]);
        assert!(state.playing);
        assert_eq!(state.step, 0, "play from the end starts over");
        let state = run(state, &[Action::Tick, Action::Reset]);
        assert_eq!(state.step, 0);
        assert!(!state.playing);
    }

    #[test]
    fn test_filter_limits_stepping() {
        let state = state();
        let kind = StepKind::Netfilter;
        let filter = Filter { kind: Some(kind), ..Filter::default() };
        let state = run(state, &[Action::SetFilter(filter)]);
        assert_eq!(state.current().map(|step| step.kind), Some(kind), "selection moves onto a shown step");
        let state = run(state, &[Action::Next, Action::Next]);
        assert_eq!(state.current().map(|step| step.kind), Some(kind));
        let shown = state.visible_steps();
        assert!(!shown.is_empty() && shown.len() < state.len());
    }

    #[test]
    fn test_overlays_are_exclusive_and_escape_closes_them() {
        let state = run(state(), &[Action::ToggleHelp, Action::ToggleLibrary]);
        assert!(state.library && !state.help);
        let state = run(state, &[Action::CloseOverlays]);
        assert!(!state.library && !state.help);
        let same = state.clone().reduce(Action::CloseOverlays);
        assert!(Rc::ptr_eq(&same, &state));
        let state =
            run(state, &[Action::ToggleLibrary, Action::Next, Action::LoadScenario(Rc::new(fixture::scenario()))]);
        assert!(!state.library, "picking a scenario closes the library");
        assert_eq!(state.step, 0);
    }

    #[test]
    fn test_lang_and_theme() {
        let state = run(state(), &[Action::ToggleLang]);
        assert_eq!(state.lang, Lang::Zh);
        let same = state.clone().reduce(Action::SetLang(Lang::Zh));
        assert!(Rc::ptr_eq(&same, &state));
        let state = run(state, &[Action::CycleTheme, Action::CycleTheme]);
        assert_eq!(state.theme, Theme::Dark);
    }

    #[test]
    fn test_an_invalid_edit_keeps_the_last_good_scenario() {
        let start = state();
        let shown = start.scenario.clone();
        let state = run(start, &[Action::Next, Action::Edit("kind: [".into())]);
        assert_eq!(state.draft.as_ref().map(|draft| draft.text.as_str()), Some("kind: ["));
        let broken = crate::run::load(&crate::run::Spec { yaml: Some("kind: [".into()), ..Default::default() });
        let state = run(state, &[Action::Checked { text: "kind: [".into(), scenario: broken }]);
        let draft = state.draft.clone().expect("a draft");
        assert!(!draft.valid && draft.checked);
        assert!(!draft.problems.is_empty());
        assert!(Rc::ptr_eq(&state.scenario, &shown), "the last good scenario keeps running");
        assert_eq!(state.step, 1);
        // A stale check (of an older text) changes nothing.
        let again = state.clone().reduce(Action::Checked { text: "old".into(), scenario: shown.clone() });
        assert!(Rc::ptr_eq(&again, &state));
    }
}
