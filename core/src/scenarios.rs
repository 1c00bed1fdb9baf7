//! The built-in scenarios: YAML files shipped inside the crate, one per lesson.
//!
//! Each is an ordinary scenario stream (design.md, "Contract: scenario input"), loaded with
//! `scenario::load` like anything a user pastes. `id` is the stable name used by the CLI
//! (`lbplay scenarios --show ID`) and the URL (`#s=ID`).

use crate::trace::Text;

/// A scenario that ships with lbplay.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub id: &'static str,
    pub title_en: &'static str,
    pub title_zh: &'static str,
    /// The default walk: `--from` and `--to` as the CLI takes them.
    pub from: &'static str,
    pub to: &'static str,
    pub yaml: &'static str,
}

impl Builtin {
    pub fn title(&self) -> Text {
        Text::new(self.title_en, self.title_zh)
    }
}

const ALL: &[Builtin] = &[Builtin {
    id: "clusterip-iptables",
    title_en: "ClusterIP with three endpoints (iptables mode)",
    title_zh: "三个端点的 ClusterIP（iptables 模式）",
    from: "pod/client",
    to: "10.96.100.10:80",
    yaml: include_str!("../scenarios/clusterip-iptables.yaml"),
}];

/// Every built-in scenario, in the order the library shows them.
pub fn all() -> &'static [Builtin] {
    ALL
}

/// The built-in scenario with this id.
pub fn get(id: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|builtin| builtin.id == id)
}
