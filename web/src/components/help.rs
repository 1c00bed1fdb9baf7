//! The `?` overlay listing the keyboard shortcuts.

use lbplay_core::Lang;
use yew::prelude::*;

use crate::i18n;

#[derive(Properties, PartialEq)]
pub struct HelpProps {
    pub lang: Lang,
    pub onclose: Callback<()>,
}

/// The keyboard-shortcut dialog.
#[component]
pub fn Help(props: &HelpProps) -> Html {
    let text = i18n::text(props.lang);
    let close = props.onclose.reform(|_: MouseEvent| ());
    let backdrop = props.onclose.reform(|_: MouseEvent| ());
    html! {
        <div class="overlay" onclick={backdrop}>
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="help-title" data-testid="help"
                onclick={Callback::from(|event: MouseEvent| event.stop_propagation())}>
                <h2 id="help-title">{ text.shortcuts }</h2>
                <table class="keys">
                    <tbody>
                        for (key, what) in text.keys.iter() {
                            <tr><td><kbd>{ *key }</kbd></td><td>{ *what }</td></tr>
                        }
                    </tbody>
                </table>
                <p class="pane-note"><a href="./embed-demo.html" target="_blank" rel="noopener">{ text.embed_demo }</a></p>
                <button class="btn" onclick={close} autofocus=true>{ text.close }</button>
            </div>
        </div>
    }
}
