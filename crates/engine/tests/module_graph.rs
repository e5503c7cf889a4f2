//! The modules of every workspace crate depend on each other one way: no module (a file,
//! or a folder counted as one) reaches back to one that reaches it. A loop means two jobs
//! cannot be read, tested or changed apart, which is what the engine services split ended.
//!
//! `cargo test -p upsight-engine --test module_graph -- --nocapture` prints each crate's
//! modules in layers, lowest first, with what each one uses (ARCHITECTURE.md shows it).
//!
//! The edges are read from the source: every `crate::name` path outside `#[cfg(test)]`
//! code, with names the crate root re-exports (`pub use module::Name`) resolved to their
//! module. Test modules may use the facade of their own crate; that is not a dependency
//! of the code.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_crate_has_a_module_loop() {
    let crates_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut loops = Vec::new();
    let mut crates: Vec<PathBuf> = fs::read_dir(&crates_dir)
        .expect("crates dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    crates.sort();
    assert!(crates.len() >= 5, "found only {crates:?}");
    for krate in crates {
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        let graph = module_graph(&krate.join("src"));
        println!("{name}:");
        match layers(&graph) {
            Ok(layers) => {
                for (depth, layer) in layers.iter().enumerate() {
                    for module in layer {
                        let uses: Vec<&str> = graph[module].iter().map(String::as_str).collect();
                        println!("  {depth:>2} {module} -> {}", uses.join(", "));
                    }
                }
            }
            Err(cycle) => loops.push(format!("{name}: {}", cycle.join(" -> "))),
        }
    }
    assert!(loops.is_empty(), "module loops:\n{}", loops.join("\n"));
}

#[test]
fn a_loop_is_found() {
    // The checker itself: a graph with a loop must not pass as layered.
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".to_owned()].into());
    graph.insert("b".into(), ["c".to_owned()].into());
    graph.insert("c".into(), ["a".to_owned()].into());
    graph.insert("d".into(), ["a".to_owned()].into());
    let cycle = layers(&graph).expect_err("a -> b -> c -> a is a loop");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");

    let edges = references(
        "use crate::b::X;\n/// [`crate::e`]\nfn f() { crate::c::g(); }\n#[cfg(test)]\nmod tests {\n    use crate::d;\n}\n",
    );
    assert_eq!(edges, ["b".to_owned(), "c".to_owned()].into());
}

/// Top-level modules of the crate at `src` and the modules each one names.
fn module_graph(src: &Path) -> Graph {
    let root = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .find(|p| p.exists())
        .expect("crate root");
    let reexports = reexports(&fs::read_to_string(&root).unwrap());
    let mut graph = Graph::new();
    for entry in fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let module = match path.file_stem().unwrap().to_str().unwrap() {
            "lib" | "main" => continue,
            stem if path.is_dir() || path.extension().is_some_and(|e| e == "rs") => stem,
            _ => continue,
        }
        .to_owned();
        let mut uses = BTreeSet::new();
        for file in rust_files(&path) {
            for name in references(&fs::read_to_string(file).unwrap()) {
                let target = reexports.get(&name).cloned().unwrap_or(name);
                if target != module {
                    uses.insert(target);
                }
            }
        }
        graph.entry(module).or_default().extend(uses);
    }
    // A name that is not a module (a re-export the root defines itself) is no edge.
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|m| modules.contains(m));
    }
    graph
}

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path).unwrap() {
        files.extend(rust_files(&entry.unwrap().path()));
    }
    files
}

/// `pub use module::Name` and `pub use module::{A, B}` in a crate root: name → module.
fn reexports(root: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in root.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.trim_end_matches(';').split_once("::") else {
            continue;
        };
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = name.split("::").last().unwrap_or("").trim();
            let name = name.split(" as ").last().unwrap_or(name).trim();
            if !name.is_empty() {
                map.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    map
}

/// The first path segment of every `crate::` path in code that is not under `#[cfg(test)]`
/// or in a comment.
fn references(source: &str) -> BTreeSet<String> {
    let code = match source.find("#[cfg(test)]") {
        Some(at) => &source[..at],
        None => source,
    };
    // Comments (doc links included) name modules without using them.
    let code: String = code
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let code = code.as_str();
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `upsight_crate::`, not this crate
        }
        if rest.starts_with('{') {
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                let first = item.trim().split("::").next().unwrap_or("");
                if !first.is_empty() {
                    names.insert(first.to_owned());
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

/// The modules in layers (each uses only lower layers), or a loop as `a -> b -> a`.
fn layers(graph: &Graph) -> Result<Vec<Vec<String>>, Vec<String>> {
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    for module in graph.keys() {
        visit(graph, module, &mut depth, &mut Vec::new())?;
    }
    let mut layers: Vec<Vec<String>> = Vec::new();
    for (module, d) in depth {
        if layers.len() <= d {
            layers.resize(d + 1, Vec::new());
        }
        layers[d].push(module.to_owned());
    }
    Ok(layers)
}

fn visit<'g>(
    graph: &'g Graph,
    module: &'g str,
    depth: &mut BTreeMap<&'g str, usize>,
    path: &mut Vec<&'g str>,
) -> Result<usize, Vec<String>> {
    if let Some(d) = depth.get(module) {
        return Ok(*d);
    }
    if let Some(at) = path.iter().position(|m| *m == module) {
        let mut cycle: Vec<String> = path[at..].iter().map(|m| (*m).to_owned()).collect();
        cycle.push(module.to_owned());
        return Err(cycle);
    }
    path.push(module);
    let mut d = 0;
    for used in graph.get(module).into_iter().flatten() {
        d = d.max(visit(graph, used, depth, path)? + 1);
    }
    path.pop();
    depth.insert(module, d);
    Ok(d)
}
