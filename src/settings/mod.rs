//! The resolved-settings layer (ripgrep's low args → high args): the command line's flags, the
//! environment and the analysis are resolved here once into typed settings, and commands only
//! orchestrate them.
//!
//! - [`analysis`]: the analysis with its variables and the command line's judge;
//! - [`fleet`]: the services of a run that judges several analyses;
//! - [`source`]: the source connection (backend, URL, headers, CA, timeouts, limits, credentials);
//! - [`secret`]: every secret, from an environment variable or a file, read one way;
//! - [`window`]: the judged window, live or replayed;
//! - [`deadline`]: the overall deadline of a run;
//! - [`rollback`] and [`features`]: the rollback webhook and the feature actions;
//! - [`output`]: colour on stdout and stderr, and the width output fits, decided once;
//! - [`serve`]: `canary serve`'s address, callers' secret, bounds and catalogue of analyses.

pub(crate) mod analysis;
pub(crate) mod deadline;
pub(crate) mod features;
pub(crate) mod fleet;
pub(crate) mod output;
pub(crate) mod rollback;
pub(crate) mod secret;
pub(crate) mod serve;
pub(crate) mod source;
pub(crate) mod window;
