//! The transport bar: first, back, play/pause, forward, last, reset, speed, and where we are.

use lbplay_core::Lang;
use yew::prelude::*;

use crate::i18n;
use crate::state::{Action, Speed};

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub lang: Lang,
    pub step: usize,
    pub len: usize,
    pub playing: bool,
    pub speed: Speed,
    pub ondispatch: Callback<Action>,
}

/// Packet Tracer's simulation controls.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let text = i18n::text(props.lang);
    let button = |label: &'static str, icon_name: Icon, action: Action, disabled: bool, testid: &'static str| {
        let onclick = props.ondispatch.reform(move |_: MouseEvent| action.clone());
        html! {
            <button class="btn icon" title={label} aria-label={label} {onclick} {disabled} data-testid={testid}>
                { icon(icon_name) }
            </button>
        }
    };
    let at_start = props.step == 0 || props.len == 0;
    let at_end = props.step + 1 >= props.len;
    let (play_label, play_icon) = if props.playing { (text.pause, Icon::Pause) } else { (text.play, Icon::Play) };
    let onspeed = props.ondispatch.reform(|event: Event| {
        let value =
            event.target_dyn_into::<web_sys::HtmlSelectElement>().map(|select| select.value()).unwrap_or_default();
        Action::SetSpeed(Speed::parse(&value).unwrap_or_default())
    });
    let speed_name = |speed: Speed| match speed {
        Speed::Slow => text.slow,
        Speed::Normal => text.normal,
        Speed::Fast => text.fast,
    };
    let position = if props.len == 0 { String::new() } else { (text.step_of)(props.step + 1, props.len) };
    html! {
        <div class="controls" role="toolbar" aria-label={text.events}>
            { button(text.first, Icon::First, Action::First, at_start, "first") }
            { button(text.back, Icon::Back, Action::Prev, at_start, "back") }
            <button class={classes!("btn", "icon", "play", props.playing.then_some("on"))} title={play_label}
                aria-label={play_label} aria-pressed={props.playing.to_string()} data-testid="play"
                disabled={props.len == 0}
                onclick={props.ondispatch.reform(|_: MouseEvent| Action::TogglePlay)}>
                { icon(play_icon) }
            </button>
            { button(text.forward, Icon::Forward, Action::Next, at_end, "forward") }
            { button(text.last, Icon::Last, Action::Last, at_end, "last") }
            { button(text.reset, Icon::Reset, Action::Reset, props.len == 0, "reset") }
            <label class="speed">
                <span>{ text.speed }</span>
                <select onchange={onspeed} data-testid="speed">
                    for speed in Speed::ALL {
                        <option value={speed.code()} selected={speed == props.speed}>{ speed_name(speed) }</option>
                    }
                </select>
            </label>
            <span class="position" data-testid="position">{ position }</span>
        </div>
    }
}

/// The transport icons, drawn as SVG so they look the same with any font.
#[derive(Clone, Copy)]
enum Icon {
    First,
    Back,
    Play,
    Pause,
    Forward,
    Last,
    Reset,
}

fn icon(which: Icon) -> Html {
    let path = match which {
        Icon::First => "M2 3h2v10H2z M9.5 3L4.5 8l5 5z M15 3l-5 5 5 5z",
        Icon::Back => "M11 3L4 8l7 5z",
        Icon::Play => "M4 2.5l10 5.5-10 5.5z",
        Icon::Pause => "M3.5 3h3v10h-3z M9.5 3h3v10h-3z",
        Icon::Forward => "M5 3l7 5-7 5z",
        Icon::Last => "M12 3h2v10h-2z M6.5 3l5 5-5 5z M1 3l5 5-5 5z",
        Icon::Reset => "",
    };
    html! {
        <svg class="ico" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
            if path.is_empty() {
                <path d="M3.2 6.2A5 5 0 1 0 8 3" fill="none" stroke="currentColor" stroke-width="1.8" />
                <path d="M8.5 0.2v5.6l-3.6-2.8z" fill="currentColor" />
            } else {
                <path d={path} fill="currentColor" />
            }
        </svg>
    }
}
