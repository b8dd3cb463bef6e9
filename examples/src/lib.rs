//! Examples live in `examples/` as binaries; this library is empty.
