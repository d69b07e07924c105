//! GPU figures through NVML (`nvml-wrapper`): the library is opened once; each field is read
//! on its own so one unsupported query costs that field, not the sample.

use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;

use super::{ErrorLog, GpuSample, GpuStatus, ResourceError};
use crate::core::metric::Metric;

/// Reason reported when the options did not ask for GPU figures.
pub(super) const GPU_DISABLED: &str = "GPU sampling is disabled (resources option gpu: false)";

/// Where GPU figures come from, settled once when the sampler is built.
pub(super) enum GpuSource {
    /// NVML is loaded and initialised.
    Nvml(Box<Nvml>),
    /// No GPU figures; the reason goes out with every sample.
    Unavailable(String),
}

impl GpuSource {
    /// Initialises NVML with `init`; a failure is the normal state of a machine without an
    /// NVIDIA driver, so it is logged once and reported, not counted as an error.
    pub(super) fn open(init: impl FnOnce() -> Result<Nvml, NvmlError>) -> Self {
        match init() {
            Ok(nvml) => Self::Nvml(Box::new(nvml)),
            Err(e) => {
                let reason = format!("NVML could not be initialised: {e}");
                // Info, not a warning: most machines have no NVIDIA GPU, and the reason is
                // reported on the resources topic and /diagnostics as well.
                tracing::info!(%reason, "GPU metrics unavailable");
                Self::Unavailable(reason)
            }
        }
    }

    /// Reads every GPU NVML knows; failed fields are `None` and counted in `errors`.
    pub(super) fn sample(&self, errors: &mut ErrorLog) -> GpuStatus {
        let nvml = match self {
            Self::Nvml(nvml) => nvml,
            Self::Unavailable(reason) => return GpuStatus::Unavailable(reason.clone()),
        };
        let count = match nvml.device_count() {
            Ok(0) => return GpuStatus::Unavailable("NVML reports no GPU".to_owned()),
            Ok(count) => count,
            Err(e) => {
                errors.record(ResourceError::Gpu {
                    field: "gpu_count",
                    index: None,
                    source: e,
                });
                return GpuStatus::Unavailable("NVML could not count the GPUs".to_owned());
            }
        };
        let gpus = (0..count)
            .filter_map(|index| sample_device(nvml, index, errors))
            .collect();
        GpuStatus::Available(gpus)
    }
}

/// One device, or `None` when NVML cannot open it at all (counted as `gpu_device`).
fn sample_device(nvml: &Nvml, index: u32, errors: &mut ErrorLog) -> Option<GpuSample> {
    let device = read(errors, index, "gpu_device", nvml.device_by_index(index))?;
    let name = read(errors, index, "gpu_name", device.name()).unwrap_or_default();
    let uuid = read(errors, index, "gpu_uuid", device.uuid()).unwrap_or_default();
    let utilization = device.utilization_rates().map(|u| f64::from(u.gpu));
    let memory = device.memory_info().map(|m| (m.used, m.total));
    let temperature = device.temperature(TemperatureSensor::Gpu).map(f64::from);
    // NVML reports milliwatts.
    let power = device.power_usage().map(|mw| f64::from(mw) / 1000.0);
    let memory = read(errors, index, "gpu_memory", memory);
    Some(GpuSample {
        index,
        name,
        uuid,
        utilization_percent: read(errors, index, Metric::GpuUtilization.name(), utilization),
        memory_used_bytes: memory.map(|(used, _)| used),
        memory_total_bytes: memory.map(|(_, total)| total),
        temperature_celsius: read(errors, index, Metric::GpuTemperature.name(), temperature),
        power_watts: read(errors, index, Metric::GpuPower.name(), power),
    })
}

/// The value, or `None` with the failure counted under `field`.
fn read<T>(
    errors: &mut ErrorLog,
    index: u32,
    field: &'static str,
    result: Result<T, NvmlError>,
) -> Option<T> {
    result
        .map_err(|source| {
            errors.record(ResourceError::Gpu {
                field,
                index: Some(index),
                source,
            })
        })
        .ok()
}
