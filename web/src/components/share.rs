//! The Share dialog: the link to the exact state (design.md, "Contract: URL state") with a Copy
//! button, and the iframe snippet that embeds the same state at the same step with `ui=min`.
//!
//! The link is built by the caller from `State::fragment`, so the dialog never decides what a
//! link carries; it only shows it and copies it.

use lbplay_core::Lang;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::i18n;

#[derive(Properties, PartialEq)]
pub struct ShareProps {
    pub lang: Lang,
    /// The whole link, `http://…/#v=1&…`.
    pub link: AttrValue,
    /// The same link with `ui=min`, for the iframe.
    pub embed: AttrValue,
    /// The iframe's title (the lesson's).
    pub title: AttrValue,
    pub onclose: Callback<()>,
}

/// The iframe snippet a docs author pastes. `loading="lazy"` keeps a page with several embeds
/// light; the embed itself does not take focus until clicked.
pub fn snippet(src: &str, title: &str, width: u32, height: u32) -> String {
    let title = title.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let src = src.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        "<iframe src=\"{src}\" width=\"{width}\" height=\"{height}\" title=\"{title}\" loading=\"lazy\" style=\"border:0;max-width:100%\"></iframe>"
    )
}

/// Copies `text` to the clipboard; where the browser refuses, the text stays selected in its
/// field for Ctrl+C.
fn copy(text: &str, field: &NodeRef) {
    if let Some(input) = field.cast::<web_sys::HtmlTextAreaElement>() {
        input.select();
    } else if let Some(input) = field.cast::<web_sys::HtmlInputElement>() {
        input.select();
    }
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}

/// The dialog.
#[component]
pub fn Share(props: &ShareProps) -> Html {
    let text = i18n::text(props.lang);
    let copied = use_state(|| None::<&'static str>);
    let width = use_state(|| 800u32);
    let height = use_state(|| 500u32);
    let link_field = use_node_ref();
    let embed_field = use_node_ref();
    let code = snippet(&props.embed, &props.title, *width, *height);
    let copy_link = {
        let (link, field, copied) = (props.link.to_string(), link_field.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            copy(&link, &field);
            copied.set(Some("link"));
        })
    };
    let copy_embed = {
        let (code, field, copied) = (code.clone(), embed_field.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            copy(&code, &field);
            copied.set(Some("embed"));
        })
    };
    let size = |state: UseStateHandle<u32>| {
        Callback::from(move |event: Event| {
            let value = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
                .and_then(|input| input.value().parse::<u32>().ok());
            if let Some(value) = value {
                state.set(value.clamp(200, 4000));
            }
        })
    };
    let close = props.onclose.reform(|_: MouseEvent| ());
    let backdrop = props.onclose.reform(|_: MouseEvent| ());
    let label = |which: &str| if *copied == Some(which) { text.copied } else { text.copy };
    html! {
        <div class="overlay" onclick={backdrop}>
            <div class="dialog share" role="dialog" aria-modal="true" aria-labelledby="share-title" data-testid="share"
                onclick={Callback::from(|event: MouseEvent| event.stop_propagation())}>
                <h2 id="share-title">{ text.share }</h2>
                <label class="field">
                    <span>{ text.share_link }</span>
                    <input ref={link_field} readonly=true value={props.link.clone()} data-testid="share-link" />
                </label>
                <button class="btn" onclick={copy_link} data-testid="copy-link" autofocus=true>{ label("link") }</button>
                <h3>{ text.embed }</h3>
                <p class="pane-note">{ text.embed_note }{ " · " }
                    <a href="./embed-demo.html" target="_blank" rel="noopener" data-testid="embed-demo">{ text.embed_demo }</a>
                </p>
                <div class="sizes">
                    <label>{ text.width }<input type="number" min="200" max="4000" value={width.to_string()} onchange={size(width.clone())} /></label>
                    <label>{ text.height }<input type="number" min="200" max="4000" value={height.to_string()} onchange={size(height.clone())} /></label>
                </div>
                <textarea ref={embed_field} readonly=true rows="4" value={code} data-testid="embed-snippet" />
                <button class="btn" onclick={copy_embed} data-testid="copy-embed">{ label("embed") }</button>
                <button class="btn" onclick={close}>{ text.close }</button>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_snippet_escapes_what_would_break_the_attribute() {
        let code = snippet("http://h/#v=1&s=a&ui=min", "A \"quoted\" <b>", 640, 400);
        assert_eq!(
            code,
            "<iframe src=\"http://h/#v=1&amp;s=a&amp;ui=min\" width=\"640\" height=\"400\" title=\"A &quot;quoted&quot; &lt;b>\" loading=\"lazy\" style=\"border:0;max-width:100%\"></iframe>"
        );
    }
}
