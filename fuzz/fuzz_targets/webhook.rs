//! A webhook delivery: a signature header and a body, for each platform.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    adforge_input::fuzzing::webhook(data);
});
