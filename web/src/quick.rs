//! Quick controls: small edits of the scenario's YAML text that the editor's buttons make (kube-proxy's
//! mode, the IPVS scheduler, a Deployment's replicas), so the result is ordinary edited YAML that
//! re-runs, shares and persists like typing. Each edit understands block-style YAML as the
//! lessons write it and returns `None` for any other shape, so a control never guesses.

/// The line index and indentation of the first line whose trimmed text is `key:` (nothing after),
/// searching `lines[from..until]` at exactly `indent` spaces.
fn find_block(lines: &[String], from: usize, until: usize, indent: usize, key: &str) -> Option<usize> {
    (from..until).find(|&index| {
        let line = &lines[index];
        line.len() > indent
            && line[..indent].bytes().all(|b| b == b' ')
            && line[indent..].trim_end() == format!("{key}:")
    })
}

/// The end (exclusive) of the block opened at `start` with `indent`: the next line indented no more.
fn block_end(lines: &[String], start: usize, indent: usize) -> usize {
    (start + 1..lines.len())
        .find(|&index| {
            let line = &lines[index];
            !line.trim().is_empty() && line.len() - line.trim_start().len() <= indent
        })
        .unwrap_or(lines.len())
}

/// Sets `key: value` among the block's direct children at `indent`, or inserts it first.
fn set_child(lines: &mut Vec<String>, start: usize, end: usize, indent: usize, key: &str, value: &str) {
    let prefix = format!("{}{key}:", " ".repeat(indent));
    let wanted = format!("{prefix} {value}");
    match (start + 1..end).find(|&index| lines[index].starts_with(&prefix)) {
        Some(index) => lines[index] = wanted,
        None => lines.insert(start + 1, wanted),
    }
}

fn split(yaml: &str) -> Vec<String> {
    yaml.split('\n').map(str::to_string).collect()
}

/// The `kubeProxy:` block of the Cluster object: its line and indentation.
fn kube_proxy(lines: &[String]) -> Option<(usize, usize)> {
    (0..8).find_map(|indent| find_block(lines, 0, lines.len(), indent, "kubeProxy").map(|index| (index, indent)))
}

/// Switches kube-proxy's mode in the Cluster object's `kubeProxy:` block.
pub fn set_mode(yaml: &str, mode: &str) -> Option<String> {
    let mut lines = split(yaml);
    let (start, indent) = kube_proxy(&lines)?;
    let end = block_end(&lines, start, indent);
    set_child(&mut lines, start, end, indent + 2, "mode", mode);
    Some(lines.join("\n"))
}

/// Switches kube-proxy to IPVS mode with `scheduler` (`kubeProxy: {mode: ipvs, ipvs: {scheduler: …}}`).
pub fn set_scheduler(yaml: &str, scheduler: &str) -> Option<String> {
    let yaml = set_mode(yaml, "ipvs")?;
    let mut lines = split(&yaml);
    let (start, indent) = kube_proxy(&lines)?;
    let end = block_end(&lines, start, indent);
    let ipvs = match find_block(&lines, start + 1, end, indent + 2, "ipvs") {
        Some(ipvs) => ipvs,
        None => {
            lines.insert(end, format!("{}ipvs:", " ".repeat(indent + 2)));
            end
        }
    };
    let ipvs_end = block_end(&lines, ipvs, indent + 2);
    set_child(&mut lines, ipvs, ipvs_end, indent + 4, "scheduler", scheduler);
    Some(lines.join("\n"))
}

/// The Deployments of the stream whose replicas a control can set: (name, replicas).
pub fn deployments(yaml: &str) -> Vec<(String, u32)> {
    documents(yaml)
        .into_iter()
        .filter_map(|(lines, _)| deployment(&lines))
        .map(|(name, replicas, _)| (name, replicas))
        .collect()
}

/// Sets the replicas of the Deployment named `name`.
pub fn set_replicas(yaml: &str, name: &str, replicas: u32) -> Option<String> {
    let mut out = Vec::new();
    let mut done = false;
    for (mut lines, separator) in documents(yaml) {
        if let Some((found, _, at)) = deployment(&lines)
            && found == name
            && !done
        {
            lines[at] = format!("  replicas: {replicas}");
            done = true;
        }
        out.push(lines.join("\n"));
        if let Some(separator) = separator {
            out.push(separator);
        }
    }
    done.then(|| out.concat())
}

/// The stream's documents, each with the `---` line that follows it.
fn documents(yaml: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = yaml;
    loop {
        match rest.find("\n---\n") {
            Some(at) => {
                out.push((split(&rest[..at]), Some("\n---\n".to_string())));
                rest = &rest[at + 5..];
            }
            None => {
                out.push((split(rest), None));
                return out;
            }
        }
    }
}

/// A Deployment document's name, replicas and the replicas line.
fn deployment(lines: &[String]) -> Option<(String, u32, usize)> {
    lines.iter().any(|line| line.trim_end() == "kind: Deployment").then_some(())?;
    let metadata = find_block(lines, 0, lines.len(), 0, "metadata")?;
    let end = block_end(lines, metadata, 0);
    let name = (metadata + 1..end).find_map(|index| lines[index].strip_prefix("  name: "))?.trim().to_string();
    let (at, replicas) = lines
        .iter()
        .enumerate()
        .find_map(|(index, line)| Some((index, line.strip_prefix("  replicas: ")?.trim().parse::<u32>().ok()?)))?;
    Some((name, replicas, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lbplay_core::lessons;
    use lbplay_core::scenario::{self, Source};

    fn loaded(yaml: &str) -> lbplay_core::model::Cluster {
        scenario::load(&[Source { name: "t", text: yaml }]).expect("the edit loads").cluster
    }

    #[test]
    fn test_every_lesson_can_switch_mode_and_scheduler_and_the_loader_agrees() {
        for lesson in lessons::all() {
            let Some(ipvs) = set_scheduler(lesson.yaml, "sh") else { continue };
            let cluster = loaded(&ipvs);
            assert_eq!(cluster.kube_proxy.mode.as_str(), "ipvs", "{}", lesson.id);
            assert_eq!(cluster.kube_proxy.ipvs_scheduler, "sh", "{}", lesson.id);
            let back = set_mode(&ipvs, "nftables").expect("the block is still there");
            assert_eq!(loaded(&back).kube_proxy.mode.as_str(), "nftables", "{}", lesson.id);
        }
        let changed = lessons::all().iter().filter(|lesson| set_mode(lesson.yaml, "ipvs").is_some()).count();
        assert!(changed >= 5, "most lessons have a kubeProxy block ({changed})");
    }

    #[test]
    fn test_shapes_it_does_not_understand_are_left_alone() {
        assert_eq!(set_mode("kind: Service\n", "ipvs"), None);
        assert_eq!(set_mode("spec: {kubeProxy: {mode: ipvs}}\n", "iptables"), None);
        assert_eq!(set_replicas("kind: Deployment\nmetadata:\n  name: a\n", "a", 3), None);
    }

    #[test]
    fn test_replicas_of_a_deployment() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n---\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n";
        assert_eq!(deployments(yaml), vec![("web".to_string(), 2), ("api".to_string(), 1)]);
        let scaled = set_replicas(yaml, "api", 5).expect("api is there");
        assert_eq!(deployments(&scaled), vec![("web".to_string(), 2), ("api".to_string(), 5)]);
        assert_eq!(set_replicas(yaml, "nope", 5), None);
        for lesson in lessons::all() {
            for (name, replicas) in deployments(lesson.yaml) {
                let scaled = set_replicas(lesson.yaml, &name, replicas + 1).expect("scales");
                let pods = loaded(&scaled).pods.iter().filter(|pod| pod.name.starts_with(&name)).count();
                let before = loaded(lesson.yaml).pods.iter().filter(|pod| pod.name.starts_with(&name)).count();
                assert_eq!(pods, before + 1, "{}: {name}", lesson.id);
            }
        }
    }
}
