//! The Ingress conformance suite's 30 cases and ingress-nginx's 48 e2e cases, each a native test
//! of `lbplay_core::ingress`: load the case's objects, route its request, compare the status and
//! the Service that answers. Where the conformance suite expects 200 for plain HTTP to a host
//! ingress-nginx holds a certificate for, ingress-nginx answers 308 first (lua_ingress.lua,
//! `redirect_to_https`); lbplay says 308 and the test follows the redirect, as an HTTP client does.

mod ingress_support;

use ingress_support::{Case, answer, cases, load_yaml};
use lbplay_core::ingress;

/// lbplay's outcome for one case as `status service:port`, following one 308.
fn outcome(case: &Case) -> String {
    let loaded = match load_yaml(&case.yaml) {
        Ok(l) => l,
        Err(e) => return format!("load error: {e}"),
    };
    let config = ingress::config_for(&loaded.extras);
    let (d, status, served) = answer(&loaded, &config, &case.scheme, case.host.as_deref(), &case.path);
    let (status, served) = if status == 308 && case.status != 308 {
        let target = d.response.and_then(|r| r.location).unwrap_or_default();
        assert!(target.starts_with("https://"), "{}: redirect to {target}", case.id);
        let (_, st, s) = answer(&loaded, &config, "https", case.host.as_deref(), &case.path);
        (st, s)
    } else {
        (status, served)
    };
    format!("{status} {}", served.unwrap_or_else(|| "-".to_string()))
}

/// Cases where ingress-nginx, and so lbplay, answers otherwise than the generic suite expects.
const NGINX_DIFFERS: [(&str, &str, &str); 1] = [(
    "path_rules-14-prefix-_aaa_bbb_-matches-request-_aaa_bbb",
    "404 -",
    "Prefix /aaa/bbb/ becomes location \"/aaa/bbb/\" and its twin = \"/aaa/bbb/\" (location.go, updateServerLocations), so /aaa/bbb falls to the default root; ingress-nginx #6463",
)];

fn expected(case: &Case) -> String {
    if let Some((_, want, _)) = NGINX_DIFFERS.iter().find(|(id, _, _)| *id == case.id) {
        return want.to_string();
    }
    let served = match (&case.service, case.port) {
        (Some(s), Some(p)) if case.status == 200 => format!("{s}:{p}"),
        _ => "-".to_string(),
    };
    format!("{} {served}", case.status)
}

#[test]
fn every_upstream_case_routes_as_upstream_expects() {
    let all = cases();
    assert_eq!(all.len(), 78, "30 conformance and 48 e2e cases");
    let mut wrong = Vec::new();
    for case in &all {
        let (got, want) = (outcome(case), expected(case));
        if got != want {
            wrong.push(format!("{}: got {got}, want {want}", case.id));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases differ:\n{}", wrong.len(), all.len(), wrong.join("\n"));
}

#[test]
fn plain_http_to_a_tls_host_is_redirected_with_308() {
    let case = cases().into_iter().find(|c| c.id.starts_with("host_rules-02")).expect("case");
    let loaded = load_yaml(&case.yaml).expect("loads");
    let config = ingress::config_for(&loaded.extras);
    let (d, status, _) = answer(&loaded, &config, "http", Some("foo.bar.com"), "/");
    assert_eq!(status, 308);
    // No trailing slash on the redirect (preserve-trailing-slash is false by default).
    assert_eq!(d.response.and_then(|r| r.location).as_deref(), Some("https://foo.bar.com"));
    // The wildcard server shares the Ingress's TLS section, so it gets the default certificate.
    assert_eq!(answer(&loaded, &config, "http", Some("bar.foo.com"), "/x/").1, 308);
    // No certificate for an unknown host: the default server's 404.
    assert_eq!(answer(&loaded, &config, "http", Some("subdomain.bar.com"), "/").1, 404);
}
