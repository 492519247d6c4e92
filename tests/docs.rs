//! The documentation as a test: README.md, docs/ and the example's README name only settings,
//! routes and KV keys the code has, `docs/configuration.md` lists every setting `src/config.rs`
//! reads, and the KV layout of `docs/architecture.md` is the one `src/state/mod.rs` documents
//! (whose keys `src/state/` builds). Plain text scanning, no Markdown parser: inline code spans
//! (`...`) outside fenced blocks, and `NAME=value` lines inside them.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The pages this test keeps honest.
fn pages() -> Vec<String> {
    let mut out = vec!["README.md".to_string(), "examples/node-oidc-provider/README.md".to_string()];
    let mut docs: Vec<String> = fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| format!("docs/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// What a page says in code: its inline code spans outside fenced blocks, and the lines of its
/// fenced blocks (for `NAME=value` settings).
struct Code {
    spans: Vec<String>,
    fenced_lines: Vec<String>,
}

fn code_of(text: &str) -> Code {
    let mut spans = Vec::new();
    let mut fenced_lines = Vec::new();
    let mut prose = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            fenced_lines.push(line.to_string());
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    // Spans may wrap across lines; a double backtick opens no span here (none is used).
    for (i, part) in prose.split('`').enumerate() {
        if i % 2 == 1 {
            spans.push(part.replace('\n', " "));
        }
    }
    Code { spans, fenced_lines }
}

/// `{anything}` (nested braces and parentheses included) becomes `{}`.
fn normalise(key: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in key.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push_str("{}");
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// The double-quoted string literals of Rust source (escapes are not needed here).
fn string_literals(src: &str) -> Vec<String> {
    src.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

fn is_setting_name(s: &str) -> bool {
    s.len() >= 4
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}

/// Words in capitals that name no setting.
const NOT_SETTINGS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "JSON", "HTML", "HTTP"];

/// The settings `src/config.rs` reads: the capitalised string literals of its code (tests excluded).
fn config_settings() -> BTreeSet<String> {
    let src = read("src/config.rs");
    let code = src.split("#[cfg(test)]").next().unwrap();
    string_literals(code).into_iter().filter(|s| is_setting_name(s)).collect()
}

/// Every name a page may give in capitals: the settings, the bindings of `wrangler.toml`, and the
/// environment variables the scripts, tools, bench and tests read (named in their source).
fn known_names() -> BTreeSet<String> {
    let mut known = config_settings();
    for line in read("wrangler.toml").lines() {
        // Bindings (`binding = "X"`, rate limits' `name = "X"`) and `[vars]` (`X = "..."`).
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("binding = \"").or_else(|| line.strip_prefix("name = \"")) {
            known.insert(rest.trim_end_matches('"').to_string());
        }
        if let Some((key, _)) = line.split_once(" = ") {
            if is_setting_name(key) {
                known.insert(key.to_string());
            }
        }
    }
    // What the runtime layer reads from the environment besides src/config.rs (bindings, vars).
    let mut edge = Vec::new();
    files(&root().join("src/edge"), &mut edge);
    for path in edge {
        let Ok(text) = fs::read_to_string(&path) else { continue };
        for literal in text.split('"').skip(1).step_by(2) {
            if is_setting_name(literal) {
                known.insert(literal.to_string());
            }
        }
    }
    let mut sources = Vec::new();
    for dir in ["scripts", "tools", "bench", "tests", "examples", ".ci", "fuzz"] {
        files(&root().join(dir), &mut sources);
    }
    for path in sources {
        let Ok(text) = fs::read_to_string(&path) else { continue };
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if is_setting_name(word) {
                known.insert(word.to_string());
            }
        }
    }
    // Cloudflare's own variables, which wrangler reads (docs/deploying.md).
    known.extend(["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID"].map(String::from));
    known
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | "node_modules" | "artifacts" | "corpus" | "results") {
                files(&path, out);
            }
        } else if [".rs", ".mjs", ".js", ".sh", ".toml"].iter().any(|x| name.ends_with(x)) || name == "run" {
            out.push(path);
        }
    }
}

/// The setting names a page mentions: `NAME` or `NAME=...` in a span, `NAME=...` in a fenced line.
fn settings_named(code: &Code) -> Vec<String> {
    let mut out = Vec::new();
    for span in &code.spans {
        let name = span.split('=').next().unwrap().trim();
        if is_setting_name(name) && !NOT_SETTINGS.contains(&name) {
            out.push(name.to_string());
        }
    }
    for line in &code.fenced_lines {
        let name = line.trim().split('=').next().unwrap();
        if line.contains('=') && is_setting_name(name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The route templates of `src/routes.rs`, parameters as `{}`.
fn routes() -> Vec<String> {
    let src = read("src/routes.rs");
    let code = src.split("#[cfg(test)]").next().unwrap();
    let routes: Vec<String> = string_literals(code)
        .into_iter()
        .filter(|s| s.starts_with('/') && s.len() > 1 && !s.ends_with('/'))
        .map(|s| normalise(&s))
        .collect();
    assert!(routes.contains(&"/session/end".to_string()), "routes read from src/routes.rs: {routes:?}");
    routes
}

/// The route a span names: a path of edge-logout's (after an optional method), without query.
fn route_named(span: &str) -> Option<String> {
    let path = span.split_whitespace().find(|w| w.starts_with('/'))?;
    let path = path.split(['?', '[']).next().unwrap();
    ["/admin", "/session", "/jwks", "/.well-known"].iter().any(|p| path.starts_with(p)).then(|| normalise(path))
}

fn route_exists(path: &str, routes: &[String]) -> bool {
    // `/admin/*`, `/session/end*` or `/admin/...`: any route under that prefix.
    if let Some(prefix) = path.strip_suffix('*').or_else(|| path.strip_suffix("...")) {
        return routes.iter().any(|r| r.starts_with(prefix));
    }
    let doc: Vec<&str> = path.split('/').collect();
    routes.iter().any(|r| {
        let code: Vec<&str> = r.split('/').collect();
        code.len() == doc.len() && code.iter().zip(&doc).all(|(c, d)| c == d || *c == "{}")
    })
}

/// The KV key a span names, if it has a key's shape: `word/...` where `word` is neither a folder
/// or file of the repository (or a build output) nor a media type.
fn kv_key_named(span: &str) -> Option<String> {
    let span = span.trim();
    let (first, _) = span.split_once('/')?;
    let shaped = !first.is_empty()
        && first.starts_with(|c: char| c.is_ascii_lowercase())
        && first.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && !span.contains(' ')
        && !span.contains("://");
    let not_a_path = !root().join(first).exists()
        && !["build", "target", "node_modules", "application", "text", "image", "multipart"].contains(&first)
        && !first.starts_with("build-");
    (shaped && not_a_path).then(|| normalise(span))
}

/// The keys `src/state/mod.rs` documents, normalised.
fn documented_keys() -> BTreeSet<String> {
    let doc: String =
        read("src/state/mod.rs").lines().filter_map(|l| l.strip_prefix("//!")).map(|l| format!("{l}\n")).collect();
    code_of(&doc).spans.iter().filter_map(|s| kv_key_named(s)).collect()
}

fn key_known(key: &str, layout: &BTreeSet<String>) -> bool {
    layout.iter().any(|k| k == key || (key.ends_with('/') && k.starts_with(key)))
}

#[test]
fn every_setting_of_config_rs_is_in_the_configuration_table() {
    let table: BTreeSet<String> = read("docs/configuration.md")
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let settings = config_settings();
    assert!(settings.len() >= 20, "settings read from src/config.rs: {settings:?}");
    let missing: Vec<_> = settings.difference(&table).collect();
    assert!(missing.is_empty(), "docs/configuration.md's table lacks {missing:?}");
    let stray: Vec<_> = table.iter().filter(|n| is_setting_name(n) && !settings.contains(*n)).collect();
    assert!(stray.is_empty(), "docs/configuration.md's table lists {stray:?}, which src/config.rs does not read");
}

#[test]
fn pages_name_only_settings_the_code_has() {
    let known = known_names();
    let mut wrong = Vec::new();
    for page in pages() {
        for name in settings_named(&code_of(&read(&page))) {
            if !known.contains(&name) {
                wrong.push(format!("{page}: `{name}`"));
            }
        }
    }
    assert!(wrong.is_empty(), "settings no code reads:\n{}", wrong.join("\n"));
}

#[test]
fn pages_name_only_routes_the_code_has() {
    let routes = routes();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for page in pages() {
        for span in code_of(&read(&page)).spans {
            if let Some(path) = route_named(&span) {
                seen += 1;
                if !route_exists(&path, &routes) {
                    wrong.push(format!("{page}: `{span}`"));
                }
            }
        }
    }
    assert!(seen > 20, "routes found in the pages: {seen}");
    assert!(wrong.is_empty(), "routes src/routes.rs does not have:\n{}", wrong.join("\n"));
}

#[test]
fn pages_name_only_kv_keys_of_the_layout() {
    let layout = documented_keys();
    let mut wrong = Vec::new();
    for page in pages() {
        for span in code_of(&read(&page)).spans {
            if let Some(key) = kv_key_named(&span) {
                if !key_known(&key, &layout) {
                    wrong.push(format!("{page}: `{span}`"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "KV keys src/state/mod.rs does not document:\n{}", wrong.join("\n"));
}

#[test]
fn the_kv_layout_of_state_mod_rs_is_the_code_s_and_the_architecture_page_s() {
    let layout = documented_keys();
    for key in ["client/{}", "session/{}", "member/{}/{}", "ended/{}", "outbox/{}", "sweep/due"] {
        assert!(layout.contains(key), "src/state/mod.rs documents {layout:?}, not {key}");
    }
    // Each documented key's fixed start is a string literal of src/state/, and each key prefix
    // there is documented.
    let mut literals = BTreeSet::new();
    let mut sources = Vec::new();
    files(&root().join("src/state"), &mut sources);
    for path in sources {
        let src = fs::read_to_string(&path).unwrap();
        let code = src.split("#[cfg(test)]").next().unwrap().to_string();
        literals.extend(string_literals(&code).into_iter().filter_map(|s| kv_key_named(&s)));
    }
    for key in &layout {
        let fixed = key.split("{}").next().unwrap();
        assert!(
            literals.iter().any(|l| l.starts_with(fixed) || fixed.starts_with(l.as_str())),
            "src/state/ builds no key starting {fixed:?} (documented {key}); literals: {literals:?}"
        );
    }
    for literal in &literals {
        assert!(
            key_known(literal, &layout) || layout.contains(literal),
            "src/state/ builds {literal:?}, which mod.rs does not document"
        );
    }
    // The architecture page lists exactly the documented keys in its layout section.
    let page = read("docs/architecture.md");
    let section = page.split("## KV key layout").nth(1).expect("docs/architecture.md has a KV key layout section");
    let section = section.split("\n## ").next().unwrap();
    let listed: BTreeSet<String> = code_of(section).spans.iter().filter_map(|s| kv_key_named(s)).collect();
    assert_eq!(listed, layout, "docs/architecture.md's KV key layout differs from src/state/mod.rs's");
}
