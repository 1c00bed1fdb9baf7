//! The embed's `postMessage` API: what a docs page hosting the playground in an iframe may send it,
//! what the playground tells the page back, and whose messages it listens to.
//!
//! Messages are strings, so a host page needs no library (documented in docs/embed.md):
//! commands `lbplay:step:N` (1-based, as the event list numbers steps), `lbplay:play`,
//! `lbplay:pause` and `lbplay:reset`; the event `{"type":"lbplay:state","scenario":…,"step":N,
//! "steps":N,"playing":bool}` after every change. Only one origin is trusted: the one the
//! fragment's `origin=` names, or else the playground's own. Commands from any other origin are
//! ignored, and events are posted with that origin as the target, so no other page can read them.

use crate::state::Action;

/// A command a host page sent, as the reducer's action; `None` for anything else.
pub fn command(data: &str) -> Option<Action> {
    let rest = data.strip_prefix("lbplay:")?;
    match rest {
        "play" => Some(Action::Play),
        "pause" => Some(Action::Pause),
        "reset" => Some(Action::Reset),
        _ => {
            let step = rest.strip_prefix("step:")?.parse::<usize>().ok()?;
            Some(Action::Select(step.checked_sub(1)?))
        }
    }
}

/// The state-changed event's text: JSON with the scenario id quoted and escaped.
pub fn state_event(scenario: &str, step: usize, steps: usize, playing: bool) -> String {
    let mut id = String::with_capacity(scenario.len());
    for c in scenario.chars() {
        match c {
            '"' => id.push_str("\\\""),
            '\\' => id.push_str("\\\\"),
            c if c.is_control() => id.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => id.push(c),
        }
    }
    let step = if steps == 0 { 0 } else { step + 1 };
    format!(r#"{{"type":"lbplay:state","scenario":"{id}","step":{step},"steps":{steps},"playing":{playing}}}"#)
}

/// An `origin=` value, if it is an origin: `http(s)://host[:port]` with nothing after it.
pub fn origin(text: &str) -> Option<String> {
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"))?;
    let ok = !rest.is_empty()
        && rest.len() <= 253
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then(|| text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_commands() {
        let cases: [(&str, Option<Action>); 10] = [
            ("lbplay:step:3", Some(Action::Select(2))),
            ("lbplay:step:1", Some(Action::Select(0))),
            ("lbplay:step:0", None),
            ("lbplay:step:-1", None),
            ("lbplay:step:99999999999999999999999", None),
            ("lbplay:play", Some(Action::Play)),
            ("lbplay:pause", Some(Action::Pause)),
            ("lbplay:reset", Some(Action::Reset)),
            ("lbplay:PLAY", None),
            (r#"{"type":"lbplay:state","step":1}"#, None),
        ];
        for (data, expected) in cases {
            assert_eq!(command(data), expected, "{data}");
        }
    }

    #[test]
    fn test_state_event_is_json() {
        assert_eq!(
            state_event("clusterip-iptables", 2, 20, true),
            r#"{"type":"lbplay:state","scenario":"clusterip-iptables","step":3,"steps":20,"playing":true}"#
        );
        assert_eq!(
            state_event("a\"b\\\n", 0, 0, false),
            r#"{"type":"lbplay:state","scenario":"a\"b\\\u000a","step":0,"steps":0,"playing":false}"#
        );
    }

    #[test]
    fn test_origins() {
        for (text, expected) in [
            ("https://docs.example", Some("https://docs.example")),
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080")),
            ("HTTPS://Docs.Example", None),
            ("https://Docs.Example", Some("https://docs.example")),
            ("https://docs.example/path", None),
            ("javascript:alert(1)", None),
            ("*", None),
            ("https://", None),
        ] {
            assert_eq!(origin(text).as_deref(), expected, "{text}");
        }
    }
}
