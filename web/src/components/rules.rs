//! The rules pane: the node's rules as the real tool prints them (`iptables-save`), the current
//! step's rule highlighted (class `hit`) and scrolled into view, the rules skipped on the way to it
//! marked as skipped.

use std::rc::Rc;

use lbplay_core::Lang;
use lbplay_core::netfilter::render::Line;
use lbplay_core::trace::RuleAt;
use yew::prelude::*;

use crate::components::step_list::keep_in_view;
use crate::i18n;

#[derive(Properties, PartialEq)]
pub struct RulesProps {
    pub lang: Lang,
    /// The node whose rules these are.
    pub node: AttrValue,
    pub tool: AttrValue,
    pub lines: Rc<Vec<Line>>,
    pub hit: Option<RuleAt>,
    pub skipped: Rc<Vec<RuleAt>>,
    /// Whether the pane is on screen (narrow screens show one pane at a time); scrolling the
    /// matched rule into view waits until it is.
    #[prop_or(true)]
    pub shown: bool,
}

/// The rules pane.
#[component]
pub fn Rules(props: &RulesProps) -> Html {
    let text = i18n::text(props.lang);
    let body = use_node_ref();
    {
        let body = body.clone();
        use_effect_with((props.node.clone(), props.hit.clone(), props.shown), move |_| keep_in_view(&body, ".hit"));
    }
    html! {
        <div class="rules-pane">
            <div class="pane-note">
                <code>{ format!("{} · {}", props.node, props.tool) }</code>
                if props.hit.is_none() {
                    <span class="muted">{ " — " }{ text.no_rule }</span>
                }
            </div>
            <div class="scroll code rules" data-testid="rules" ref={body}>
                for line in props.lines.iter() {
                    { rule_line(props, line) }
                }
            </div>
        </div>
    }
}

fn rule_line(props: &RulesProps, line: &Line) -> Html {
    let text = i18n::text(props.lang);
    let hit = line.rule.is_some() && line.rule == props.hit;
    let skipped = line.rule.as_ref().is_some_and(|at| props.skipped.contains(at));
    let header = line.text.starts_with('*') || line.text.starts_with(':') || line.text == "COMMIT";
    let (gutter, label) = if hit {
        ("▶", text.rule_matched)
    } else if skipped {
        ("·", text.rule_skipped)
    } else {
        ("", "")
    };
    html! {
        <div class={classes!("line", hit.then_some("hit"), skipped.then_some("skipped"), header.then_some("hdr"))}
            aria-current={hit.then_some("true")}>
            <span class="gutter" aria-hidden="true">{ gutter }</span>
            if !label.is_empty() {
                <span class="sr-only">{ format!("{label}: ") }</span>
            }
            <span class="text">{ line.text.clone() }</span>
            if hit || skipped {
                <span class="tag" aria-hidden="true">{ label }</span>
            }
        </div>
    }
}
