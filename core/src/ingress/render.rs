//! The matched part of ingress-nginx's nginx.conf: `server` blocks with their `server_name` and
//! `location` blocks naming their upstream, as rootfs/etc/nginx/template/nginx.tmpl (controller
//! v1.15.1) writes them, with the Lua and proxy directives left out.
//!
//! Two forms: `render` for the learner (each location sets `$proxy_upstream_name` as the
//! template does), and `render_differential`, a complete nginx.conf for real nginx in which each
//! location answers `return 200 "<server>|<index>"` so a test can see which one nginx chose.

use std::fmt::Write as _;

use super::config::{Config, DEFAULT_SERVER};
use super::select::server_name;
use crate::dataplane::Line;
use crate::trace::RuleAt;

/// The table name of nginx lines' positions (`RuleAt::table`), so a view can tell an nginx
/// directive from a netfilter rule.
pub const NGINX: &str = "nginx";

/// Where a server's `server_name` line sits in the rendered text: the server's hostname and 0.
pub fn server_at(hostname: &str) -> RuleAt {
    RuleAt { table: NGINX, chain: hostname.to_string(), index: 0 }
}

/// Where a server's `location` line sits: the server's hostname and the location's index + 1.
pub fn location_at(hostname: &str, location: usize) -> RuleAt {
    RuleAt { table: NGINX, chain: hostname.to_string(), index: location + 1 }
}

/// The servers and locations, as the template writes them.
pub fn render(config: &Config) -> String {
    let mut out = String::new();
    write(config, &mut out, &mut |_, _| {});
    out
}

/// The same text, a line each, the `server_name` and `location` lines carrying their position
/// (`server_at`, `location_at`) so the server and location a request matched can be marked.
pub fn render_lines(config: &Config) -> Vec<Line> {
    let mut text = String::new();
    let mut marks: Vec<(usize, RuleAt)> = Vec::new();
    write(config, &mut text, &mut |line, at| marks.push((line, at)));
    let mut marks = marks.into_iter().peekable();
    text.lines()
        .enumerate()
        .map(|(number, line)| {
            let rule = marks.next_if(|(at, _)| *at == number).map(|(_, at)| at);
            Line { text: line.to_string(), rule }
        })
        .collect()
}

/// Writes the configuration into `out` (one `\n` per line), telling `mark` the 0-based line
/// number of each `server_name` and `location` line and its position. One writer serves both
/// `render` (the CLI, the differential test) and `render_lines` (the page), so they cannot differ.
fn write(config: &Config, out: &mut String, mark: &mut dyn FnMut(usize, RuleAt)) {
    let mut line = 0;
    let mut put = |out: &mut String, text: std::fmt::Arguments<'_>| {
        let _ = out.write_fmt(text);
        out.push('\n');
        line += 1;
        line - 1
    };
    for server in &config.servers {
        let host = &server.hostname;
        put(out, format_args!("## start server {host}"));
        put(out, format_args!("server {{"));
        let at = put(out, format_args!("    server_name \"{}\" ;", server_name(host)));
        mark(at, server_at(host));
        if *host == DEFAULT_SERVER {
            put(out, format_args!("    listen 80 default_server reuseport backlog=4096 ;"));
        } else {
            put(out, format_args!("    listen 80 ;"));
        }
        if server.tls || *host == DEFAULT_SERVER {
            let default = if *host == DEFAULT_SERVER { "default_server reuseport backlog=4096 " } else { "" };
            put(out, format_args!("    listen 443 {default}ssl ;"));
        }
        for (index, loc) in server.locations.iter().enumerate() {
            put(out, format_args!(""));
            let at = put(out, format_args!("    {} {{", loc.directive(server.enforce_regex)));
            mark(at, location_at(host, index));
            let mut ingress = loc.ingress.as_deref().unwrap_or_default().split('/');
            let namespace = ingress.next().unwrap_or_default();
            let name = ingress.next().unwrap_or_default();
            put(out, format_args!("        set $namespace      \"{namespace}\";"));
            put(out, format_args!("        set $ingress_name   \"{name}\";"));
            put(out, format_args!("        set $proxy_upstream_name \"{}\";", loc.upstream.name()));
            put(out, format_args!("        proxy_pass http://upstream_balancer;"));
            put(out, format_args!("    }}"));
        }
        put(out, format_args!("}}"));
        put(out, format_args!("## end server {host}"));
        put(out, format_args!(""));
    }
    for text in [
        "# backend for when default-backend-service is not configured or it does not have endpoints",
        "server {",
        "    listen 8181 default_server reuseport backlog=4096;",
        "    set $proxy_upstream_name \"internal\";",
        "    access_log off;",
        "",
        "    location / {",
        "        return 404;",
        "    }",
        "}",
    ] {
        put(out, format_args!("{text}"));
    }
}

/// A complete nginx.conf for a private nginx listening on `127.0.0.1:port`, prefix `dir`.
pub fn render_differential(config: &Config, port: u16, dir: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "worker_processes 1;\nerror_log {dir}/error.log;\npid {dir}/nginx.pid;\nevents {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n    client_body_temp_path {dir}/tmp;\n    proxy_temp_path {dir}/tmp;\n    fastcgi_temp_path {dir}/tmp;\n    uwsgi_temp_path {dir}/tmp;\n    scgi_temp_path {dir}/tmp;\n    server_names_hash_bucket_size 256;\n    default_type text/plain;"
    );
    for (si, server) in config.servers.iter().enumerate() {
        let default = if server.hostname == DEFAULT_SERVER { " default_server" } else { "" };
        let _ = writeln!(
            out,
            "    server {{\n        listen 127.0.0.1:{port}{default};\n        server_name \"{}\" ;",
            server_name(&server.hostname)
        );
        for (li, loc) in server.locations.iter().enumerate() {
            let _ = writeln!(out, "        {} {{ return 200 \"{si}|{li}\"; }}", loc.directive(server.enforce_regex));
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}
