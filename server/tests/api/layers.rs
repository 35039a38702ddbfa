//! The server's layers point one way: a module may use only the modules below it, the REST
//! API and the UI never use each other, and the write layer and everything under it know
//! no HTTP. Checked over the code (comments left out), so a new `use` that breaks the
//! order fails here with the line that did.

use std::path::{Path, PathBuf};

/// The server's top-level modules from the bottom up; a module may use those of a lower
/// rank. `api` and `ui` share a rank and may not use each other.
const LAYERS: &[(&str, u8)] = &[
    ("config", 0),
    ("client", 0),
    ("cookies", 0),
    ("low_priority", 0),
    ("json", 0),
    ("same_site", 0),
    ("db", 1),
    ("metrics", 1),
    ("agents", 2),
    ("access", 2),
    ("resources", 3),
    ("state", 3),
    ("edit", 4),
    ("api", 5),
    ("ui", 5),
    ("http", 6),
    ("cli", 6),
];

/// Modules that must not know HTTP: the write layer and what it stands on.
const NO_HTTP: &[&str] = &["db", "json", "access", "resources", "state", "edit"];

/// The crates that are HTTP.
const HTTP_CRATES: &[&str] = &[
    "axum::",
    "hyper::",
    "hyper_util::",
    "tower::",
    "tower_http::",
];

fn rank(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the server's sources") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `api` for `src/api/x.rs`, `db` for
/// `src/db.rs`; `None` for the crate root and the binaries, which wire every layer.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let module = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(module, "lib" | "main" | "bin")).then(|| module.to_owned())
}

/// The line without its comment.
fn code(line: &str) -> &str {
    line.split_once("//").map_or(line, |(code, _)| code)
}

/// Each `crate::<module>` a line names.
fn crate_modules(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            // `crate::{a, b}`
            let group = rest
                .strip_prefix('{')
                .and_then(|g| g.split_once('}'))
                .map_or("", |(g, _)| g);
            found.extend(group.split(',').filter_map(|item| {
                let name = item.trim().split("::").next()?.trim();
                (!name.is_empty()).then(|| name.to_owned())
            }));
        } else {
            found.push(name);
        }
    }
    found
}

/// Every line of the server's sources that breaks the order, as `file:line: why`.
fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "too few sources found under {}",
        src.display()
    );
    let mut found = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let name = file
            .strip_prefix(&src)
            .unwrap_or(file)
            .display()
            .to_string();
        let Some(own) = rank(&module) else {
            found.push(format!(
                "{name}: module `{module}` has no place in LAYERS; give it one"
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read a source file");
        for (number, line) in text.lines().enumerate() {
            let line = code(line);
            let at = format!("{name}:{}", number + 1);
            for used in crate_modules(line) {
                if used == module {
                    continue;
                }
                match rank(&used) {
                    Some(r) if r < own => {}
                    Some(_) => found.push(format!(
                        "{at}: `{module}` uses `{used}`, which is not below it: {}",
                        line.trim()
                    )),
                    None => found.push(format!(
                        "{at}: `crate::{used}` is not a module of LAYERS: {}",
                        line.trim()
                    )),
                }
            }
            if NO_HTTP.contains(&module.as_str()) {
                for http in HTTP_CRATES {
                    if line.contains(http) {
                        found.push(format!(
                            "{at}: `{module}` must not know HTTP (`{http}`): {}",
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn server_layers_point_one_way() {
    let found = violations();
    assert!(
        found.is_empty(),
        "{} line(s) break the server's layering (see LAYERS in this file):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_use_that_climbs() {
    assert_eq!(crate_modules("use crate::api::error::ApiError;"), ["api"]);
    assert_eq!(
        crate_modules("use crate::{api, ui}; let x = crate::db::now();"),
        ["api", "ui", "db"]
    );
    assert_eq!(code("let a = 1; // crate::ui"), "let a = 1; ");
    assert!(rank("edit") < rank("api"));
    assert_eq!(rank("api"), rank("ui"));
}
