//! The URL fragment (design.md, "Contract: URL state") read into a `Fragment` and written back,
//! and the edit kept in localStorage (`Saved`). Parsing never fails: unknown keys, bad values and
//! absurd sizes are ignored, so a hostile link can only ever fall back to the defaults; a `y=`
//! that cannot be decoded is refused as a whole, with the reason for the learner.
//! `step` in the fragment is 1-based, the number the event list shows.

use lbplay_core::Lang;
use lbplay_core::model::ProxyMode;
use lbplay_core::share;

use crate::run::Spec;
use crate::state::{FRAGMENT_VERSION, Theme, Ui};

/// The most request headers a link carries (`h=`, one key each); more are ignored.
pub const MAX_HEADERS: usize = 32;

/// Fragments longer than this are ignored outright (a `y=` of 64 KB inflated fits easily).
const MAX_FRAGMENT: usize = 256 * 1024;

/// The edit as the page keeps it in localStorage, so it survives a reload: the lesson it started
/// from, the last good YAML (the `y=` the URL carries, if any) and the text as typed. The stored
/// form starts with a version line, so a later build can read (or drop) what this one wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Saved {
    pub lesson: String,
    pub good: Option<String>,
    pub draft: String,
}

/// The version line of `Saved`'s stored form.
const SAVED_VERSION: &str = "lbplay-edit/1";

impl Saved {
    pub fn encode(&self) -> String {
        let good = self.good.as_deref();
        let good_len = good.map_or("-".to_string(), |good| good.len().to_string());
        format!("{SAVED_VERSION}\n{}\n{good_len}\n{}{}", self.lesson, good.unwrap_or_default(), self.draft)
    }

    /// Reads what `encode` wrote; `None` for anything else (another version, a damaged value).
    pub fn decode(text: &str) -> Option<Saved> {
        let rest = text.strip_prefix(SAVED_VERSION)?.strip_prefix('\n')?;
        let (lesson, rest) = rest.split_once('\n')?;
        let (good_len, rest) = rest.split_once('\n')?;
        let (good, draft) = match good_len {
            "-" => (None, rest),
            len => {
                let len = len.parse::<usize>().ok()?;
                (Some(rest.get(..len)?.to_string()), rest.get(len..)?)
            }
        };
        (lesson.is_empty() || share::is_lesson_id(lesson)).then(|| Saved {
            lesson: lesson.to_string(),
            good,
            draft: draft.to_string(),
        })
    }

    /// Whether this edit belongs to the page a fragment opens: the same lesson, and the same
    /// shown YAML (none, or the `y=` it was last good as), so a reload restores it and someone
    /// else's link does not get overwritten by it.
    pub fn belongs_to(&self, lesson: &str, yaml: Option<&str>) -> bool {
        self.lesson == lesson && self.good.as_deref() == yaml
    }
}

/// What a URL fragment says; every part is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fragment {
    pub scenario: Option<String>,
    /// Edited YAML (`y=`, decoded by `lbplay_core::share`); `scenario` is then the lesson it
    /// started from.
    pub yaml: Option<String>,
    /// The walk (`from=`, `to=`), as the CLI's `--from` and `--to` take it.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The request's headers for a URL walk (`h=Name: value`, one key each, in order), as
    /// curl's `-H` takes them; a header curl would refuse is left out.
    pub headers: Vec<String>,
    /// Why a part of the fragment was refused (an oversized or broken `y=`), for the learner; the
    /// page then shows the default lesson.
    pub refused: Option<String>,
    /// The one origin whose `postMessage` commands an embed obeys and to which it posts its
    /// events (`origin=https://docs.example`; `embed::origin` checks it).
    pub origin: Option<String>,
    /// 1-based, as shown in the event list.
    pub step: Option<usize>,
    pub lang: Option<Lang>,
    pub theme: Option<Theme>,
    pub ui: Option<Ui>,
    /// kube-proxy's mode when the page switched the scenario to another one (`mode=ipvs`).
    pub mode: Option<ProxyMode>,
}

impl Fragment {
    /// Reads `#v=1&s=…&y=…&from=…&to=…&step=…&lang=…&theme=…&ui=…&mode=…`. Never fails: what it
    /// cannot read it ignores, and a `y=` it cannot decode leaves the whole scenario out (with the
    /// reason in `refused`), so a broken edit never half-loads. Keys this version does not know
    /// are skipped, so newer links still open here with whatever this build understands.
    pub fn parse(text: &str) -> Fragment {
        let mut out = Fragment::default();
        if text.len() > MAX_FRAGMENT {
            out.refused = Some(share::ShareError::TooLarge.to_string());
            return out;
        }
        let text = text.strip_prefix('#').unwrap_or(text);
        for pair in text.split('&').take(64) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = share::percent_decode(value);
            let Some(value) = value.as_deref() else { continue };
            match key {
                "s" if share::is_lesson_id(value) => out.scenario = Some(value.to_string()),
                "y" => match share::decode_yaml(value) {
                    Ok(yaml) => out.yaml = Some(yaml),
                    Err(err) => out.refused = Some(err.to_string()),
                },
                "from" => out.from = share::endpoint(value).or(out.from),
                "origin" => out.origin = crate::embed::origin(value).or(out.origin),
                "to" => out.to = share::endpoint(value).or(out.to),
                "h" if out.headers.len() < MAX_HEADERS
                    && share::endpoint(value).is_some()
                    && lbplay_core::http::Header::parse_arg(value).is_ok() =>
                {
                    out.headers.push(value.to_string());
                }
                "step" => {
                    if let Ok(step) = value.parse::<usize>() {
                        out.step = Some(step.max(1));
                    }
                }
                "lang" => {
                    if let Some(lang) = parse_lang(value) {
                        out.lang = Some(lang);
                    }
                }
                "theme" => out.theme = Theme::parse(value).or(out.theme),
                "ui" => out.ui = Ui::parse(value).or(out.ui),
                "mode" if !value.is_empty() => out.mode = ProxyMode::parse(value).or(out.mode),
                _ => {}
            }
        }
        if out.refused.is_some() {
            out.scenario = None;
            out.yaml = None;
            out.from = None;
            out.to = None;
            out.headers.clear();
        }
        out
    }

    /// What to load for this fragment: `None` when it names no scenario (the page keeps, or
    /// starts with, the default lesson).
    pub fn spec(&self) -> Option<Spec> {
        if self.scenario.is_none() && self.yaml.is_none() {
            return None;
        }
        Some(Spec {
            lesson: self.scenario.clone(),
            yaml: self.yaml.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            headers: self.headers.clone(),
            mode: self.mode,
        })
    }

    /// Writes the fragment, without the leading `#`, keys in the order design.md lists them.
    pub fn format(&self) -> String {
        let mut parts = vec![format!("v={FRAGMENT_VERSION}")];
        if let Some(scenario) = &self.scenario {
            parts.push(format!("s={scenario}"));
        }
        if let Some(yaml) = &self.yaml {
            parts.push(format!("y={}", share::encode_yaml(yaml)));
        }
        if let Some(from) = &self.from {
            parts.push(format!("from={}", share::percent_encode(from)));
        }
        if let Some(to) = &self.to {
            parts.push(format!("to={}", share::percent_encode(to)));
        }
        for header in &self.headers {
            parts.push(format!("h={}", share::percent_encode(header)));
        }
        if let Some(step) = self.step {
            parts.push(format!("step={step}"));
        }
        if let Some(lang) = self.lang {
            parts.push(format!("lang={}", lang.code()));
        }
        if let Some(theme) = self.theme {
            parts.push(format!("theme={}", theme.code()));
        }
        if let Some(ui) = self.ui {
            parts.push(format!("ui={}", ui.code()));
        }
        if let Some(mode) = self.mode {
            parts.push(format!("mode={}", mode.as_str()));
        }
        if let Some(origin) = &self.origin {
            parts.push(format!("origin={}", share::percent_encode(origin)));
        }
        parts.join("&")
    }
}

/// `zh`, `en`, and the BCP 47 spellings people paste (`zh-CN`, `en-US`).
pub fn parse_lang(text: &str) -> Option<Lang> {
    let lower = text.to_ascii_lowercase();
    let primary = lower.split(['-', '_']).next().unwrap_or("");
    Lang::parse(primary)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use yew::Reducible;

    use super::*;
    use crate::fixture;
    use crate::state::{Action, State};

    fn state() -> Rc<State> {
        Rc::new(State::new(Rc::new(fixture::scenario())))
    }

    fn run(state: Rc<State>, actions: &[Action]) -> Rc<State> {
        actions.iter().cloned().fold(state, |state, action| state.reduce(action))
    }

    #[test]
    fn test_fragment_round_trip() {
        let state =
            run(state(), &[Action::Next, Action::Next, Action::SetLang(Lang::Zh), Action::SetTheme(Theme::Dark)]);
        let text = state.fragment().format();
        assert_eq!(text, "v=1&s=fixture&step=3&lang=zh&theme=dark");
        let parsed = Fragment::parse(&format!("#{text}"));
        assert_eq!(parsed, state.fragment());
        let restored = State::new(state.scenario.clone()).with_fragment(&parsed);
        assert_eq!(restored.step, 2);
        assert_eq!(restored.lang, Lang::Zh);
        assert_eq!(restored.theme, Theme::Dark);
        assert_eq!(restored.fragment(), state.fragment());
    }

    #[test]
    fn test_fragment_parse_examples() {
        let parsed = Fragment::parse("#v=1&s=clusterip-iptables&step=4&lang=zh-CN&ui=min&future=1");
        assert_eq!(parsed.scenario.as_deref(), Some("clusterip-iptables"));
        assert_eq!(parsed.step, Some(4));
        assert_eq!(parsed.lang, Some(Lang::Zh));
        assert_eq!(parsed.ui, Some(Ui::Min));
        assert_eq!(Fragment::parse("#mode=ipvs").mode, Some(ProxyMode::Ipvs));
        assert_eq!(Fragment::parse("#mode=").mode, None);
        assert_eq!(Fragment::parse("#mode=bogus").mode, None);
        let with_mode = Fragment { mode: Some(ProxyMode::Nftables), ..Fragment::default() };
        assert_eq!(Fragment::parse(&with_mode.format()), with_mode);
        assert_eq!(Fragment::parse("").format(), "v=1");
        assert_eq!(Fragment::parse("lang=en").lang, Some(Lang::En));
    }

    /// Links as earlier builds wrote them, and what each must still open: (link, lesson, step,
    /// lang, theme, ui, mode). The first builds wrote `v=1&s=…&step=…&lang=…[&theme=…][&ui=…]`;
    /// the proxy-mode switch added `mode=`; hand-written links leave out `v=`.
    #[test]
    fn test_links_of_earlier_builds_keep_working() {
        type Expected =
            (Option<&'static str>, Option<usize>, Option<Lang>, Option<Theme>, Option<Ui>, Option<ProxyMode>);
        fn check(link: &str, expected: Expected) {
            let parsed = Fragment::parse(link);
            let got = (parsed.scenario.as_deref(), parsed.step, parsed.lang, parsed.theme, parsed.ui, parsed.mode);
            let want = (expected.0, expected.1, expected.2, expected.3, expected.4, expected.5);
            assert_eq!(got, want, "{link}");
            assert_eq!(parsed.refused, None, "{link}");
            assert_eq!(parsed.yaml, None, "{link}");
        }
        check(
            "#v=1&s=clusterip-iptables&step=3&lang=en",
            (Some("clusterip-iptables"), Some(3), Some(Lang::En), None, None, None),
        );
        check(
            "#v=1&s=nodeport-local&step=7&lang=zh&theme=dark&ui=min",
            (Some("nodeport-local"), Some(7), Some(Lang::Zh), Some(Theme::Dark), Some(Ui::Min), None),
        );
        check(
            "#v=1&s=clusterip-iptables&step=12&lang=en&mode=ipvs",
            (Some("clusterip-iptables"), Some(12), Some(Lang::En), None, None, Some(ProxyMode::Ipvs)),
        );
        check("#s=clusterip-iptables", (Some("clusterip-iptables"), None, None, None, None, None));
        check("#lang=zh-CN&theme=light", (None, None, Some(Lang::Zh), Some(Theme::Light), None, None));
        check("", (None, None, None, None, None, None));
        // Every one of them names the lesson the same way to the loader.
        let spec = Fragment::parse("#v=1&s=clusterip-iptables&step=3&lang=en").spec();
        assert_eq!(spec, Some(Spec { lesson: Some("clusterip-iptables".into()), ..Spec::default() }));
    }

    #[test]
    fn test_request_headers_ride_the_fragment_in_order() {
        let fragment = Fragment {
            scenario: Some("ingress-fanout".into()),
            to: Some("http://foo.bar.com/bar".into()),
            headers: vec!["Accept-Language: zh-CN, en;q=0.8".into(), "X-Test: a&b=c".into()],
            ..Fragment::default()
        };
        let text = fragment.format();
        assert!(text.contains("&h=Accept-Language:%20zh-CN,%20en;q%3D0.8&h=X-Test:%20a%26b%3Dc"), "{text}");
        let parsed = Fragment::parse(&text);
        assert_eq!(parsed, fragment);
        assert_eq!(parsed.spec().map(|spec| spec.headers), Some(fragment.headers.clone()));
        // A header curl would refuse, and headers beyond the cap, are left out; the rest opens.
        let hostile = format!("s=ingress-fanout&h=Bad%20Name:%201&h=X:%0d%0aInjected:%201{}", "&h=A:%201".repeat(40));
        let parsed = Fragment::parse(&hostile);
        assert_eq!(parsed.scenario.as_deref(), Some("ingress-fanout"));
        assert_eq!(parsed.headers.len(), MAX_HEADERS);
        assert!(parsed.headers.iter().all(|header| header == "A: 1"), "{:?}", parsed.headers);
    }

    #[test]
    fn test_edited_yaml_round_trips_through_the_fragment() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n# 注释 & = # %\n";
        let fragment = Fragment {
            scenario: Some("clusterip-iptables".into()),
            yaml: Some(yaml.into()),
            from: Some("pod/client".into()),
            to: Some("http://web/a?b=1&c#d".into()),
            step: Some(4),
            mode: Some(ProxyMode::Nftables),
            origin: Some("https://docs.example:8443".into()),
            ..Fragment::default()
        };
        let text = fragment.format();
        assert!(text.starts_with("v=1&s=clusterip-iptables&y="), "{text}");
        assert_eq!(Fragment::parse(&text), fragment);
        assert_eq!(Fragment::parse(&format!("#{text}")), fragment);
    }

    #[test]
    fn test_a_broken_or_oversized_y_is_refused_with_a_reason() {
        let bomb = share::encode_yaml(&"a".repeat(share::MAX_YAML + 1));
        for (text, reason) in [
            ("#v=1&s=clusterip-iptables&y=abc&step=2", "not valid raw DEFLATE"),
            ("#y=!!!!", "not valid base64url"),
            (&format!("#s=clusterip-iptables&y={bomb}&from=pod/client"), "larger than 64 KB"),
        ] {
            let parsed = Fragment::parse(text);
            assert_eq!(parsed.spec(), None, "{text}: the whole scenario is left out");
            assert!(parsed.refused.as_deref().is_some_and(|why| why.contains(reason)), "{text}: {parsed:?}");
            let state = State::new(Rc::new(fixture::scenario())).with_fragment(&parsed);
            assert_eq!(state.notice, parsed.refused, "the page says why");
        }
    }

    #[test]
    fn test_saved_edits_round_trip_and_refuse_other_versions() {
        for saved in [
            Saved { lesson: "clusterip-iptables".into(), good: None, draft: "kind: [\n".into() },
            Saved { lesson: String::new(), good: Some("a: 1\n中\n".into()), draft: "a: 2\n".into() },
            Saved::default(),
        ] {
            assert_eq!(Saved::decode(&saved.encode()), Some(saved.clone()));
        }
        for damaged in
            ["", "lbplay-edit/2\nx\n-\n", "lbplay-edit/1\nx\n99\nshort", "lbplay-edit/1\n../x\n-\n", "lbplay-edit/1\nx"]
        {
            assert_eq!(Saved::decode(damaged), None, "{damaged:?}");
        }
        let saved = Saved { lesson: "a".into(), good: Some("y".into()), draft: "z".into() };
        assert!(saved.belongs_to("a", Some("y")));
        assert!(!saved.belongs_to("a", None), "a link without the edit is not reloaded into it");
        assert!(!saved.belongs_to("b", Some("y")));
    }

    #[test]
    fn test_hostile_fragments_fall_back() {
        let hostile = [
            "#s=../../etc/passwd&step=-1&lang=xx&theme=%ZZ",
            "#step=99999999999999999999999999&s=%F0%28%8C%28",
            "#&&&==&=&s=&step=&lang=",
            "#s=<script>alert(1)</script>",
            "#%",
            "#step=%",
            "#s=ABC&theme=DARK",
            "#s=a%00b",
        ];
        for text in hostile {
            let parsed = Fragment::parse(text);
            assert_eq!(parsed.scenario, None, "{text}");
            assert_eq!(parsed.lang, None, "{text}");
            assert_eq!(parsed.theme, None, "{text}");
            assert!(parsed.step.is_none(), "{text}");
        }
        let huge = format!("#s=a&step={}", "9".repeat(MAX_FRAGMENT));
        let parsed = Fragment::parse(&huge);
        assert_eq!(parsed.spec(), None, "an oversized fragment names no scenario");
        assert!(parsed.refused.as_deref().is_some_and(|why| why.contains("64 KB")), "{parsed:?}");
        let many = "step=2&".repeat(10_000);
        assert_eq!(Fragment::parse(&many).step, Some(2));
        // A huge step clamps to the last one; step=0 means the first.
        let state = State::new(Rc::new(fixture::scenario()));
        let len = state.len();
        let clamped = state.clone().with_fragment(&Fragment::parse("#step=4000000000"));
        assert_eq!(clamped.step, len - 1);
        assert_eq!(state.with_fragment(&Fragment::parse("#step=0")).step, 0);
    }
}
