//! Renderers: each takes a finished report and writes it in one format. No statistics here.

pub mod compare;
pub mod junit;
pub mod markdown;
pub(crate) mod rules_out;
#[cfg(test)]
pub(crate) mod sample;
pub mod table;

/// Output formats of `canary compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A readable table (plain when stdout is not a terminal or NO_COLOR is set).
    Table,
    /// The JSON document described in the README.
    Json,
}
