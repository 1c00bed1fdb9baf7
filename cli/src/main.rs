//! `lbplay`: the command line over lbplay-core, for terminals, docs and tests.
//!
//! It only reads files, calls the core and prints; every decision is the core's. Output goes to
//! standard output, problems to standard error with a non-zero exit (design.md, "Contract: the
//! `lbplay` command line").

mod compare;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::ExitCode;

use lbplay_core::model::ProxyMode;
use lbplay_core::net::Proto;
use lbplay_core::scenario::{self, Loaded, Severity, Source};
use lbplay_core::walk::{self, Request};
use lbplay_core::{Lang, kubeproxy, lessons};
use serde_json::json;

const USAGE: &str = "\
lbplay — see how Kubernetes load balancing really works

usage:
  lbplay scenarios [--show ID]                 list the built-in scenarios, or print one's YAML
  lbplay check FILE…                           load manifests and print the model kube-proxy would see
  lbplay rules [--node NAME] [--mode MODE] FILE…
                                               the dataplane state kube-proxy leaves on a node
  lbplay trace --from SRC --to DST [--mode MODE] [--proto tcp|udp] [--seed N] [--format text|json] [--lang en|zh] FILE…
                                               walk one connection's first packet there and back
  lbplay send --from SRC --to DST --connections N [--mode MODE] [--keep] [--seed N] [--format text|json] FILE…
                                               open N connections and count which backend served each
  lbplay compare [--service NS/NAME] [--from SRC] [--seed N] FILE…
                                               one Service under each kube-proxy mode, side by side
  lbplay compare --scaling [--sizes N,N,…]     rules written and evaluated per mode for 10, 100, 1,000 and 10,000 Services

  lbplay pcap --from SRC --to DST [--mode MODE] [--proto tcp|udp] [--seed N] -o FILE.pcap FILE…
                                               write the trace's packets, as they crossed each link, to a pcap file

FILE is a YAML file, `-` for standard input, or the id of a built-in scenario.
SRC is pod/NAME, node/NAME, client/NAME or an IP; DST is IP:PORT.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{}", message.trim_end());
            ExitCode::from(2)
        }
    }
}

/// Parsed options: flags with values, boolean flags, and the remaining positional arguments.
struct Args {
    values: BTreeMap<String, String>,
    flags: Vec<String>,
    files: Vec<String>,
}

impl Args {
    fn parse(args: &[String], with_value: &[&str], boolean: &[&str]) -> Result<Args, String> {
        let mut out = Args { values: BTreeMap::new(), flags: Vec::new(), files: Vec::new() };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if let Some(name) = arg.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((name, value)) => (name, Some(value.to_string())),
                    None => (name, None),
                };
                if with_value.contains(&name) {
                    let value = match inline {
                        Some(value) => value,
                        None => iter.next().cloned().ok_or_else(|| format!("--{name} needs a value\n\n{USAGE}"))?,
                    };
                    out.values.insert(name.to_string(), value);
                } else if boolean.contains(&name) {
                    out.flags.push(name.to_string());
                } else {
                    return Err(format!("unknown option --{name}\n\n{USAGE}"));
                }
            } else {
                out.files.push(arg.clone());
            }
        }
        Ok(out)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("--{name} is required\n\n{USAGE}"))
    }

    fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| format!("--{name} must be a whole number, not `{text}`")),
        }
    }
}

fn run(args: &[String]) -> Result<String, String> {
    let Some((command, rest)) = args.split_first() else { return Err(USAGE.to_string()) };
    match command.as_str() {
        "scenarios" => scenarios_command(rest),
        "check" => check_command(rest),
        "rules" => rules_command(rest),
        "trace" => trace_command(rest),
        "send" => send_command(rest),
        "pcap" => pcap_command(rest),
        "compare" => compare_command(rest),
        "help" | "--help" | "-h" => Ok(USAGE.to_string()),
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    }
}

fn scenarios_command(args: &[String]) -> Result<String, String> {
    let args = Args::parse(args, &["show"], &[])?;
    if let Some(id) = args.get("show") {
        let builtin =
            lessons::get(id).ok_or_else(|| format!("no built-in scenario `{id}`; `lbplay scenarios` lists them"))?;
        return Ok(builtin.yaml.to_string());
    }
    let mut out = String::new();
    for builtin in lessons::all() {
        out.push_str(&format!("{:<28} {}\n", builtin.id, builtin.title_en));
    }
    Ok(out)
}

/// Reads the inputs: files, `-` for standard input, or built-in scenario ids.
fn read_inputs(files: &[String]) -> Result<Vec<(String, String)>, String> {
    if files.is_empty() {
        return Err(format!(
            "no input: give a YAML file, `-` for standard input, or a built-in scenario id\n\n{USAGE}"
        ));
    }
    let mut out = Vec::new();
    for file in files {
        if file == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|err| format!("-: cannot read standard input: {err}"))?;
            out.push(("-".to_string(), text));
        } else if !std::path::Path::new(file).exists() && lessons::get(file).is_some() {
            let builtin = lessons::get(file).expect("checked just above");
            out.push((format!("{}.yaml", builtin.id), builtin.yaml.to_string()));
        } else {
            let text = std::fs::read_to_string(file).map_err(|err| format!("{file}: cannot read: {err}"))?;
            out.push((file.clone(), text));
        }
    }
    Ok(out)
}

fn load(files: &[String]) -> Result<Loaded, String> {
    let inputs = read_inputs(files)?;
    let sources: Vec<Source<'_>> = inputs.iter().map(|(name, text)| Source { name, text }).collect();
    match scenario::load(&sources) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("{}", problem_line(warning));
            }
            Ok(loaded)
        }
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(problem_line).collect();
            let errors = problems.iter().filter(|p| p.severity == Severity::Error).count();
            Err(format!("{}\n{errors} error{} in the input", lines.join("\n"), if errors == 1 { "" } else { "s" }))
        }
    }
}

fn problem_line(problem: &scenario::Problem) -> String {
    let severity = match problem.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{}:{}:{}: {severity}: ", problem.file, problem.line, problem.column);
    if let Some(object) = &problem.object {
        out.push_str(&format!("{object}: "));
    }
    if let Some(field) = &problem.field {
        out.push_str(&format!("{field}: "));
    }
    out.push_str(&problem.message);
    out
}

fn check_command(args: &[String]) -> Result<String, String> {
    let args = Args::parse(args, &[], &[])?;
    let loaded = load(&args.files)?;
    Ok(scenario::report(&loaded))
}

fn mode_of(args: &Args, loaded: &Loaded) -> Result<ProxyMode, String> {
    match args.get("mode") {
        None => Ok(loaded.cluster.kube_proxy.mode),
        Some(text) => ProxyMode::parse(text)
            .ok_or_else(|| format!("--mode must be iptables, ipvs, nftables or userspace, not `{text}`")),
    }
}

fn rules_command(args: &[String]) -> Result<String, String> {
    let args = Args::parse(args, &["node", "mode"], &[])?;
    let loaded = load(&args.files)?;
    let mode = mode_of(&args, &loaded)?;
    let node = match args.get("node") {
        Some(node) => node.to_string(),
        None => loaded.cluster.nodes.first().map(|node| node.name.clone()).ok_or("the scenario has no nodes")?,
    };
    if loaded.cluster.node(&node).is_none() {
        let known: Vec<&str> = loaded.cluster.nodes.iter().map(|node| node.name.as_str()).collect();
        return Err(format!("no node named `{node}`; the nodes are {}", known.join(", ")));
    }
    kubeproxy::rules_text(&loaded.cluster, &node, mode)
}

fn proto_of(args: &Args) -> Result<Proto, String> {
    match args.get("proto") {
        None => Ok(Proto::Tcp),
        Some(text) => match Proto::parse(text) {
            Some(Proto::Sctp) | None => Err(format!("--proto must be tcp or udp, not `{text}`")),
            Some(proto) => Ok(proto),
        },
    }
}

fn format_of(args: &Args) -> Result<&str, String> {
    match args.get("format").unwrap_or("text") {
        format @ ("text" | "json") => Ok(format),
        other => Err(format!("--format must be text or json, not `{other}`")),
    }
}

/// The walk `--from`, `--to`, `--proto`, `--seed` and `--now` ask for.
fn request_of(args: &Args) -> Result<Request, String> {
    Ok(Request {
        from: args.required("from")?.to_string(),
        to: args.required("to")?.to_string(),
        proto: proto_of(args)?,
        seed: args.number("seed", 1)?,
        now: args.number("now", 0)?,
    })
}

fn trace_command(args: &[String]) -> Result<String, String> {
    let args = Args::parse(args, &["from", "to", "proto", "seed", "format", "lang", "now", "mode"], &[])?;
    let format = format_of(&args)?;
    let lang = match args.get("lang") {
        None => Lang::En,
        Some(text) => Lang::parse(text).ok_or_else(|| format!("--lang must be en or zh, not `{text}`"))?,
    };
    let mut loaded = load(&args.files)?;
    loaded.cluster.kube_proxy.mode = mode_of(&args, &loaded)?;
    let request = request_of(&args)?;
    let trace = lbplay_core::walk::trace(&loaded.cluster, &request).map_err(|err| err.to_string())?;
    Ok(match format {
        "json" => format!("{}\n", serde_json::to_string_pretty(&trace.to_json()).map_err(|err| err.to_string())?),
        _ => trace.to_text(lang),
    })
}

fn compare_command(args: &[String]) -> Result<String, String> {
    let args = Args::parse(args, &["service", "from", "seed", "sizes"], &["scaling"])?;
    if args.flags.iter().any(|flag| flag == "scaling") {
        let sizes = match args.get("sizes") {
            None => vec![10, 100, 1_000, 10_000],
            Some(text) => text
                .split(',')
                .map(|size| size.trim().parse::<usize>().ok().filter(|n| (1..=100_000).contains(n)))
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| format!("--sizes must be numbers from 1 to 100000 separated by commas, not `{text}`"))?,
        };
        return compare::scaling(&sizes);
    }
    let loaded = load(&args.files)?;
    let options =
        compare::Options { service: args.get("service"), from: args.get("from"), seed: args.number("seed", 1)? };
    compare::compare(&loaded.cluster, &options)
}

fn send_command(args: &[String]) -> Result<String, String> {
    let args = Args::parse(args, &["from", "to", "proto", "seed", "format", "connections", "mode"], &["keep"])?;
    let format = format_of(&args)?;
    let mut loaded = load(&args.files)?;
    loaded.cluster.kube_proxy.mode = mode_of(&args, &loaded)?;
    let from = args.required("from")?;
    let to = args.required("to")?;
    let proto = proto_of(&args)?;
    let connections = args.number("connections", 1)?;
    if connections == 0 || connections > 1_000_000 {
        return Err("--connections must be between 1 and 1000000".into());
    }
    let request = Request { from: from.to_string(), to: to.to_string(), proto, seed: args.number("seed", 1)?, now: 0 };
    let keep = args.flags.iter().any(|flag| flag == "keep");
    let sends = walk::send(&loaded.cluster, &request, connections as usize, keep).map_err(|err| err.to_string())?;
    let counts = &sends.counts;
    let rows: Vec<serde_json::Value> = sends
        .connections
        .iter()
        .map(|sent| json!({"index": sent.index, "backend": sent.backend, "dropped": sent.dropped, "reason": sent.reason}))
        .collect();
    if format == "json" {
        let value = json!({"connections": rows, "counts": counts});
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value).map_err(|err| err.to_string())?));
    }
    let mut out = String::new();
    for row in &rows {
        out.push_str(&format!("{:>6}  {}\n", row["index"], row["backend"].as_str().unwrap_or("")));
    }
    out.push_str("\ncounts:\n");
    for (backend, count) in counts {
        let share = *count as f64 * 100.0 / connections as f64;
        out.push_str(&format!("  {backend:<24} {count:>7}  {share:5.1}%\n"));
    }
    Ok(out)
}

fn pcap_command(args: &[String]) -> Result<String, String> {
    // `-o` is the one short option: rewrite it to the long form the parser knows.
    let args: Vec<String> =
        args.iter().map(|arg| if arg == "-o" { "--output".to_string() } else { arg.clone() }).collect();
    let args = Args::parse(&args, &["from", "to", "proto", "seed", "now", "mode", "output"], &[])?;
    let output = args.required("output")?.to_string();
    let mut loaded = load(&args.files)?;
    loaded.cluster.kube_proxy.mode = mode_of(&args, &loaded)?;
    let request = request_of(&args)?;
    let trace = lbplay_core::walk::trace(&loaded.cluster, &request).map_err(|err| err.to_string())?;
    // A fixed start time (2026-01-01T00:00:00Z) keeps the file the same for the same trace.
    let capture = lbplay_core::pcap::from_trace(&trace, 1_767_225_600);
    let records = trace.steps.iter().filter(|step| step.kind == lbplay_core::StepKind::Wire).count();
    std::fs::write(&output, &capture).map_err(|err| format!("{output}: cannot write: {err}"))?;
    Ok(format!("wrote {records} packets ({} bytes) to {output}\n", capture.len()))
}
