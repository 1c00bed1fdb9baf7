//! A scenario as the page shows it: the model, the trace of its default walk and every node's rules,
//! all computed once by lbplay-core when the scenario is chosen.
//!
//! The web crate never simulates anything itself: stepping only moves through `trace.steps`.

use std::collections::BTreeMap;
use std::rc::Rc;

use lbplay_core::dataplane::Line;
use lbplay_core::kubeproxy;
use lbplay_core::lessons;
use lbplay_core::model::{Cluster, ProxyMode};
use lbplay_core::net::Proto;
use lbplay_core::scenario::{self, Source};
use lbplay_core::trace::Trace;
use lbplay_core::walk::{self, Request};

/// A shared scenario whose equality is identity: props holding it compare in O(1), so Yew skips
/// re-rendering a pane whose scenario did not change without comparing whole traces.
#[derive(Debug, Clone)]
pub struct ScenarioRef(pub Rc<Scenario>);

impl PartialEq for ScenarioRef {
    fn eq(&self, other: &ScenarioRef) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for ScenarioRef {
    type Target = Scenario;

    fn deref(&self) -> &Scenario {
        &self.0
    }
}

/// One scenario, ready to show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scenario {
    /// The built-in id (`clusterip-iptables`); the URL's `s=`.
    pub id: String,
    pub title_en: String,
    pub title_zh: String,
    /// What to watch for in this lesson.
    pub watch_en: String,
    pub watch_zh: String,
    pub from: String,
    pub to: String,
    pub yaml: String,
    pub cluster: Option<Cluster>,
    /// Empty when the scenario could not be walked; `problems` says why.
    pub trace: Trace,
    /// Each node's rules as the real tool prints them, by node name.
    pub rules: BTreeMap<String, Vec<Line>>,
    /// What the tool that renders the rules is called (`iptables-save`).
    pub rules_tool: String,
    /// kube-proxy's mode for this walk: the scenario's own, or the one the page asked for.
    pub mode: Option<ProxyMode>,
    /// The mode the page asked for instead of the scenario's own (the URL's `mode=`).
    pub mode_override: Option<ProxyMode>,
    /// The mode the scenario's YAML asks for.
    pub own_mode: Option<ProxyMode>,
    /// Load, walk or rule-building errors, one line each, with their location.
    pub problems: Vec<String>,
}

impl Scenario {
    /// The IPVS scheduler the lesson's kube-proxy is configured with (`ipvs.scheduler`), or
    /// kube-proxy's default, rr, when it names none.
    pub fn ipvs_scheduler(&self) -> &str {
        let configured = self.cluster.as_ref().map(|cluster| cluster.kube_proxy.ipvs_scheduler.as_str());
        configured.filter(|name| !name.is_empty()).unwrap_or("rr")
    }

    /// A scenario that failed before anything could be shown.
    pub fn failed(id: &str, problems: Vec<String>) -> Scenario {
        Scenario { id: id.to_string(), problems, ..Scenario::default() }
    }

    pub fn title(&self, lang: lbplay_core::Lang) -> &str {
        match lang {
            lbplay_core::Lang::En => &self.title_en,
            lbplay_core::Lang::Zh => &self.title_zh,
        }
    }

    pub fn watch(&self, lang: lbplay_core::Lang) -> &str {
        match lang {
            lbplay_core::Lang::En => &self.watch_en,
            lbplay_core::Lang::Zh => &self.watch_zh,
        }
    }

    /// The rules of the node a step happened on; for a step on a pod or client, those of the node
    /// last seen before it, so the pane does not go blank.
    pub fn rules_for_step(&self, step: usize) -> Option<(&str, &[Line])> {
        let steps = &self.trace.steps;
        let upto = step.min(steps.len().saturating_sub(1));
        for index in (0..=upto).rev() {
            let Some(candidate) = steps.get(index) else { continue };
            if let Some((name, lines)) = self.rules.get_key_value(candidate.node.as_str()) {
                return Some((name.as_str(), lines.as_slice()));
            }
        }
        self.rules.iter().next().map(|(name, lines)| (name.as_str(), lines.as_slice()))
    }
}

/// Loads a built-in scenario and runs its default walk with the lesson's seed (the native
/// snapshots use the same one).
/// The hand-built `fixture::scenario()` is not reachable from the URL: tests pass it to `App` as a
/// prop, and leaving it out of the page saves its code in the wasm budget.
pub fn load_builtin(id: &str) -> Rc<Scenario> {
    load_builtin_in(id, None)
}

/// The same, with kube-proxy switched to `mode` (the same Service in another proxy mode).
pub fn load_builtin_in(id: &str, mode: Option<ProxyMode>) -> Rc<Scenario> {
    let Some(builtin) = lessons::get(id) else {
        return Rc::new(Scenario::failed(id, vec![format!("unknown scenario {id:?}")]));
    };
    let mut out = Scenario {
        id: builtin.id.to_string(),
        title_en: builtin.title_en.to_string(),
        title_zh: builtin.title_zh.to_string(),
        watch_en: builtin.watch_en.to_string(),
        watch_zh: builtin.watch_zh.to_string(),
        from: builtin.from.to_string(),
        to: builtin.to.to_string(),
        yaml: builtin.yaml.to_string(),
        ..Scenario::default()
    };
    let loaded = match scenario::load(&[Source { name: builtin.id, text: builtin.yaml }]) {
        Ok(loaded) => loaded,
        Err(problems) => {
            out.problems = problems
                .iter()
                .map(|problem| format!("{}:{}:{}: {}", problem.file, problem.line, problem.column, problem.message))
                .collect();
            if out.problems.is_empty() {
                out.problems.push("the scenario could not be loaded".into());
            }
            return Rc::new(out);
        }
    };
    let mut cluster = loaded.cluster;
    out.own_mode = Some(cluster.kube_proxy.mode);
    if let Some(mode) = mode {
        cluster.kube_proxy.mode = mode;
    }
    out.mode_override = mode;
    let mode = cluster.kube_proxy.mode;
    out.mode = Some(mode);
    out.rules_tool = match mode.as_str() {
        // IPVS mode's dump is three tools' output, in this order (`kubeproxy::rules_lines`).
        "ipvs" => "ipvsadm -Ln · ipset save · iptables-save".into(),
        "nftables" => "nft list ruleset".into(),
        _ => "iptables-save".into(),
    };
    for node in &cluster.nodes {
        match kubeproxy::rules_lines(&cluster, &node.name, mode) {
            Ok(lines) => {
                out.rules.insert(node.name.clone(), lines);
            }
            Err(err) => out.problems.push(format!("rules of {}: {err}", node.name)),
        }
    }
    let request = Request {
        from: builtin.from.to_string(),
        to: builtin.to.to_string(),
        proto: Proto::Tcp,
        seed: builtin.seed,
        now: 0,
    };
    match walk::trace(&cluster, &request) {
        Ok(trace) => out.trace = trace,
        Err(err) => out.problems.push(format!("walk {} → {}: {err}", builtin.from, builtin.to)),
    }
    out.cluster = Some(cluster);
    Rc::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_builtin_loads_and_its_rules_can_be_highlighted() {
        for builtin in lessons::all() {
            let scenario = load_builtin(builtin.id);
            assert!(scenario.problems.is_empty(), "{}: {:?}", builtin.id, scenario.problems);
            assert!(!scenario.trace.steps.is_empty(), "{}", builtin.id);
            for (index, step) in scenario.trace.steps.iter().enumerate() {
                let Some(at) = &step.rule_at else { continue };
                let (node, lines) = scenario.rules_for_step(index).expect("rules");
                assert_eq!(node, step.node, "{}: step {index} shows its own node's rules", builtin.id);
                let line = lines.iter().find(|line| line.rule.as_ref() == Some(at));
                let line = line.unwrap_or_else(|| {
                    panic!("{}: step {index}'s rule {at:?} is a line of {node}'s rules", builtin.id)
                });
                if at.table == "ipvs" {
                    // An IPVS step points at the real server it chose.
                    let chosen = step.after.tuple().expect("a TCP or UDP packet").dst;
                    assert!(
                        line.text.starts_with(&format!("  -> {chosen} ")),
                        "{}: step {index}: {chosen} vs {:?}",
                        builtin.id,
                        line.text
                    );
                }
            }
        }
    }

    #[test]
    fn test_the_slice_walks_in_every_mode_the_page_offers() {
        for mode in [ProxyMode::Iptables, ProxyMode::Nftables, ProxyMode::Ipvs] {
            let scenario = load_builtin_in("clusterip-iptables", Some(mode));
            assert!(scenario.problems.is_empty(), "{mode:?}: {:?}", scenario.problems);
            assert_eq!(scenario.mode, Some(mode));
            assert!(scenario.trace.outcome.delivered_to.is_some(), "{mode:?}");
        }
        // Every other lesson in every mode: never a panic; what fails is a listed problem.
        for builtin in lessons::all() {
            for mode in [ProxyMode::Nftables, ProxyMode::Ipvs] {
                let scenario = load_builtin_in(builtin.id, Some(mode));
                if !scenario.problems.is_empty() {
                    eprintln!("{} in {mode:?}: {:?}", builtin.id, scenario.problems);
                }
            }
        }
    }

    #[test]
    fn test_unknown_scenario_is_a_problem_not_a_panic() {
        let scenario = load_builtin("no-such-scenario");
        assert_eq!(scenario.problems.len(), 1);
        assert!(scenario.trace.steps.is_empty());
    }
}
