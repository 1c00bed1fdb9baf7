//! The topology: the Service VIP, the clients, and each node with its netfilter hooks and pods, as
//! SVG. The packet sits where the selected step happens, with its `src → dst` riding on it; the
//! Service's endpoints are drawn dashed and the chosen one lights up once the DNAT has picked it.
//! Moves are CSS transitions on `transform`, which reduced motion turns off (steps snap).

use std::net::Ipv4Addr;

use lbplay_core::Lang;
use lbplay_core::kubeproxy::ipvs_mode::pod_weight;
use lbplay_core::model::ProxyMode;
use lbplay_core::trace::{Direction, StepKind};
use yew::prelude::*;

use crate::i18n;
use crate::run::{Scenario, ScenarioRef};
use crate::view;

const WIDTH: f64 = 1000.0;
const TOP: f64 = 64.0;
/// The least height of a node's box; a node with more pods than fit grows (`Layout::node_h`).
const NODE_H: f64 = 198.0;
/// Where a node's first pod row starts, below its title, its hooks and the packet's lane, and the
/// pitch of the rows.
const POD_TOP: f64 = 104.0;
/// How far a node's pods are drawn from its left edge: the margin is the pods' veth, where a
/// packet between a pod and its node's hooks is drawn, clear of the other pods.
const POD_LEFT: f64 = 24.0;
/// The packet's lane inside a node, below `TOP`: the hook boxes' bottom edge, so that the packet
/// points at the lit hook without covering its name, and its label fits between the hooks and the
/// first row of pods.
const LANE: f64 = 76.0;
const POD_ROW: f64 = 40.0;
const HOOKS: [(&str, &str); 5] =
    [("PREROUTING", "PRE"), ("INPUT", "IN"), ("FORWARD", "FWD"), ("OUTPUT", "OUT"), ("POSTROUTING", "POST")];

#[derive(Debug, Clone, PartialEq)]
struct PodBox {
    name: String,
    ip: Option<Ipv4Addr>,
    x: f64,
    y: f64,
    endpoint: bool,
    /// In IPVS mode, the weight of the pod's real server (`ipvsadm -Ln`'s Weight column).
    weight: Option<u32>,
    /// Whether Istio injected a sidecar: Envoy runs inside the pod, drawn as a box in its pill.
    sidecar: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct NodeBox {
    name: String,
    ip: Option<Ipv4Addr>,
    x: f64,
    w: f64,
    pods: Vec<PodBox>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Layout {
    nodes: Vec<NodeBox>,
    /// Hosts outside the cluster: (name, ip, x).
    clients: Vec<(String, Ipv4Addr, f64)>,
    /// Services with a ClusterIP: label, centre x and width.
    services: Vec<(String, f64, f64)>,
    /// The height of every node's box: tall enough for the node with the most pods.
    node_h: f64,
    /// Whether each Service pill has room for the "virtual IP" note under its name.
    service_notes: bool,
}

fn layout(scenario: &Scenario) -> Layout {
    let mut out = Layout { service_notes: true, ..Layout::default() };
    let names: Vec<(String, Option<Ipv4Addr>)> = match &scenario.cluster {
        Some(cluster) => cluster.nodes.iter().map(|node| (node.name.clone(), Some(node.ip))).collect(),
        None => {
            let mut names: Vec<(String, Option<Ipv4Addr>)> = Vec::new();
            for step in &scenario.trace.steps {
                if step.node.starts_with("node") && !names.iter().any(|(name, _)| *name == step.node) {
                    names.push((step.node.clone(), None));
                }
            }
            names
        }
    };
    // kube-proxy writes every real server with weight 1; lbplay's Pod label may set another.
    let ipvs = scenario.mode == Some(ProxyMode::Ipvs);
    // The pods Istio injected, whose pill holds their Envoy.
    let sidecars: std::collections::BTreeSet<&str> = scenario
        .cluster
        .iter()
        .flat_map(|cluster| cluster.mesh.iter())
        .flat_map(|mesh| mesh.sidecars.keys().map(String::as_str))
        .collect();
    let count = names.len().max(1) as f64;
    let gap = 16.0;
    let w = ((WIDTH - 20.0 - gap * (count - 1.0)) / count).min(330.0);
    let total = w * count + gap * (count - 1.0);
    let left = (WIDTH - total) / 2.0;
    for (index, (name, ip)) in names.into_iter().enumerate() {
        let x = left + index as f64 * (w + gap);
        let mut pods = Vec::new();
        if let Some(cluster) = &scenario.cluster {
            let endpoints: Vec<Ipv4Addr> = cluster
                .endpoint_slices
                .iter()
                .flat_map(|slice| slice.endpoints.iter().map(|endpoint| endpoint.ip))
                .collect();
            for pod in cluster.pods.iter().filter(|pod| pod.node == name) {
                let row = pods.len() as f64;
                pods.push(PodBox {
                    name: pod.name.clone(),
                    ip: Some(pod.ip),
                    x: x + POD_LEFT,
                    y: TOP + POD_TOP + row * POD_ROW,
                    endpoint: endpoints.contains(&pod.ip),
                    weight: (ipvs && endpoints.contains(&pod.ip)).then(|| pod_weight(pod)),
                    sidecar: sidecars.contains(pod.name.as_str()),
                });
            }
        }
        out.nodes.push(NodeBox { name, ip, x, w, pods });
    }
    let most_pods = out.nodes.iter().map(|node| node.pods.len()).max().unwrap_or(0) as f64;
    out.node_h = NODE_H.max(POD_TOP + most_pods * POD_ROW + 4.0);
    if let Some(cluster) = &scenario.cluster {
        for (index, client) in cluster.clients.iter().enumerate() {
            out.clients.push((client.name.clone(), client.ip, 20.0 + index as f64 * 200.0));
        }
        // A Service's pill names it in full (`Service default/web  10.96.0.10:80 · LB …`); when
        // the row would not fit the drawing, it names it short (`web 10.96.0.10:80`), and when even
        // that does not fit, the note under each name goes, then the addresses (the rules pane
        // and the steps still show them).
        let labels = |short: u8| -> Vec<String> {
            cluster
                .services
                .iter()
                .filter_map(|service| {
                    let ip = service.cluster_ip?;
                    let port = service.ports.first().map(|port| format!(":{}", port.port)).unwrap_or_default();
                    match short {
                        0 => {}
                        1 => return Some(format!("{}  {ip}{port}", service.name)),
                        _ => return Some(service.name.clone()),
                    }
                    // The other addresses the Service answers on ride along: a packet to them meets
                    // the same Service's rules.
                    let mut label = format!("Service {}/{}  {ip}{port}", service.namespace, service.name);
                    for lb in &service.load_balancer_ips {
                        label.push_str(&format!(" · LB {lb}"));
                    }
                    for external in &service.external_ips {
                        label.push_str(&format!(" · externalIP {external}"));
                    }
                    if let Some(node_port) = service.ports.first().and_then(|port| port.node_port) {
                        label.push_str(&format!(" · nodePort {node_port}"));
                    }
                    Some(label)
                })
                .collect()
        };
        // Each pill is as wide as its label (at 12 px, 600 weight) or the note under it, and the
        // row of pills is centred.
        let note = text_width(i18n::text(Lang::Zh).vip_note, 11.0).max(text_width(i18n::text(Lang::En).vip_note, 11.0));
        let gap = 16.0;
        // The clients sit on the same row, from the left.
        let clients_end = out.clients.last().map(|(_, _, x)| x + 140.0 + gap).unwrap_or(0.0);
        let row = |labels: &[String], note: f64| -> (Vec<f64>, f64) {
            let widths: Vec<f64> = labels.iter().map(|label| text_width(label, 12.5).max(note) + 24.0).collect();
            let total = widths.iter().sum::<f64>() + gap * (widths.len().saturating_sub(1)) as f64;
            (widths, total)
        };
        let room = WIDTH - 10.0 - clients_end;
        let mut services = labels(0);
        let (mut widths, mut total) = row(&services, note);
        if total > room {
            services = labels(1);
            (widths, total) = row(&services, note);
        }
        if total > room {
            (widths, total) = row(&services, 0.0);
            out.service_notes = false;
        }
        if total > room {
            services = labels(2);
            (widths, total) = row(&services, 0.0);
        }
        let mut x = ((WIDTH - total) / 2.0).max(clients_end);
        for (label, w) in services.into_iter().zip(widths) {
            out.services.push((label, x + w / 2.0, w));
            x += w + gap;
        }
    }
    out
}

/// A pod's name as its pill has `room` for (20 characters, 16 beside a sidecar): whole, else its start and its
/// generated suffix around an ellipsis (`ingress-nginx-…-fq7qf`); the whole name is the title.
fn short_name(name: &str, room: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= room {
        return name.to_string();
    }
    let tail = name.rsplit('-').next().map_or(5, |suffix| suffix.chars().count().min(8)).min(room / 2);
    let head: String = chars[..room - tail - 1].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{head}…{end}")
}

/// About how wide `text` is drawn at `size` px: CJK characters are square, the rest (sans or
/// monospace) about 0.6 em.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(|c| if c > '\u{2e80}' { size } else { size * 0.6 }).sum()
}

fn hook_x(node: &NodeBox, hook: &str) -> f64 {
    let slot = HOOKS.iter().position(|(name, _)| *name == hook).unwrap_or(2) as f64;
    node.x + 10.0 + (node.w - 20.0) * (slot + 0.5) / HOOKS.len() as f64
}

fn find_pod(layout: &Layout, ip: Ipv4Addr) -> Option<&PodBox> {
    layout.nodes.iter().flat_map(|node| node.pods.iter()).find(|pod| pod.ip == Some(ip))
}

fn node_of<'a>(layout: &'a Layout, name: &str) -> Option<&'a NodeBox> {
    let bare = name.strip_prefix("node/").unwrap_or(name);
    layout.nodes.iter().find(|node| node.name == bare).or_else(|| {
        let pod = name.strip_prefix("pod/").unwrap_or(name);
        layout.nodes.iter().find(|node| node.pods.iter().any(|candidate| candidate.name == pod))
    })
}

/// Where the part of the dataplane that is not a netfilter hook is drawn inside a node, top right:
/// kube-proxy's own socket in userspace mode, IPVS's virtual server table in IPVS mode.
fn engine_at(node: &NodeBox) -> (f64, f64) {
    (node.x + node.w - 60.0, TOP + 24.0)
}

/// Where the packet is drawn for step `index`.
fn packet_at(layout: &Layout, scenario: &Scenario, index: usize) -> (f64, f64) {
    let steps = &scenario.trace.steps;
    let Some(step) = steps.get(index) else { return (WIDTH / 2.0, 30.0) };
    let tuple = step.after.tuple().ok();
    // A pod sends and receives at its left end, which its name and address leave clear.
    let pod_center = |ip: Ipv4Addr| find_pod(layout, ip).map(|pod| (pod.x, pod.y + 15.0));
    let client_at =
        |ip: Ipv4Addr| layout.clients.iter().find(|(_, client, _)| *client == ip).map(|(_, _, x)| (*x + 70.0, 30.0));
    let node = node_of(layout, &step.node);
    let userspace = scenario.mode == Some(ProxyMode::Userspace);
    match step.kind {
        StepKind::Send => {
            if let Some(at) = tuple.and_then(|tuple| pod_center(*tuple.src.ip()).or_else(|| client_at(*tuple.src.ip())))
            {
                return at;
            }
        }
        StepKind::Deliver => {
            if let Some(at) = tuple.and_then(|tuple| pod_center(*tuple.dst.ip()).or_else(|| client_at(*tuple.dst.ip())))
            {
                return at;
            }
        }
        StepKind::Wire => {
            // A wire step happens on the sending host; the next step is on the receiving one.
            let receiver = steps.get(index + 1).map(|next| next.node.as_str()).unwrap_or_default();
            let pod_named = |name: &str| {
                let name = name.strip_prefix("pod/").unwrap_or(name);
                layout.nodes.iter().flat_map(|node| node.pods.iter()).find(|pod| pod.name == name)
            };
            match (node, node_of(layout, receiver)) {
                // Between a pod and its own node the link is the pod's veth, drawn in the node's
                // left margin, level with the gap between the hooks and the pods.
                (Some(from), Some(to)) if from.name == to.name => {
                    if pod_named(&step.node).or_else(|| pod_named(receiver)).is_some() {
                        return (to.x + POD_LEFT / 2.0, TOP + LANE + 14.0);
                    }
                }
                // Between two nodes: on the network, halfway.
                (Some(from), Some(to)) => {
                    return ((from.x + from.w / 2.0 + to.x + to.w / 2.0) / 2.0, TOP + layout.node_h + 16.0);
                }
                // From a host outside the cluster: halfway to the node it enters.
                (None, Some(to)) => {
                    if let Some((x, y)) = tuple.and_then(|tuple| client_at(*tuple.src.ip())) {
                        return ((x + hook_x(to, "PREROUTING")) / 2.0, (y + TOP) / 2.0);
                    }
                }
                // Back out to a host outside the cluster.
                (Some(from), None) => {
                    if let Some((x, y)) = tuple.and_then(|tuple| client_at(*tuple.dst.ip())) {
                        return ((x + hook_x(from, "POSTROUTING")) / 2.0, (y + TOP) / 2.0);
                    }
                }
                (None, None) => {}
            }
        }
        _ => {}
    }
    // userspace mode: the relay's steps, and what the node itself sends or receives, happen at
    // kube-proxy's socket. IPVS mode: IPVS schedules and rewrites in its own box (it hooks
    // LOCAL_IN and LOCAL_OUT, after netfilter's filter table; ip_vs_out un-NATs the replies).
    let at_engine = (userspace && matches!(step.kind, StepKind::Proxy | StepKind::Send | StepKind::Deliver))
        || step.kind == StepKind::Ipvs;
    if at_engine && let Some(node) = node.filter(|node| node.name == step.node) {
        return engine_at(node);
    }
    match node {
        Some(node) => {
            let x = match (step.kind, step.hook) {
                (_, Some(hook)) => hook_x(node, hook),
                (StepKind::Routing, None) => (hook_x(node, "PREROUTING") + hook_x(node, "FORWARD")) / 2.0,
                _ => node.x + node.w / 2.0,
            };
            (x, TOP + LANE)
        }
        None => (WIDTH / 2.0, 30.0),
    }
}

#[derive(Properties, PartialEq)]
pub struct TopologyProps {
    pub lang: Lang,
    pub scenario: ScenarioRef,
    pub step: usize,
    /// Whether the pane is the one shown (on narrow screens panes are tabs); scrolling to the
    /// packet waits until it is.
    #[prop_or(true)]
    pub shown: bool,
}

/// The topology pane.
#[component]
pub fn Topology(props: &TopologyProps) -> Html {
    let text = i18n::text(props.lang);
    let scenario = &props.scenario;
    let layout = use_memo(scenario.clone(), |scenario| layout(scenario));
    let steps = &scenario.trace.steps;
    let current = steps.get(props.step);
    let (px, py) = packet_at(&layout, scenario, props.step);
    // The path so far: every position up to the selected step, original and reply apart.
    // A proxied walk draws each connection's trail apart, so the proxy's own connection shows
    // as a second line rather than a continuation of the client's.
    let trail = |direction: Direction, connection: Option<u8>| -> String {
        let mut points: Vec<String> = Vec::new();
        for (index, step) in steps.iter().enumerate().take(props.step + 1) {
            if step.direction == direction && step.connection.map(|n| n.min(1)) == connection {
                let (x, y) = packet_at(&layout, scenario, index);
                let point = format!("{x:.1},{y:.1}");
                if points.last() != Some(&point) {
                    points.push(point);
                }
            }
        }
        points.join(" ")
    };
    let connections = view::connections(steps);
    let split = !connections.is_empty();
    let (client_leg, proxy_leg) = if split { (Some(0), Some(1)) } else { (None, None) };
    let trail_original = trail(Direction::Original, client_leg);
    let trail_reply = trail(Direction::Reply, client_leg);
    let (proxy_original, proxy_reply) = if split {
        (trail(Direction::Original, proxy_leg), trail(Direction::Reply, proxy_leg))
    } else {
        (String::new(), String::new())
    };
    let current_connection = current.and_then(|step| step.connection);
    // The chosen endpoint lights up once a step has sent the packet to it (a DNAT, IPVS, or
    // userspace kube-proxy's dial, which may move on to the next pod after a refusal).
    let chosen: Option<Ipv4Addr> = steps.iter().take(props.step + 1).rev().find_map(|step| {
        let ip = *step.after.tuple().ok()?.dst.ip();
        (step.direction == Direction::Original && find_pod(&layout, ip).is_some_and(|pod| pod.endpoint)).then_some(ip)
    });
    let label = current.map(|step| view::addresses(&step.after)).unwrap_or_default();
    let reply = current.is_some_and(|step| step.direction == Direction::Reply);
    // Where the label rides, so that it covers neither the lit hook's name nor a pod's. At userspace
    // kube-proxy's socket or IPVS (top right of a node): above, in the gap between the Service pills
    // and the node's title. At a hook: below, in the node's lane between the hooks and the pods. At a
    // pod that sends or receives: in the same lane, above the pods. On a pod's veth (between the pod
    // and the hooks): beside the packet. Outside the nodes: above the packet.
    let at_proxy =
        current.and_then(|step| node_of(&layout, &step.node)).is_some_and(|node| (px, py) == engine_at(node));
    let inside = layout.nodes.iter().any(|node| px > node.x && px < node.x + node.w)
        && py > TOP + LANE
        && py < TOP + layout.node_h;
    let at_pod = inside && current.is_some_and(|step| matches!(step.kind, StepKind::Send | StepKind::Deliver));
    let label_w = label.chars().count() as f64 * 6.6 + 30.0;
    let centred = (px - label_w / 2.0).clamp(4.0, (WIDTH - 4.0 - label_w).max(4.0)) - px;
    let beside = if px + 12.0 + label_w <= WIDTH - 4.0 { 12.0 } else { -12.0 - label_w };
    let (label_x, label_y) = if at_proxy {
        (centred, -38.0)
    } else if at_pod {
        (centred, TOP + LANE + 9.0 - py)
    } else if inside {
        (beside, -10.0)
    } else if (py - (TOP + LANE)).abs() < 0.5 {
        (centred, 9.0)
    } else {
        (centred, -31.0)
    };
    // A step that rewrote an address marks the label, where the rewrite happened.
    let rewrote = current.is_some_and(|step| view::rewrite_summary(step).is_some());
    let active_node = current.and_then(|step| node_of(&layout, &step.node)).map(|node| node.name.clone());
    let height = TOP + layout.node_h + 36.0;
    let dataplane = match scenario.mode.map(|mode| mode.as_str()) {
        Some("ipvs") => "netfilter + IPVS (kube-ipvs0)",
        Some("nftables") => "netfilter (nftables: table ip kube-proxy)",
        Some("userspace") => "netfilter REDIRECT",
        _ => "netfilter (iptables)",
    };
    let engine = match scenario.mode {
        Some(ProxyMode::Userspace) => Some("kube-proxy".to_string()),
        Some(ProxyMode::Ipvs) => Some(format!("IPVS {}", scenario.ipvs_scheduler())),
        _ => None,
    };
    // On a narrow screen the drawing keeps a readable size and scrolls sideways: keep the packet in view.
    let frame = use_node_ref();
    {
        let frame = frame.clone();
        use_effect_with((props.step, props.scenario.id.clone(), props.shown), move |_| {
            if let Some(frame) = frame.cast::<web_sys::HtmlElement>() {
                let overflow = frame.scroll_width() - frame.client_width();
                if overflow > 0 {
                    let at = (px / WIDTH * f64::from(frame.scroll_width())) as i32 - frame.client_width() / 2;
                    frame.set_scroll_left(at.clamp(0, overflow));
                }
            }
        });
    }
    html! {
        <div class="topology-frame" ref={frame}>
        <svg class="topology" viewBox={format!("0 0 {WIDTH} {height}")} role="img" data-testid="topology"
            aria-label={format!("{}: {}", text.topology, label)} preserveAspectRatio="xMidYMid meet">
            for (name, ip, x) in layout.clients.iter() {
                <g class="client">
                    <rect x={x.to_string()} y="8" width="140" height="40" rx="6" />
                    <text x={(x + 70.0).to_string()} y="24" text-anchor="middle" class="name">{ format!("client/{name}") }</text>
                    <text x={(x + 70.0).to_string()} y="40" text-anchor="middle" class="ip">{ ip.to_string() }</text>
                </g>
            }
            for (label, x, w) in layout.services.iter() {
                <g class="service">
                    <rect x={(x - w / 2.0).to_string()} y="8" width={w.to_string()} height="40" rx="20" />
                    <text x={x.to_string()} y="24" text-anchor="middle" class="name">{ label.clone() }</text>
                    if layout.service_notes {
                        <text x={x.to_string()} y="40" text-anchor="middle" class="ip">{ text.vip_note }</text>
                    }
                </g>
            }
            <line class="network" x1="10" x2={(WIDTH - 10.0).to_string()} y1={(TOP + layout.node_h + 16.0).to_string()} y2={(TOP + layout.node_h + 16.0).to_string()} />
            for node in layout.nodes.iter() {
                { node_box(node, layout.node_h, active_node.as_deref() == Some(node.name.as_str()), current.and_then(|step| step.hook), chosen, text, dataplane) }
                if let Some(engine) = &engine {
                    <g class="proxy-sock">
                        <rect x={(engine_at(node).0 - 52.0).to_string()} y={(TOP + 10.0).to_string()} width="104" height="28" rx="4" />
                        <text x={engine_at(node).0.to_string()} y={(TOP + 28.0).to_string()} text-anchor="middle">{ engine.clone() }</text>
                    </g>
                }
            }
            <polyline class="trail" points={trail_original} />
            <polyline class="trail reply" points={trail_reply} />
            if split {
                <polyline class="trail leg2" points={proxy_original} />
                <polyline class="trail reply leg2" points={proxy_reply} />
            }
            <g class={classes!("packet", reply.then_some("reply"), rewrote.then_some("rewrote"))} style={format!("transform: translate({px:.1}px, {py:.1}px)")} data-testid="packet">
                <circle r="7" />
                <g class="packet-label">
                    <rect x={format!("{label_x:.1}")} y={label_y.to_string()} width={format!("{label_w:.1}")} height="20" rx="4" />
                    <text x={format!("{:.1}", label_x + label_w / 2.0)} y={(label_y + 14.0).to_string()} text-anchor="middle">
                        { if rewrote { format!("✎ {label}") } else { label.clone() } }
                    </text>
                </g>
            </g>
        </svg>
        if split {
            <ol class="connections" data-testid="connections" aria-label={text.conn_legend}>
                for conn in connections.iter() {
                    <li class={classes!(format!("conn-{}", conn.number.min(2)), (current_connection == Some(conn.number)).then_some("current"))}>
                        <span class="conn">{ view::connection_mark(conn.number) }</span>
                        { format!(" {} · {}", (text.connection_n)(conn.number), conn.addresses) }
                    </li>
                }
            </ol>
        }
        </div>
    }
}

fn node_box(
    node: &NodeBox,
    height: f64,
    active: bool,
    hook: Option<&str>,
    chosen: Option<Ipv4Addr>,
    text: &i18n::Texts,
    dataplane: &'static str,
) -> Html {
    let title = match node.ip {
        Some(ip) => format!("{}  {ip}", node.name),
        None => node.name.clone(),
    };
    html! {
        <g class={classes!("node", active.then_some("active"))}>
            <rect x={node.x.to_string()} y={TOP.to_string()} width={node.w.to_string()} height={height.to_string()} rx="8" />
            <text x={(node.x + 10.0).to_string()} y={(TOP + 18.0).to_string()} class="name">{ title }</text>
            <text x={(node.x + 10.0).to_string()} y={(TOP + 36.0).to_string()} class="sub">{ dataplane }</text>
            for (name, short) in HOOKS {
                { hook_box(node, name, short, active && hook == Some(name)) }
            }
            for pod in node.pods.iter() {
                { pod_box(pod, chosen.is_some() && pod.ip == chosen, text) }
            }
        </g>
    }
}

fn hook_box(node: &NodeBox, name: &str, short: &str, on: bool) -> Html {
    let cx = hook_x(node, name);
    let w = ((node.w - 20.0) / HOOKS.len() as f64 - 4.0).max(20.0);
    html! {
        <g class={classes!("hook", on.then_some("on"))}>
            <title>{ name.to_string() }</title>
            <rect x={(cx - w / 2.0).to_string()} y={(TOP + 48.0).to_string()} width={w.to_string()} height="28" rx="4" />
            <text x={cx.to_string()} y={(TOP + 66.0).to_string()} text-anchor="middle">{ short.to_string() }</text>
        </g>
    }
}

fn pod_box(pod: &PodBox, chosen: bool, text: &i18n::Texts) -> Html {
    let ip = pod.ip.map(|ip| ip.to_string()).unwrap_or_default();
    let mut tag = if chosen {
        format!("✓ {}", text.chosen)
    } else if pod.endpoint {
        text.endpoint.to_string()
    } else {
        String::new()
    };
    if let Some(weight) = pod.weight {
        tag.push_str(&format!(" · {} {weight}", text.weight));
    }
    // A sidecar's box takes the pill's right end; the name and address move left of it.
    let (name_x, room) = if pod.sidecar { (pod.x + 50.0, 16) } else { (pod.x + 60.0, 20) };
    html! {
        <g class={classes!("pod", pod.endpoint.then_some("endpoint"), chosen.then_some("chosen"))}>
            <rect x={pod.x.to_string()} y={pod.y.to_string()} width="120" height="30" rx="15" />
            <text x={format!("{name_x}")} y={(pod.y + 13.0).to_string()} text-anchor="middle" class="name">
                <title>{ pod.name.clone() }</title>{ short_name(&pod.name, room) }
            </text>
            <text x={format!("{name_x}")} y={(pod.y + 25.0).to_string()} text-anchor="middle" class="ip">{ ip }</text>
            if pod.sidecar {
                // Envoy in the pod's own network namespace, beside the app.
                <g class="sidecar">
                    <title>{ text.sidecar_title }</title>
                    <rect x={(pod.x + 98.0).to_string()} y={(pod.y + 7.0).to_string()} width="18" height="16" rx="3" />
                    <text x={(pod.x + 107.0).to_string()} y={(pod.y + 19.0).to_string()} text-anchor="middle">{ "E" }</text>
                </g>
            }
            if !tag.is_empty() {
                <text x={(pod.x + 128.0).to_string()} y={(pod.y + 19.0).to_string()} class="tag">{ tag }</text>
            }
        </g>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_long_pod_names_keep_their_start_and_suffix() {
        assert_eq!(short_name("web-a", 20), "web-a");
        assert_eq!(short_name("s1-69b5754dd5-v42hs", 20), "s1-69b5754dd5-v42hs");
        let short = short_name("ingress-nginx-controller-84dbc75bfb-fq7qf", 20);
        assert_eq!(short, "ingress-nginx-…fq7qf");
        assert_eq!(short.chars().count(), 20);
        assert_eq!(short_name("s1-69b5754dd5-v42hs", 16), "s1-69b5754…v42hs");
    }

    #[test]
    fn test_every_lessons_service_row_fits_the_drawing() {
        for builtin in lbplay_core::lessons::all() {
            let layout = layout(&crate::run::load_builtin(builtin.id));
            for (label, x, w) in &layout.services {
                assert!(x - w / 2.0 >= 0.0 && x + w / 2.0 <= WIDTH, "{}: {label} at {x} ± {w}", builtin.id);
            }
        }
    }
}
