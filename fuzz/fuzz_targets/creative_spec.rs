//! A `creative.render` payload: copy or brief, brand kit, formats, output.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    adforge_input::fuzzing::creative_spec(data);
});
