//! A JOBS.jsonl batch file, and each line's payload where its kind's parser is here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    adforge_input::fuzzing::jobs_file(data);
});
