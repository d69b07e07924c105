//! Resource sampler benchmark: what one `sample()` costs and what the sampler weighs.
//!
//! Prints the median (and spread) of the wall time of one `sample()` over
//! `VLA_PERF_BENCH_SAMPLES` calls (default 50) after a warm-up, for a sampler reading only the
//! system and for one that also scans the process table for watched processes, each with
//! GPU sampling on (NVML absent here costs nothing per sample). Calls are spaced by
//! sysinfo's minimum CPU refresh interval so each one pays for a real CPU refresh, as a
//! 1..5 Hz collector does. Also prints this process's resident memory before and after, and
//! the last sample, as figures; nothing is asserted.
//!
//! `cargo bench --bench resources` runs it.

use std::time::{Duration, Instant};

use vla_perf::resources::{GpuStatus, ResourceOptions, ResourceSample, ResourceSampler};

const WARM_UP: usize = 3;

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".to_owned(), |b| {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    })
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// Times `samples` calls after a warm-up; returns the sorted durations and the last sample.
fn run(
    sampler: &mut ResourceSampler,
    samples: usize,
    epoch: Instant,
) -> (Vec<Duration>, ResourceSample) {
    let spacing = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL + Duration::from_millis(10);
    let mut last = None;
    let mut took = Vec::with_capacity(samples);
    for i in 0..WARM_UP + samples {
        std::thread::sleep(spacing);
        let start = Instant::now();
        let sample = sampler.sample(epoch.elapsed());
        let elapsed = start.elapsed();
        if i >= WARM_UP {
            took.push(elapsed);
        }
        last = Some(sample);
    }
    took.sort();
    (took, last.expect("at least one sample"))
}

fn report(label: &str, took: &[Duration]) {
    println!(
        "{label:<32} sample(): median {:>9.1} us  p10 {:>9.1} us  p90 {:>9.1} us  max {:>9.1} us  ({} calls)",
        quantile(took, 0.5).as_secs_f64() * 1e6,
        quantile(took, 0.1).as_secs_f64() * 1e6,
        quantile(took, 0.9).as_secs_f64() * 1e6,
        took[took.len() - 1].as_secs_f64() * 1e6,
        took.len(),
    );
}

fn describe(sample: &ResourceSample) {
    let rate = |r: Option<f64>| r.map_or("n/a".to_owned(), |r| format!("{:.0} B/s", r));
    println!(
        "last sample: cpu {:.1} % over {} cores, memory {} of {}, disk r/w {} / {}, net rx/tx {} / {}, {} temperature sensors",
        sample.cpu_percent.unwrap_or(f64::NAN),
        sample.cpu_per_core_percent.len(),
        mib(sample.memory_used_bytes),
        mib(sample.memory_total_bytes),
        rate(sample.disk_read_bytes_per_second),
        rate(sample.disk_write_bytes_per_second),
        rate(sample.network_rx_bytes_per_second),
        rate(sample.network_tx_bytes_per_second),
        sample.temperatures.len(),
    );
    for p in &sample.processes {
        println!(
            "  process {} pid {}: cpu {:.1} % of a core, rss {}",
            p.name,
            p.pid,
            p.cpu_percent,
            mib(Some(p.rss_bytes))
        );
    }
    match &sample.gpu {
        GpuStatus::Available(gpus) => {
            for g in gpus {
                println!("  gpu {g:?}");
            }
        }
        GpuStatus::Unavailable(reason) => println!("  gpu unavailable: {reason}"),
    }
}

fn main() {
    let samples: usize = std::env::var("VLA_PERF_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .max(1);
    let epoch = Instant::now();
    let rss_start = rss_bytes();

    let me = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.file_name()?.to_str()?.to_owned()))
        .unwrap_or_else(|| "resources".to_owned());
    let system_only = ResourceOptions {
        processes: Vec::new(),
        gpu: true,
    };
    let watching = ResourceOptions {
        processes: vec![me, "ros2".to_owned(), "python3".to_owned()],
        gpu: true,
    };
    let processes = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0);

    let mut sampler = match ResourceSampler::new(system_only) {
        Ok(s) => s,
        Err(e) => return eprintln!("cannot build the sampler: {e}"),
    };
    let (took, _) = run(&mut sampler, samples, epoch);
    report("system only", &took);

    let mut sampler = match ResourceSampler::new(watching) {
        Ok(s) => s,
        Err(e) => return eprintln!("cannot build the sampler: {e}"),
    };
    let (took, last) = run(&mut sampler, samples, epoch);
    report(&format!("+ 3 watched names, {processes} procs"), &took);

    println!(
        "RSS of this process: {} before the samplers, {} after",
        mib(rss_start),
        mib(rss_bytes())
    );
    describe(&last);
    println!("error counters: {:?}", sampler.errors());
}
