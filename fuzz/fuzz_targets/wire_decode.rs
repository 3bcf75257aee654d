//! The app-protocol frame decoder on any byte stream: frames are cut with `split_frame` and
//! each body goes to the decoder of its type. Decoding never panics, lengths stay in the
//! buffer, and every record that decodes re-encodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kpid_fuzz::wire::check_stream(data);
});
