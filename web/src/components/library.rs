//! The scenario library: cards grouped by the source text's chapters, each with its title and
//! what to watch for, in the page's language; chapters not written yet are listed as coming.

use lbplay_core::Lang;
use lbplay_core::lessons::{self, Chapter};
use yew::prelude::*;

use crate::i18n;

#[derive(Properties, PartialEq)]
pub struct LibraryProps {
    pub lang: Lang,
    /// The id of the scenario on screen.
    pub current: AttrValue,
    pub onpick: Callback<&'static str>,
    pub onclose: Callback<()>,
}

/// Chapters of the source text that have no lesson yet: (English, Chinese).
const COMING: [(&str, &str); 4] = [
    ("Load-balancing concepts", "负载均衡的概念"),
    ("Ingress", "Ingress"),
    ("Istio sidecars", "Istio sidecar"),
    ("gRPC over HTTP/2", "基于 HTTP/2 的 gRPC"),
];

/// The library dialog.
#[component]
pub fn Library(props: &LibraryProps) -> Html {
    let text = i18n::text(props.lang);
    let mut chapters: Vec<Chapter> = Vec::new();
    for builtin in lessons::all() {
        if !chapters.contains(&builtin.chapter) {
            chapters.push(builtin.chapter);
        }
    }
    lbplay_core::sort::sort(&mut chapters);
    let written: Vec<String> = chapters.iter().map(|chapter| chapter.title().en).collect();
    let coming: Vec<&(&str, &str)> =
        COMING.iter().filter(|(en, _)| !written.iter().any(|title| title.starts_with(en))).collect();
    let close = props.onclose.reform(|_: MouseEvent| ());
    let backdrop = props.onclose.reform(|_: MouseEvent| ());
    html! {
        <div class="overlay" onclick={backdrop}>
            <div class="dialog library" role="dialog" aria-modal="true" aria-labelledby="library-title" data-testid="library"
                onclick={Callback::from(|event: MouseEvent| event.stop_propagation())}>
                <div class="dialog-head">
                    <h2 id="library-title">{ text.library }</h2>
                    <button class="btn" onclick={close}>{ text.close }</button>
                </div>
                for chapter in chapters {
                    <section class="chapter">
                        <h3>{ chapter.title().get(props.lang).to_string() }</h3>
                        <div class="cards">
                            for builtin in lessons::all().iter().filter(|builtin| builtin.chapter == chapter) {
                                { card(props, builtin) }
                            }
                        </div>
                    </section>
                }
                if !coming.is_empty() {
                    <section class="chapter coming">
                        <h3>{ text.coming }</h3>
                        <ul class="coming-list">
                            for (en, zh) in coming {
                                <li>{ if props.lang == Lang::Zh { *zh } else { *en } }</li>
                            }
                        </ul>
                    </section>
                }
            </div>
        </div>
    }
}

fn card(props: &LibraryProps, builtin: &'static lessons::Builtin) -> Html {
    let current = props.current == builtin.id;
    let onclick = props.onpick.reform(move |_: MouseEvent| builtin.id);
    let (title, watch) = match props.lang {
        Lang::En => (builtin.title_en, builtin.watch_en),
        Lang::Zh => (builtin.title_zh, builtin.watch_zh),
    };
    html! {
        <button class={classes!("card", current.then_some("current"))} {onclick} aria-current={current.then_some("true")}
            data-testid="card" data-id={builtin.id}>
            <span class="card-title">{ title }</span>
            <span class="card-walk"><code>{ format!("{} → {}", builtin.from, builtin.to) }</code></span>
            <span class="card-watch">{ watch }</span>
        </button>
    }
}
