//! The architecture as a test: every top-level module of `src/` has a layer, and imports only
//! modules of lower layers (`crate::` paths, test code included), so there is no import cycle
//! between them. `testing` (fixtures for tests) is exempt: test code anywhere may use it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom up. A module may import modules of lower layers only.
const LAYERS: &[(&str, u8)] = &[
    ("http", 0),
    ("keys", 0),
    ("budget", 0),
    ("routes", 1),
    ("ui", 1),
    ("config", 2),
    ("state", 3),
    ("ports", 4),
    ("protocol", 5),
    ("admin", 6),
    ("app", 7),
    ("edge", 8),
];

/// Test fixtures: imported by test code of every layer, and importing every layer.
const EXEMPT: &[&str] = &["testing"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for the crate root and binaries).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.as_str() {
        "lib.rs" | "bin" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// The top-level modules a file names through `crate::`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(from) = module_of(&src, &file) else { continue };
        let text = fs::read_to_string(&file).unwrap();
        let entry = edges.entry(from.clone()).or_default();
        entry.extend(imports(&text).into_iter().filter(|to| *to != from));
    }
    edges
}

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

#[test]
fn every_module_has_a_layer_and_imports_only_lower_layers() {
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        if EXEMPT.contains(&from.as_str()) {
            continue;
        }
        let Some(l) = layer(&from) else {
            wrong.push(format!("src/{from} has no layer: add it to LAYERS in tests/layers.rs"));
            continue;
        };
        for to in tos.iter().filter(|t| !EXEMPT.contains(&t.as_str())) {
            match layer(to) {
                Some(t) if t < l => {}
                Some(_) => wrong.push(format!("{from} (layer {l}) imports {to}, which is not below it")),
                None => wrong.push(format!("{from} imports crate::{to}, which is no module with a layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn there_is_no_import_cycle_between_top_level_modules() {
    // Independent of the layer table: a depth-first search for a back edge.
    let edges = graph();
    fn visit<'a>(
        n: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<String> {
        match state.get(n) {
            Some(1) => return Some(format!("{} -> {n}", path.join(" -> "))),
            Some(_) => return None,
            None => {}
        }
        state.insert(n, 1);
        path.push(n);
        for to in edges.get(n).into_iter().flatten().filter(|t| !EXEMPT.contains(&t.as_str())) {
            if let Some(cycle) = visit(to, edges, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys().filter(|n| !EXEMPT.contains(&n.as_str())) {
        if let Some(cycle) = visit(n, &edges, &mut state, &mut Vec::new()) {
            panic!("import cycle: {cycle}");
        }
    }
}

#[test]
fn the_check_sees_imports() {
    // The scanner itself: a file naming crate::admin is seen to import admin.
    assert!(imports("use crate::admin::x; let y = crate::ports::Ctx;").contains("admin"));
    assert_eq!(graph().get("app").map(|s| s.contains("admin")), Some(true));
}
