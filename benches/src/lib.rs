//! Shared helpers for the vtx32 benchmarks.
