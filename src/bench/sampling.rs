//! Sampling of the stack's processes and GPUs on a thread of its own while a run lasts.

use std::time::Duration;

use crate::core::bench::{GpuRecord, ProcessRecord};
use crate::resources::{GpuStatus, ResourceOptions, ResourceSampler};

/// What the sampler saw: per process, per GPU, and why GPU figures are missing.
pub(super) type Sampled = (Vec<ProcessRecord>, Vec<GpuRecord>, Option<String>);

/// Samples the stack's processes on a thread of its own until dropped.
pub(super) struct Sampling {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Sampled>>,
}

impl Sampling {
    pub(super) fn start(processes: Vec<String>, gpu: bool) -> Self {
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-resources".into())
            .spawn(move || sample_until(&rx, processes, gpu))
            .ok();
        Self {
            stop: Some(stop),
            thread,
        }
    }

    pub(super) fn finish(mut self) -> Sampled {
        self.stop.take();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

fn sample_until(
    stop: &std::sync::mpsc::Receiver<()>,
    processes: Vec<String>,
    gpu: bool,
) -> Sampled {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut records: Vec<ProcessRecord> = processes
        .iter()
        .map(|name| ProcessRecord {
            name: name.clone(),
            cores,
            ..ProcessRecord::default()
        })
        .collect();
    let mut gpus: Vec<GpuRecord> = Vec::new();
    let mut unavailable = None;
    let mut sampler = match ResourceSampler::new(ResourceOptions { processes, gpu }) {
        Ok(s) => s,
        Err(e) => return (records, gpus, Some(e.to_string())),
    };
    let epoch = std::time::Instant::now();
    let mut first = true;
    loop {
        let sample = sampler.sample(epoch.elapsed());
        // The first sample has no CPU interval behind it.
        if !first {
            for record in &mut records {
                let of: Vec<_> = sample
                    .processes
                    .iter()
                    .filter(|p| p.name == record.name)
                    .collect();
                if !of.is_empty() {
                    record
                        .cpu_percent
                        .push(of.iter().map(|p| p.cpu_percent).sum());
                    record.rss_bytes.push(of.iter().map(|p| p.rss_bytes).sum());
                }
            }
        }
        first = false;
        match &sample.gpu {
            GpuStatus::Available(list) => {
                for g in list {
                    let name = format!("{}: {}", g.index, g.name);
                    let i = match gpus.iter().position(|r| r.name == name) {
                        Some(i) => i,
                        None => {
                            gpus.push(GpuRecord {
                                name,
                                ..GpuRecord::default()
                            });
                            gpus.len() - 1
                        }
                    };
                    let r = &mut gpus[i];
                    if let Some(u) = g.utilization_percent {
                        r.utilization_percent.push(u);
                    }
                    if let Some(m) = g.memory_used_bytes {
                        r.memory_used_bytes.push(m);
                    }
                    r.memory_total_bytes = g.memory_total_bytes.unwrap_or(r.memory_total_bytes);
                }
            }
            GpuStatus::Unavailable(reason) => unavailable = Some(reason.clone()),
        }
        match stop.recv_timeout(Duration::from_secs(1)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    (records, gpus, unavailable)
}
