//! `cargo xtask fuzz`: placeholder until the fuzzing issue lands.

use anyhow::{Result, bail};

/// Runs every fuzz target for `seconds` each.
pub(crate) fn run(_seconds: u64) -> Result<()> {
    bail!("cargo xtask fuzz is not implemented yet")
}
