//! The command line's grammar: one clap (derive) struct per subcommand, nothing else.
//!
//! Every subcommand's arguments are a struct of its own, built from small shared pieces
//! (`Inputs`, `Walk`, `Output`) flattened into it, so an option is added in one place and shows
//! up in `--help`, in the errors and in the shell completions at once. File names and paths are
//! `PathBuf`s, so a name that is not UTF-8 still opens; the other values are checked and turned
//! into the core's types here, so an error names the flag it is about.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use lbplay_core::Lang;
use lbplay_core::http::Header;
use lbplay_core::http::url::Resolve;
use lbplay_core::model::ProxyMode;
use lbplay_core::net::Proto;

/// The most connections one `lbplay send` opens.
///
/// The walk takes about 25 µs per connection in a release build and 0.3 ms in a debug build, so
/// this many take a few seconds (or under a minute unoptimized) and the JSON of their rows stays
/// under 100 MB; a larger count is refused rather than left running for minutes.
pub(crate) const MAX_CONNECTIONS: u64 = 100_000;

/// The exit statuses, shown at the end of every `--help`.
pub(crate) const EXIT_STATUS: &str = "\
Exit status:
  0  done (for trace: the packet reached its destination and the reply came back)
  1  the scenario loaded but the request could not be carried out: the walk refused it
     (e.g. --from pod/nope), `trace` saw its packet dropped (the trace is still printed),
     an unknown --node, or `pcap -o` would overwrite an input
  2  bad input: the command line, an unreadable file, or a scenario that does not load

A closed standard output (`lbplay trace … | head`) is not an error: lbplay stops writing and
exits with the status it would have had.";

const INPUTS: &str = "\
FILE is a YAML file, `-` for standard input, the id of a built-in scenario, or a share
link of the playground (http://…/#v=1&y=…, quoted for the shell) or its bare y= value.
SRC is pod/NAME, node/NAME, client/NAME or an IP; DST is IP:PORT or an http:// URL
(http://web.default.svc.cluster.local/hello), whose name resolves as a client there would:
through cluster DNS from a pod, or as --resolve says.";

/// lbplay — see how Kubernetes load balancing really works.
#[derive(Debug, Parser)]
#[command(name = "lbplay", version, arg_required_else_help = true, after_help = after_help())]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the built-in scenarios, or print one's YAML.
    #[command(after_help = EXIT_STATUS)]
    Scenarios(ScenariosArgs),
    /// Load manifests and print the model kube-proxy would see.
    #[command(after_help = after_help())]
    Check(CheckArgs),
    /// Print the dataplane state kube-proxy leaves on a node.
    #[command(after_help = after_help())]
    Rules(RulesArgs),
    /// Walk one connection's first packet there and back.
    #[command(after_help = after_help())]
    Trace(TraceArgs),
    /// Open N connections and count which backend served each.
    #[command(after_help = after_help())]
    Send(SendArgs),
    /// Write the trace's packets, as they crossed each link, to a pcap file.
    #[command(after_help = after_help())]
    Pcap(PcapArgs),
    /// One Service under each kube-proxy mode side by side, or (--scaling) the rules per mode for
    /// growing numbers of Services.
    #[command(after_help = after_help())]
    Compare(CompareArgs),
    /// Print a shell completion script (e.g. `lbplay completions bash > ~/.local/share/bash-completion/completions/lbplay`).
    #[command(after_help = EXIT_STATUS)]
    Completions(CompletionsArgs),
}

fn after_help() -> String {
    format!("{INPUTS}\n\n{EXIT_STATUS}")
}

/// The scenario files every command but `scenarios` reads.
#[derive(Debug, Args)]
pub(crate) struct Inputs {
    /// YAML files, `-` for standard input, built-in scenario ids, or share links (or their y= values).
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// The connection a walk makes: `trace`, `send` and `pcap` share it.
#[derive(Debug, Args)]
pub(crate) struct Walk {
    /// Where the connection starts: pod/NAME, node/NAME, client/NAME or an IP; when absent, the
    /// walk a share link or a built-in lesson among the inputs carries.
    #[arg(long = "from", value_name = "SRC")]
    pub(crate) from_flag: Option<String>,
    /// Where it goes: IP:PORT, or an http:// URL for an HTTP/1.1 request; when absent, as --from.
    #[arg(long = "to", value_name = "DST")]
    pub(crate) to_flag: Option<String>,
    /// The walk's start: `--from`, else the inputs' (set by `Walk::fill`).
    #[arg(skip)]
    pub(crate) from: String,
    /// The walk's destination: `--to`, else the inputs'.
    #[arg(skip)]
    pub(crate) to: String,
    /// The request method, for a URL (curl's -X).
    #[arg(long, short = 'X', value_name = "METHOD", default_value = "GET")]
    pub(crate) method: String,
    /// A request header, for a URL, as curl's -H takes it ('Name: value'; 'Name:' removes it).
    #[arg(long, short = 'H', value_name = "NAME: VALUE", value_parser = header)]
    pub(crate) header: Vec<Header>,
    /// The address a name has on a port, as curl's --resolve (HOST:PORT:ADDRESS).
    #[arg(long, value_name = "HOST:PORT:ADDRESS", value_parser = resolve)]
    pub(crate) resolve: Vec<Resolve>,
    /// The transport protocol [default: tcp, or the lesson's own when the walk is the lesson's].
    #[arg(long, value_enum, ignore_case = true)]
    pub(crate) proto: Option<ProtoArg>,
    /// The seed of every random choice (xt_statistic draws, ephemeral ports).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) seed: u64,
    /// kube-proxy's mode, instead of the scenario's own.
    #[arg(long, value_enum)]
    pub(crate) mode: Option<Mode>,
}

/// How a result is printed.
#[derive(Debug, Args)]
pub(crate) struct Output {
    /// Text for people, JSON for programs.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ScenariosArgs {
    /// Print the YAML of the built-in scenario ID.
    #[arg(long, value_name = "ID")]
    pub(crate) show: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
}

/// The `istioctl proxy-config` views `rules --pod --envoy` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EnvoyView {
    /// `istioctl proxy-config cluster`: the sidecar's outbound clusters.
    Clusters,
}

#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    /// The node whose rules to print; the first node when absent.
    #[arg(long, value_name = "NAME", conflicts_with = "pod")]
    pub(crate) node: Option<String>,
    /// Print the nat table istio-init writes in this pod's network namespace instead
    /// (`NAME` or `NAMESPACE/NAME`; the pod must have an Istio sidecar).
    #[arg(long, value_name = "NAME")]
    pub(crate) pod: Option<String>,
    /// With --pod: print this view of the pod's sidecar Envoy configuration, as
    /// `istioctl proxy-config` does, instead of its nat table.
    #[arg(long, value_enum, requires = "pod")]
    pub(crate) envoy: Option<EnvoyView>,
    /// kube-proxy's mode, instead of the scenario's own.
    #[arg(long, value_enum)]
    pub(crate) mode: Option<Mode>,
    /// Print the nginx configuration ingress-nginx renders for the scenario's Ingresses instead.
    #[arg(long, conflicts_with_all = ["node", "mode", "pod"])]
    pub(crate) ingress: bool,
    #[command(flatten)]
    pub(crate) inputs: Inputs,
}

#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    #[command(flatten)]
    pub(crate) walk: Walk,
    /// The simulated time, in seconds, at which the connection opens.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub(crate) now: u64,
    /// For h2c:// and grpc://: how many requests ride the traced connection, as HTTP/2 streams
    /// 1, 3, 5 …
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) streams: u64,
    #[command(flatten)]
    pub(crate) output: Output,
    /// The language of the narration.
    #[arg(long, value_enum, default_value_t = LangArg::En)]
    pub(crate) lang: LangArg,
    #[command(flatten)]
    pub(crate) inputs: Inputs,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    pub(crate) walk: Walk,
    /// How many connections to open, one second apart; with --requests, the keep-alive
    /// connections each client keeps.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = connections)]
    pub(crate) connections: u64,
    /// For a URL: how many HTTP requests each client sends, request i on its connection i mod N
    /// (for h2c:// and grpc://, as streams 1, 3, 5 … of that connection).
    #[arg(long, value_name = "N", value_parser = requests)]
    pub(crate) requests: Option<u64>,
    /// For grpc://: the client channel's load-balancing policy, pick_first (grpc's default) or
    /// round_robin (one connection per address the name resolves to).
    #[arg(long, value_name = "POLICY", default_value = "pick_first", value_parser = grpc_lb)]
    pub(crate) grpc_lb: lbplay_core::walk::GrpcLb,
    /// For a URL: how many clients send, --from and the other pods with its labels.
    #[arg(long, value_name = "K", default_value_t = 1, requires = "requests", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub(crate) clients: u64,
    /// Keep each connection open instead of closing it before the next (IPVS's lc, wlc, sed and
    /// nq count open connections).
    #[arg(long)]
    pub(crate) keep: bool,
    #[command(flatten)]
    pub(crate) output: Output,
    #[command(flatten)]
    pub(crate) inputs: Inputs,
}

#[derive(Debug, Args)]
pub(crate) struct PcapArgs {
    #[command(flatten)]
    pub(crate) walk: Walk,
    /// The simulated time, in seconds, at which the connection opens.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub(crate) now: u64,
    /// For h2c:// and grpc://: how many requests ride the connection, as streams 1, 3, 5 …
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) streams: u64,
    /// The pcap file to write (never one of the inputs).
    #[arg(short, long, value_name = "FILE.pcap")]
    pub(crate) output: PathBuf,
    #[command(flatten)]
    pub(crate) inputs: Inputs,
}

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The Service to compare, as NAMESPACE/NAME; the first Service with a ClusterIP when absent.
    #[arg(long, value_name = "NS/NAME")]
    pub(crate) service: Option<String>,
    /// Where the connection starts: pod/NAME, node/NAME, client/NAME or an IP.
    #[arg(long, value_name = "SRC")]
    pub(crate) from: Option<String>,
    /// The seed of every random choice.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) seed: u64,
    /// Count the rules written and evaluated per mode for many Services instead.
    #[arg(long)]
    pub(crate) scaling: bool,
    /// The numbers of Services for --scaling.
    #[arg(long, value_name = "N,N,…", requires = "scaling", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=100_000),
          default_values_t = [10u32, 100, 1_000, 10_000])]
    pub(crate) sizes: Vec<u32>,
    /// YAML files, `-` for standard input, built-in scenario ids, or share links (or their y= values).
    #[arg(value_name = "FILE", required_unless_present = "scaling")]
    pub(crate) files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// `--requests`: a whole number from 1 to the core's limit of requests in one send.
fn requests(text: &str) -> Result<u64, String> {
    let n: u64 = text.parse().map_err(|_| format!("`{text}` is not a whole number"))?;
    if n == 0 {
        return Err("send at least one request".into());
    }
    if n > lbplay_core::walk::MAX_REQUESTS as u64 {
        return Err(format!("at most {} requests in one send", lbplay_core::walk::MAX_REQUESTS));
    }
    Ok(n)
}

/// `--grpc-lb`: a policy lbplay models.
fn grpc_lb(text: &str) -> Result<lbplay_core::walk::GrpcLb, String> {
    lbplay_core::walk::GrpcLb::parse(text)
}

/// `--connections`: a whole number from 1 to [`MAX_CONNECTIONS`].
fn connections(text: &str) -> Result<u64, String> {
    let n: u64 = text.parse().map_err(|_| format!("`{text}` is not a whole number"))?;
    if n == 0 {
        return Err("at least one connection is needed".to_string());
    }
    if n > MAX_CONNECTIONS {
        return Err(format!("at most {MAX_CONNECTIONS} connections: more would run for minutes"));
    }
    Ok(n)
}

/// `--header`: curl's `Name: value`.
fn header(text: &str) -> Result<Header, String> {
    Header::parse_arg(text).map_err(|err| err.0)
}

/// `--resolve`: curl's `HOST:PORT:ADDRESS`.
fn resolve(text: &str) -> Result<Resolve, String> {
    Resolve::parse_arg(text).map_err(|err| err.0)
}

/// kube-proxy's `--proxy-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    Iptables,
    Ipvs,
    Nftables,
    Userspace,
}

impl From<Mode> for ProxyMode {
    fn from(mode: Mode) -> ProxyMode {
        match mode {
            Mode::Iptables => ProxyMode::Iptables,
            Mode::Ipvs => ProxyMode::Ipvs,
            Mode::Nftables => ProxyMode::Nftables,
            Mode::Userspace => ProxyMode::Userspace,
        }
    }
}

/// The transports a walk can use (SCTP is modelled in rules only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProtoArg {
    Tcp,
    Udp,
}

impl From<ProtoArg> for Proto {
    fn from(proto: ProtoArg) -> Proto {
        match proto {
            ProtoArg::Tcp => Proto::Tcp,
            ProtoArg::Udp => Proto::Udp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LangArg {
    En,
    Zh,
}

impl From<LangArg> for Lang {
    fn from(lang: LangArg) -> Lang {
        match lang {
            LangArg::En => Lang::En,
            LangArg::Zh => Lang::Zh,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }
}
