//! A marketing-mix dataset as CSV text or JSON rows.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    adforge_input::fuzzing::dataset(data);
});
