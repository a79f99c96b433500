//! Datadog's sites and the API host of each: `datadoghq.eu` → `https://api.datadoghq.eu`.

/// The site used when neither `DD_SITE` nor `source.site` names one.
pub const DEFAULT_SITE: &str = "datadoghq.com";

/// Datadog's sites (the `servers` of its API specification).
pub const SITES: [&str; 9] = [
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "ddog-gov.com",
    "us2.ddog-gov.com",
];

/// The API base URL of a Datadog site: `datadoghq.eu` → `https://api.datadoghq.eu`. Accepts the
/// site as Datadog writes it, its region name (`us3`, `eu`, `ap1`, `gov`) or the address of the
/// web app (`https://app.datadoghq.eu`).
pub fn site_url(site: &str) -> Result<String, String> {
    let mut name = site.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    let mut name = name.trim_end_matches('/').to_string();
    for prefix in ["app.", "api."] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    let name = match name.as_str() {
        "us1" | "us" => "datadoghq.com".to_string(),
        "us3" | "us5" | "ap1" | "ap2" | "uk1" => format!("{name}.datadoghq.com"),
        "eu" | "eu1" => "datadoghq.eu".to_string(),
        "gov" | "us1-fed" => "ddog-gov.com".to_string(),
        "us2-fed" => "us2.ddog-gov.com".to_string(),
        _ => name,
    };
    let well_formed = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && (SITES.contains(&name.as_str())
            || name.ends_with(".datadoghq.com")
            || name.ends_with(".datadoghq.eu")
            || name.ends_with(".ddog-gov.com"));
    if !well_formed {
        return Err(format!(
            "`{site}` is not a Datadog site (expected one of {}); to reach Datadog through a proxy, set source.url or --source-url",
            SITES.join(", ")
        ));
    }
    Ok(format!("https://api.{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_pick_the_api_host() {
        assert_eq!(site_url("datadoghq.com").unwrap(), "https://api.datadoghq.com");
        assert_eq!(site_url("us3.datadoghq.com").unwrap(), "https://api.us3.datadoghq.com");
        assert_eq!(site_url("datadoghq.eu").unwrap(), "https://api.datadoghq.eu");
        assert_eq!(site_url("ddog-gov.com").unwrap(), "https://api.ddog-gov.com");
        assert_eq!(site_url("https://app.us5.datadoghq.com/").unwrap(), "https://api.us5.datadoghq.com");
        assert_eq!(site_url("ap1").unwrap(), "https://api.ap1.datadoghq.com");
        assert_eq!(site_url("EU").unwrap(), "https://api.datadoghq.eu");
        assert!(site_url("grafana.net").unwrap_err().contains("not a Datadog site"));
    }
}
