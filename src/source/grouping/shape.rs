//! Recognises a PromQL query shape that can be grouped: a query rendered with one variable set to
//! a placeholder, where that placeholder is the whole value of `label="…"` matchers on one label
//! and appears nowhere else, inside an outer `sum` (optionally under `histogram_quantile(φ, …)`)
//! over label-preserving functions of plain selectors. Such a shape, fetched once as
//! `sum by (…, label) (… label=~"a|b|c" …)`, gives each value exactly the series its own query
//! would, once the label is removed again. Anything else (vector arithmetic, other aggregations,
//! `offset`, `@`, subqueries, comments, the placeholder used elsewhere) is refused, and the caller
//! falls back to one query per service.

/// Functions that keep every label of their argument's series and work series by series.
const LABEL_PRESERVING: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "avg_over_time",
    "sum_over_time",
    "min_over_time",
    "max_over_time",
    "count_over_time",
    "last_over_time",
    "abs",
    "ceil",
    "floor",
    "sqrt",
    "exp",
    "ln",
    "log2",
    "log10",
];

/// The longest query text a recogniser looks at (longer ones are not grouped).
pub(crate) const MAX_SHAPE_CHARS: usize = 16 * 1024;

/// A query shape that can be fetched for many label values at once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupableShape {
    /// The label (a Datadog tag) the placeholder is matched against.
    pub label: String,
    /// The grouped query's text around the list of values: `parts.join(list)` is the query.
    pub(super) parts: Vec<String>,
    pub(super) syntax: Syntax,
}

/// The query language of a shape, which decides how a list of values is written and what a
/// grouped answer may hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Syntax {
    PromQL,
    /// A Datadog metrics query; the tags each series of the grouped answer may carry besides the
    /// grouping tag (the query's own `by {…}`).
    Datadog {
        by: Vec<String>,
    },
}

impl GroupableShape {
    /// The grouped query for `values` (each accepted by [`GroupableShape::accepts`]), in the
    /// order given: PromQL `label=~"v1|v2"` (regex-escaped), Datadog `tag IN (v1, v2)`.
    pub fn grouped_query(&self, values: &[&str]) -> String {
        match self.syntax {
            Syntax::PromQL => {
                let alternatives: Vec<String> = values.iter().map(|value| escape_value(value)).collect();
                self.parts.join(&format!("=~\"{}\"", alternatives.join("|")))
            }
            Syntax::Datadog { .. } => self.parts.join(&values.join(", ")),
        }
    }

    /// Whether `value` can be put in a grouped query of this shape: the `--var` alphabet for
    /// PromQL; for Datadog (which lowercases tag values and reads `:` and `,` in a tag filter)
    /// lowercase letters, digits and `_ . / -`.
    pub fn accepts(&self, value: &str) -> bool {
        match self.syntax {
            Syntax::PromQL => is_groupable_value(value),
            Syntax::Datadog { .. } => super::datadog::is_groupable_tag_value(value),
        }
    }

    /// What a grouped answer's series may carry besides the grouping label: `None` for PromQL
    /// (any labels, as the service's own query would return them), the `by` tags for Datadog.
    pub(super) fn other_tags(&self) -> Option<&[String]> {
        match &self.syntax {
            Syntax::PromQL => None,
            Syntax::Datadog { by } => Some(by),
        }
    }
}

/// Whether a value can be put in the grouped regex: the `--var` alphabet only.
pub fn is_groupable_value(value: &str) -> bool {
    !value.is_empty() && value.chars().all(crate::config::template::is_value_character)
}

/// `value` as an RE2 literal inside a PromQL double-quoted string: of the `--var` alphabet only
/// `.` is a regex metacharacter, written `\\.` (the string's escape of a backslash, then `.`).
fn escape_value(value: &str) -> String {
    value.replace('.', "\\\\.")
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// A quoted string: its raw content between the quotes.
    Str(String),
    /// A number or a duration (`0.99`, `5m`, `1h30m`).
    Number,
    Punct(&'static str),
}

/// A token and where it starts and ends in the text (bytes).
#[derive(Debug, Clone)]
struct Spanned {
    token: Token,
    start: usize,
    end: usize,
}

fn tokenize(text: &str) -> Option<Vec<Spanned>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let token = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b':')) {
                    i += 1;
                }
                Token::Ident(text[start..i].to_string())
            }
            b'0'..=b'9' | b'.' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                Token::Number
            }
            b'"' | b'\'' => {
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    // An escape: the next byte is part of the string whatever it is.
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i >= bytes.len() {
                    return None;
                }
                i += 1;
                Token::Str(text[start + 1..i - 1].to_string())
            }
            _ => {
                let two = text.get(i..i + 2).unwrap_or("");
                let punct = ["!=", "=~", "!~"]
                    .into_iter()
                    .find(|p| *p == two)
                    .or_else(|| ["(", ")", "{", "}", "[", "]", ",", "="].into_iter().find(|p| p.as_bytes()[0] == c))?;
                i += punct.len();
                Token::Punct(punct)
            }
        };
        tokens.push(Spanned { token, start, end: i });
    }
    Some(tokens)
}

/// A matcher `label="placeholder"`: its label, and the text span from the operator to the end of
/// the string (what the rewrite replaces).
struct PlaceholderMatcher {
    label: String,
    span: (usize, usize),
}

struct Parser<'a> {
    tokens: &'a [Spanned],
    at: usize,
    placeholder: &'a str,
    matchers: Vec<PlaceholderMatcher>,
    /// Where the grouping label goes: `(byte offset, text to insert before the label, after it)`.
    grouping: Option<(usize, &'static str, &'static str)>,
    /// The `sum`'s own `by` labels.
    by_labels: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|t| &t.token)
    }

    fn next(&mut self) -> Option<&Spanned> {
        let token = self.tokens.get(self.at);
        self.at += 1;
        token
    }

    fn punct(&mut self, want: &str) -> Option<()> {
        matches!(self.next()?.token, Token::Punct(p) if p == want).then_some(())
    }

    fn ident(&mut self) -> Option<String> {
        match &self.next()?.token {
            Token::Ident(name) => Some(name.clone()),
            _ => None,
        }
    }

    /// `histogram_quantile(φ, sum …)` or `sum …`, then the end of the text.
    fn top(&mut self) -> Option<()> {
        if self.peek() == Some(&Token::Ident("histogram_quantile".into())) {
            self.at += 1;
            self.punct("(")?;
            (self.next()?.token == Token::Number).then_some(())?;
            self.punct(",")?;
            self.sum()?;
            self.punct(")")?;
        } else {
            self.sum()?;
        }
        (self.at == self.tokens.len()).then_some(())
    }

    /// `sum [by (…)] (inner) [by (…)]`, with at most one `by`.
    fn sum(&mut self) -> Option<()> {
        let sum = self.next()?;
        if sum.token != Token::Ident("sum".into()) {
            return None;
        }
        let after_sum = sum.end;
        let before = self.by()?;
        self.punct("(")?;
        self.inner()?;
        self.punct(")")?;
        let after = self.by()?;
        self.grouping = match (before, after) {
            (Some(_), Some(_)) => return None,
            (Some(at), None) | (None, Some(at)) => Some(at),
            (None, None) => Some((after_sum, " by (", ")")),
        };
        Some(())
    }

    /// An optional `by (a, b)`: where a label is added to it (`Some(None)`: there is none).
    #[allow(clippy::option_option)]
    fn by(&mut self) -> Option<Option<(usize, &'static str, &'static str)>> {
        if self.peek() != Some(&Token::Ident("by".into())) {
            return Some(None);
        }
        self.at += 1;
        self.punct("(")?;
        let mut labels = Vec::new();
        loop {
            if let Some(Token::Punct(")")) = self.peek() {
                break;
            }
            labels.push(self.ident()?);
            match self.peek()? {
                Token::Punct(",") => self.at += 1,
                Token::Punct(")") => {}
                _ => return None,
            }
        }
        let close = self.next()?.start;
        let prefix = if labels.is_empty() { "" } else { ", " };
        self.by_labels = labels;
        Some(Some((close, prefix, "")))
    }

    /// A label-preserving function of a selector, or a selector.
    fn inner(&mut self) -> Option<()> {
        match self.peek()? {
            Token::Ident(name) if self.tokens.get(self.at + 1).map(|t| &t.token) == Some(&Token::Punct("(")) => {
                if !LABEL_PRESERVING.contains(&name.as_str()) {
                    return None;
                }
                self.at += 2;
                self.inner()?;
                self.punct(")")
            }
            _ => self.selector(),
        }
    }

    /// `name{matchers}[range]`, each part optional but at least a name or matchers.
    fn selector(&mut self) -> Option<()> {
        let named = matches!(self.peek()?, Token::Ident(_));
        if named {
            self.at += 1;
        }
        let braced = self.peek() == Some(&Token::Punct("{"));
        if !named && !braced {
            return None;
        }
        if braced {
            self.at += 1;
            self.matchers()?;
        }
        if self.peek() == Some(&Token::Punct("[")) {
            self.at += 1;
            (self.next()?.token == Token::Number).then_some(())?;
            self.punct("]")?;
        }
        Some(())
    }

    fn matchers(&mut self) -> Option<()> {
        loop {
            if self.peek()? == &Token::Punct("}") {
                self.at += 1;
                return Some(());
            }
            let label = self.ident()?;
            let op = self.next()?.clone();
            let Token::Punct(op_text @ ("=" | "!=" | "=~" | "!~")) = op.token else { return None };
            let value = self.next()?.clone();
            let Token::Str(content) = &value.token else { return None };
            if content.contains(self.placeholder) {
                // Only an equality on the whole value can be widened to a regex of values.
                if op_text != "=" || content != self.placeholder {
                    return None;
                }
                self.matchers.push(PlaceholderMatcher { label, span: (op.start, value.end) });
            }
            match self.peek()? {
                Token::Punct(",") => self.at += 1,
                Token::Punct("}") => {}
                _ => return None,
            }
        }
    }
}

/// Recognises `shape` (a query rendered with one variable set to `placeholder`) as groupable, or
/// says no. `placeholder` must be a token of letters and digits that occurs nowhere by chance.
pub fn groupable(shape: &str, placeholder: &str) -> Option<GroupableShape> {
    if shape.len() > MAX_SHAPE_CHARS || placeholder.is_empty() {
        return None;
    }
    let tokens = tokenize(shape)?;
    let mut parser =
        Parser { tokens: &tokens, at: 0, placeholder, matchers: Vec::new(), grouping: None, by_labels: Vec::new() };
    parser.top()?;
    let first = parser.matchers.first()?;
    let label = first.label.clone();
    // One label; the placeholder nowhere but in these matchers (not in a name, not elsewhere).
    if parser.matchers.iter().any(|m| m.label != label)
        || shape.matches(placeholder).count() != parser.matchers.len()
        || parser.by_labels.contains(&label)
        || label == "__name__"
    {
        return None;
    }
    let (insert_at, before, after) = parser.grouping?;
    let mut edits: Vec<(usize, usize, Option<String>)> =
        parser.matchers.iter().map(|m| (m.span.0, m.span.1, None)).collect();
    edits.push((insert_at, insert_at, Some(format!("{before}{label}{after}"))));
    edits.sort_by_key(|edit| edit.0);
    let mut parts = vec![String::new()];
    let mut from = 0;
    for (start, end, insert) in edits {
        parts.last_mut()?.push_str(&shape[from..start]);
        match insert {
            Some(text) => parts.last_mut()?.push_str(&text),
            None => parts.push(String::new()),
        }
        from = end;
    }
    parts.last_mut()?.push_str(&shape[from..]);
    Some(GroupableShape { label, parts, syntax: Syntax::PromQL })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PH: &str = "canaryfleetvalue7q";

    fn grouped(shape: &str, values: &[&str]) -> Option<String> {
        groupable(&shape.replace("PH", PH), PH).map(|s| s.grouped_query(values))
    }

    #[test]
    fn rewrites_sums_and_histogram_quantiles() {
        assert_eq!(
            grouped(r#"sum(increase(http_requests_total{ deployment="PH", code="500" }[1m]))"#, &["a", "b.c"]).unwrap(),
            r#"sum by (deployment)(increase(http_requests_total{ deployment=~"a|b\\.c", code="500" }[1m]))"#
        );
        assert_eq!(
            grouped(r#"histogram_quantile(0.99, sum by (le) (rate(x_bucket{d="PH"}[2m])))"#, &["a"]).unwrap(),
            r#"histogram_quantile(0.99, sum by (le, d) (rate(x_bucket{d=~"a"}[2m])))"#
        );
        assert_eq!(grouped(r#"sum(x{d="PH"}) by ()"#, &["a", "b"]).unwrap(), r#"sum(x{d=~"a|b"}) by (d)"#);
    }

    #[test]
    fn refuses_what_cannot_be_split_safely() {
        for shape in [
            r#"max(x{d="PH"})"#,                                 // not a sum
            r#"sum(x{d="PH"}) / sum(y{d="PH"})"#,                // arithmetic outside
            r#"sum(rate(x{d="PH"}[1m]) / rate(y{d="PH"}[1m]))"#, // arithmetic inside
            r#"sum(max by (pod) (x{d="PH"}))"#,                  // an inner aggregation
            r#"sum(x{d=~"PH.*"})"#,                              // part of a regex
            r#"sum(x{d!="PH"})"#,                                // a negation
            r#"sum(x{d="PH", e="PH"})"#,                         // two labels
            r#"sum(x_PH{d="PH"})"#,                              // in a metric name
            r#"sum by (d) (x{d="PH"})"#,                         // already grouped by the label
            r#"sum without (pod) (x{d="PH"})"#,                  // without
            r#"sum(x{d="PH"} offset 5m)"#,                       // offset
            r#"sum(x{d="PH"}[5m:1m])"#,                          // a subquery
            r#"sum(label_replace(x{d="PH"}, "a", "$1", "d", "(.*)"))"#,
            r#"sum(x{e="1"})"#, // no placeholder
            r#"sum(x{d="PH"}) # comment"#,
            r#"sum(x{d="PH})"#,
        ] {
            assert_eq!(grouped(shape, &["a"]), None, "{shape}");
        }
    }
}
