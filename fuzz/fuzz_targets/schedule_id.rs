//! Schedule ids (`lockline replay ID`, `explore --merge`): any text is an
//! id or an error, never a panic; an id prints as text that parses back to
//! the same id.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lockline_harness::explore::id::ScheduleId;

fuzz_target!(|s: &str| {
    if let Ok(id) = s.parse::<ScheduleId>() {
        let text = id.to_string();
        let back: ScheduleId = text
            .parse()
            .unwrap_or_else(|e| panic!("'{s}' parsed, but its own text '{text}' does not: {e}"));
        assert_eq!(back.to_string(), text, "'{s}' does not round-trip");
    }
});
