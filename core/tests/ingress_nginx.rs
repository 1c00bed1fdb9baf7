//! Tier 4: real nginx agrees with lbplay on the server and location of every request.
//!
//! For each scenario, `render_differential` writes the configuration ingress-nginx would render,
//! each location answering `return 200 "<server>|<location>"`; a private nginx (Debian's
//! `nginx-light`, installed by `cargo xtask install`/`test`) serves it on a loopback port, and
//! every request of the table is sent over TCP. nginx's answer must name the server and location
//! lbplay chose (or be the 400 or 404 nginx gives when lbplay says it has none). The test skips,
//! saying why, where no nginx binary is found.

mod ingress_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ingress_support::{cases, load_yaml};
use lbplay_core::ingress::{self, Request, render};
use lbplay_core::rng::Rng;

fn nginx_binary() -> Option<String> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .find(|p| std::path::Path::new(p).is_file())
        .map(|p| p.to_string())
}

/// A private nginx serving one configuration; stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Nginx {
    fn start(binary: &str, config: &ingress::Config, tag: usize) -> Result<Nginx, String> {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let dir = std::env::temp_dir().join(format!("lbplay-nginx-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(dir.join("tmp")).map_err(|e| e.to_string())?;
        let conf = render::render_differential(config, port, &dir.display().to_string());
        std::fs::write(dir.join("nginx.conf"), &conf).map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        let mut nginx = Nginx { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = nginx.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                return Err(format!("nginx exited ({status}): {err}\n{conf}"));
            }
            if Instant::now() > deadline {
                return Err("nginx did not listen within 5 s".to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }

    /// The status and body nginx answers.
    fn get(&self, host: Option<&str>, path: &str) -> String {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return "connect failed".to_string() };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let host = host.unwrap_or("127.0.0.1");
        let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        let status = text.split(' ').nth(1).unwrap_or("?").to_string();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        if status == "200" { format!("200 {body}") } else { status }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// lbplay's expectation in nginx's terms: `200 server|location`, or the status nginx gives.
fn lbplay(config: &ingress::Config, host: Option<&str>, path: &str) -> String {
    let d = ingress::route(config, &Request { scheme: "http", host, path });
    match (d.location, &d.response) {
        (_, Some(r)) if r.status == 400 => "400".to_string(),
        (Some(l), _) => format!("200 {}|{l}", d.server),
        (None, _) => "404".to_string(),
    }
}

/// A scenario and the requests to send to it.
struct Table {
    name: String,
    yaml: String,
    requests: Vec<(Option<String>, String)>,
}

fn ingress_yaml(name: &str, annotations: &str, host: Option<&str>, paths: &[(&str, &str)]) -> String {
    let mut y = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n{annotations}spec:\n  rules:\n  - "
    );
    if let Some(h) = host {
        y.push_str(&format!("host: \"{h}\"\n    "));
    }
    y.push_str("http:\n      paths:\n");
    for (i, (path, ty)) in paths.iter().enumerate() {
        y.push_str(&format!(
            "      - path: \"{path}\"\n        pathType: {ty}\n        backend: {{service: {{name: s{i}, port: {{number: 80}}}}}}\n"
        ));
    }
    y.push_str("---\n");
    y
}

fn tables() -> Vec<Table> {
    let mut out = Vec::new();
    // The upstream cases, each scenario with its own request.
    for case in cases() {
        out.push(Table { name: case.id.clone(), yaml: case.yaml, requests: vec![(case.host, case.path)] });
    }
    let reqs = |host: Option<&str>, paths: &[&str]| -> Vec<(Option<String>, String)> {
        paths.iter().map(|p| (host.map(str::to_string), p.to_string())).collect()
    };
    // The spec's path table (../shared/spec/l7.md §1.4), trailing slashes, Exact beside Prefix.
    let mut y =
        ingress_yaml("root", "", Some("spec.table"), &[("/", "Prefix"), ("/aaa", "Prefix"), ("/aaa/bbb", "Prefix")]);
    y += &ingress_yaml(
        "exact",
        "",
        Some("spec.table"),
        &[("/foo", "Exact"), ("/foo/", "Prefix"), ("/bar/", "Exact"), ("/aaa/bb", "Prefix")],
    );
    y += &ingress_yaml(
        "later",
        "",
        Some("spec.table"),
        &[("/foo", "Prefix"), ("/aaa", "Prefix"), ("/ccc/", "ImplementationSpecific")],
    );
    let paths = [
        "/",
        "/foo",
        "/foo/",
        "/foo/x",
        "/FOO",
        "/foobar",
        "/bar",
        "/bar/",
        "/bar/x",
        "/aaa",
        "/aaa/",
        "/aaa/bb",
        "/aaa/bbb",
        "/aaa/bbb/",
        "/aaa/bbbxyz",
        "/aaa/bbb/ccc",
        "/aaa/ccc",
        "/ccc",
        "/ccc/",
        "/ccc/d",
        "/aaaccc",
        "/foo?x=1",
        "/foo//x",
        "/aaa/./bbb",
        "/aaa/x/../bbb",
        "/%61aa/bbb",
        "/../x",
        "/aaa/bbb/..",
    ];
    out.push(Table { name: "spec table".to_string(), yaml: y.clone(), requests: reqs(Some("spec.table"), &paths) });
    // Hosts: exact, wildcard one label, case and port ignored, the default server.
    let mut y = ingress_yaml("wild", "", Some("*.foo.com"), &[("/", "Prefix"), ("/w", "Exact")]);
    y += &ingress_yaml("precise", "", Some("bar.foo.com"), &[("/", "Prefix")]);
    y += &ingress_yaml("other", "", Some("foo.bar.com"), &[("/foo", "Prefix"), ("/bar", "Prefix")]);
    y += &ingress_yaml("nohost", "", None, &[("/any", "Prefix")]);
    let mut requests = Vec::new();
    for host in [
        "bar.foo.com",
        "baz.foo.com",
        "BAZ.Foo.Com",
        "baz.foo.com:8080",
        "a_b.foo.com",
        "a-b.foo.com",
        "a.b.foo.com",
        "foo.com",
        "foo.bar.com",
        "foo.bar.com.",
        "FOO.BAR.COM:80",
        "unknown.example",
        "127.0.0.1",
    ] {
        for path in ["/", "/w", "/foo", "/bar/x", "/any/x", "/none"] {
            requests.push((Some(host.to_string()), path.to_string()));
        }
    }
    requests.push((None, "/any".to_string()));
    out.push(Table { name: "hosts".to_string(), yaml: y, requests });
    // Regex: use-regex on one Ingress makes every location of its host a regex, first match wins.
    let regex = "  annotations:\n    nginx.ingress.kubernetes.io/use-regex: \"true\"\n";
    let mut y = ingress_yaml(
        "re",
        regex,
        Some("re.host"),
        &[
            ("/id/[0-9]+", "ImplementationSpecific"),
            ("/id/[0-9]{3}$", "Prefix"),
            ("/api/v[12]/.*", "ImplementationSpecific"),
        ],
    );
    y += &ingress_yaml("plain", "", Some("re.host"), &[("/id", "Prefix"), ("/static", "Exact"), ("/Docs", "Prefix")]);
    y += &ingress_yaml(
        "rewrite",
        "  annotations:\n    nginx.ingress.kubernetes.io/rewrite-target: /$1\n",
        Some("rw.host"),
        &[("/app(/|$)(.*)", "ImplementationSpecific"), ("/x", "Prefix")],
    );
    let paths = [
        "/id/1",
        "/id/123",
        "/id/1234",
        "/ID/12",
        "/id/",
        "/id",
        "/idx",
        "/static",
        "/static/x",
        "/STATIC",
        "/docs/a",
        "/api/v1/x",
        "/api/v3/x",
        "/API/V2/",
        "/",
        "/other",
    ];
    out.push(Table { name: "regex".to_string(), yaml: y.clone(), requests: reqs(Some("re.host"), &paths) });
    out.push(Table {
        name: "rewrite".to_string(),
        yaml: y,
        requests: reqs(Some("rw.host"), &["/app", "/app/", "/app/x", "/apple", "/x", "/x/y", "/X", "/"]),
    });
    // The source text's Ingresses (extensions/v1beta1), each with its own hosts.
    for file in ["source-ingress-single-service.yaml", "source-ingress-fanout.yaml", "source-ingress-name-based.yaml"] {
        let yaml = std::fs::read_to_string(format!("{}/tests/data/scenario/{file}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_default();
        let mut requests = Vec::new();
        for host in ["foo.bar.com", "bar.foo.com", "other.example"] {
            for path in ["/", "/foo", "/foo/x", "/bar", "/bar/", "/baz"] {
                requests.push((Some(host.to_string()), path.to_string()));
            }
        }
        out.push(Table { name: file.to_string(), yaml, requests });
    }
    // A seeded random set: random Ingresses over a small alphabet of paths and hosts.
    let mut rng = Rng::new(12);
    let segs = ["a", "b", "ab", "a1"];
    let pick = |rng: &mut Rng, n: usize| (rng.next_u32() as usize) % n;
    for round in 0..12 {
        let mut yaml = String::new();
        for i in 0..3 {
            let host = ["r.host", "*.r.host", "x.r.host"][pick(&mut rng, 3)];
            let mut paths: Vec<(String, &str)> = Vec::new();
            for _ in 0..4 {
                let depth = 1 + pick(&mut rng, 2);
                let mut p = String::new();
                for _ in 0..depth {
                    p.push('/');
                    p.push_str(segs[pick(&mut rng, segs.len())]);
                }
                if pick(&mut rng, 4) == 0 {
                    p.push('/');
                }
                let ty = ["Exact", "Prefix", "ImplementationSpecific"][pick(&mut rng, 3)];
                paths.push((p, ty));
            }
            let refs: Vec<(&str, &str)> = paths.iter().map(|(p, t)| (p.as_str(), *t)).collect();
            yaml += &ingress_yaml(&format!("r{round}-{i}"), "", Some(host), &refs);
        }
        let mut requests = Vec::new();
        for _ in 0..15 {
            let host = ["r.host", "x.r.host", "y.r.host", "R.HOST:81"][pick(&mut rng, 4)];
            let depth = pick(&mut rng, 4);
            let mut p = String::new();
            for _ in 0..depth {
                p.push('/');
                p.push_str(segs[pick(&mut rng, segs.len())]);
            }
            if p.is_empty() || pick(&mut rng, 3) == 0 {
                p.push('/');
            }
            requests.push((Some(host.to_string()), p));
        }
        out.push(Table { name: format!("random {round}"), yaml, requests });
    }
    out
}

#[test]
fn real_nginx_picks_the_same_server_and_location() {
    let Some(binary) = nginx_binary() else {
        // `cargo xtask test` installs nginx first and sets this, so there a missing nginx fails.
        assert!(
            std::env::var_os("LBPLAY_REQUIRE_NGINX").is_none(),
            "LBPLAY_REQUIRE_NGINX is set but no nginx is installed"
        );
        println!("skipped: no nginx binary (/usr/sbin/nginx); `cargo xtask install` installs Debian's nginx-light");
        return;
    };
    let (mut agreed, mut wrong, mut seen) = (0, Vec::new(), std::collections::BTreeSet::new());
    for (t, table) in tables().iter().enumerate() {
        let loaded = match load_yaml(&table.yaml) {
            Ok(l) => l,
            Err(e) => panic!("{}: does not load: {e}", table.name),
        };
        let config = ingress::config_for(&loaded.extras);
        let nginx = match Nginx::start(&binary, &config, t) {
            Ok(n) => n,
            // nginx that cannot run at all here (no loopback, a sandbox) is a skip, not a failure,
            // unless the tier asked for it; once one instance ran, any failure is a finding.
            Err(e) if t == 0 && std::env::var_os("LBPLAY_REQUIRE_NGINX").is_none() => {
                println!("skipped: {binary} cannot run here: {e}");
                return;
            }
            Err(e) => panic!("{}: {e}", table.name),
        };
        for (host, path) in &table.requests {
            let (want, got) = (lbplay(&config, host.as_deref(), path), nginx.get(host.as_deref(), path));
            seen.insert(format!("{t} {got}"));
            if want == got {
                agreed += 1;
            } else {
                wrong.push(format!("{} Host {host:?} {path}: lbplay {want}, nginx {got}", table.name));
            }
        }
    }
    println!("real nginx agreed with lbplay on {agreed} requests");
    assert!(wrong.is_empty(), "{} requests differ ({agreed} agree):\n{}", wrong.len(), wrong.join("\n"));
    assert!(agreed >= 200, "only {agreed} cases");
    // The answers really vary: many distinct server/location pairs, and 400s among them.
    println!("{} distinct answers", seen.len());
    assert!(seen.len() > 150, "only {} distinct answers", seen.len());
    assert!(seen.iter().any(|a| a.ends_with(" 400")), "a request nginx refuses is among them");
}
