//! The library's top-level modules import one another without a cycle: each `crate::x`
//! path in a module's code (test code and comments aside) is an edge, and the graph must
//! have an order. A cycle means two modules can no longer be read, or changed, apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The code of a file before its first `#[cfg(test)]`, comments dropped.
fn code(text: &str) -> impl Iterator<Item = &str> {
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
}

fn add_edges(graph: &mut Graph, module: &str, text: &str) {
    for line in code(text) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let target = &rest[..end];
            if !target.is_empty() && target != module {
                let edges = graph.entry(module.to_string()).or_default();
                edges.insert(target.to_string());
            }
        }
    }
}

fn read(dir: &Path, module: &str, graph: &mut Graph) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read(&path, module, graph);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
            add_edges(graph, module, &std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// A module on a cycle, with the path that returns to it, if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn walk(graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> bool {
        let last = path.last().cloned().unwrap_or_default();
        for next in graph.get(&last).into_iter().flatten() {
            if path.contains(next) {
                path.push(next.clone());
                return true;
            }
            if done.contains(next) {
                continue;
            }
            path.push(next.clone());
            if walk(graph, path, done) {
                return true;
            }
            path.pop();
        }
        done.insert(last);
        false
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|start| {
        let mut path = vec![start.clone()];
        walk(graph, &mut path, &mut done).then_some(path)
    })
}

fn library_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" || name == "bin" {
            continue;
        }
        if path.is_dir() {
            read(&path, &name, &mut graph);
        } else {
            add_edges(&mut graph, &name, &std::fs::read_to_string(&path).unwrap());
        }
    }
    graph
}

#[test]
fn top_level_modules_import_without_a_cycle() {
    let graph = library_graph();
    assert!(graph.len() > 10, "the source was not read: {graph:?}");
    assert!(
        graph["engine"].contains("store"),
        "edges are seen: {graph:?}"
    );
    assert_eq!(cycle(&graph), None);
}

#[test]
fn a_cycle_is_found() {
    let mut graph = Graph::new();
    add_edges(
        &mut graph,
        "a",
        "use crate::b::X;\n// crate::c is a comment\n",
    );
    add_edges(&mut graph, "b", "fn f() { crate::c::g() }\n");
    add_edges(&mut graph, "c", "#[cfg(test)]\nuse crate::a;\n");
    assert_eq!(cycle(&graph), None, "comments and test code are not edges");
    add_edges(&mut graph, "c", "use crate::a::Y;\n");
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
