//! Recognises a Datadog metrics query shape that can be grouped: `AGG:metric{tag:v,…}` with an
//! optional `by {tags}` and the suffixes `.as_count()`, `.as_rate()` and `.rollup(…)`, where
//! exactly one term of the tag filter is `tag:placeholder` and the placeholder appears nowhere
//! else. Such a shape, fetched once as `AGG:metric{… AND tag IN (a, b)} by {…, tag}` (Datadog's
//! boolean filter syntax, in which the filter's commas become `AND`), gives each value exactly
//! the series its own query would, once the tag is removed again: the space aggregation (`sum`,
//! `avg`, `min`, `max`, a percentile) runs per group, and a group is the series a `tag:value`
//! filter selects. Anything else (arithmetic, functions, negations, wildcards, boolean filters
//! already in the query, upper-case grouping tags that Datadog would lowercase in its answer) is
//! refused, and the caller falls back to one query per service.

use super::shape::{GroupableShape, MAX_SHAPE_CHARS, Syntax};

/// The words of Datadog's boolean filter syntax, which it reads in either case: a value spelled
/// so inside `IN (…)` would be read as an operator, not as a tag value.
const BOOLEAN_KEYWORDS: [&str; 4] = ["and", "or", "not", "in"];

/// Whether `value` can go into a grouped Datadog query's `IN (…)` list and come back unchanged in
/// the answer's `tag:value`: lowercase letters, digits and `_ . / -` (Datadog lowercases tags),
/// and not one of the boolean syntax's keywords.
pub fn is_groupable_tag_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 200
        && !BOOLEAN_KEYWORDS.contains(&value)
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'/' | b'-'))
}

/// A tag key as the recogniser accepts it: letters, digits and `_ . / -`.
fn is_tag_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
}

/// A tag value of a filter term kept as written: a tag key's characters and `:`.
fn is_plain_tag_value(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-' | b':'))
}

/// A tag the grouped answer names: what Datadog gives back unchanged (lowercase).
fn is_answer_tag(key: &str) -> bool {
    is_tag_key(key) && !key.bytes().any(|b| b.is_ascii_uppercase())
}

/// `sum`, `avg`, `min`, `max` or a percentile (`p50`, `p99.9`): space aggregations that run per
/// group exactly as over one filtered group.
fn is_space_aggregator(aggregator: &str) -> bool {
    match aggregator {
        "sum" | "avg" | "min" | "max" => true,
        _ => aggregator.strip_prefix('p').is_some_and(|digits| {
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && digits.bytes().next().is_some_and(|b| b.is_ascii_digit())
        }),
    }
}

/// The suffixes after the filter and `by`: any sequence of `.as_count()`, `.as_rate()` and
/// `.rollup(args)` with args of letters, digits, commas and spaces.
fn is_plain_suffix(mut tail: &str) -> bool {
    loop {
        if tail.is_empty() {
            return true;
        }
        if let Some(rest) = tail.strip_prefix(".as_count()").or_else(|| tail.strip_prefix(".as_rate()")) {
            tail = rest;
            continue;
        }
        let Some(rest) = tail.strip_prefix(".rollup(") else { return false };
        let Some(close) = rest.find(')') else { return false };
        if !rest[..close].bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b',' | b' ')) {
            return false;
        }
        tail = &rest[close + 1..];
    }
}

/// Recognises `shape` (a Datadog query rendered with one variable set to `placeholder`) as
/// groupable, or says no. `placeholder` must be a token of letters and digits that occurs nowhere
/// by chance.
pub fn groupable_datadog(shape: &str, placeholder: &str) -> Option<GroupableShape> {
    if shape.len() > MAX_SHAPE_CHARS || placeholder.is_empty() || shape.matches(placeholder).count() != 1 {
        return None;
    }
    let text = shape.trim();
    let (aggregator, rest) = text.split_once(':')?;
    let open = rest.find('{')?;
    let metric = &rest[..open];
    if !is_space_aggregator(aggregator)
        || metric.is_empty()
        || !metric.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
    {
        return None;
    }
    let rest = &rest[open + 1..];
    let close = rest.find('}')?;
    let (filter, mut tail) = (&rest[..close], &rest[close + 1..]);
    let mut by: Vec<String> = Vec::new();
    if let Some(after) = tail.strip_prefix(" by ").map(str::trim_start) {
        let inner = after.strip_prefix('{')?;
        let end = inner.find('}')?;
        for tag in inner[..end].split(',').map(str::trim) {
            if !is_answer_tag(tag) || by.iter().any(|seen| seen == tag) {
                return None;
            }
            by.push(tag.to_string());
        }
        tail = &inner[end + 1..];
    }
    if !is_plain_suffix(tail) {
        return None;
    }
    // The filter's terms in order, the placeholder's term becoming `tag IN (` + values + `)`.
    let (mut label, mut parts) = (None, vec![format!("{aggregator}:{metric}{{")]);
    for (index, term) in filter.split(',').map(str::trim).enumerate() {
        let (key, value) = term.split_once(':')?;
        if !is_tag_key(key) {
            return None;
        }
        let part = parts.last_mut()?;
        if index > 0 {
            part.push_str(" AND ");
        }
        if value == placeholder {
            label = Some(key);
            part.push_str(&format!("{key} IN ("));
            parts.push(")".into());
        } else if is_plain_tag_value(value) {
            part.push_str(term);
        } else {
            return None;
        }
    }
    let label = label?;
    if !is_answer_tag(label) || by.iter().any(|tag| tag == label) {
        return None;
    }
    let mut grouped_by = by.clone();
    grouped_by.push(label.to_string());
    parts.last_mut()?.push_str(&format!("}} by {{{}}}{tail}", grouped_by.join(",")));
    Some(GroupableShape { label: label.to_string(), parts, syntax: Syntax::Datadog { by } })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PH: &str = "canaryfleetvalue7q";

    fn grouped(shape: &str, values: &[&str]) -> Option<String> {
        groupable_datadog(&shape.replace("PH", PH), PH).map(|s| s.grouped_query(values))
    }

    #[test]
    fn rewrites_filters_into_an_in_list_grouped_by_the_tag() {
        assert_eq!(
            grouped("sum:trace.http.request.errors{service:checkout,version:PH}.as_count()", &["a", "b.c"]).unwrap(),
            "sum:trace.http.request.errors{service:checkout AND version IN (a, b.c)} by {version}.as_count()"
        );
        assert_eq!(grouped("p99:lat{service:PH}", &["web"]).unwrap(), "p99:lat{service IN (web)} by {service}");
        assert_eq!(
            grouped("avg:cpu{env:prod, service:PH} by {host,region}.rollup(avg, 60)", &["a", "b"]).unwrap(),
            "avg:cpu{env:prod AND service IN (a, b)} by {host,region,service}.rollup(avg, 60)"
        );
        assert_eq!(
            grouped("max:m{service:PH,env:prod}", &["a", "b"]).unwrap(),
            "max:m{service IN (a, b) AND env:prod} by {service}"
        );
        let shape = groupable_datadog(&"avg:cpu{service:PH} by {host}".replace("PH", PH), PH).unwrap();
        assert_eq!((shape.label.as_str(), shape.other_tags()), ("service", Some(&["host".to_string()][..])));
        assert!(shape.accepts("svc-01.eu/x") && !shape.accepts("Svc") && !shape.accepts("a:b") && !shape.accepts(""));
    }

    /// `and`, `or`, `not` and `in` are operators of the boolean filter syntax in either case:
    /// `version IN (not, or, svc-a)` would not list three values, so such a service is queried
    /// alone.
    #[test]
    fn refuses_values_that_the_boolean_syntax_reads_as_keywords() {
        let shape = groupable_datadog(&"sum:m{service:PH}".replace("PH", PH), PH).unwrap();
        for keyword in ["and", "or", "not", "in"] {
            assert!(!shape.accepts(keyword), "{keyword}");
        }
        assert!(shape.accepts("nota") && shape.accepts("in-1") && shape.accepts("or.2"));
    }

    #[test]
    fn refuses_what_cannot_be_split_safely() {
        for shape in [
            "sum:a{version:PH}.as_count() / sum:b{version:PH}.as_count()", // arithmetic
            "sum:a{version:PH} / sum:b{version:x}",                        // arithmetic
            "top(sum:a{version:PH} by {host}, 5, 'mean', 'desc')",         // a function
            "sum:a{version:PH}.fill(zero)",                                // another suffix
            "count:a{version:PH}",                                         // not a space aggregation
            "sum:a{!version:PH}",                                          // a negation
            "sum:a{version:PH,env:prod*}",                                 // a wildcard
            "sum:a{version:PH AND env:prod}",                              // boolean syntax already
            "sum:a{version:PH-x}",                                         // part of a value
            "sum:a{Version:PH}",                                           // Datadog lowercases tags
            "sum:a{version:PH} by {version}",                              // already grouped by it
            "sum:a{version:PH} by {Host}",                                 // an upper-case group
            "sum:a_PH{version:x}",                                         // in the metric name
            "sum:a{version:x}",                                            // no placeholder
            "sum:a{version:PH,other:PH}",                                  // twice
            "sum:a{version:PH",                                            // unclosed
            "sum:a{version:PH} by {a,a}",
            "sum:a{version:PH} by {a",
        ] {
            assert_eq!(grouped(shape, &["a"]), None, "{shape}");
        }
    }
}
