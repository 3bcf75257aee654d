//! App frames as the daemon's engine takes them from the socket: any byte stream is cut into
//! frames, decoded and applied through rules on spans, events and metrics into the KPI store,
//! which is then published and rendered for Prometheus. Nothing may panic, whatever numbers
//! (NaN, infinities, huge times) the frames carry.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kpid::fuzzing::app_frames(data);
});
