//! The workspace README links every document: each file of `docs/` and each folder of `deploy/`
//! (its README when it has one), so that a new document cannot be left where nobody finds it.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers of tests: a panic is a failed test"
)]

use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn names_in(folder: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(folder))
        .unwrap_or_else(|error| panic!("cannot read {folder}: {error}"))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_readme_links_every_file_of_docs_and_every_folder_of_deploy() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut unlinked = Vec::new();
    for name in names_in("docs") {
        if Path::new(&name)
            .extension()
            .is_some_and(|extension| extension == "md")
            && !readme.contains(&format!("](docs/{name})"))
        {
            unlinked.push(format!("docs/{name}"));
        }
    }
    for name in names_in("deploy") {
        let folder = format!("deploy/{name}");
        let target = if root().join(&folder).join("README.md").is_file() {
            format!("{folder}/README.md")
        } else {
            format!("{folder}/")
        };
        if root().join(&folder).is_dir() && !readme.contains(&format!("]({target})")) {
            unlinked.push(target);
        }
    }
    assert!(
        unlinked.is_empty(),
        "README.md links none of these (a `[...](path)` link is expected): {unlinked:?}"
    );
}
