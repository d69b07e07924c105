#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vla_perf_fuzz::config_alerts(data));
