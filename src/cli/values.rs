//! The command-line spellings of the values the lower layers define (clap mirrors).

use crate::config::JudgeChoice;
use crate::model::Direction;
use crate::report::Format;
use crate::stats::{Alternative, Method};
use clap::ValueEnum;
use clap::builder::{EnumValueParser, TypedValueParser};

// The command-line spellings of the values the lower layers define. clap knows only these
// mirrors (their doc comments are the help text of each value, in this order); `choice` parses
// one and converts it, so `stats`, `judge`, `config` and `report` do not depend on clap.

/// A parser of the values of `A` that yields the `T` each converts to.
pub(super) fn choice<A, T>() -> impl TypedValueParser<Value = T>
where
    A: ValueEnum + Clone + Send + Sync + 'static,
    T: From<A> + Clone + Send + Sync + 'static,
{
    EnumValueParser::<A>::new().map(T::from)
}

/// Mirrors [`Alternative`].
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum AlternativeArg {
    /// The canary differs from the baseline in either direction.
    TwoSided,
    /// The canary tends to be larger than the baseline.
    Greater,
    /// The canary tends to be smaller than the baseline.
    Less,
}

impl From<AlternativeArg> for Alternative {
    fn from(value: AlternativeArg) -> Alternative {
        match value {
            AlternativeArg::TwoSided => Alternative::TwoSided,
            AlternativeArg::Greater => Alternative::Greater,
            AlternativeArg::Less => Alternative::Less,
        }
    }
}

/// Mirrors [`Method`].
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum MethodArg {
    /// Exact when there are no ties and the exact law is cheap, asymptotic otherwise.
    Auto,
    /// The exact null distribution (no ties allowed).
    Exact,
    /// Normal approximation with tie and continuity correction.
    Asymptotic,
}

impl From<MethodArg> for Method {
    fn from(value: MethodArg) -> Method {
        match value {
            MethodArg::Auto => Method::Auto,
            MethodArg::Exact => Method::Exact,
            MethodArg::Asymptotic => Method::Asymptotic,
        }
    }
}

/// Mirrors [`Direction`].
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum DirectionArg {
    /// A rise is bad (latency, errors).
    Increase,
    /// A fall is bad (conversion, throughput).
    Decrease,
    /// Any change is bad.
    Either,
}

impl From<DirectionArg> for Direction {
    fn from(value: DirectionArg) -> Direction {
        match value {
            DirectionArg::Increase => Direction::Increase,
            DirectionArg::Decrease => Direction::Decrease,
            DirectionArg::Either => Direction::Either,
        }
    }
}

/// Mirrors [`Format`].
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum FormatArg {
    /// A readable table (plain when stdout is not a terminal or NO_COLOR is set).
    Table,
    /// The JSON document described in the README.
    Json,
}

impl From<FormatArg> for Format {
    fn from(value: FormatArg) -> Format {
        match value {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Mirrors [`JudgeChoice`].
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum JudgeArg {
    /// This project's judge.
    Default,
    /// The Kayenta-compatible judge (Spinnaker's NetflixACAJudge): its classifications and verdict.
    Kayenta,
    /// Both: the default judge's verdict, with Kayenta's classifications and verdict beside it.
    Both,
}

impl From<JudgeArg> for JudgeChoice {
    fn from(value: JudgeArg) -> JudgeChoice {
        match value {
            JudgeArg::Default => JudgeChoice::Default,
            JudgeArg::Kayenta => JudgeChoice::Kayenta,
            JudgeArg::Both => JudgeChoice::Both,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_mirrors_spell_the_names_the_reports_use() {
        let name = |value: &dyn Fn() -> Option<clap::builder::PossibleValue>| value().unwrap().get_name().to_string();
        for value in AlternativeArg::value_variants() {
            assert_eq!(name(&|| value.to_possible_value()), Alternative::from(*value).name());
        }
        for value in DirectionArg::value_variants() {
            assert_eq!(name(&|| value.to_possible_value()), Direction::from(*value).name());
        }
        for value in JudgeArg::value_variants() {
            let serialized = serde_json::to_string(&JudgeChoice::from(*value)).unwrap();
            assert_eq!(format!("\"{}\"", name(&|| value.to_possible_value())), serialized);
        }
        let formats: Vec<Format> = FormatArg::value_variants().iter().map(|v| Format::from(*v)).collect();
        assert_eq!(formats, [Format::Table, Format::Json]);
        let methods: Vec<Method> = MethodArg::value_variants().iter().map(|v| Method::from(*v)).collect();
        assert_eq!(methods, [Method::Auto, Method::Exact, Method::Asymptotic]);
    }
}
