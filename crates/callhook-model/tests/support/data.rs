//! The model's notification shapes under `tests/data`, read in place. The tests of this crate and
//! of the crates built on it include this file with `#[path]`, so that the shapes have one reader
//! and no crate needs a test hook in its public API.

#![allow(
    dead_code,
    reason = "each test that includes this file uses part of it"
)]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test helper fails the test by panicking"
)]

use std::path::{Path, PathBuf};

/// The `.json` files of `folder`, sorted by name.
pub(crate) fn json_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    files.sort();
    files
}

/// The model's shapes of `kind` (`graph` or `legacy`), sorted by name; never none.
pub(crate) fn shape_files(kind: &str) -> Vec<PathBuf> {
    // `CARGO_MANIFEST_DIR` is the including crate's, a sibling of the model's folder.
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../callhook-model/tests/data")
        .join(kind);
    let files = json_files(&folder);
    assert!(!files.is_empty(), "no data in {}", folder.display());
    files
}

/// Each shape of `kind` as its file's stem and its bytes.
pub(crate) fn shapes(kind: &str) -> Vec<(String, Vec<u8>)> {
    shape_files(kind)
        .into_iter()
        .map(|path| (file_stem(&path), std::fs::read(&path).unwrap()))
        .collect()
}

/// The file's name without its extension.
pub(crate) fn file_stem(file: &Path) -> String {
    file.file_stem().unwrap().to_string_lossy().into_owned()
}
