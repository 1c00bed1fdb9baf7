//! kube-proxy: what each proxy mode writes into a node's dataplane, as data.
//!
//! `topology` is what every mode shares (service ports, endpoint selection by traffic policy);
//! `iptables` builds the iptables mode's `netfilter::Ruleset`, `ipvs_mode` the IPVS mode's virtual
//! servers, ipsets and remaining rules, `nftables` the nftables mode's table, and `userspace` the
//! removed userspace mode's proxy sockets, redirect rules and round-robin balancer. Each mode's state is data first and text second: the walk
//! evaluates exactly the rules that `rules_lines` prints.

#[doc(hidden)]
pub mod example;
pub mod hash;
pub mod iptables;
pub mod ipvs_mode;
pub mod nftables;
pub mod topology;
pub mod userspace;

use crate::dataplane::Line;
use crate::model::{Cluster, ProxyMode};
use crate::netfilter::render;

/// The dataplane state kube-proxy leaves on `node`, as the real tools print it
/// (`iptables-save` for iptables mode; `ipvsadm -Ln`, `ipset save -sorted` and `iptables-save` for
/// IPVS mode; `nft list ruleset` for nftables mode), one entry per line.
pub fn rules_lines(cluster: &Cluster, node: &str, mode: ProxyMode) -> Result<Vec<Line>, String> {
    match mode {
        ProxyMode::Iptables => Ok(render::iptables_save(&iptables::build(cluster, node)?)),
        ProxyMode::Ipvs => Ok(ipvs_lines(&ipvs_mode::build(cluster, node)?)),
        ProxyMode::Nftables => Ok(crate::nftables::render::list_ruleset(&nftables::build(cluster, node)?)),
        ProxyMode::Userspace => Ok(userspace_lines(&userspace::build(cluster, node)?)),
    }
}

/// The userspace mode's state: the history note, kube-proxy's sockets as `#` lines (one sentence
/// each, in the spirit of `ss -ltnup` but not its table: the sentences say what each socket is
/// for), then `iptables-save`. Every line before the rules is a comment or blank, so the whole
/// text can be fed to `iptables-restore` as it is.
fn userspace_lines(state: &userspace::UserspaceState) -> Vec<Line> {
    let plain = |text: &str| Line { text: text.to_string(), rule: None };
    let mut lines = vec![plain(userspace::HISTORY_NOTE), plain("")];
    lines.push(plain(&format!(
        "# kube-proxy's sockets (--bind-address {}; each proxy port is a free port of {}–{} that lbplay picks from a hash of the service port's name):",
        userspace::LISTEN_ADDR,
        userspace::PROXY_PORT_RANGE.0,
        userspace::PROXY_PORT_RANGE.1
    )));
    lines.extend(state.socket_lines().iter().map(|text| plain(text)));
    lines.push(plain(""));
    lines.push(plain("# iptables-save"));
    lines.extend(render::iptables_save(&state.ruleset));
    lines
}

/// The IPVS mode's state as three tools print it, each part under a `#` line naming the tool:
/// `ipvsadm -Ln`, then `ipset save -sorted` (chosen over `ipset list` because its every byte can
/// be reproduced: `ipset list` adds the kernel's memory use and each hash set's random `initval`),
/// then `iptables-save`. A one-line note on the mode's history comes first.
fn ipvs_lines(state: &ipvs_mode::IpvsState) -> Vec<Line> {
    let plain = |text: &str| Line { text: text.to_string(), rule: None };
    let mut lines = vec![plain(ipvs_mode::HISTORY_NOTE), plain(""), plain("# ipvsadm -Ln")];
    lines.extend(crate::ipvs::ipvsadm_ln_lines(&state.services));
    lines.push(plain(""));
    lines.push(plain("# ipset save -sorted"));
    lines.extend(state.ipsets.save_lines().iter().map(|text| plain(text)));
    lines.push(plain(""));
    lines.push(plain("# iptables-save"));
    lines.extend(render::iptables_save(&state.ruleset));
    lines
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
