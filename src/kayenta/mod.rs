//! A Kayenta-compatible judge: Spinnaker Kayenta's NetflixACAJudge (the `MannWhitneyClassifier`
//! per metric, then the `WeightedSumScorer` and `ThresholdScoreClassifier`), ported as specified
//! in Kayenta's source (`kayenta-judge`, `kayenta-mannwhitney`) and checked against Kayenta's own
//! test suites (`tests/data/kayenta-judge-fixtures.json`), and the importer of Kayenta's canary
//! configs (`canary import kayenta`).
//!
//! Per metric: NaN `remove` or `replace` (with 0.0), optional Tukey-fence outlier removal
//! (widened by P1/P99, `outliers.strategy: remove`), summary statistics, then the short-circuits
//! (an empty side, identical data, a single distinct value), R's `wilcox.test(x, y, conf.int = TRUE,
//! exact = FALSE, correct = TRUE)` interval and location estimate (normal approximation, roots
//! found with a port of R's `zeroin`, tolerance 1e-4), the mean-ratio or CLES effect size, and the
//! decision rule: High when the interval's lower end exceeds `tolerance × |estimate|` (0.25), Low
//! when its upper end lies below the negative of that, each only when the effect size agrees.
//!
//! **The one deliberate difference.** When both sides are constant but different, Kayenta adds
//! Gaussian noise N(0, (value·1e-5)²) to every point from an *unseeded* random generator, so the
//! same data can be judged differently from one run to the next. Here the noise has the same
//! distribution but comes from a fixed-seed generator ([`NOISE_SEED`], SplitMix64 with
//! Box–Muller), drawn for the canary first and then the baseline: the same data always gives
//! the same result, and the result is one that Kayenta itself could have given.
//!
//! # Layout
//! - [`statistics`]: transforms, summary statistics, outlier detectors, effect sizes;
//! - [`interval`]: the Mann-Whitney interval and estimate (R's `wilcox.test`, `zeroin`);
//! - [`classifier`]: one metric's options and classification;
//! - [`scorer`]: group scores, the summary score and its thresholds;
//! - `adapter`: canary's analysis, metric inputs and report mapped onto the port;
//! - [`import`]: `canary import kayenta`, a Kayenta canary config into an analysis.
//!
//! # Where it sits
//! The Kayenta judge is an alternative judge, beside `crate::judge`: both sit above `stats` and
//! the model. The arrow points from here to the judge, never back: the adapter reads the judge's
//! metric inputs (`crate::judge::MetricInput`) and writes into its report
//! ([`crate::JudgmentReport`]); `kayenta::judge` takes the default judge's input
//! (`crate::judge::Judgment`), runs the default judge, then
//! adds the Kayenta-compatible judgment as `judgment.judge` chooses. Commands call
//! `kayenta::judge`; the default judge knows nothing of Kayenta. The statistics, interval,
//! classifier and scorer import nothing of the crate beyond each other. The renderers read the
//! finished report only: the `kayenta:` line is `KayentaVerdict::summary_line`, defined here.

mod adapter;
pub mod classifier;
pub mod import;
pub mod interval;
pub mod scorer;
pub mod statistics;

pub(crate) use adapter::judge;
pub use classifier::{
    CONFIDENCE, Classified, EffectMeasure, Interval, KayentaClass, KayentaDirection, NOISE_SEED, NanStrategy, Options,
    TOLERANCE, classify,
};
pub use interval::{mann_whitney_interval, wilcoxon_diff, z_quantile, zeroin};
pub use scorer::{GroupScore, Score, ScoreInput, SummaryClass, score};
pub use statistics::{
    Stats, cles, cohen_d, iqr_outliers, ksigma_outliers, mean_ratio, percentile_r7, remove_nans, replace_nans,
    summary_stats,
};
