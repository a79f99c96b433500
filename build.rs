//! Build information for `canary --version`: the commit (`git rev-parse --short HEAD`, absent
//! when the source is not a git checkout, e.g. a tarball) and the build date (UTC), taken from
//! `SOURCE_DATE_EPOCH` when it is set so that builds are reproducible. Sets `CANARY_BUILD_INFO`
//! to `abc1234 2026-11-30` or `2026-11-30`.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    // Rebuild when HEAD moves (a commit, a checkout); only watch files that exist, or cargo would
    // rerun this script on every build.
    for file in ["HEAD", "logs/HEAD"] {
        if let Some(path) = git(&["rev-parse", "--git-path", file]).filter(|path| std::path::Path::new(path).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let seconds = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => {
            text.trim().parse::<i64>().unwrap_or_else(|_| panic!("SOURCE_DATE_EPOCH is not a number: {text:?}"))
        }
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs() as i64),
    };
    let date = date_of(seconds);
    let info = match commit {
        Some(commit) => format!("{commit} {date}"),
        None => date,
    };
    println!("cargo:rustc-env=CANARY_BUILD_INFO={info}");
}

/// The trimmed output of a successful `git` command, or `None` (no git, not a checkout).
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok().filter(|output| output.status.success())?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// `YYYY-MM-DD` (UTC) of a Unix time (Howard Hinnant's days-to-civil algorithm).
fn date_of(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
