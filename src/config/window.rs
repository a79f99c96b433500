//! The judged time window, now defined in [`crate::model::window`].

// re-export for the merge; removed after
pub use crate::model::window::*;
