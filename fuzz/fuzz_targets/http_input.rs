//! Shared by the HTTP answer targets: the first byte picks the HTTP status (mostly the ones real
//! servers and proxies send, sometimes any status from 100 to 999), the rest is the body.

/// Statuses real servers, gateways and proxies answer with.
const STATUSES: [u16; 10] = [200, 200, 200, 400, 401, 403, 422, 429, 500, 503];

/// The HTTP status and body encoded in `data`, or `None` when it is too short.
pub fn status_and_body(data: &[u8]) -> Option<(u16, &[u8])> {
    match data {
        [pick, body @ ..] if *pick < 240 => Some((STATUSES[usize::from(*pick) % STATUSES.len()], body)),
        [pick, high, body @ ..] => Some((100 + (u16::from(*pick - 240) * 256 + u16::from(*high)) % 900, body)),
        _ => None,
    }
}
