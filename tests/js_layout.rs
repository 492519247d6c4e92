//! The JavaScript side laid out like the Rust one: what bench/, scripts/ and examples/ share with
//! the tests lives in tools/, and nothing there imports from tests/ (an operator who copies the
//! example must not pick up test internals).

use std::fs;
use std::path::{Path, PathBuf};

fn js_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !matches!(name.as_str(), "node_modules" | "results") {
                js_files(&path, out);
            }
        } else if name.ends_with(".mjs") || name.ends_with(".js") {
            out.push(path);
        }
    }
}

#[test]
fn bench_scripts_examples_and_tools_import_nothing_from_tests() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["bench", "scripts", "examples", "tools"] {
        js_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "JS files found: {}", files.len());
    let mut wrong = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let imports =
                line.trim_start().starts_with("import ") || line.contains("import(") || line.contains(" from '");
            if imports && (line.contains("tests/") || line.contains("/support/")) {
                wrong.push(format!("{}: {}", path.strip_prefix(&root).unwrap().display(), line.trim()));
            }
        }
    }
    assert!(wrong.is_empty(), "imports from tests/:\n{}", wrong.join("\n"));
}
