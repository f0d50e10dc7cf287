//! The code map holds by itself (ARCHITECTURE.md): every module of `src/` opens with a `//!`
//! doc; only `config.rs` reads environment variables; axum is used only in `api/` and the
//! server wiring (`app/`); sqlx, Redis and object_store calls appear only in `store/` and the
//! Redis queue backend; and the import graph between top-level rooms of `src/` (a folder or a
//! loose file: `api`, `studio`, `orchestrate`, `jobs`, `store`, `config`, ...) has no circle.
//! Each rule is also run on a planted violation, so a rule that stopped finding anything would
//! fail here too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its path under `src/` (with `/`) and its text.
struct Source {
    path: String,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&root).unwrap();
                files.push(Source {
                    path: relative.to_string_lossy().replace('\\', "/"),
                    text: std::fs::read_to_string(&path).unwrap(),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(
        files.len() > 100,
        "found only {} files in src/",
        files.len()
    );
    files
}

/// The code of a line: without its `//` comment (strings holding `//` are rare enough in this
/// tree not to matter: a false violation would show up as a failing test, not a hidden one).
fn code(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

/// The room of a file: its first folder under `src/`, or its stem when it is a loose file.
fn room(path: &str) -> &str {
    match path.split_once('/') {
        Some((dir, _)) => dir,
        None => path.trim_end_matches(".rs"),
    }
}

/// Files whose first non-blank line is not a `//!` doc.
fn missing_docs(files: &[Source]) -> Vec<String> {
    files
        .iter()
        .filter(|f| {
            !f.text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_start().starts_with("//!"))
        })
        .map(|f| f.path.clone())
        .collect()
}

/// Whether a path starts at byte `i` of `code`, rather than only ending there
/// (`crate::jobs::redis::RedisQueue` names adforge's module `redis`, not the crate).
fn starts_path(code: &str, i: usize) -> bool {
    let before = code[..i].chars().next_back().unwrap_or(' ');
    !(before.is_alphanumeric() || before == '_' || before == ':')
}

/// `path:line: text` of each line whose code `hit` accepts, in files `allowed` does not accept.
fn lines_where(
    files: &[Source],
    allowed: impl Fn(&str) -> bool,
    hit: impl Fn(&str) -> bool,
) -> Vec<String> {
    files
        .iter()
        .filter(|f| !allowed(&f.path))
        .flat_map(|f| {
            f.text
                .lines()
                .enumerate()
                .filter(|(_, line)| hit(code(line)))
                .map(|(n, line)| format!("{}:{}: {}", f.path, n + 1, line.trim()))
        })
        .collect()
}

/// Each use of one of `crates` (a path starting with it, or `use crate`) in a file that
/// `allowed` does not accept.
fn uses_outside(files: &[Source], crates: &[&str], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    lines_where(files, allowed, |code| {
        crates.iter().any(|c| {
            code.match_indices(&format!("{c}::"))
                .any(|(i, _)| starts_path(code, i))
                || code.trim_start().starts_with(&format!("use {c}"))
        })
    })
}

/// The top-level rooms each room's code names through `crate::ROOM` (also inside `use crate::{
/// a, b::c }` groups), with one place that does so for each edge.
fn room_edges(files: &[Source]) -> BTreeMap<String, BTreeMap<String, String>> {
    let rooms: BTreeSet<&str> = files.iter().map(|f| room(&f.path)).collect();
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in files {
        let from = room(&f.path);
        // Join the code of the file so that a `use crate::{...}` group over several lines is
        // read whole.
        let joined: String = f.text.lines().map(|l| format!("{} ", code(l))).collect();
        let mut targets = Vec::new();
        for (i, _) in joined.match_indices("crate::") {
            if !starts_path(&joined, i) {
                continue;
            }
            let rest = &joined[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // Top-level names of the group: split at commas outside nested braces.
                let mut depth = 0;
                let mut start = 0;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            targets.push(group[start..j].trim().to_string());
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            targets.push(group[start..j].trim().to_string());
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
            } else {
                targets.push(rest.to_string());
            }
        }
        for target in targets {
            let name: String = target
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name != from && rooms.contains(name.as_str()) {
                edges
                    .entry(from.to_string())
                    .or_default()
                    .entry(name)
                    .or_insert_with(|| f.path.clone());
            }
        }
    }
    edges
}

/// Every circle between rooms (strongly connected components of more than one room), each
/// with the edges inside it and a file that makes each edge.
fn circles(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges
        .keys()
        .chain(edges.values().flat_map(|m| m.keys()))
        .collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for next in edges.get(&n).into_iter().flat_map(|m| m.keys()) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for n in &nodes {
        if done.contains(*n) {
            continue;
        }
        let component: Vec<&String> = nodes
            .iter()
            .copied()
            .filter(|m| reachable[n].contains(*m) && reachable[m].contains(*n))
            .collect();
        if component.len() > 1 {
            let mut described = Vec::new();
            for a in &component {
                for (b, file) in edges.get(*a).into_iter().flatten() {
                    if component.contains(&b) {
                        described.push(format!("{a} -> {b} ({file})"));
                    }
                }
            }
            found.push(described);
        }
        done.extend(component.into_iter().cloned());
    }
    found
}

fn axum_allowed(path: &str) -> bool {
    path.starts_with("api/") || path.starts_with("app/")
}

fn storage_allowed(path: &str) -> bool {
    path.starts_with("store/") || path == "jobs/redis.rs"
}

const STORAGE_CRATES: &[&str] = &["sqlx", "redis", "deadpool_redis", "object_store"];

#[test]
fn every_module_has_a_doc() {
    let missing = missing_docs(&sources());
    assert!(
        missing.is_empty(),
        "modules without a `//!` doc: {missing:#?}"
    );
}

#[test]
fn axum_stays_in_the_api() {
    let found = uses_outside(&sources(), &["axum"], axum_allowed);
    assert!(found.is_empty(), "axum outside api/ and app.rs: {found:#?}");
}

#[test]
fn storage_calls_stay_in_the_store_and_the_queue_backend() {
    let found = uses_outside(&sources(), STORAGE_CRATES, storage_allowed);
    assert!(
        found.is_empty(),
        "sqlx/redis/object_store outside store/ and jobs/redis.rs: {found:#?}"
    );
}

/// Each environment read (`env::var`, `env::vars`, `env::var_os`) outside `config.rs`, the one
/// module that reads the environment.
fn env_reads_outside_config(files: &[Source]) -> Vec<String> {
    lines_where(
        files,
        |path| path == "config.rs",
        |code| {
            ["env::var(", "env::vars(", "env::var_os("]
                .iter()
                .any(|p| code.contains(p))
        },
    )
}

#[test]
fn only_config_reads_the_environment() {
    let found = env_reads_outside_config(&sources());
    assert!(
        found.is_empty(),
        "environment reads outside config.rs: {found:#?}"
    );
}

#[test]
fn rooms_import_each_other_without_circles() {
    let edges = room_edges(&sources());
    // The map reads as ARCHITECTURE.md says; spot-check edges that must exist, so that a
    // parser that found nothing cannot pass.
    for (from, to) in [("api", "studio"), ("studio", "jobs"), ("jobs", "store")] {
        assert!(
            edges.get(from).is_some_and(|m| m.contains_key(to)),
            "expected {from} -> {to} in {edges:#?}"
        );
    }
    let circles = circles(&edges);
    assert!(
        circles.is_empty(),
        "circles between rooms of src/: {circles:#?}"
    );
    // Nothing below points back up at the rooms that serve HTTP or make creatives.
    for low in ["jobs", "store", "engine", "media", "scheduler", "secret"] {
        for high in ["api", "studio", "orchestrate", "app", "config", "commands"] {
            assert!(
                !edges.get(low).is_some_and(|m| m.contains_key(high)),
                "{low} imports {high} ({})",
                edges[low][high]
            );
        }
    }
}

/// Each rule finds a planted violation.
#[test]
fn the_rules_find_planted_violations() {
    let planted = |path: &str, text: &str| Source {
        path: path.into(),
        text: text.into(),
    };
    let files = vec![
        planted(
            "jobs/worker.rs",
            "//! Doc.\nuse crate::studio::creatives;\n",
        ),
        planted(
            "studio/creatives.rs",
            "//! Doc.\nuse crate::{jobs::JobHandler, store};\nuse axum::Json;\n",
        ),
        planted("store/mod.rs", "//! Doc.\nuse sqlx::Row;\n"),
        planted(
            "orchestrate/mod.rs",
            "use crate::jobs::redis::RedisQueue; // crate::api\nfn f() { redis::cmd(\"GET\"); }\n",
        ),
    ];
    assert_eq!(missing_docs(&files), vec!["orchestrate/mod.rs"]);
    let env = vec![planted(
        "store/objects.rs",
        "//! Doc.\nfn f() { std::env::var(\"AWS_REGION\"); }\n",
    )];
    assert_eq!(
        env_reads_outside_config(&env),
        vec!["store/objects.rs:2: fn f() { std::env::var(\"AWS_REGION\"); }"]
    );
    assert_eq!(
        uses_outside(&files, &["axum"], axum_allowed),
        vec!["studio/creatives.rs:3: use axum::Json;"]
    );
    assert_eq!(
        uses_outside(&files, STORAGE_CRATES, storage_allowed),
        vec!["orchestrate/mod.rs:2: fn f() { redis::cmd(\"GET\"); }"]
    );
    let edges = room_edges(&files);
    assert!(
        !edges["orchestrate"].contains_key("api"),
        "a comment is no import"
    );
    let circles = circles(&edges);
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert!(
        circles[0].contains(&"jobs -> studio (jobs/worker.rs)".to_string())
            && circles[0].contains(&"studio -> jobs (studio/creatives.rs)".to_string()),
        "{circles:?}"
    );
}
