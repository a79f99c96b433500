//! Who may ask for a judgment: the `Authorization` header must carry the secret, as a bearer
//! token (`Bearer SECRET`: Argo Rollouts' `web` provider sends headers) or as the password of
//! HTTP basic auth (`Basic base64(USER:SECRET)`, any user: Go's HTTP client, Flagger's, turns the
//! URL's `http://canary:SECRET@host/...` into that header). Compared in constant time, over
//! SHA-256 digests so that the length does not show either.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Whether the `Authorization` header value carries `secret`.
pub(crate) fn authorized(header: Option<&[u8]>, secret: &str) -> bool {
    let Some(presented) = header.and_then(presented_secret) else {
        return false;
    };
    constant_time_equal(&presented, secret.as_bytes())
}

/// The secret a header presents, bearer or basic; `None` for any other form.
fn presented_secret(header: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.as_bytes().to_vec());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        return Some(decoded[colon + 1..].to_vec());
    }
    None
}

fn constant_time_equal(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter().zip(b.iter()).fold(0u8, |difference, (x, y)| difference | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef-secret";

    #[test]
    fn bearer_and_basic_carry_the_secret() {
        assert!(authorized(Some(format!("Bearer {SECRET}").as_bytes()), SECRET));
        assert!(authorized(Some(format!("bearer  {SECRET} ").as_bytes()), SECRET));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("canary:{SECRET}"));
        assert!(authorized(Some(format!("Basic {basic}").as_bytes()), SECRET));
        // A password holding a colon: only the first colon separates the user.
        let with_colon = base64::engine::general_purpose::STANDARD.encode("u:a:b");
        assert!(authorized(Some(format!("Basic {with_colon}").as_bytes()), "a:b"));
    }

    #[test]
    fn anything_else_is_refused() {
        for header in [
            String::new(),
            SECRET.to_string(),
            format!("Bearer {SECRET}x"),
            format!("Token {SECRET}"),
            "Bearer ".to_string(),
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(SECRET)),
            "Basic !!!".to_string(),
        ] {
            assert!(!authorized(Some(header.as_bytes()), SECRET), "{header}");
        }
        assert!(!authorized(None, SECRET));
        assert!(!authorized(Some(&[0xff, 0xfe]), SECRET));
    }

    proptest::proptest! {
        /// Only the secret itself opens the door, bearer or basic, whatever else is presented.
        #[test]
        fn only_the_secret_is_authorized(secret in "[A-Za-z0-9]{16,40}", other in "[ -~]{0,48}", user in "[ -9;-~]{0,12}") {
            let matches = other.trim() == secret;
            proptest::prop_assert_eq!(authorized(Some(format!("Bearer {other}").as_bytes()), &secret), matches);
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{other}"));
            proptest::prop_assert_eq!(authorized(Some(format!("Basic {basic}").as_bytes()), &secret), other == secret);
            proptest::prop_assert!(!authorized(Some(other.as_bytes()), &secret));
        }
    }
}
