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

// Submodules: every module of the crate (a file, or a folder's `mod.rs`) is a node, and the
// check is made at every depth: between top-level modules (`protocol`), between their
// submodules (`protocol::end_session`, `protocol::backchannel`, `protocol::logout`), and
// between files (`protocol::end_session::flow`). Paths are resolved as Rust does (`crate::`,
// `super::`, `self::`, a child module by its name, `use` groups expanded); comments, strings
// and test-only code (`#[cfg(test)]` items and the files they declare) are left out: a test
// may use what it tests from any side.

/// A module of the crate by its path, `["protocol", "end_session", "flow"]`.
type Module = Vec<String>;

/// File-level imports let through although they close a loop, each with the reason. Remove an
/// entry as soon as its loop is gone: the check then fails should it come back.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// The module a file of `src/` is (`None` for the crate root and binaries).
fn module_path(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Module = rel.iter().map(|c| c.to_str().unwrap().to_string()).collect();
    if parts == ["lib.rs"] || parts[0] == "bin" {
        return None;
    }
    let last = parts.pop().unwrap();
    if last != "mod.rs" {
        parts.push(last.trim_end_matches(".rs").to_string());
    }
    Some(parts)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// The tokens of Rust source that matter to paths: identifiers, `::` and punctuation, without
/// comments, strings and character literals.
fn tokens(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_string = |mut i: usize| {
        // `i` at the opening quote: returns the index after the closing one.
        i += 1;
        while i < c.len() && c[i] != '"' {
            i += if c[i] == '\\' { 2 } else { 1 };
        }
        i + 1
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(i);
        } else if ch == '\'' {
            // A character literal ('a', '\n', '\u{1F600}'), or else a lifetime's quote.
            if c.get(i + 1) == Some(&'\\') {
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw = (word == "r" || word == "br") && matches!(c.get(i), Some('"') | Some('#'));
            if raw {
                let hashes = c[i..].iter().take_while(|h| **h == '#').count();
                i += hashes + 1;
                loop {
                    if i >= c.len()
                        || (c[i] == '"' && c[i + 1..].iter().take(hashes).filter(|h| **h == '#').count() == hashes)
                    {
                        i += 1 + hashes;
                        break;
                    }
                    i += 1;
                }
            } else if (word == "b") && c.get(i) == Some(&'"') {
                i = skip_string(i);
            } else {
                out.push(Tok::Ident(word));
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::Path);
            i += 2;
        } else {
            if !ch.is_whitespace() {
                out.push(Tok::Punct(ch));
            }
            i += 1;
        }
    }
    out
}

/// The paths of a `use` tree starting at `toks[*i]`, each whole; `*i` ends after the tree.
fn use_tree(toks: &[Tok], i: &mut usize, prefix: &[String], out: &mut Vec<Module>) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*i) {
            Some(Tok::Ident(w)) if w == "self" && !path.is_empty() && path.len() == prefix.len() => *i += 1,
            Some(Tok::Ident(w)) if w == "as" => {
                *i += 2;
                break;
            }
            Some(Tok::Ident(w)) => {
                path.push(w.clone());
                *i += 1;
            }
            Some(Tok::Path) => *i += 1,
            Some(Tok::Punct('{')) => {
                *i += 1;
                while !matches!(toks.get(*i), Some(Tok::Punct('}')) | None) {
                    use_tree(toks, i, &path, out);
                    if toks.get(*i) == Some(&Tok::Punct(',')) {
                        *i += 1;
                    }
                }
                *i += 1;
                return;
            }
            Some(Tok::Punct('*')) => {
                *i += 1;
                break;
            }
            _ => break,
        }
    }
    out.push(path);
}

/// What a file's code names, as written: each path with the module it is written in (the
/// file's, or an inline module of it). Test-only items are left out; a `#[cfg(test)] mod x;`
/// is reported in `test_only`.
fn written_paths(file_module: &Module, text: &str, test_only: &mut BTreeSet<Module>) -> Vec<(Module, Module)> {
    let toks = tokens(text);
    let mut out = Vec::new();
    // Inline modules open, with the brace depth at which each closes.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let here = |inline: &[(String, usize)]| {
        let mut m = file_module.clone();
        m.extend(inline.iter().map(|(n, _)| n.clone()));
        m
    };
    let is = |i: usize, t: Tok| toks.get(i) == Some(&t);
    let ident = |i: usize| match toks.get(i) {
        Some(Tok::Ident(w)) => Some(w.as_str()),
        _ => None,
    };
    let mut i = 0;
    while i < toks.len() {
        let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"];
        let at_cfg_test = cfg_test.iter().enumerate().all(|(k, want)| match toks.get(i + k) {
            Some(Tok::Ident(w)) => w == want,
            Some(Tok::Punct(p)) => p.to_string() == *want,
            _ => false,
        });
        if at_cfg_test {
            // Skip the item: to its `;`, or over its body.
            i += cfg_test.len();
            let start = i;
            let mut d = 0usize;
            while i < toks.len() {
                match &toks[i] {
                    Tok::Punct('{') => d += 1,
                    Tok::Punct('}') => {
                        d -= 1;
                        if d == 0 {
                            break;
                        }
                    }
                    Tok::Punct(';') if d == 0 => {
                        if ident(start) == Some("mod")
                            || (ident(start) == Some("pub") && ident(start + 1) == Some("mod"))
                        {
                            let name = ident(i - 1).unwrap().to_string();
                            let mut m = here(&inline);
                            m.push(name);
                            test_only.insert(m);
                        }
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        match &toks[i] {
            Tok::Ident(w) if w == "mod" && is(i + 2, Tok::Punct('{')) => {
                let name = ident(i + 1).unwrap().to_string();
                depth += 1;
                inline.push((name, depth));
                i += 3;
                continue;
            }
            Tok::Ident(w) if w == "use" => {
                i += 1;
                let mut paths = Vec::new();
                use_tree(&toks, &mut i, &[], &mut paths);
                out.extend(paths.into_iter().map(|p| (here(&inline), p)));
                continue;
            }
            Tok::Ident(w) if is(i + 1, Tok::Path) && !(i > 0 && is(i - 1, Tok::Path)) => {
                let mut path = vec![w.clone()];
                let mut j = i + 1;
                while is(j, Tok::Path) {
                    match ident(j + 1) {
                        Some(next) => path.push(next.to_string()),
                        None => break,
                    }
                    j += 2;
                }
                out.push((here(&inline), path));
                i = j;
                continue;
            }
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The module `path`, written in module `at`, names: the longest known module it starts with.
fn resolve(at: &Module, path: &Module, known: &BTreeSet<Module>) -> Option<Module> {
    let (mut base, rest): (Module, &[String]) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (at.clone(), &path[1..]),
        Some("super") => {
            let supers = path.iter().take_while(|s| *s == "super").count();
            let mut base = at.clone();
            for _ in 0..supers {
                base.pop()?;
            }
            (base, &path[supers..])
        }
        Some(first) => {
            // A child module named by its name alone (`flow::handle` in `end_session/mod.rs`).
            let mut child = at.clone();
            child.push(first.to_string());
            if !known.contains(&child) {
                return None;
            }
            (at.clone(), &path[..])
        }
        None => return None,
    };
    base.extend(rest.iter().cloned());
    (1..=base.len()).rev().map(|n| base[..n].to_vec()).find(|m| known.contains(m))
}

/// Every import between modules, file by file (test-only files and items left out), without
/// the [`ALLOWED`] ones: (importer, imported).
fn module_imports() -> BTreeSet<(Module, Module)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: Vec<(Module, PathBuf)> = files.into_iter().filter_map(|f| Some((module_path(&src, &f)?, f))).collect();
    let known: BTreeSet<Module> = modules.iter().map(|(m, _)| m.clone()).collect();
    let mut test_only = BTreeSet::new();
    let mut written = Vec::new();
    for (module, file) in &modules {
        let text = fs::read_to_string(file).unwrap();
        written.push((module.clone(), written_paths(module, &text, &mut test_only)));
    }
    let allowed =
        |from: &Module, to: &Module| ALLOWED.iter().any(|(f, t, _)| from.join("::") == *f && to.join("::") == *t);
    let mut edges = BTreeSet::new();
    for (module, paths) in written {
        if EXEMPT.contains(&module[0].as_str()) || test_only.iter().any(|t| module.starts_with(t)) {
            continue;
        }
        for (at, path) in paths {
            let Some(to) = resolve(&at, &path, &known) else { continue };
            if to != module && !EXEMPT.contains(&to[0].as_str()) && !allowed(&module, &to) {
                edges.insert((module.clone(), to));
            }
        }
    }
    edges
}

/// The first import cycle among `edges`, as a path of nodes, if any.
fn find_cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(1) => {
                let from = path.iter().position(|p| *p == n).unwrap();
                let mut cycle: Vec<String> = path[from..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            Some(_) => return None,
            None => {}
        }
        state.insert(n, 1);
        path.push(n);
        for to in next.get(n).into_iter().flatten() {
            if let Some(cycle) = visit(to, next, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    next.keys().find_map(|n| visit(n, &next, &mut state, &mut Vec::new()))
}

/// The imports seen at `depth`: each module cut to its first `depth` parts (a module with
/// fewer stays whole); an import between a module and one inside it (a folder's `mod.rs` and
/// its files) is no edge at that depth.
fn at_depth(edges: &BTreeSet<(Module, Module)>, depth: usize) -> BTreeSet<(String, String)> {
    let cut = |m: &Module| m[..m.len().min(depth)].to_vec();
    edges
        .iter()
        .map(|(a, b)| (cut(a), cut(b)))
        .filter(|(a, b)| !a.starts_with(b) && !b.starts_with(a))
        .map(|(a, b)| (a.join("::"), b.join("::")))
        .collect()
}

#[test]
fn there_is_no_import_cycle_between_modules_at_any_depth() {
    let edges = module_imports();
    let deepest = edges.iter().map(|(a, b)| a.len().max(b.len())).max().unwrap();
    let mut found = Vec::new();
    for depth in 1..=deepest {
        if let Some(cycle) = find_cycle(&at_depth(&edges, depth)) {
            found.push(format!("between modules of depth {depth}: {}", cycle.join(" -> ")));
        }
    }
    assert!(found.is_empty(), "import cycle:\n{}", found.join("\n"));
}

#[test]
fn the_submodule_check_resolves_paths_and_finds_cycles() {
    let known: BTreeSet<Module> = [
        vec!["protocol"],
        vec!["protocol", "end_session"],
        vec!["protocol", "end_session", "flow"],
        vec!["protocol", "end_session", "decision"],
    ]
    .into_iter()
    .map(|m| m.into_iter().map(String::from).collect())
    .collect();
    let m = |s: &str| -> Module { s.split("::").map(String::from).collect() };
    let mut test_only = BTreeSet::new();
    let text = "//! crate::admin in a comment\nuse super::{decision::{self, Facts}, flow};\n\
        fn f() { let s = \"crate::app\"; crate::protocol::end_session::decision::decide(); }\n\
        #[cfg(test)]\nmod tests { use super::super::flow; }\n#[cfg(test)]\nmod properties;\n";
    let written = written_paths(&m("protocol::end_session::flow"), text, &mut test_only);
    let at = m("protocol::end_session::flow");
    let resolved: BTreeSet<Module> = written.iter().filter_map(|(at, p)| resolve(at, p, &known)).collect();
    assert_eq!(resolved, [m("protocol::end_session::decision"), m("protocol::end_session::flow")].into());
    assert!(written.iter().all(|(w, _)| *w == at), "nothing from the test module: {written:?}");
    assert_eq!(test_only, [m("protocol::end_session::flow::properties")].into());
    assert_eq!(resolve(&m("protocol::end_session"), &m("flow::handle"), &known), Some(at.clone()));
    assert_eq!(resolve(&m("protocol::end_session"), &m("std::fmt"), &known), None);
    // A loop between two files of one folder is seen at the files' depth only.
    let edges: BTreeSet<(Module, Module)> = [
        (m("protocol::end_session::flow"), m("protocol::end_session::decision")),
        (m("protocol::end_session::decision"), m("protocol::end_session::flow")),
    ]
    .into();
    assert_eq!(find_cycle(&at_depth(&edges, 2)), None);
    let cycle = find_cycle(&at_depth(&edges, 3)).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 3);
}
