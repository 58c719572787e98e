//! config.yml as the server reads it: any text, parsed, checked and rendered as a report.
//! Nothing may panic, abort or overflow the stack.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match dstack_core::config::load_str(&text, "config.yml") {
        Ok(config) => {
            for warning in &config.warnings {
                let _ = warning.to_string();
            }
        }
        Err(report) => {
            let _ = report.render();
        }
    }
});
