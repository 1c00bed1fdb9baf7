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

/// The servers and locations, as the template writes them.
pub fn render(config: &Config) -> String {
    let mut out = String::new();
    for server in &config.servers {
        let _ = writeln!(out, "## start server {}\nserver {{", server.hostname);
        let _ = writeln!(out, "    server_name \"{}\" ;", server_name(&server.hostname));
        if server.hostname == DEFAULT_SERVER {
            let _ = writeln!(out, "    listen 80 default_server reuseport backlog=4096 ;");
        } else {
            let _ = writeln!(out, "    listen 80 ;");
        }
        if server.tls || server.hostname == DEFAULT_SERVER {
            let _ = writeln!(
                out,
                "    listen 443 {}ssl ;",
                if server.hostname == DEFAULT_SERVER { "default_server reuseport backlog=4096 " } else { "" }
            );
        }
        for loc in &server.locations {
            let _ = writeln!(out, "\n    {} {{", loc.directive(server.enforce_regex));
            let _ = writeln!(
                out,
                "        set $namespace      \"{}\";",
                loc.ingress.as_deref().and_then(|i| i.split('/').next()).unwrap_or("")
            );
            let _ = writeln!(
                out,
                "        set $ingress_name   \"{}\";",
                loc.ingress.as_deref().and_then(|i| i.split('/').nth(1)).unwrap_or("")
            );
            let _ = writeln!(out, "        set $proxy_upstream_name \"{}\";", loc.upstream.name());
            let _ = writeln!(out, "        proxy_pass http://upstream_balancer;\n    }}");
        }
        let _ = writeln!(out, "}}\n## end server {}\n", server.hostname);
    }
    out.push_str("# backend for when default-backend-service is not configured or it does not have endpoints\nserver {\n    listen 8181 default_server reuseport backlog=4096;\n    set $proxy_upstream_name \"internal\";\n    access_log off;\n\n    location / {\n        return 404;\n    }\n}\n");
    out
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
