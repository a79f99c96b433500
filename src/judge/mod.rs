//! Judgment rules: turning statistics into a verdict with a one-line reason. Pure.

pub mod report;
pub mod shift;

pub use shift::{Direction, Margin, judge_shift};
