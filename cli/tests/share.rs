//! Share links as inputs: a teacher's link from the playground, its fragment or its bare `y=`
//! value runs in a terminal wherever a file would, and gives what the file gives; a broken or
//! oversized `y=` is bad input (status 2) with the reason.

use std::process::Command;

use lbplay_core::lessons;
use lbplay_core::share::{self, Link, Shared};

/// Runs `lbplay args…` and returns its status, standard output and standard error.
fn lbplay(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lbplay")).args(args).output().expect("run lbplay");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

/// An edit of the ClusterIP lesson, as the playground would share it.
fn edited() -> (String, String) {
    let lesson = lessons::get("clusterip-iptables").expect("the lesson exists");
    let yaml = format!("{}\n# edited in the playground\n", lesson.yaml);
    let link = Link {
        scenario: Shared::Yaml(yaml.clone()),
        origin: Some(lesson.id.into()),
        from: Some(lesson.from.into()),
        to: Some(lesson.to.into()),
    };
    (yaml, format!("http://127.0.0.1:8080/#{}&step=4&lang=zh", link.fragment()))
}

/// Every spelling of the same shared scenario gives the output of the YAML it carries, byte for
/// byte, for `command` (the walk's arguments before the input).
fn check(command: &[&str]) {
    let (yaml, link) = edited();
    let dir = std::env::temp_dir().join(format!("lbplay-share-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("edited.yaml");
    std::fs::write(&file, &yaml).expect("write the YAML");
    let from_file = lbplay(&[command, &[file.to_str().expect("utf-8 path")]].concat());
    assert_eq!(from_file.0, 0, "{}", from_file.2);
    let fragment = link.split_once('#').expect("a fragment").1.to_string();
    let bare = share::encode_yaml(&yaml);
    for input in [link.clone(), format!("#{fragment}"), fragment.clone(), format!("y={bare}"), bare.clone()] {
        let got = lbplay(&[command, &[input.as_str()]].concat());
        assert_eq!(got.0, 0, "{input}: {}", got.2);
        // The source's name differs (`link` instead of the path) only in warnings, never in output.
        assert_eq!(got.1, from_file.1, "{input}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_share_link_gives_the_rules_of_the_yaml_it_carries() {
    check(&["rules", "--node", "node-1"]);
}

#[test]
fn a_share_link_gives_the_trace_of_the_yaml_it_carries() {
    check(&["trace", "--from", "pod/client", "--to", "10.96.100.10:80", "--format", "json"]);
}

#[test]
fn a_link_to_a_lesson_runs_the_lesson() {
    let by_id = lbplay(&["rules", "clusterip-iptables"]);
    let by_link = lbplay(&["rules", "http://lbplay.example/#v=1&s=clusterip-iptables&step=3&lang=en"]);
    assert_eq!(by_id.0, 0);
    assert_eq!(by_link, by_id);
    let unknown = lbplay(&["rules", "#v=1&s=no-such-lesson"]);
    assert_eq!(unknown.0, 2);
    assert!(unknown.2.contains("the link names no lesson `no-such-lesson`"), "{}", unknown.2);
}

#[test]
fn a_broken_or_oversized_link_is_bad_input_with_the_reason() {
    let bomb = share::encode_yaml(&"a".repeat(share::MAX_YAML + 1));
    let cases = [
        // base64url of the text "not-deflate", which is no DEFLATE stream.
        ("#v=1&y=bm90LWRlZmxhdGU".to_string(), "not valid raw DEFLATE"),
        ("http://h/#y=!!!".to_string(), "not valid base64url"),
        (format!("#s=clusterip-iptables&y={bomb}"), "larger than 64 KB"),
        ("#v=1&lang=en".to_string(), "neither y= nor s="),
        ("#s=../../etc/passwd".to_string(), "s= value is not valid"),
    ];
    for (input, reason) in cases {
        let (status, stdout, stderr) = lbplay(&["rules", &input]);
        assert_eq!(status, 2, "{input}: {stderr}");
        assert!(stdout.is_empty(), "{input}");
        assert!(stderr.contains(reason), "{input}: {stderr}");
    }
    // Something that is neither a file nor a link is still "cannot read", as before.
    let (status, _, stderr) = lbplay(&["rules", "missing.yaml"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("missing.yaml: cannot read"), "{stderr}");
}

#[test]
fn the_walk_a_link_carries_is_used_when_the_flags_are_absent() {
    let (yaml, link) = edited();
    let flags = ["trace", "--from", "pod/client", "--to", "10.96.100.10:80", "--format", "json"];
    let with_flags = lbplay(&[&flags[..], &[link.as_str()]].concat());
    assert_eq!(with_flags.0, 0, "{}", with_flags.2);
    // The link carries from=pod/client and to=10.96.100.10:80 (`edited`).
    let carried = lbplay(&["trace", "--format", "json", link.as_str()]);
    assert_eq!(carried, with_flags);
    // A flag beats the link: another source gives another trace.
    let other = lbplay(&["trace", "--format", "json", "--from", "node/node-2", link.as_str()]);
    assert_eq!(other.0, 0, "{}", other.2);
    assert_ne!(other.1, with_flags.1);
    assert!(other.1.contains("node-2"));
    // A bare lesson id carries the lesson's own walk; so does an s= link without from=/to=.
    let lesson = lbplay(&["trace", "--format", "json", "clusterip-iptables"]);
    assert_eq!(lesson.1, lbplay(&[&flags[..], &["clusterip-iptables"]].concat()).1);
    assert_eq!(lbplay(&["trace", "--format", "json", "#v=1&s=clusterip-iptables"]).1, lesson.1);
    // A file carries no walk: the missing flag is named, as bad input.
    let dir = std::env::temp_dir().join(format!("lbplay-walk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("edited.yaml");
    std::fs::write(&file, &yaml).expect("write the YAML");
    let (status, out, err) = lbplay(&["trace", "--to", "10.96.100.10:80", file.to_str().expect("utf-8 path")]);
    assert_eq!((status, out.as_str()), (2, ""));
    assert!(err.contains("--from SRC is needed"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
