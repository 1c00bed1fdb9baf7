//! kube-proxy: what each proxy mode writes into a node's dataplane, as data.
//!
//! `topology` is what every mode shares (service ports, endpoint selection by traffic policy);
//! `iptables` builds the iptables mode's `netfilter::Ruleset`. Each mode's state is data first and
//! text second: the walk evaluates exactly the rules that `rules_lines` prints.

#[doc(hidden)]
pub mod example;
pub mod hash;
pub mod iptables;
pub mod nftables;
pub mod topology;

use crate::model::{Cluster, ProxyMode};
use crate::netfilter::render::{self, Line};

/// The dataplane state kube-proxy leaves on `node`, as the real tools print it
/// (`iptables-save` for iptables mode, `nft list ruleset` for nftables mode), one entry per line.
pub fn rules_lines(cluster: &Cluster, node: &str, mode: ProxyMode) -> Result<Vec<Line>, String> {
    match mode {
        ProxyMode::Iptables => Ok(render::iptables_save(&iptables::build(cluster, node)?)),
        ProxyMode::Nftables => Ok(crate::nftables::render::list_ruleset(&nftables::build(cluster, node)?)),
        other => Err(format!("kube-proxy's {} mode is not modelled yet", other.as_str())),
    }
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
