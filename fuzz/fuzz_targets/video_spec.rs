//! A `video.render` spec: JSON, parsed with the path of any error, then every limit checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    adforge_input::fuzzing::video_spec(data);
});
