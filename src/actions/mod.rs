//! What a verdict sets off: the rollback webhook. (Network I/O of actions lives here, apart from
//! the metric sources.)

pub mod webhook;
