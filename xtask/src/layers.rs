//! `cargo xtask layers`: what each module of the server and of the application layer uses, and
//! the checks of the design card's layering: no crate under `crates/` depends on `bins/web`, the
//! application crate names no web framework or template engine, and no two files of one crate
//! import each other in a circle.
//!
//! A file's imports are the `crate::…` and `super::…` paths it names (in `use` lines and in
//! code), resolved to the file that holds the module; a module's own `mod` declarations are not
//! imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates whose files are checked for circles, by their source folder.
pub const CHECKED: &[&str] = &["bins/web/src", "crates/payments-app/src"];

/// A crate's files: module path (`routes::admin::refunds`) → the modules it imports.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The module path of a source file relative to `src` (`routes/admin/mod.rs` → `routes::admin`).
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "lib" | "main") {
            parts.push(stem.to_string());
        }
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The paths a file names after `crate::` or `super::` (with `super` resolved against `module`),
/// as module paths; `use crate::{a, b::c}` names `a` and `b::c`.
fn named_paths(text: &str, module: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    parent.pop();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            for path in expand(rest) {
                let mut full: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                full.extend(path.split("::").map(str::to_string));
                out.push(full.join("::"));
            }
        }
    }
    out
}

/// The paths into `module`'s child `child` that its code names (`child::item`, not after `::`),
/// as module paths; `mod child;` and `pub use child::…` lines (re-exports) are not uses.
fn child_paths(code: &str, module: &str, child: &str) -> Vec<String> {
    let needle = format!("{child}::");
    let mut out = Vec::new();
    for line in code
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("pub use ") && !l.starts_with("mod "))
    {
        let mut rest = line;
        while let Some(i) = rest.find(&needle) {
            let before = rest[..i].chars().next_back();
            let after = &rest[i + needle.len()..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            out.extend(
                expand(after)
                    .into_iter()
                    .map(|p| format!("{module}::{child}::{p}")),
            );
        }
    }
    out
}

/// `a::b::{c, d::{e, f}}` at the start of `text` → `a::b::c`, `a::b::d::e`, `a::b::d::f` (and
/// the prefixes `a::b`, `a::b::d`); `a::b` → `a::b`.
fn expand(text: &str) -> Vec<String> {
    let head: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let rest = &text[head.len()..];
    let head = head.trim_end_matches(':').to_string();
    let join = |tail: &str| {
        if head.is_empty() {
            tail.to_string()
        } else {
            format!("{head}::{tail}")
        }
    };
    let Some(inner) = rest.strip_prefix('{') else {
        return vec![head];
    };
    // The group up to its matching brace, split at the commas of its own level.
    let (mut depth, mut parts, mut start) = (1, Vec::new(), 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                parts.push(&inner[start..i]);
                start = i + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    let mut out: Vec<String> = parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "self")
        .flat_map(|p| expand(p).into_iter().map(|e| join(&e)))
        .collect();
    if !head.is_empty() {
        out.push(head.clone());
    }
    out
}

/// What of a file counts: the code before its unit tests (they may reach anywhere), without
/// comments (they may name modules without using them).
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The import graph of the crate whose sources are in `src`.
pub fn graph(src: &Path) -> std::io::Result<Graph> {
    let mut files = Vec::new();
    rust_files(src, &mut files)?;
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(f.strip_prefix(src).unwrap_or(f)), f.clone()))
        .collect();
    let texts: BTreeMap<&String, String> = modules
        .iter()
        .map(|(m, f)| Ok((m, code_of(&std::fs::read_to_string(f)?))))
        .collect::<std::io::Result<_>>()?;
    // The longest module prefix of a path that is a file of this crate, and the rest.
    let file_of = |path: &str| -> (String, Vec<String>) {
        let parts: Vec<&str> = path.split("::").collect();
        for n in (1..=parts.len()).rev() {
            let prefix = parts[..n].join("::");
            if modules.contains_key(&prefix) {
                return (prefix, parts[n..].iter().map(|s| s.to_string()).collect());
            }
        }
        (String::new(), parts.iter().map(|s| s.to_string()).collect())
    };
    // What each module re-exports (`pub use handle::App;` in lib.rs: `App` is in `handle`).
    let mut reexports: BTreeMap<(String, String), String> = BTreeMap::new();
    for (module, code) in &texts {
        for line in code.lines().map(str::trim).filter(|l| l.starts_with("pub use ")) {
            let rest = &line["pub use ".len()..];
            let prefix = if module.is_empty() {
                String::new()
            } else {
                format!("{module}::")
            };
            let (base, rest) = match rest.strip_prefix("crate::") {
                Some(r) => (String::new(), r),
                None => (prefix, rest.strip_prefix("self::").unwrap_or(rest)),
            };
            for path in expand(rest.trim_end_matches(';')) {
                let full = format!("{base}{path}");
                let (target, _) = file_of(&full);
                if let (Some(name), false) = (full.rsplit("::").next(), target.is_empty()) {
                    reexports.insert(((*module).clone(), name.to_string()), target);
                }
            }
        }
    }
    let mut graph = Graph::new();
    for (module, code) in &texts {
        let mut used = BTreeSet::new();
        // Paths into its own child modules (`capture::run(..)` in `webhook`) count as well.
        let children = modules.keys().filter_map(|m| {
            m.strip_prefix(&format!("{module}::"))
                .filter(|c| !module.is_empty() && !c.contains("::"))
        });
        let mut paths = named_paths(code, module);
        for child in children {
            paths.extend(child_paths(code, module, child));
        }
        for path in paths {
            let (mut target, rest) = file_of(&path);
            if let Some(via) = rest
                .first()
                .and_then(|name| reexports.get(&(target.clone(), name.clone())))
            {
                target = via.clone();
            }
            if !target.is_empty() && target != **module && !module.is_empty() {
                used.insert(target);
            }
        }
        graph.insert((*module).clone(), used);
    }
    Ok(graph)
}

/// The circles of `graph`: its strongly connected components of more than one module
/// (Tarjan's algorithm).
pub fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let lw = s.low[w.as_str()];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w.as_str()) {
                let iw = s.index[w.as_str()];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// The crates under `crates/` whose manifest names the server (`payments-web` or `bins/web`).
pub fn crates_depending_on_the_server(root: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let manifest = entry?.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        if text
            .lines()
            .any(|l| l.trim_start().starts_with("payments-web") || l.contains("bins/web"))
        {
            out.push(manifest.display().to_string());
        }
    }
    Ok(out)
}

/// The web framework and template crates the application layer must not name.
const NOT_IN_THE_APP: &[&str] = &["actix", "tera"];

/// The application crate's dependencies that are web framework or template crates.
pub fn web_crates_in_the_app(root: &Path) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join("crates/payments-app/Cargo.toml"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| NOT_IN_THE_APP.iter().any(|w| l.starts_with(w)))
        .map(str::to_string)
        .collect())
}

/// Prints each checked crate's modules with what they use; returns the problems found.
pub fn run(root: &Path) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    for dir in CHECKED {
        let graph = graph(&root.join(dir)).map_err(|e| format!("{dir}: {e}"))?;
        println!("{dir}:");
        for (module, used) in &graph {
            let name = if module.is_empty() { "(root)" } else { module };
            let used: Vec<&str> = used.iter().map(String::as_str).collect();
            println!(
                "  {name:<28} uses {}",
                if used.is_empty() {
                    "-".into()
                } else {
                    used.join(", ")
                }
            );
        }
        for circle in circles(&graph) {
            problems.push(format!(
                "{dir}: these modules import each other in a circle: {}",
                circle.join(", ")
            ));
        }
    }
    for manifest in crates_depending_on_the_server(root).map_err(|e| e.to_string())? {
        problems.push(format!("{manifest} depends on the server (bins/web)"));
    }
    for line in web_crates_in_the_app(root).map_err(|e| e.to_string())? {
        problems.push(format!("crates/payments-app depends on a web crate: {line}"));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn use_lines_are_expanded_and_super_is_resolved() {
        let text = "use crate::{a, b::{c, d}};\nuse super::page::html;\nlet x = crate::e::f(1);";
        let named = named_paths(text, "routes::admin::refunds");
        for expected in ["a", "b::c", "b::d", "routes::admin::page::html", "e::f"] {
            assert!(named.iter().any(|n| n == expected), "{expected} not in {named:?}");
        }
        assert_eq!(module_of(Path::new("routes/admin/mod.rs")), "routes::admin");
        assert_eq!(module_of(Path::new("lib.rs")), "");
    }

    #[test]
    fn a_circle_is_found_and_a_chain_is_not() {
        let mut g = Graph::new();
        g.insert("a".into(), ["b".to_string()].into());
        g.insert("b".into(), ["c".to_string()].into());
        g.insert("c".into(), BTreeSet::new());
        assert!(circles(&g).is_empty());
        g.insert("c".into(), ["a".to_string()].into());
        assert_eq!(circles(&g), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    }

    #[test]
    fn the_server_and_the_application_keep_their_layers() {
        let problems = run(&root()).unwrap();
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
