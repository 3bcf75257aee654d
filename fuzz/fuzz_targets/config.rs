//! The config loader on any text: TOML → `Config` → resolved source names → compiled rules
//! and built parsers, as `kpid --config` loads it. Never panics; errors are messages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = kpid::fuzzing::load_config(text) {
        assert!(!e.is_empty());
    }
});
