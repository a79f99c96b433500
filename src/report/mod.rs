//! Renderers: each takes a finished report and writes it in one format. No statistics here.

pub mod compare;
pub mod fleet;
pub mod junit;
pub(crate) mod layout;
pub mod markdown;
pub(crate) mod rules_out;
#[cfg(test)]
pub(crate) mod sample;
pub mod table;
pub mod watch;

/// How a renderer for people lays out its text: styled (colour, box-drawing) or plain, and the
/// columns every line fits (a word longer than the width keeps a line of its own, never split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub styled: bool,
    pub width: usize,
}

impl Page {
    /// Plain text `width` columns wide (files, tests).
    pub fn plain(width: usize) -> Page {
        Page { styled: false, width }
    }
}

/// Output formats of `canary compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A readable table (plain when stdout is not a terminal or NO_COLOR is set).
    Table,
    /// The JSON document described in the README.
    Json,
}
