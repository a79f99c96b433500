//! Fuzz target: the `carried` part of a watchdog state entry (`--looks sequential` and the
//! incremental fetch): the validating parser, then what a run does with an accepted entry (the
//! rule that continues or restarts the sequence, and writing it back). Never a panic; an accepted
//! entry writes back to the same entry.
#![no_main]

use canary::{WatchdogLooks, WatchdogWanted, parse_watchdog_carried, watchdog_carried_value, watchdog_continuation};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_795_175_000;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(carried) = parse_watchdog_carried(&value, NOW) else { return };
    let written = watchdog_carried_value(&carried);
    if let Ok(written) = &written {
        let again = parse_watchdog_carried(written, NOW).expect("what is written reads back");
        assert_eq!(again.known.len(), carried.known.len());
    }
    for looks in [WatchdogLooks::Window, WatchdogLooks::Sequential] {
        for (window_start, window_end) in [(carried.start, carried.end + 60), (NOW - 3600, NOW), (0, 1)] {
            let wanted = WatchdogWanted {
                looks,
                fingerprint: &carried.fingerprint,
                step_seconds: carried.step_seconds,
                window_start,
                explicit_start: window_start == 0,
                window_end,
            };
            let _ = watchdog_continuation(Some(Ok(carried.clone())), &wanted);
        }
    }
});
