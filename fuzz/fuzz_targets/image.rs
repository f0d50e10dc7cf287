//! An uploaded image (PNG, JPEG or WebP), decoded under a pixel limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    adforge_input::fuzzing::image(data);
});
