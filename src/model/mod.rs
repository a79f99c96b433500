//! The shared vocabulary at the bottom of the stack: sides and query roles, durations and
//! windows, series and their points, verdicts, directions and margins, sustained-breach rules,
//! and the number formatting that reason strings use. It imports nothing else of the crate, so
//! every other module can use it without an upward arrow.

pub mod clock;
pub mod direction;
pub mod duration;
pub mod number;
pub mod rule;
pub mod series;
pub mod side;
pub(crate) mod text;
pub mod verdict;
pub mod window;

pub use direction::{Direction, Margin};
pub use duration::Duration;
pub use rule::{Bound, Rule};
pub use series::{Point, PointTime, Series, SourceDescription};
pub use side::{QueryRole, Side};
pub use verdict::Verdict;
pub use window::Window;
