//! The rules pane: the node's rules as the real tool prints them (`iptables-save`), the current
//! step's rule highlighted (class `hit`) and scrolled into view, the rules skipped on the way to it
//! marked as skipped. For an ingress-nginx controller pod the pane shows its nginx configuration:
//! the `server_name` and `location` that matched are highlighted, the locations that lost marked.

use std::rc::Rc;

use lbplay_core::Lang;
use lbplay_core::trace::RuleAt;
use yew::prelude::*;

use crate::components::step_list::keep_in_view;
use crate::i18n;
use crate::run::ScenarioRef;

#[derive(Properties, PartialEq)]
pub struct RulesProps {
    pub lang: Lang,
    /// The node whose rules these are.
    pub node: AttrValue,
    pub tool: AttrValue,
    /// The scenario whose `rules[node]` these are (shared, compared by identity).
    pub scenario: ScenarioRef,
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
                for (index, line) in props.scenario.rules.get(props.node.as_str()).map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
                    <RuleLine key={index} lang={props.lang} scenario={props.scenario.clone()} node={props.node.clone()} {index}
                        hit={line.rule.is_some() && line.rule == props.hit}
                        skipped={line.rule.as_ref().is_some_and(|at| props.skipped.contains(at))} />
                }
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct RuleLineProps {
    lang: Lang,
    scenario: ScenarioRef,
    node: AttrValue,
    index: usize,
    hit: bool,
    skipped: bool,
}

/// One line of the dump; a component so that stepping re-renders only the lines whose marking
/// changed.
#[component]
fn RuleLine(props: &RuleLineProps) -> Html {
    let text = i18n::text(props.lang);
    let Some(line) = props.scenario.rules.get(props.node.as_str()).and_then(|lines| lines.get(props.index)) else {
        return Html::default();
    };
    let (hit, skipped) = (props.hit, props.skipped);
    let header = line.text.starts_with('*') || line.text.starts_with(':') || line.text == "COMMIT";
    // An IPVS real server is not matched like a rule: the scheduler chose it.
    let real_server = line.rule.as_ref().is_some_and(|at| at.table == "ipvs");
    // nginx weighs all of a server's locations; those marked lost the comparison.
    let nginx = line.rule.as_ref().is_some_and(|at| at.table == lbplay_core::ingress::render::NGINX);
    let (gutter, label) = if hit && real_server {
        ("▶", text.chosen)
    } else if hit {
        ("▶", text.rule_matched)
    } else if skipped && nginx {
        ("·", text.location_lost)
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
