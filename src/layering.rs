//! The library's modules import one another without a cycle, at every level: among the
//! top-level modules each `crate::x` path in a module's code (test code and comments
//! aside) is an edge, and among the children of a directory module each path to a
//! sibling (`super::y`, `crate::dir::y`, or `y` in a `use super::{..}` group) is one.
//! A name the parent re-exports from a child (`pub use child::Name`) leads to that child.
//! Each graph must have an order. A cycle means two modules can no longer be read, or
//! changed, apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The code of a file, comments and test code dropped: a `#[cfg(test)]` item of one
/// line (`mod tests;`, a `use`) is skipped, and one that opens a block ends the code
/// (test modules come last).
fn code(text: &str) -> impl Iterator<Item = &str> {
    let mut lines = text.lines().filter(|l| !l.trim_start().starts_with("//"));
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push(line);
            continue;
        }
        match lines.next() {
            Some(item) if item.trim_end().ends_with(';') => {}
            _ => break,
        }
    }
    out.into_iter()
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
            // In a top-level file, `super::x` is `crate::x`.
            let text = std::fs::read_to_string(&path).unwrap();
            add_edges(&mut graph, &name, &text.replace("super::", "crate::"));
        }
    }
    graph
}

/// Which child each name the parent re-exports (`pub use child::{A, B as C};`) is from.
type Reexports = BTreeMap<String, String>;

/// The last name of each path in a `use` tree (`a::{B, c::D as E}` gives B and E).
fn leaf_names(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        return top_level_entries(&tree[open + 1..])
            .flat_map(leaf_names)
            .collect();
    }
    let last = tree.rsplit(" as ").next().unwrap_or(tree);
    let last = last.rsplit("::").next().unwrap_or(last).trim();
    if last.is_empty() || last == "self" {
        return Vec::new();
    }
    vec![last.to_string()]
}

/// The names a parent module's code re-exports from its children.
fn reexports(parent: &str, siblings: &BTreeSet<String>) -> Reexports {
    let text: String = code(parent).collect::<Vec<_>>().join("\n");
    let mut out = Reexports::new();
    for (at, _) in text.match_indices("pub use ") {
        let rest = &text[at + "pub use ".len()..];
        let stmt = &rest[..rest.find(';').unwrap_or(rest.len())];
        let Some((child, tree)) = stmt.split_once("::") else {
            continue;
        };
        if siblings.contains(child.trim()) {
            for name in leaf_names(tree) {
                out.insert(name, child.trim().to_string());
            }
        }
    }
    out
}

/// The sibling modules `text` reaches through one of `prefixes` (e.g. `super::`): by
/// their own names, or by a name the parent re-exports from them.
fn sibling_edges(
    text: &str,
    prefixes: &[String],
    siblings: &BTreeSet<String>,
    names: &Reexports,
) -> BTreeSet<String> {
    let text: String = code(text).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| {
        let s = s.trim_start();
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        s[..end].to_string()
    };
    let mut out = BTreeSet::new();
    for prefix in prefixes {
        for (at, _) in text.match_indices(prefix.as_str()) {
            let rest = &text[at + prefix.len()..];
            let named = match rest.strip_prefix('{') {
                Some(group) => top_level_entries(group).map(ident).collect(),
                None => vec![ident(rest)],
            };
            for n in named {
                if siblings.contains(&n) {
                    out.insert(n);
                } else if let Some(child) = names.get(&n) {
                    out.insert(child.clone());
                }
            }
        }
    }
    out
}

/// The entries of a `{..}` group up to its closing brace, split at its own commas.
fn top_level_entries(group: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0;
    let mut start = 0;
    let mut entries = Vec::new();
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                entries.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                entries.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    entries.into_iter()
}

/// The graph among the children of directory module `dir` (at `path`, e.g. `store::pg`).
fn children_graph(dir: &Path, path: &str) -> Graph {
    let is_test = |name: &str| name.ends_with("tests");
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if name != "mod"
            && !is_test(&name)
            && (p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
        {
            files.push((name, p));
        }
    }
    let siblings: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let parent = std::fs::read_to_string(dir.join("mod.rs")).unwrap_or_default();
    let names = reexports(&parent, &siblings);
    let mut graph = Graph::new();
    for (name, p) in &files {
        let edges = graph.entry(name.clone()).or_default();
        for (text, up) in child_texts(p, &is_test) {
            let prefixes = [up.to_string(), format!("crate::{path}::")];
            edges.extend(sibling_edges(&text, &prefixes, &siblings, &names));
        }
        edges.remove(name);
    }
    graph
}

/// The code of child `p` with the prefix that reaches its siblings: `super::` from a file
/// child and from a directory child's `mod.rs`, `super::super::` from its other files.
fn child_texts(p: &Path, is_test: &dyn Fn(&str) -> bool) -> Vec<(String, &'static str)> {
    if !p.is_dir() {
        return vec![(std::fs::read_to_string(p).unwrap(), "super::")];
    }
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        .filter(|f| !is_test(&f.file_stem().unwrap().to_string_lossy()))
        .map(|f| {
            let up = if f.ends_with("mod.rs") {
                "super::"
            } else {
                "super::super::"
            };
            (std::fs::read_to_string(&f).unwrap(), up)
        })
        .collect()
}

/// Every directory module under `dir`, with its module path.
fn directory_modules(dir: &Path, path: &str, out: &mut Vec<(std::path::PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let child = if path.is_empty() {
                name
            } else {
                format!("{path}::{name}")
            };
            directory_modules(&p, &child, out);
            out.push((p, child));
        }
    }
}

#[test]
fn child_modules_import_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = Vec::new();
    directory_modules(&src, "", &mut dirs);
    dirs.retain(|(_, path)| path != "bin");
    assert!(dirs.len() > 5, "the source was not read: {dirs:?}");
    let engine = children_graph(&src.join("engine"), "engine");
    assert!(
        engine["judge"].contains("account"),
        "edges are seen: {engine:?}"
    );
    for (dir, path) in dirs {
        let graph = children_graph(&dir, &path);
        assert_eq!(cycle(&graph), None, "in {path}: {graph:?}");
    }
}

#[test]
fn sibling_paths_are_edges() {
    let siblings: BTreeSet<String> = ["a", "b", "c", "d"].map(String::from).into();
    let prefixes = ["super::".to_string(), "crate::m::".to_string()];
    let text = "use super::{a::X, Engine, b};\nuse super::c::{self};\n\
                // super::d::Y is a comment\nfn f() { crate::m::d::g(); super::Other }\n";
    let found = sibling_edges(text, &prefixes, &siblings, &Reexports::new());
    assert_eq!(found, ["a", "b", "c", "d"].map(String::from).into());
    let nested = "use super::{x::{a::B, C}, c};\n";
    assert_eq!(
        sibling_edges(nested, &prefixes, &siblings, &Reexports::new()),
        ["c".to_string()].into()
    );
    let parent = "mod a;\n#[cfg(test)]\nmod tests;\npub use a::{X, y::Z as W};\npub use b::V;\n";
    let names = reexports(parent, &siblings);
    assert_eq!(names.get("W").map(String::as_str), Some("a"), "{names:?}");
    assert_eq!(names.get("V").map(String::as_str), Some("b"), "{names:?}");
    let through = sibling_edges("use super::{W, Engine};\n", &prefixes, &siblings, &names);
    assert_eq!(
        through,
        ["a".to_string()].into(),
        "a re-exported name is an edge"
    );
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
