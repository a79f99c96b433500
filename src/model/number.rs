//! Number formatting for people: a few significant digits, no trailing zeros.

/// A number with up to six significant digits (scientific notation for very large or small).
pub fn plain(value: f64) -> String {
    significant(value, 6)
}

/// A number with up to three significant digits, for effects and intervals in sentences.
pub fn short(value: f64) -> String {
    significant(value, 3)
}

/// Like [`short`] with an explicit sign.
pub fn short_signed(value: f64) -> String {
    let text = short(value);
    if value > 0.0 { format!("+{text}") } else { text }
}

fn significant(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{}", if value == 0.0 { 0.0 } else { value });
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-4..9).contains(&magnitude) {
        let text = format!("{value:.*e}", (digits - 1) as usize);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// Like [`plain`] with an explicit sign.
pub fn signed(value: f64) -> String {
    let text = plain(value);
    if value > 0.0 { format!("+{text}") } else { text }
}

/// A p-value: fixed notation above 0.001, scientific below.
pub fn p_value(p: f64) -> String {
    if p >= 1e-3 { format!("{p:.4}") } else { format!("{p:.2e}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_people() {
        assert_eq!(plain(12.5), "12.5");
        assert_eq!(plain(100.0), "100");
        assert_eq!(plain(1.0 / 3.0), "0.333333");
        assert_eq!(plain(123_456_789.0), "123456789");
        assert_eq!(plain(1.5e12), "1.5e12");
        assert_eq!(plain(0.0), "0");
        assert_eq!(signed(2.0), "+2");
        assert_eq!(signed(-2.0), "-2");
        assert_eq!(p_value(0.04321), "0.0432");
        assert_eq!(p_value(1.234e-9), "1.23e-9");
        assert_eq!(short(1.070_43), "1.07");
        assert_eq!(short(0.061_144_4), "0.0611");
        assert_eq!(short_signed(0.214_147), "+0.214");
        assert_eq!(short(123_456.0), "123456");
    }
}
