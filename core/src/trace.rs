//! The trace: the ordered steps of one walk, which is what every front end shows.
//!
//! A `Step` records where the packet was (node, hook, table, chain), what met it (the rule's exact
//! `iptables-save` text, or a routing or conntrack decision), the verdict, and the packet before and
//! after. `json` renders the contract of design.md; `text` renders the terminal view.
//! The web app only renders steps: stepping back shows the previous step, nothing is simulated in reverse.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::http;
use crate::packet::{Packet, to_hex};

/// Which way the packet travels relative to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Sent by the client.
    Original,
    /// The answer, sent by the server.
    Reply,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Original => "original",
            Direction::Reply => "reply",
        }
    }
}

/// What kind of event a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// The packet is created by its sender.
    Send,
    /// A netfilter rule matched, or a built-in chain's policy applied.
    Netfilter,
    /// Conntrack looked the packet up, created an entry, confirmed it, or applied stored NAT.
    Conntrack,
    /// The routing decision.
    Routing,
    /// IPVS looked the packet up, scheduled a real server, or rewrote it.
    Ipvs,
    /// kube-proxy's user-space proxy accepted, dialled or relayed a connection (userspace mode).
    Proxy,
    /// The packet crosses a link between hosts.
    Wire,
    /// The packet reaches the socket that receives it.
    Deliver,
    /// The packet is dropped or rejected.
    Drop,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Send => "send",
            StepKind::Netfilter => "netfilter",
            StepKind::Conntrack => "conntrack",
            StepKind::Routing => "routing",
            StepKind::Ipvs => "ipvs",
            StepKind::Proxy => "proxy",
            StepKind::Wire => "wire",
            StepKind::Deliver => "deliver",
            StepKind::Drop => "drop",
        }
    }
}

/// A sentence in both of the app's languages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Text {
    pub en: String,
    pub zh: String,
}

impl Text {
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Text {
        Text { en: en.into(), zh: zh.into() }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }
}

/// One step of a walk.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The host the step happens on: a node, a pod, or a client.
    pub node: String,
    pub direction: Direction,
    pub kind: StepKind,
    /// The netfilter hook (`PREROUTING`, …), for netfilter and conntrack steps.
    pub hook: Option<&'static str>,
    pub table: Option<&'static str>,
    pub chain: Option<String>,
    /// The matched rule exactly as `iptables-save` prints it; `None` for a chain policy.
    pub rule: Option<String>,
    /// Where the rule sits: the index of its chain in its table and of the rule in its chain, so a
    /// view can highlight it in the rendered ruleset.
    pub rule_at: Option<RuleAt>,
    /// `JUMP:X`, `ACCEPT`, `DNAT`, … for netfilter steps; a short word for the others.
    pub verdict: String,
    /// Rules evaluated without matching since the previous step of this packet.
    pub skipped: u32,
    /// The rules skipped, by position, for views that show them as skipped.
    pub skipped_rules: Vec<RuleAt>,
    pub before: Packet,
    pub after: Packet,
    pub note: Text,
    /// The connection's conntrack entry on this host after the step, as `conntrack -L` prints it,
    /// when the host tracks the connection.
    pub conntrack: Option<String>,
    /// For a proxy step: which stage of the proxy decided (`accept`, `dial`, `server`,
    /// `location`, `balancer`, `listener`, `route`, `cluster`, `endpoint`, …).
    pub stage: Option<&'static str>,
    /// For a proxy step that read or rewrote an HTTP request: the request before and after it.
    pub request: Option<Box<RequestChange>>,
    /// The HTTP/2 stream the step belongs to.
    pub stream: Option<u32>,
    /// Which connection of the walk the packet belongs to when a proxy made it two: 0 the
    /// client's, which ends on the proxy, 1 the proxy's own to the backend.
    pub connection: Option<u8>,
    /// For a proxy step that chose among several (nginx's locations): the ones that lost, and why.
    pub candidates: Vec<Candidate>,
}

/// A configuration entry a proxy weighed and did not choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The entry as written (`location "/foo/"`).
    pub rule: String,
    pub why: Text,
}

/// An HTTP request as a proxy received it and as it sends it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestChange {
    pub before: http::Request,
    pub after: http::Request,
}

/// The position of a rule: table, chain and index inside the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleAt {
    pub table: &'static str,
    pub chain: String,
    pub index: usize,
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// `pod/NAME`, `node/NAME` or `client/NAME` that received the original packet.
    pub delivered_to: Option<String>,
    pub dropped: bool,
    /// Why it was dropped, when it was.
    pub reason: Option<String>,
    /// For an HTTP request: how it was answered.
    pub http: Option<HttpOutcome>,
}

/// How an HTTP request was answered (design.md, "Contract: L7 requests").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutcome {
    pub status: u16,
    /// The Service that served it, `namespace/name:port`; `None` when a proxy answered itself.
    pub backend: Option<String>,
    /// The pod that served it, `pod/NAME`.
    pub pod: Option<String>,
}

/// A whole walk: the original packet there, and the reply back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    pub steps: Vec<Step>,
    pub outcome: Outcome,
}

fn packet_json(packet: &Packet) -> Value {
    match packet.tuple() {
        Ok(tuple) => {
            let mut value = json!({
                "src": tuple.src.to_string(),
                "dst": tuple.dst.to_string(),
                "proto": tuple.proto.as_str(),
                "bytes": to_hex(packet.bytes()),
            });
            if let Some(flags) = packet.tcp_flags() {
                value["flags"] = json!(flags);
            }
            value
        }
        Err(_) => json!({"bytes": to_hex(packet.bytes())}),
    }
}

impl Step {
    /// The step as the JSON trace contract of design.md spells it.
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "node": self.node,
            "direction": self.direction.as_str(),
            "kind": self.kind.as_str(),
            "hook": self.hook,
            "table": self.table,
            "chain": self.chain,
            "rule": self.rule,
            "verdict": self.verdict,
            "skipped": self.skipped,
            "before": packet_json(&self.before),
            "after": packet_json(&self.after),
            "note": self.note.en,
            "note_zh": self.note.zh,
            "conntrack": self.conntrack,
        });
        // The L7 fields appear only on the steps that have them, so L4 traces keep their shape.
        if let Some(stage) = self.stage {
            value["stage"] = json!(stage);
        }
        if let Some(change) = &self.request {
            value["request"] = json!({"before": change.before.to_json(), "after": change.after.to_json()});
        }
        if let Some(stream) = self.stream {
            value["stream"] = json!(stream);
        }
        if let Some(connection) = self.connection {
            value["connection"] = json!(connection);
        }
        if !self.candidates.is_empty() {
            let lost: Vec<Value> =
                self.candidates.iter().map(|c| json!({"rule": c.rule, "why": c.why.en, "why_zh": c.why.zh})).collect();
            value["candidates"] = json!(lost);
        }
        value
    }

    /// Where the step happened, as the event list shows it: `nat PREROUTING KUBE-SERVICES`.
    pub fn place(&self) -> String {
        let mut out = String::new();
        if let Some(table) = self.table {
            out.push_str(table);
            out.push(' ');
        }
        if let Some(hook) = self.hook {
            out.push_str(hook);
        }
        if let Some(chain) = &self.chain
            && Some(chain.as_str()) != self.hook
        {
            out.push(' ');
            out.push_str(chain);
        }
        if out.is_empty() {
            out.push_str(self.kind.as_str());
        }
        out
    }
}

impl Trace {
    /// The rules the first packet was evaluated against on its way there, on every node it
    /// crossed: each netfilter rule that matched plus every rule skipped before it. Chain
    /// policies, conntrack and IPVS's hash lookup are not rules and do not count. In userspace
    /// mode kube-proxy's own connections to the pods are part of the way there and count too.
    /// The one measure behind `lbplay compare`, the page's scaling chart and the modes bench.
    pub fn rules_evaluated(&self) -> usize {
        self.steps
            .iter()
            .filter(|step| step.direction == Direction::Original && step.kind == StepKind::Netfilter)
            .map(|step| step.skipped as usize + usize::from(step.rule.is_some()))
            .sum()
    }

    /// The trace as the JSON contract of design.md.
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "steps": self.steps.iter().map(Step::to_json).collect::<Vec<_>>(),
            "outcome": {
                "delivered_to": self.outcome.delivered_to,
                "dropped": self.outcome.dropped,
                "reason": self.outcome.reason,
            },
        });
        if let Some(http) = &self.outcome.http {
            value["outcome"]["http"] = json!({"status": http.status, "backend": http.backend, "pod": http.pod});
        }
        value
    }

    /// The trace as text for terminals: one block per step.
    pub fn to_text(&self, lang: Lang) -> String {
        let mut out = String::new();
        for (index, step) in self.steps.iter().enumerate() {
            let arrow = match step.direction {
                Direction::Original => "→",
                Direction::Reply => "←",
            };
            let _ = writeln!(out, "{:>3} {arrow} {:<8} {:<40} {}", index + 1, step.node, step.place(), step.verdict);
            if let Some(rule) = &step.rule {
                let _ = writeln!(out, "      {rule}");
            }
            if step.skipped > 0 {
                // nginx does not skip its locations one after another: it weighs them all and
                // these lost (the note says why).
                let nginx = step.rule_at.as_ref().is_some_and(|at| at.table == crate::ingress::render::NGINX);
                let (what, done) = if nginx { ("location", "lost") } else { ("rule", "skipped") };
                let plural = if step.skipped == 1 { "" } else { "s" };
                let _ = writeln!(out, "      ({} {what}{plural} {done})", step.skipped);
            }
            let before = step.before.tuple().ok();
            let after = step.after.tuple().ok();
            if let (Some(before), Some(after)) = (before, after) {
                if before != after {
                    let _ = writeln!(out, "      {before}  ⇒  {after}");
                } else {
                    let _ = writeln!(out, "      {after}");
                }
            }
            let _ = writeln!(out, "      {}", step.note.get(lang));
            // What a proxy changed in the request it forwards: each header it added or changed
            // (`+`) and each it dropped (`-`).
            if let Some(change) = step.request.as_deref().filter(|_| step.kind == StepKind::Proxy) {
                for header in &change.after.headers {
                    if change.before.header(&header.name) != Some(header.value.as_str()) {
                        let _ = writeln!(out, "      + {}: {}", header.name, header.value);
                    }
                }
                for header in &change.before.headers {
                    if change.after.header(&header.name).is_none() {
                        let _ = writeln!(out, "      - {}: {}", header.name, header.value);
                    }
                }
            }
            // The HTTP a segment carries, at the steps where it is sent and received: its first
            // line and its Host, as a packet list's info column shows them.
            if matches!(step.kind, StepKind::Send | StepKind::Deliver) && !step.after.payload().is_empty() {
                let payload = step.after.payload();
                let head = String::from_utf8_lossy(payload);
                let first = head.lines().next().unwrap_or_default();
                if first.ends_with("HTTP/1.1") || first.starts_with("HTTP/1.1 ") {
                    let host = head
                        .lines()
                        .find(|line| line.len() > 6 && line[..6].eq_ignore_ascii_case("host: "))
                        .map(|line| format!("  (Host: {})", &line[6..]));
                    let _ =
                        writeln!(out, "      payload: {first}{}, {} bytes", host.unwrap_or_default(), payload.len());
                }
            }
        }
        if let Some(http) = &self.outcome.http {
            let _ = writeln!(
                out,
                "http: {} {} from {} via {}",
                http.status,
                crate::http::reason(http.status),
                http.pod.as_deref().unwrap_or("the proxy itself"),
                http.backend.as_deref().unwrap_or("no Service")
            );
        }
        let _ = match (&self.outcome.delivered_to, self.outcome.dropped) {
            (_, true) => writeln!(out, "outcome: dropped ({})", self.outcome.reason.as_deref().unwrap_or("no reason")),
            (Some(to), false) => writeln!(out, "outcome: delivered to {to}"),
            (None, false) => writeln!(out, "outcome: not delivered"),
        };
        out
    }
}
