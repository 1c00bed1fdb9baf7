//! kube-proxy: what each proxy mode writes into a node's dataplane, as data.
//!
//! PLACEHOLDER while being written: `rules_text` is the contract the CLI and the web app use.

use crate::model::{Cluster, ProxyMode};
use crate::netfilter::render::Line;

/// The dataplane state kube-proxy leaves on `node`, as the real tools print it
/// (`iptables-save` for iptables mode), one entry per line.
pub fn rules_lines(_cluster: &Cluster, _node: &str, _mode: ProxyMode) -> Result<Vec<Line>, String> {
    Err("not written yet".into())
}

/// The same, as one text.
pub fn rules_text(cluster: &Cluster, node: &str, mode: ProxyMode) -> Result<String, String> {
    let lines = rules_lines(cluster, node, mode)?;
    let mut out = String::new();
    for line in lines {
        out.push_str(&line.text);
        out.push('\n');
    }
    Ok(out)
}
