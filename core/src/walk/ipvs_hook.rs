//! IPVS as the walk meets it, at LOCAL_IN and LOCAL_OUT for a connection's first packet
//! (`ip_vs_in`: the virtual server, the persistence template or the scheduler, the Masq rewrite)
//! and at FORWARD or LOCAL_IN for its replies (`ip_vs_out`); the kernel's IPVS itself
//! (services, schedulers) is `crate::ipvs`.

use super::{Next, Pass, Sim};
use crate::conntrack::Dir;
use crate::dataplane::Hook;
use crate::trace::{Direction, StepKind, Text};

/// The TIME_WAIT timeout of an IPVS TCP connection (ip_vs_proto_tcp.c, `tcp_timeouts`).
pub(super) const IPVS_TCP_FIN_TIMEOUT: u64 = 120;

/// An IPVS connection the simulation opened.
#[derive(Debug, Clone)]
pub(super) struct IpvsConn {
    pub(super) node: String,
    pub(super) service: usize,
    pub(super) conn: crate::ipvs::Conn,
    /// Set when the connection is closed.
    pub(super) expires: Option<u64>,
}

impl<'a> Sim<'a> {
    /// IPVS for a connection's first packet to a virtual server (`ip_vs_in`): the lookup, the
    /// persistence template or the scheduler, the connection, and the Masq rewrite to the real
    /// server (`ip_vs_nat_xmit`), which also alters conntrack's reply tuple
    /// (`ip_vs_update_conntrack`, net.ipv4.vs.conntrack=1). `Ok(false)` when the packet is for no
    /// virtual server.
    pub(super) fn ipvs_request(&mut self, pass: &mut Pass, hook: Hook) -> Result<bool, Next> {
        if pass.direction != Direction::Original {
            return Ok(false);
        }
        if !pass.ct.new {
            return Ok(self.ipvs_established(pass, hook));
        }
        let node = pass.node;
        let tuple = pass.flight.tuple();
        let Some(proto) = tuple.proto.as_proto() else { return Ok(false) };
        let now = self.env.now;
        let Some(state) = self.ipvs.get_mut(node) else { return Ok(false) };
        let Some(vs_index) = state.lookup(proto, tuple.dst) else { return Ok(false) };
        let origin = state.origins.get(vs_index).map(|o| o.service_port.clone()).unwrap_or_default();
        let service = &mut state.services[vs_index];
        let scheduler = service.scheduler();
        let persistent = service.flags & crate::ipvs::IP_VS_SVC_F_PERSISTENT != 0;
        let key = (node.to_string(), vs_index, *tuple.src.ip());
        let template = self.templates.get(&key).filter(|(_, expires)| *expires >= now).map(|(dest, _)| *dest);
        let (chosen, why) = match template {
            Some(dest) if persistent => {
                let addr = service.dests().get(dest).map(|d| d.addr.to_string()).unwrap_or_default();
                (
                    Some(dest),
                    Text::new(
                        format!(
                            "a persistence template (ClientIP affinity, {} s) already sends {} to {addr}; the scheduler is not asked",
                            service.timeout,
                            tuple.src.ip()
                        ),
                        format!(
                            "已有持久化模板（ClientIP 会话保持，{} 秒）把 {} 发往 {addr}；不再询问调度器",
                            service.timeout,
                            tuple.src.ip()
                        ),
                    ),
                )
            }
            _ => {
                let decision = service.schedule(tuple.src, now, &mut self.env.rng);
                (decision.chosen, decision.explanation)
            }
        };
        let before = pass.flight.packet().clone();
        let Some(dest_index) = chosen else {
            let note = Text::new(
                format!(
                    "IPVS ({}): {} is virtual server {} ({}), but the {} scheduler found no available real server: {}. The packet is dropped.",
                    hook.as_str(),
                    tuple.dst,
                    origin,
                    proto,
                    scheduler.name(),
                    why.en
                ),
                format!(
                    "IPVS（{}）：{} 是虚拟服务 {}（{}），但 {} 调度器找不到可用的真实服务器：{}。数据包被丢弃。",
                    hook.as_str(),
                    tuple.dst,
                    origin,
                    proto,
                    scheduler.name(),
                    why.zh
                ),
            );
            let mut s = pass.step(StepKind::Ipvs, &before, "NO DESTINATION", note);
            s.hook = Some(hook.as_str());
            pass.trace.steps.push(s);
            return Err(Next::Dropped(format!("IPVS on {node} found no real server for {}", tuple.dst)));
        };
        if persistent {
            self.templates.insert(key, (dest_index, now + u64::from(service.timeout)));
        }
        let dest = service.dests()[dest_index].addr;
        // The chosen real server's line of `ipvsadm -Ln`, for views to highlight.
        let chosen_at = crate::ipvs::real_server_at(service, dest_index);
        let conn = service.conn_open(dest_index);
        self.ipvs_conns.push(IpvsConn { node: node.to_string(), service: vs_index, conn, expires: None });
        if pass.flight.set_dst(dest).is_err() {
            return Err(Next::Dropped("the packet could not be rewritten".into()));
        }
        if let Some(entry) = self.pending_mut(node) {
            entry.set_dnat(dest);
            entry.ipvs = true;
        }
        let hook_fn = if hook == Hook::Output { "ip_vs_local_request4" } else { "ip_vs_remote_request4" };
        let note = Text::new(
            format!(
                "IPVS ({} hook, {hook_fn}): {} is a virtual server of {} (scheduler {}). {}. Masq forwarding rewrites the destination {} → {dest}, recomputes both checksums and updates conntrack's reply tuple.",
                hook.as_str(),
                tuple.dst,
                origin,
                scheduler.name(),
                why.en,
                tuple.dst
            ),
            format!(
                "IPVS（{} 钩子，{hook_fn}）：{} 是 {} 的虚拟服务（调度器 {}）。{}。Masq 转发把目的地址 {} 改写为 {dest}，重算两个校验和，并更新 conntrack 的应答元组。",
                hook.as_str(),
                tuple.dst,
                origin,
                scheduler.name(),
                why.zh,
                tuple.dst
            ),
        );
        let mut s = pass.step(StepKind::Ipvs, &before, &format!("MASQ → {dest}"), note);
        s.hook = Some(hook.as_str());
        s.rule_at = Some(chosen_at);
        pass.trace.steps.push(s);
        self.tag_last(pass);
        Ok(true)
    }

    /// A later packet of an IPVS connection (`ip_vs_in` finds its `ip_vs_conn`): no scheduling,
    /// the same Masq rewrite to the real server the first packet got. True when it rewrote.
    fn ipvs_established(&mut self, pass: &mut Pass, hook: Hook) -> bool {
        let Some((_, Dir::Original)) = pass.ct.existing else { return false };
        let Some(entry) = self.entry(pass.node, &pass.ct).cloned() else { return false };
        if !entry.ipvs {
            return false;
        }
        let before = pass.flight.packet().clone();
        let tuple = pass.flight.tuple();
        let dest = entry.reply.src;
        if pass.flight.set_dst(dest).is_err() {
            return false;
        }
        let note = Text::new(
            format!(
                "IPVS ({} hook, ip_vs_in): the packet belongs to an IPVS connection already open to {dest}, so the scheduler is not asked again. Masq forwarding rewrites the destination {} → {dest}, as for the connection's first packet.",
                hook.as_str(),
                tuple.dst
            ),
            format!(
                "IPVS（{} 钩子，ip_vs_in）：该包属于一条已连到 {dest} 的 IPVS 连接，不再询问调度器。Masq 转发把目的地址 {} 改写为 {dest}，与该连接的第一个包相同。",
                hook.as_str(),
                tuple.dst
            ),
        );
        let mut s = pass.step(StepKind::Ipvs, &before, &format!("MASQ → {dest}"), note);
        s.hook = Some(hook.as_str());
        pass.trace.steps.push(s);
        self.tag_last(pass);
        true
    }

    /// IPVS undoing its rewrite on a reply (`ip_vs_out`, at FORWARD or LOCAL_IN): the source goes
    /// back from the real server to the virtual server.
    pub(super) fn ipvs_reply(&mut self, pass: &mut Pass, hook: Hook) {
        let Some((_, Dir::Reply)) = pass.ct.existing else { return };
        let Some(entry) = self.entry(pass.node, &pass.ct).cloned() else { return };
        if !entry.ipvs {
            return;
        }
        let before = pass.flight.packet().clone();
        let tuple = pass.flight.tuple();
        if pass.flight.set_src(entry.original.dst).is_err() {
            return;
        }
        let note = Text::new(
            format!(
                "IPVS ({} hook, ip_vs_out): the reply belongs to an IPVS connection, so its source {} is rewritten back to the virtual server {}; the client sees the address it called.",
                hook.as_str(),
                tuple.src,
                entry.original.dst
            ),
            format!(
                "IPVS（{} 钩子，ip_vs_out）：该应答属于一个 IPVS 连接，源地址 {} 被改回虚拟服务地址 {}；客户端看到的是它所访问的地址。",
                hook.as_str(),
                tuple.src,
                entry.original.dst
            ),
        );
        let mut s = pass.step(StepKind::Ipvs, &before, "UN-MASQ", note);
        s.hook = Some(hook.as_str());
        pass.trace.steps.push(s);
        self.tag_last(pass);
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use crate::model::ProxyMode;
    use crate::trace::StepKind;
    use crate::walk::fixture;

    fn check(id: &str, from: &str, to: &str, expect: Expect) {
        let trace = fixture::walk(id, ProxyMode::Ipvs, from, to);
        expect.assert_eq(&fixture::lines(&trace, |step| step.kind == StepKind::Ipvs));
    }

    #[test]
    fn masq_there_and_un_masq_back() {
        check(
            "clusterip-ipvs",
            "pod/client",
            "10.96.100.10:80",
            expect![[r#"
            node-1 INPUT MASQ → 10.244.3.9:8080 | tcp 10.244.1.20:42361 → 10.96.100.10:80 ⇒ tcp 10.244.1.20:42361 → 10.244.3.9:8080
            node-1 FORWARD UN-MASQ | tcp 10.244.3.9:8080 → 10.244.1.20:42361 ⇒ tcp 10.96.100.10:80 → 10.244.1.20:42361
        "#]],
        );
    }

    #[test]
    fn no_real_server_drops() {
        check(
            "no-endpoints",
            "pod/client",
            "10.96.66.6:80",
            expect![[r#"
            node-1 INPUT NO DESTINATION
        "#]],
        );
    }

    #[test]
    fn not_a_virtual_server_is_left_alone() {
        check("clusterip-ipvs", "pod/client", "10.244.2.10:8080", expect![[""]]);
    }
}
