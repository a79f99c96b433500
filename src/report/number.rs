//! Number formatting for people, now defined in [`crate::model::number`].

// re-export for the merge; removed after
pub use crate::model::number::*;
