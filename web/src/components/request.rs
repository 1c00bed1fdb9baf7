//! The request bar of an L7 lesson: the Host, the path and the headers of the HTTP request the
//! walk sends, as curl's `--to URL -H 'Name: value'` would, editable and sent again with Send.
//! What the learner typed is checked here with lbplay-core's own parsers (the URL and curl's
//! header rule) before anything runs, so a mistake is a message under the bar, not a broken walk.

use lbplay_core::Lang;
use lbplay_core::http::Header;
use lbplay_core::http::url::Target;
use yew::prelude::*;

use crate::i18n;

/// What the bar sends: the URL (`to`) and the headers, a line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub to: String,
    pub headers: Vec<String>,
}

/// The bar's fields as typed, checked into what to send: `host` may carry a port, `path` gets its
/// leading `/` when it lacks one, and each non-blank line of `headers` must be `Name: value`.
pub fn check(scheme: &str, host: &str, path: &str, headers: &str) -> Result<Sent, String> {
    let host = host.trim();
    if host.is_empty() {
        return Err("Host: write a name, such as foo.bar.com".into());
    }
    let path = path.trim();
    let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
    let to = format!("{scheme}://{host}{path}");
    Target::parse(&to).map_err(|err| err.0)?;
    let mut lines = Vec::new();
    for (index, line) in headers.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        Header::parse_arg(line).map_err(|err| format!("{}: line {}: {}", "headers", index + 1, err.0))?;
        lines.push(line.to_string());
    }
    if lines.len() > crate::fragment::MAX_HEADERS {
        return Err(format!("headers: at most {} lines", crate::fragment::MAX_HEADERS));
    }
    Ok(Sent { to, headers: lines })
}

#[derive(Properties, PartialEq)]
pub struct RequestBarProps {
    pub lang: Lang,
    /// The URL the walk sends to now (`http://foo.bar.com/foo`).
    pub to: AttrValue,
    /// The headers it sends now, a line each.
    pub headers: Vec<String>,
    pub onsend: Callback<Sent>,
}

/// The bar. Its inputs keep what the learner types until Send; a new scenario resets them.
#[component]
pub fn RequestBar(props: &RequestBarProps) -> Html {
    let text = i18n::text(props.lang);
    let target = Target::parse(&props.to).ok();
    let scheme = target.as_ref().map_or("http", |target| target.scheme.as_str()).to_string();
    let host = target.as_ref().map(|t| if t.explicit_port { t.authority() } else { t.host.clone() });
    let path = target.as_ref().map(|target| target.path.clone()).unwrap_or_default();
    let host_ref = use_node_ref();
    let path_ref = use_node_ref();
    let headers_ref = use_node_ref();
    let error = use_state(|| None::<String>);
    {
        // A new walk (another lesson, or this bar's own send) clears a stale message.
        let error = error.clone();
        use_effect_with((props.to.clone(), props.headers.clone()), move |_| error.set(None));
    }
    let onsubmit = {
        let (host_ref, path_ref, headers_ref) = (host_ref.clone(), path_ref.clone(), headers_ref.clone());
        let (error, onsend) = (error.clone(), props.onsend.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let value = |node: &NodeRef| {
                node.cast::<web_sys::HtmlInputElement>()
                    .map(|input| input.value())
                    .or_else(|| node.cast::<web_sys::HtmlTextAreaElement>().map(|area| area.value()))
                    .unwrap_or_default()
            };
            match check(&scheme, &value(&host_ref), &value(&path_ref), &value(&headers_ref)) {
                Ok(sent) => {
                    error.set(None);
                    onsend.emit(sent);
                }
                Err(message) => error.set(Some(message)),
            }
        })
    };
    // Keyed by what is sent now, so the inputs start again from it when the walk changes.
    let key = format!("{}\n{}", props.to, props.headers.join("\n"));
    html! {
        <form class="request-bar" {key} {onsubmit} data-testid="request-bar" aria-label={text.request_bar}>
            <strong class="request-title">{ text.request_bar }</strong>
            <label class="request-host">
                <span>{ text.request_host }</span>
                <input ref={host_ref} type="text" value={host.unwrap_or_default()} spellcheck="false"
                    autocomplete="off" data-testid="request-host" />
            </label>
            <label class="request-path">
                <span>{ text.request_path }</span>
                <input ref={path_ref} type="text" value={path} spellcheck="false" autocomplete="off"
                    data-testid="request-path" />
            </label>
            <label class="request-headers">
                <span>{ text.request_headers }</span>
                <textarea ref={headers_ref} rows="1" spellcheck="false" placeholder={text.request_headers_hint}
                    title={text.request_headers_hint} data-testid="request-headers"
                    value={props.headers.join("\n")} />
            </label>
            <button class="btn primary" type="submit" data-testid="request-send">{ text.request_send }</button>
            if let Some(message) = &*error {
                <p class="request-error" role="alert" data-testid="request-error"><code>{ message.clone() }</code></p>
            }
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_bar(host: &str, path: &str, headers: &str, expect: Result<(&str, &[&str]), &str>) {
        let got = check("http", host, path, headers);
        match expect {
            Ok((to, lines)) => {
                let sent = got.unwrap_or_else(|err| panic!("{host} {path}: {err}"));
                assert_eq!(sent.to, to);
                assert_eq!(sent.headers, lines);
            }
            Err(part) => {
                let err = got.expect_err("refused");
                assert!(err.contains(part), "{err} should say {part}");
            }
        }
    }

    #[test]
    fn test_what_the_bar_sends() {
        check_bar("foo.bar.com", "/foo", "", Ok(("http://foo.bar.com/foo", &[])));
        check_bar(" bar.foo.com ", "x/y?z=1", "", Ok(("http://bar.foo.com/x/y?z=1", &[])));
        check_bar("foo.bar.com:8080", "/", "", Ok(("http://foo.bar.com:8080/", &[])));
        check_bar(
            "foo.bar.com",
            "/",
            "X-Test: 1\n\n  Accept-Language: zh  \n",
            Ok(("http://foo.bar.com/", &["X-Test: 1", "Accept-Language: zh"])),
        );
        check_bar("", "/", "", Err("Host"));
        check_bar("foo.bar.com", "/", "no colon here", Err("line 1"));
        check_bar("foo.bar.com", "/", "X: 1\nBad Name: 2", Err("line 2"));
        check_bar("foo bar", "/", "", Err("--to"));
    }
}
