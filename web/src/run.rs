//! A scenario as the page shows it: the model, the trace of its default walk and every node's rules,
//! all computed once by lbplay-core when the scenario is chosen.
//!
//! The web crate never simulates anything itself: stepping only moves through `trace.steps`.

use std::collections::BTreeMap;
use std::rc::Rc;

use lbplay_core::dataplane::Line;
use lbplay_core::http::Header;
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
    /// The walk's transport: the lesson's (UDP for the DNS lesson), else TCP.
    pub proto: Proto,
    pub yaml: String,
    pub cluster: Option<Cluster>,
    /// Empty when the scenario could not be walked; `problems` says why.
    pub trace: Trace,
    /// Each node's rules as the real tool prints them, by node name.
    pub rules: BTreeMap<String, Vec<Line>>,
    /// What the tool that renders the rules is called (`iptables-save`).
    pub rules_tool: String,
    /// The hosts whose `rules` are not kube-proxy's but a proxy's configuration, and what that
    /// is called: an ingress-nginx controller pod's `nginx.conf`.
    pub proxy_tools: BTreeMap<String, String>,
    /// kube-proxy's mode for this walk: the scenario's own, or the one the page asked for.
    pub mode: Option<ProxyMode>,
    /// The mode the page asked for instead of the scenario's own (the URL's `mode=`).
    pub mode_override: Option<ProxyMode>,
    /// The mode the scenario's YAML asks for.
    pub own_mode: Option<ProxyMode>,
    /// Load, walk or rule-building errors, one line each, with their location.
    pub problems: Vec<String>,
    /// The loader's problems with their line and column, for the editor's gutter: the errors when
    /// loading failed, else the warnings.
    pub located: Vec<scenario::Problem>,
    /// The YAML is the learner's edit, not the lesson's own (`id` is then the lesson it started
    /// from, or empty).
    pub edited: bool,
    /// The walk's seed: the lesson's, or `EDITED_SEED` for YAML that names no lesson.
    pub seed: u64,
    /// What was asked for, so a link can ask for it again.
    pub spec: Spec,
}

/// What the rules pane calls an ingress-nginx controller's configuration.
pub const NGINX_TOOL: &str = "nginx.conf (ingress-nginx)";
/// What it calls an injected pod's own nat table.
pub const POD_TOOL: &str = "iptables-save (the pod's network namespace)";

impl Scenario {
    /// What renders `node`'s rules: kube-proxy's tool, or the proxy's configuration.
    pub fn rules_tool_for(&self, node: &str) -> &str {
        self.proxy_tools.get(node).map_or(self.rules_tool.as_str(), String::as_str)
    }

    /// The IPVS scheduler the lesson's kube-proxy is configured with (`ipvs.scheduler`), or
    /// kube-proxy's default, rr, when it names none.
    pub fn ipvs_scheduler(&self) -> &str {
        let configured = self.cluster.as_ref().map(|cluster| cluster.kube_proxy.ipvs_scheduler.as_str());
        configured.filter(|name| !name.is_empty()).unwrap_or("rr")
    }

    /// Whether the scenario can be shown: it loaded and its walk ran.
    pub fn runs(&self) -> bool {
        self.problems.is_empty() && !self.trace.steps.is_empty()
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
    load(&Spec { lesson: Some(id.to_string()), mode, ..Spec::default() })
}

/// What to load, as a URL fragment names it: a lesson, or edited YAML (and the lesson it started
/// from), walked from `from` to `to` when given, in kube-proxy mode `mode` when given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spec {
    pub lesson: Option<String>,
    pub yaml: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The request's headers for a URL walk, a `Name: value` line each (curl's `-H`).
    pub headers: Vec<String>,
    pub mode: Option<ProxyMode>,
}

/// The seed of a walk over edited YAML that names no lesson, so such links replay alike too.
pub const EDITED_SEED: u64 = 1;

/// Loads what `spec` names and runs its walk. Never fails: what went wrong is in `problems`.
pub fn load(spec: &Spec) -> Rc<Scenario> {
    let builtin = spec.lesson.as_deref().and_then(lessons::get);
    let mut out = match builtin {
        Some(builtin) => Scenario {
            id: builtin.id.to_string(),
            title_en: builtin.title_en.to_string(),
            title_zh: builtin.title_zh.to_string(),
            watch_en: builtin.watch_en.to_string(),
            watch_zh: builtin.watch_zh.to_string(),
            from: builtin.from.to_string(),
            to: builtin.to.to_string(),
            proto: builtin.proto,
            yaml: builtin.yaml.to_string(),
            seed: builtin.seed,
            ..Scenario::default()
        },
        None if spec.yaml.is_some() => Scenario { seed: EDITED_SEED, ..Scenario::default() },
        None => {
            let id = spec.lesson.as_deref().unwrap_or_default();
            return Rc::new(Scenario::failed(id, vec![format!("unknown scenario {id:?}")]));
        }
    };
    out.spec = spec.clone();
    if let Some(yaml) = &spec.yaml {
        out.edited = true;
        out.yaml = yaml.clone();
        out.title_en = match builtin {
            Some(builtin) => format!("{} (edited)", builtin.title_en),
            None => "Your scenario".to_string(),
        };
        out.title_zh = match builtin {
            Some(builtin) => format!("{}（已编辑）", builtin.title_zh),
            None => "你的场景".to_string(),
        };
    }
    let name = if out.edited { EDITOR_SOURCE } else { out.id.as_str() }.to_string();
    let loaded = scenario::load(&[Source { name: &name, text: &out.yaml }]);
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(problems) => {
            out.problems = problems.iter().map(ToString::to_string).collect();
            if out.problems.is_empty() {
                out.problems.push("the scenario could not be loaded".into());
            }
            out.located = problems;
            return Rc::new(out);
        }
    };
    out.located = loaded.warnings;
    let mut cluster = loaded.cluster;
    // Edited YAML without a walk of its own and without a lesson's: the first pod to the first
    // port of the first Service (design.md, "Contract: URL state").
    if out.edited && builtin.is_none() {
        (out.from, out.to) = default_walk(&cluster);
    }
    if let Some(from) = &spec.from {
        out.from = from.clone();
    }
    if let Some(to) = &spec.to {
        out.to = to.clone();
    }
    out.own_mode = Some(cluster.kube_proxy.mode);
    if let Some(mode) = spec.mode {
        cluster.kube_proxy.mode = mode;
    }
    out.mode_override = spec.mode;
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
    // An Ingress controller pod's steps show the nginx configuration its servers and locations
    // were chosen from (the same for every controller pod).
    let nginx = lbplay_core::ingress::render::render_lines(&lbplay_core::ingress::cluster_config(&cluster));
    for pod in lbplay_core::ingress::controller_pods(&cluster) {
        out.rules.insert(pod.name.clone(), nginx.clone());
        out.proxy_tools.insert(pod.name.clone(), NGINX_TOOL.into());
    }
    // An injected pod's steps show its own network namespace's nat table, istio-init's chains.
    if let Some(mesh) = &cluster.mesh {
        for (pod, table) in &mesh.sidecars {
            out.rules.insert(pod.clone(), lbplay_core::netfilter::render::iptables_save(table));
            out.proxy_tools.insert(pod.clone(), POD_TOOL.into());
        }
    }
    let request = Request { from: out.from.clone(), to: out.to.clone(), proto: out.proto, seed: out.seed, now: 0 };
    let walked = if spec.headers.is_empty() {
        walk::trace(&cluster, &request)
    } else {
        let headers: Result<Vec<_>, _> = spec.headers.iter().map(|line| Header::parse_arg(line)).collect();
        match headers {
            Ok(headers) => walk::fetch(&cluster, &request, &walk::HttpOptions { headers, ..Default::default() }),
            Err(err) => Err(walk::WalkError(err.0)),
        }
    };
    match walked {
        Ok(trace) => out.trace = trace,
        Err(err) => out.problems.push(format!("walk {} → {}: {err}", out.from, out.to)),
    }
    out.cluster = Some(cluster);
    Rc::new(out)
}

/// The name the loader's messages give edited YAML (`editor:3:5: error: …`).
pub const EDITOR_SOURCE: &str = "editor";

/// The first pod, and the first port of the first Service that has a ClusterIP.
fn default_walk(cluster: &Cluster) -> (String, String) {
    let from = cluster.pods.first().map(|pod| format!("pod/{}", pod.name)).unwrap_or_default();
    let to = cluster
        .services
        .iter()
        .find_map(|service| Some(format!("{}:{}", service.cluster_ip?, service.ports.first()?.port)))
        .unwrap_or_default();
    (from, to)
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
    fn test_a_share_link_reproduces_the_trace() {
        use crate::state::{Fragment, State};
        // An edit of a lesson (one more replica), walked from the lesson's own client.
        let lesson = lessons::get("clusterip-iptables").expect("lesson");
        let yaml = format!("{}\n# edited in the page\n", lesson.yaml);
        let spec = Spec {
            lesson: Some(lesson.id.into()),
            yaml: Some(yaml.clone()),
            mode: Some(ProxyMode::Nftables),
            ..Spec::default()
        };
        let shown = load(&spec);
        assert!(shown.runs(), "{:?}", shown.problems);
        assert!(shown.edited && shown.title_en.ends_with("(edited)"));
        let mut state = State::new(shown.clone());
        state.step = 3;
        let link = format!("http://127.0.0.1:8080/#{}", state.fragment().format());
        let fragment = Fragment::parse(link.split_once('#').map(|(_, f)| f).unwrap_or_default());
        let reopened = load(&fragment.spec().expect("the link names a scenario"));
        assert_eq!(reopened.trace, shown.trace);
        assert_eq!(reopened.yaml, yaml);
        assert_eq!(reopened.mode, Some(ProxyMode::Nftables));
        assert_eq!(State::new(reopened).with_fragment(&fragment).step, 3);
        // The CLI reads the same link to the same YAML.
        let read = lbplay_core::share::read_link(&link).expect("the CLI reads it");
        assert_eq!(read.scenario, lbplay_core::share::Shared::Yaml(yaml));
    }

    #[test]
    fn test_edited_yaml_of_no_lesson_walks_the_first_pod_to_the_first_service() {
        let lesson = lessons::get("clusterip-iptables").expect("lesson");
        let shown = load(&Spec { yaml: Some(lesson.yaml.into()), ..Spec::default() });
        assert!(shown.runs(), "{:?}", shown.problems);
        assert!(shown.from.starts_with("pod/"), "{}", shown.from);
        assert_eq!(shown.seed, EDITED_SEED);
        // Broken YAML is a located problem, never a panic.
        let broken = load(&Spec { yaml: Some("kind: Service\nspec: [\n".into()), ..Spec::default() });
        assert!(!broken.runs());
        assert!(broken.located.iter().any(|problem| problem.line >= 1 && problem.file == EDITOR_SOURCE));
    }

    #[test]
    fn test_the_request_bar_walks_another_path_with_its_headers_and_marks_nginx() {
        let spec = Spec {
            lesson: Some("ingress-fanout".into()),
            to: Some("http://foo.bar.com/bar".into()),
            headers: vec!["X-Test: 1".into()],
            ..Spec::default()
        };
        let shown = load(&spec);
        assert!(shown.runs(), "{:?}", shown.problems);
        let http = shown.trace.outcome.http.as_ref().expect("an HTTP outcome");
        assert_eq!(http.backend.as_deref(), Some("default/s2:80"));
        let location = shown.trace.steps.iter().position(|step| step.stage == Some("location")).expect("a location");
        let step = &shown.trace.steps[location];
        assert_eq!(step.rule.as_deref(), Some("location = \"/bar\""));
        let (node, _) = shown.rules_for_step(location).expect("rules");
        assert_eq!(shown.rules_tool_for(node), NGINX_TOOL, "the pane shows nginx's configuration there");
        let forwarded = shown.trace.steps.iter().find_map(|step| step.request.as_ref()).expect("a request diff");
        assert_eq!(forwarded.before.header("X-Test"), Some("1"), "the typed header is sent");
        // A header curl refuses is a problem of the walk, not a panic.
        let bad = load(&Spec { headers: vec!["no colon".into()], ..spec });
        assert!(!bad.runs() && bad.problems.iter().any(|p| p.contains("no colon")), "{:?}", bad.problems);
    }

    #[test]
    fn test_unknown_scenario_is_a_problem_not_a_panic() {
        let scenario = load_builtin("no-such-scenario");
        assert_eq!(scenario.problems.len(), 1);
        assert!(scenario.trace.steps.is_empty());
    }
}
