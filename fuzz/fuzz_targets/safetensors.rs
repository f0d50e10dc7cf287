//! A safetensors file's header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    adforge_input::fuzzing::safetensors(data);
});
