//! `cargo xtask bench`: placeholder until the benchmark issue lands.

use anyhow::{Result, bail};

/// Runs the benchmarks.
pub(crate) fn run(_quick: bool) -> Result<()> {
    bail!("cargo xtask bench is not implemented yet")
}
