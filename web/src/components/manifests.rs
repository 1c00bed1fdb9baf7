//! The scenario's YAML, read-only for now.

use lbplay_core::Lang;
use yew::prelude::*;

use crate::i18n;

#[derive(Properties, PartialEq)]
pub struct ManifestsProps {
    pub lang: Lang,
    pub yaml: AttrValue,
}

/// The manifests pane.
#[component]
pub fn Manifests(props: &ManifestsProps) -> Html {
    let text = i18n::text(props.lang);
    html! {
        <div class="manifests" data-testid="manifests">
            <div class="pane-note">{ text.readonly }</div>
            <pre class="code yaml">{ props.yaml.clone() }</pre>
        </div>
    }
}
