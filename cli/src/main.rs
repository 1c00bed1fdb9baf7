//! `lbplay`: the command line over lbplay-core, for terminals, docs and tests.
//!
//! It only reads files, calls the core and prints; every decision is the core's. The grammar is
//! `args.rs` (clap); this file runs a parsed command. Results go to standard output, problems to
//! standard error, and the exit status says which kind of failure it was (`args::EXIT_STATUS`,
//! design.md, "Contract: the `lbplay` command line"). Nothing here panics on what a user types
//! or pipes: arguments are `OsString`s, reads are capped, and a closed pipe ends the run quietly.

mod args;
mod compare;

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use lbplay_core::http::url::{Scheme, Target};
use lbplay_core::model::ProxyMode;
use lbplay_core::scenario::{self, Loaded, Source};
use lbplay_core::share;
use lbplay_core::walk::{self, Request};
use lbplay_core::{kubeproxy, lessons};
use serde_json::json;

use args::{Cli, Command, Format, Walk};

/// Exit status 1: the scenario loaded, but the request could not be carried out.
const REFUSED: u8 = 1;
/// Exit status 2: bad input (the command line, a file, a scenario that does not load).
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` come here too, with status 0; clap prints them to standard
            // output and errors to standard error, and ignores a closed pipe.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(BAD_INPUT));
        }
    };
    let (output, status) = match run(cli.command) {
        Ok(done) => (done.output, done.status),
        Err(failure) => {
            warn(failure.message.trim_end());
            (Vec::new(), failure.status)
        }
    };
    match write_stdout(&output) {
        // A reader that closed the pipe (`| head`, `| grep -q`) has what it wanted.
        Err(error) if error.kind() == ErrorKind::BrokenPipe => {}
        Err(error) => {
            warn(&format!("cannot write to standard output: {error}"));
            return ExitCode::from(BAD_INPUT);
        }
        Ok(()) => {}
    }
    ExitCode::from(status)
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()
}

/// One line on standard error; a closed standard error is ignored rather than panicked on.
fn warn(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// What a command printed and the status it exits with.
struct Done {
    output: Vec<u8>,
    status: u8,
}

impl Done {
    fn ok(text: String) -> Done {
        Done { output: text.into_bytes(), status: 0 }
    }
}

/// Why a command stopped, and the status that says so.
struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    fn input(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), status: BAD_INPUT }
    }

    fn refused(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), status: REFUSED }
    }
}

fn run(command: Command) -> Result<Done, Failure> {
    match command {
        Command::Scenarios(args) => scenarios_command(&args),
        Command::Check(args) => {
            let loaded = load(&args.inputs.files)?;
            // An object the API server would refuse is bad input, even though the rest loads.
            let rejected = loaded.warnings.iter().any(|p| p.severity == scenario::Severity::Rejected);
            let status = if rejected { BAD_INPUT } else { 0 };
            Ok(Done { output: scenario::report(&loaded).into_bytes(), status })
        }
        Command::Rules(args) => rules_command(&args),
        Command::Trace(mut args) => {
            fill_walk(&mut args.walk, &args.inputs.files)?;
            trace_command(&args)
        }
        Command::Send(mut args) => {
            fill_walk(&mut args.walk, &args.inputs.files)?;
            send_command(&args)
        }
        Command::Pcap(mut args) => {
            fill_walk(&mut args.walk, &args.inputs.files)?;
            pcap_command(&args)
        }
        Command::Compare(args) => compare_command(&args),
        Command::Completions(args) => {
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "lbplay", &mut script);
            Ok(Done { output: script, status: 0 })
        }
    }
}

fn scenarios_command(args: &args::ScenariosArgs) -> Result<Done, Failure> {
    if let Some(id) = &args.show {
        let builtin = lessons::get(id).ok_or_else(|| {
            Failure::input(format!("--show: no built-in scenario `{id}`; `lbplay scenarios` lists them"))
        })?;
        return Ok(Done::ok(builtin.yaml.to_string()));
    }
    let mut out = String::new();
    for builtin in lessons::all() {
        out.push_str(&format!("{:<28} {}\n", builtin.id, builtin.title_en));
    }
    Ok(Done::ok(out))
}

/// Reads at most `limit` bytes from `reader`, refusing a longer stream without reading it all.
fn read_capped(mut reader: impl Read, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.by_ref().take(limit as u64 + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

/// Reads the inputs: files, `-` for standard input, or built-in scenario ids, as (name, text).
fn read_inputs(files: &[PathBuf]) -> Result<Vec<(String, String)>, Failure> {
    let limit = lbplay_core::yaml::MAX_INPUT_BYTES;
    let mut out = Vec::new();
    for file in files {
        let name = file.to_string_lossy().into_owned();
        let bytes = if file.as_os_str() == "-" {
            read_capped(std::io::stdin().lock(), limit)
                .map_err(|err| Failure::input(format!("-: cannot read standard input: {err}")))?
        } else if let Some(builtin) = builtin(file) {
            out.push((format!("{}.yaml", builtin.id), builtin.yaml.to_string()));
            continue;
        } else if let Some(shared) = shared(file) {
            out.push(shared?);
            continue;
        } else {
            let reader =
                std::fs::File::open(file).map_err(|err| Failure::input(format!("{name}: cannot read: {err}")))?;
            read_capped(reader, limit).map_err(|err| Failure::input(format!("{name}: cannot read: {err}")))?
        };
        let Some(bytes) = bytes else {
            return Err(Failure::input(format!(
                "{name}:1:1: error: the input is over lbplay's limit of {limit} bytes (32 MiB); it was not read further"
            )));
        };
        let text = scenario::decode(&name, &bytes).map_err(|problem| Failure::input(problem.to_string()))?;
        out.push((name, text.to_string()));
    }
    Ok(out)
}

/// Sets the walk's `--from` and `--to`: the flags when given, else the first input that carries a
/// walk (a share link's `from=`/`to=`, or a built-in lesson's own walk, named by id or by `s=`).
/// Without either it is bad input, naming the flag.
fn fill_walk(walk: &mut Walk, files: &[PathBuf]) -> Result<(), Failure> {
    let carried = files.iter().find_map(|file| carried_walk(file));
    // A lesson's walk brings its transport too (UDP for the DNS lesson), unless --proto says.
    if walk.proto.is_none() && walk.from_flag.is_none() && walk.to_flag.is_none() {
        let lesson = files.iter().find_map(|file| builtin(file));
        walk.proto = lesson.and_then(|builtin| match builtin.proto {
            lbplay_core::net::Proto::Udp => Some(args::ProtoArg::Udp),
            _ => None,
        });
    }
    let (from, to) = carried.map_or((None, None), |(from, to)| (Some(from), Some(to)));
    walk.from = walk.from_flag.clone().or(from).ok_or_else(|| {
        Failure::input(
            "--from SRC is needed: the inputs carry no walk (a share link with from=, or a lesson id, would)",
        )
    })?;
    walk.to = walk.to_flag.clone().or(to).ok_or_else(|| {
        Failure::input("--to DST is needed: the inputs carry no walk (a share link with to=, or a lesson id, would)")
    })?;
    Ok(())
}

/// The walk an input argument carries: a link's `from=` and `to=` (both, or neither), else the
/// walk of the lesson it names. A file that exists carries none.
fn carried_walk(file: &Path) -> Option<(String, String)> {
    if let Some(builtin) = builtin(file) {
        return Some((builtin.from.to_string(), builtin.to.to_string()));
    }
    if file.exists() {
        return None;
    }
    let link = share::read_link(file.to_str()?).ok()?;
    if let (Some(from), Some(to)) = (link.from, link.to) {
        return Some((from, to));
    }
    let lesson = match link.scenario {
        share::Shared::Lesson(id) => Some(id),
        share::Shared::Yaml(_) => link.origin,
    };
    lessons::get(&lesson?).map(|builtin| (builtin.from.to_string(), builtin.to.to_string()))
}

/// The built-in scenario a file argument names, when no such file exists.
fn builtin(file: &Path) -> Option<&'static lessons::Builtin> {
    if file.exists() {
        return None;
    }
    lessons::get(file.to_str()?)
}

/// The scenario a share link, a fragment or a bare `y=` value names, when the argument is one and
/// no such file exists (design.md, "Contract: URL state"; decoded by `lbplay_core::share`). A
/// link that is refused (broken or over 64 KB once inflated) is bad input, with the reason.
fn shared(file: &Path) -> Option<Result<(String, String), Failure>> {
    if file.exists() {
        return None;
    }
    let text = file.to_str()?;
    let looks_like_link = text.contains('#')
        || text.starts_with("y=")
        || text.starts_with("v=")
        || text.starts_with("http://")
        || text.starts_with("https://");
    // A bare `y=` value: base64url only, and longer than any file name a user would mistype.
    let bare = text.len() >= 16 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !looks_like_link && !bare {
        return None;
    }
    // Long links are shown cut, at a character boundary.
    let shown = match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    };
    Some(match share::read_link(text) {
        Ok(link) => match link.scenario {
            share::Shared::Yaml(yaml) => Ok(("link".to_string(), yaml)),
            share::Shared::Lesson(id) => match lessons::get(&id) {
                Some(builtin) => Ok((format!("{}.yaml", builtin.id), builtin.yaml.to_string())),
                None => Err(Failure::input(format!("{shown}: the link names no lesson `{id}`"))),
            },
        },
        Err(err) => Err(Failure::input(format!("{shown}: {err}"))),
    })
}

fn load(files: &[PathBuf]) -> Result<Loaded, Failure> {
    let inputs = read_inputs(files)?;
    let sources: Vec<Source<'_>> = inputs.iter().map(|(name, text)| Source { name, text }).collect();
    match scenario::load(&sources) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                warn(&warning.to_string());
            }
            Ok(loaded)
        }
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            let errors = problems.iter().filter(|p| p.severity != scenario::Severity::Warning).count();
            Err(Failure::input(format!(
                "{}\n{errors} error{} in the input",
                lines.join("\n"),
                if errors == 1 { "" } else { "s" }
            )))
        }
    }
}

fn mode_of(mode: Option<args::Mode>, loaded: &Loaded) -> ProxyMode {
    mode.map_or(loaded.cluster.kube_proxy.mode, ProxyMode::from)
}

fn rules_command(args: &args::RulesArgs) -> Result<Done, Failure> {
    let loaded = load(&args.inputs.files)?;
    if args.ingress {
        if loaded.extras.ingresses.is_empty() {
            return Err(Failure::refused("--ingress: the scenario has no Ingress, so ingress-nginx renders no server"));
        }
        let config = lbplay_core::ingress::config_for(&loaded.extras);
        return Ok(Done::ok(lbplay_core::ingress::render::render(&config)));
    }
    if let Some(pod) = &args.pod {
        return pod_rules_command(&loaded, pod, args.envoy);
    }
    let mode = mode_of(args.mode, &loaded);
    let node = match &args.node {
        Some(node) => node.clone(),
        None => loaded
            .cluster
            .nodes
            .first()
            .map(|node| node.name.clone())
            .ok_or_else(|| Failure::refused("the scenario has no nodes"))?,
    };
    if loaded.cluster.node(&node).is_none() {
        let known: Vec<&str> = loaded.cluster.nodes.iter().map(|node| node.name.as_str()).collect();
        return Err(Failure::refused(format!("--node: no node named `{node}`; the nodes are {}", known.join(", "))));
    }
    kubeproxy::rules_text(&loaded.cluster, &node, mode).map(Done::ok).map_err(Failure::refused)
}

/// `rules --pod`: the pod's Istio sidecar table. A pod the scenario lacks or that has no sidecar
/// is a request the scenario cannot carry out; a traffic annotation istio-init rejects is bad input.
/// With `--envoy`, the same pod checks come first, then the sidecar's proxy-config view.
fn pod_rules_command(loaded: &Loaded, pod: &str, envoy: Option<args::EnvoyView>) -> Result<Done, Failure> {
    use lbplay_core::mesh::{self, PodRulesError};
    match mesh::pod_rules(&loaded.cluster, &loaded.extras, pod) {
        Ok(_) if envoy == Some(args::EnvoyView::Clusters) => {
            let lines = mesh::proxy_config::clusters(&loaded.cluster.services, &loaded.extras.destination_rules);
            Ok(Done::ok(lines.iter().map(|line| format!("{}\n", line.text)).collect::<String>()))
        }
        Ok(ruleset) => Ok(Done::ok(mesh::iptables::save_text(&ruleset))),
        Err(err @ PodRulesError::BadAnnotation { .. }) => Err(Failure::input(err.to_string())),
        Err(err) => Err(Failure::refused(err.to_string())),
    }
}

/// The walk `--from`, `--to`, `--proto`, `--seed` and `--now` ask for.
fn request_of(walk: &Walk, now: u64) -> Request {
    Request {
        from: walk.from.clone(),
        to: walk.to.clone(),
        proto: walk.proto.map_or(lbplay_core::net::Proto::Tcp, Into::into),
        seed: walk.seed,
        now,
    }
}

fn to_json(value: &serde_json::Value) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map(|text| format!("{text}\n")).map_err(|err| Failure::refused(err.to_string()))
}

/// The HTTP options `--method`, `--header` and `--resolve` give.
fn http_of(walk: &Walk) -> walk::HttpOptions {
    walk::HttpOptions {
        method: walk.method.clone(),
        headers: walk.header.clone(),
        resolve: walk.resolve.clone(),
        ..walk::HttpOptions::default()
    }
}

/// Walks `--from` to `--to`: one connection for IP:PORT, one HTTP request for a URL. A URL that
/// does not parse, a bad method or a name that does not resolve from `--from` is bad input.
fn walk_of(
    cluster: &lbplay_core::model::Cluster,
    walk: &Walk,
    now: u64,
    streams: u64,
) -> Result<lbplay_core::Trace, Failure> {
    let request = request_of(walk, now);
    if !Target::is_url(&walk.to) {
        if streams > 1 {
            return Err(Failure::input("--streams needs an h2c:// or grpc:// URL in --to".to_string()));
        }
        return walk::trace(cluster, &request).map_err(|err| Failure::refused(err.to_string()));
    }
    let options = walk::HttpOptions { requests: streams as usize, ..http_of(walk) };
    if streams > 1 && !matches!(Target::parse(&walk.to).map(|t| t.scheme), Ok(Scheme::H2c | Scheme::Grpc)) {
        return Err(Failure::input(format!(
            "--streams {streams}: only an h2c:// or grpc:// connection carries streams; `{}` is one request per connection (use `lbplay send --requests` for a pool)",
            walk.to
        )));
    }
    check_url(cluster, walk, &options)?;
    walk::fetch(cluster, &request, &options).map_err(|err| Failure::refused(err.to_string()))
}

/// The checks of a URL walk that make it bad input (exit status 2), before it is walked.
fn check_url(cluster: &lbplay_core::model::Cluster, walk: &Walk, options: &walk::HttpOptions) -> Result<(), Failure> {
    let target = Target::parse(&walk.to).map_err(|err| Failure::input(err.0))?;
    if target.scheme == Scheme::Https {
        return Err(Failure::input(format!(
            "--to `{}`: lbplay walks http://, h2c:// and grpc:// requests; https:// (TLS) is not walked yet",
            walk.to
        )));
    }
    lbplay_core::http::Request::curl(&options.method, &target, &options.headers)
        .map_err(|err| Failure::input(err.0))?;
    let source = walk::resolve_host(cluster, &walk.from).map_err(|err| Failure::refused(err.to_string()))?;
    walk::resolve_target(cluster, &source, &target, &options.resolve).map_err(|err| Failure::input(err.to_string()))?;
    Ok(())
}

fn trace_command(args: &args::TraceArgs) -> Result<Done, Failure> {
    let mut loaded = load(&args.inputs.files)?;
    loaded.cluster.kube_proxy.mode = mode_of(args.walk.mode, &loaded);
    let trace = walk_of(&loaded.cluster, &args.walk, args.now, args.streams)?;
    let output = match args.output.format {
        Format::Json => to_json(&trace.to_json())?,
        Format::Text => trace.to_text(args.lang.into()),
    };
    // A dropped packet is a verdict, printed in full, and the status a script can test.
    let status = if trace.outcome.dropped { REFUSED } else { 0 };
    Ok(Done { output: output.into_bytes(), status })
}

fn compare_command(args: &args::CompareArgs) -> Result<Done, Failure> {
    if args.scaling {
        let sizes: Vec<usize> = args.sizes.iter().map(|&size| size as usize).collect();
        return compare::scaling(&sizes).map(Done::ok).map_err(Failure::refused);
    }
    let loaded = load(&args.files)?;
    let options = compare::Options { service: args.service.as_deref(), from: args.from.as_deref(), seed: args.seed };
    compare::compare(&loaded.cluster, &options).map(Done::ok).map_err(Failure::refused)
}

fn send_command(args: &args::SendArgs) -> Result<Done, Failure> {
    let mut loaded = load(&args.inputs.files)?;
    loaded.cluster.kube_proxy.mode = mode_of(args.walk.mode, &loaded);
    let (from, to, proto) = (
        args.walk.from.as_str(),
        args.walk.to.as_str(),
        args.walk.proto.map_or(lbplay_core::net::Proto::Tcp, Into::into),
    );
    let connections = args.connections;
    let request = Request { from: from.to_string(), to: to.to_string(), proto, seed: args.walk.seed, now: 0 };
    if let Some(requests) = args.requests {
        return requests_command(args, &loaded.cluster, &request, requests);
    }
    if Target::is_url(to) {
        return Err(Failure::input(format!("--to `{to}` is a URL: say how many requests to send with --requests N")));
    }
    let sends = walk::send(&loaded.cluster, &request, connections as usize, args.keep)
        .map_err(|err| Failure::refused(err.to_string()))?;
    let counts = &sends.counts;
    let rows: Vec<serde_json::Value> = sends
        .connections
        .iter()
        .map(|sent| json!({"index": sent.index, "backend": sent.backend, "dropped": sent.dropped, "reason": sent.reason}))
        .collect();
    if args.output.format == Format::Json {
        return to_json(&json!({"connections": rows, "counts": counts})).map(Done::ok);
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
    Ok(Done::ok(out))
}

/// `send --requests`: HTTP requests from `--clients` clients over `--connections` connections each.
fn requests_command(
    args: &args::SendArgs,
    cluster: &lbplay_core::model::Cluster,
    request: &Request,
    requests: u64,
) -> Result<Done, Failure> {
    if !Target::is_url(&request.to) {
        return Err(Failure::input(format!(
            "--requests needs an http:// URL in --to, not `{}`; to open connections to IP:PORT, use --connections alone",
            request.to
        )));
    }
    let options = walk::HttpOptions { grpc_lb: args.grpc_lb, ..http_of(&args.walk) };
    check_url(cluster, &args.walk, &options)?;
    let total = requests.saturating_mul(args.clients);
    if total > walk::MAX_REQUESTS as u64 {
        return Err(Failure::input(format!(
            "--requests {requests} × --clients {} is {total} requests; at most {} in one send",
            args.clients,
            walk::MAX_REQUESTS
        )));
    }
    let load = walk::Load {
        requests: requests as usize,
        clients: args.clients as usize,
        connections: args.connections as usize,
    };
    let sent =
        walk::send_requests(cluster, request, &options, load).map_err(|err| Failure::refused(err.to_string()))?;
    if args.output.format == Format::Json {
        let rows: Vec<serde_json::Value> = sent
            .requests
            .iter()
            .map(|r| {
                json!({"index": r.index, "client": r.client, "connection": r.connection, "stream": r.stream, "backend": r.backend, "proxy": r.proxy})
            })
            .collect();
        return to_json(&json!({"requests": rows, "counts": sent.counts})).map(Done::ok);
    }
    let mut out = String::new();
    for r in &sent.requests {
        let via = r.proxy.as_deref().map(|proxy| format!("  (via {proxy})")).unwrap_or_default();
        let stream = r.stream.map(|s| format!("stream {s:<4} ")).unwrap_or_default();
        out.push_str(&format!(
            "{:>6}  {:<24} conn {:<3} {stream}{}{via}\n",
            r.index, r.client, r.connection, r.backend
        ));
    }
    out.push_str("\ncounts:\n");
    for (backend, count) in &sent.counts {
        let share = *count as f64 * 100.0 / sent.requests.len().max(1) as f64;
        out.push_str(&format!("  {backend:<24} {count:>7}  {share:5.1}%\n"));
    }
    Ok(Done::ok(out))
}

/// Whether two paths name the same existing file (the same inode on Unix, so a hard link or a
/// `./` prefix does not hide it).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

fn pcap_command(args: &args::PcapArgs) -> Result<Done, Failure> {
    let output = &args.output;
    let shown = output.to_string_lossy();
    let clobbers = |file: &PathBuf| {
        same_file(file, output)
            || matches!((std::fs::canonicalize(file), std::fs::canonicalize(output)), (Ok(a), Ok(b)) if a == b)
    };
    if let Some(input) = args.inputs.files.iter().find(|file| clobbers(file)) {
        return Err(Failure::refused(format!(
            "-o: `{shown}` is the input `{}`; lbplay will not overwrite its own input, so name another file",
            input.to_string_lossy()
        )));
    }
    let mut loaded = load(&args.inputs.files)?;
    loaded.cluster.kube_proxy.mode = mode_of(args.walk.mode, &loaded);
    let trace = walk_of(&loaded.cluster, &args.walk, args.now, args.streams)?;
    // A fixed start time (2026-01-01T00:00:00Z) keeps the file the same for the same trace.
    let capture = lbplay_core::pcap::from_trace(&trace, 1_767_225_600);
    let records = trace.steps.iter().filter(|step| step.kind == lbplay_core::StepKind::Wire).count();
    std::fs::write(output, &capture).map_err(|err| Failure::refused(format!("{shown}: cannot write: {err}")))?;
    Ok(Done::ok(format!("wrote {records} packets ({} bytes) to {shown}\n", capture.len())))
}
