//! The layout the README describes is the tree's: every folder of `src/` is on its map and every
//! path the map names exists; and no module of the library or of the binary imports one that
//! imports it back (through `crate::` and `super::` paths), nor does any folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_path_buf()
}

/// A source file's module path inside its crate: `src/io/log.rs` is `io/log`, `src/io/mod.rs`
/// is `io`; the crate roots are `lib` and `main`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src/").with_extension("");
    let rel = rel.to_str().expect("a UTF-8 path");
    rel.strip_suffix("/mod").unwrap_or(rel).to_string()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The code of a file without its comments and its `#[cfg(test)]` module (tests may reach
/// anywhere), so that only the paths the module itself uses remain.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The module paths `code` names after `prefix` (`crate::a::b::Item` gives `[a, b]`).
fn paths_after<'c>(code: &'c str, prefix: &str) -> impl Iterator<Item = Vec<&'c str>> {
    code.match_indices(prefix).filter_map(move |(at, _)| {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '$') {
            return None;
        }
        let (mut words, mut rest) = (Vec::new(), &code[at + prefix.len()..]);
        loop {
            let end = rest.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            let end = end.unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            words.push(&rest[..end]);
            match rest[end..].strip_prefix("::") {
                Some(next) => rest = next,
                None => break,
            }
        }
        Some(words)
    })
}

/// The module of `modules` that a path of `words` from `base` reaches: the longest prefix that
/// is a module.
fn resolve(modules: &BTreeSet<String>, base: &[&str], words: &[&str]) -> Option<String> {
    (1..=words.len()).rev().find_map(|n| {
        let path = base.iter().chain(&words[..n]).copied().collect::<Vec<_>>().join("/");
        modules.contains(&path).then_some(path)
    })
}

/// Each module's imports of other modules of its crate, for the crate whose files are `files`.
fn imports(src: &Path, files: &[PathBuf]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in files {
        let me = module_of(src, file);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let parent: Vec<&str> = match me.rsplit_once('/') {
            _ if file.ends_with("mod.rs") => me.split('/').collect(),
            Some((parent, _)) => parent.split('/').collect(),
            None => Vec::new(),
        };
        let mut edges = BTreeSet::new();
        for words in paths_after(&code, "crate::") {
            edges.extend(resolve(&modules, &[], &words));
        }
        for words in paths_after(&code, "super::") {
            edges.extend(resolve(&modules, &parent, &words));
        }
        // The crate roots name their modules without a prefix (`boot::exec::run`).
        if me == "main" || me == "lib" {
            for top in modules.iter().filter(|m| !m.contains('/')) {
                for words in paths_after(&code, &format!("{top}::")) {
                    let words: Vec<&str> = std::iter::once(top.as_str()).chain(words).collect();
                    edges.extend(resolve(&modules, &[], &words));
                }
            }
        }
        edges.remove(&me);
        // A module's own submodules and its parent's declarations are its structure, not imports.
        edges.retain(|m| !m.starts_with(&format!("{me}/")) && !me.starts_with(&format!("{m}/")));
        graph.insert(me, edges);
    }
    graph
}

/// A cycle of `graph`, if it has one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            return Some(path[at..].iter().cloned().chain([node.to_string()]).collect());
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, path) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// The same graph between the crate's top-level modules (folders and root files).
fn between_tops(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split('/').next().unwrap_or(m).to_string();
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph {
        let entry = tops.entry(top(from)).or_default();
        entry.extend(tos.iter().map(|t| top(t)).filter(|t| *t != top(from)));
    }
    tops
}

/// The library's files and the binary's: the binary is `main.rs` and the modules it declares.
fn crates() -> (PathBuf, Vec<PathBuf>, Vec<PathBuf>) {
    let src = workspace().join("src");
    let main = std::fs::read_to_string(src.join("main.rs")).unwrap();
    let binary_tops: BTreeSet<String> = main
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';').map(str::to_string))
        .chain(["main".to_string()])
        .collect();
    let (binary, library) = rust_files(&src)
        .into_iter()
        .partition(|f| binary_tops.contains(module_of(&src, f).split('/').next().unwrap_or_default()));
    (src, library, binary)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let (src, library, binary) = crates();
    for (name, files) in [("library", library), ("binary", binary)] {
        let graph = imports(&src, &files);
        assert!(graph.len() > 10, "{name}: {graph:?}");
        if let Some(cycle) = cycle(&graph) {
            panic!("{name}: an import circle between modules: {}", cycle.join(" -> "));
        }
        if let Some(cycle) = cycle(&between_tops(&graph)) {
            panic!("{name}: an import circle between folders: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_readmes_map_names_every_folder_of_src_and_only_paths_that_exist() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let layout = readme.split("\n## Layout\n").nth(1).expect("README has a Layout section");
    let layout = layout.split("\n## ").next().unwrap_or(layout);
    let src = workspace().join("src");
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        let named = if entry.path().is_dir() { format!("`{name}/`") } else { format!("`{name}`") };
        assert!(layout.contains(&named), "README's Layout does not name src/{name} as {named}");
    }
    for word in layout.split('`').skip(1).step_by(2) {
        let looks_like_a_path = (word.ends_with('/') || word.ends_with(".rs")) && !word.contains([' ', '*']);
        if !looks_like_a_path {
            continue;
        }
        // A bare file name is one of the folder its table row names.
        let exists = match word.contains('/') {
            true => [src.join(word), workspace().join(word)].iter().any(|p| p.exists()),
            false => rust_files(&src).iter().any(|f| f.file_name().is_some_and(|n| n == word)),
        };
        assert!(exists, "README's Layout names {word}, which is neither under src/ nor in the workspace");
    }
}

#[test]
fn every_source_path_the_docs_name_exists() {
    let root = workspace();
    let mut docs: Vec<PathBuf> = vec![root.join("README.md"), root.join("tests/fixtures/trees/README.md")];
    docs.extend(std::fs::read_dir(root.join("docs")).unwrap().flatten().map(|e| e.path()));
    let mut named = 0;
    for doc in docs.iter().filter(|d| d.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(doc).unwrap();
        // A path with a placeholder (`src/sys/arch/<arch>.rs`) names a file to write.
        let is_source_path = |w: &&str| w.starts_with("src/") && !w.contains('<');
        for word in text.split('`').skip(1).step_by(2).filter(is_source_path) {
            // `src/index/writer.rs::a_test` names a file and something in it.
            let path = word.split("::").next().unwrap_or(word);
            assert!(root.join(path).exists(), "{} names {path}, which does not exist", doc.display());
            named += 1;
        }
    }
    assert!(named > 10, "the docs name source files ({named} found)");
}
