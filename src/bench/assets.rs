//! A scenario's files, loaded and checked before any command is sent: WAV clips (any PCM
//! or float WAV, converted to 16-bit samples), image sets (PNG files) and their COCO
//! annotations. Every problem names the file and the field or JSON path at fault.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::scenario::Scenario;
use crate::core::bench::{ImageSetTruth, TruthImage, TruthObject};

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {field}: {message}{}", path.display(), cause(source))]
pub struct AssetError {
    /// The file at fault (the scenario itself when the reference is wrong).
    pub path: PathBuf,
    /// The scenario field or JSON path, e.g. `scenario.commands[1].audio`.
    pub field: String,
    /// What is wrong, with the offending value (the underlying error's text follows it in
    /// the error's display).
    pub message: String,
    /// The error of the reader (file system, WAV, PNG or JSON decoder) behind it, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AssetError {
    /// An error of `path` at `field` saying `message`, without an underlying error.
    fn new(path: &Path, field: &str, message: String) -> Self {
        Self {
            path: path.to_owned(),
            field: field.to_owned(),
            message,
            source: None,
        }
    }

    /// This error, caused by `source`.
    fn caused_by(self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Box::new(source)),
            ..self
        }
    }
}

type Result<T> = std::result::Result<T, AssetError>;

/// `: <source>` after the message, where there is a source.
fn cause(source: &Option<Box<dyn std::error::Error + Send + Sync>>) -> String {
    source
        .as_ref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default()
}

/// A recorded command, as 16-bit samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Samples per second.
    pub rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Interleaved samples.
    pub samples: Vec<i16>,
}

/// One image ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedImage {
    /// COCO image id.
    pub id: u64,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// `rgb8` or `mono8`.
    pub encoding: &'static str,
    /// Row-major pixels, `step` bytes per row.
    pub data: Vec<u8>,
    /// Bytes per row.
    pub step: u32,
}

/// An image set with its ground truth.
#[derive(Debug, Clone)]
pub struct LoadedSet {
    /// The annotations, as scoring reads them.
    pub truth: ImageSetTruth,
    /// The images, in annotation-file order.
    pub images: Vec<LoadedImage>,
}

/// Everything a scenario refers to.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// Per scenario command, its clip if it has one.
    pub clips: Vec<Option<Clip>>,
    /// The image sets, in scenario order.
    pub image_sets: Vec<LoadedSet>,
}

/// Loads every file `scenario` refers to, relative to `base` (the scenario file's folder).
/// Image sets are loaded only when the visual perception suite runs.
pub fn load(scenario: &Scenario, base: &Path, with_images: bool) -> Result<Assets> {
    let mut assets = Assets::default();
    for (i, command) in scenario.commands.iter().enumerate() {
        let clip = match &command.audio {
            Some(audio) => Some(load_wav(
                &base.join(audio),
                &format!("scenario.commands[{i}].audio"),
            )?),
            None => None,
        };
        assets.clips.push(clip);
    }
    if with_images {
        for (i, set) in scenario.image_sets.iter().enumerate() {
            let field = format!("scenario.image_sets[{i}]");
            assets.image_sets.push(load_set(
                &set.name,
                &base.join(&set.directory),
                &base.join(&set.annotations),
                &field,
            )?);
        }
    }
    Ok(assets)
}

fn missing(path: &Path, field: &str, what: &str, e: std::io::Error) -> AssetError {
    AssetError::new(path, field, format!("cannot open the {what}")).caused_by(e)
}

/// Reads a WAV file into 16-bit samples (8/24/32-bit integer and 32-bit float converted).
pub fn load_wav(path: &Path, field: &str) -> Result<Clip> {
    let bad = |message: String| AssetError::new(path, field, message);
    let file = File::open(path).map_err(|e| missing(path, field, "audio file", e))?;
    let reader = hound::WavReader::new(BufReader::new(file))
        .map_err(|e| bad("not a readable WAV file".into()).caused_by(e))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(bad(format!(
            "{} channels at {} Hz is not audio",
            spec.channels, spec.sample_rate
        )));
    }
    let samples: std::result::Result<Vec<i16>, hound::Error> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let shift = i32::from(spec.bits_per_sample) - 16;
            reader
                .into_samples::<i32>()
                .map(|s| {
                    s.map(|v| {
                        let scaled = if shift >= 0 { v >> shift } else { v << -shift };
                        scaled.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
                    })
                })
                .collect()
        }
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16))
            .collect(),
    };
    let samples = samples.map_err(|e| bad("damaged WAV data".into()).caused_by(e))?;
    if samples.is_empty() {
        return Err(bad("the WAV file holds no samples".into()));
    }
    Ok(Clip {
        rate: spec.sample_rate,
        channels: spec.channels,
        samples,
    })
}

#[derive(Debug, Deserialize)]
struct CocoFile {
    images: Vec<CocoImage>,
    #[serde(default)]
    annotations: Vec<CocoAnnotation>,
    categories: Vec<CocoCategory>,
}

#[derive(Debug, Deserialize)]
struct CocoImage {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}

#[derive(Debug, Deserialize)]
struct CocoAnnotation {
    image_id: u64,
    category_id: u64,
    bbox: [f64; 4],
    #[serde(default)]
    area: Option<f64>,
    #[serde(default)]
    iscrowd: u8,
}

#[derive(Debug, Deserialize)]
struct CocoCategory {
    id: u64,
    name: String,
}

// Long: reads a COCO file and checks each part against the image folder, with positioned errors.
fn load_set(name: &str, directory: &Path, annotations: &Path, field: &str) -> Result<LoadedSet> {
    let at = |json_path: String, message: String| AssetError::new(annotations, &json_path, message);
    let file = File::open(annotations)
        .map_err(|e| missing(annotations, &format!("{field}.annotations"), "COCO file", e))?;
    let coco: CocoFile = serde_path_to_error::deserialize(
        &mut serde_json::Deserializer::from_reader(BufReader::new(file)),
    )
    .map_err(|e| {
        at(e.path().to_string(), "not a COCO annotation file".into()).caused_by(e.into_inner())
    })?;
    if coco.images.is_empty() {
        return Err(at("images".into(), "no images listed".into()));
    }
    let mut categories = BTreeMap::new();
    for (i, c) in coco.categories.iter().enumerate() {
        if categories.insert(c.id, c.name.clone()).is_some() {
            return Err(at(
                format!("categories[{i}].id"),
                format!("id {} listed twice", c.id),
            ));
        }
    }
    let mut sizes = BTreeMap::new();
    let mut files = BTreeSet::new();
    for (i, image) in coco.images.iter().enumerate() {
        if sizes
            .insert(image.id, (image.width, image.height))
            .is_some()
        {
            return Err(at(
                format!("images[{i}].id"),
                format!("id {} listed twice", image.id),
            ));
        }
        if !files.insert(image.file_name.as_str()) {
            return Err(at(
                format!("images[{i}].file_name"),
                format!("{} listed twice", image.file_name),
            ));
        }
        let inside = Path::new(&image.file_name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside {
            return Err(at(
                format!("images[{i}].file_name"),
                format!(
                    "{} is not a file inside the image directory",
                    image.file_name
                ),
            ));
        }
    }
    let mut objects = Vec::with_capacity(coco.annotations.len());
    for (i, a) in coco.annotations.iter().enumerate() {
        let Some(&(width, height)) = sizes.get(&a.image_id) else {
            return Err(at(
                format!("annotations[{i}].image_id"),
                format!("{} is not the id of a listed image", a.image_id),
            ));
        };
        if !categories.contains_key(&a.category_id) {
            return Err(at(
                format!("annotations[{i}].category_id"),
                format!("{} is not the id of a listed category", a.category_id),
            ));
        }
        let [x, y, w, h] = a.bbox;
        let fits = [x, y, w, h].iter().all(|v| v.is_finite())
            && x >= 0.0
            && y >= 0.0
            && w >= 0.0
            && h >= 0.0
            // Half a pixel of slack for boxes rounded outward.
            && x + w <= f64::from(width) + 0.5
            && y + h <= f64::from(height) + 0.5;
        if !fits {
            return Err(at(
                format!("annotations[{i}].bbox"),
                format!(
                    "{:?} does not lie inside its {width}x{height} image",
                    a.bbox
                ),
            ));
        }
        objects.push(TruthObject {
            image_id: a.image_id,
            category_id: a.category_id,
            bbox: a.bbox,
            area: a.area.unwrap_or(w * h),
            iscrowd: a.iscrowd != 0,
        });
    }
    let mut images = Vec::with_capacity(coco.images.len());
    let mut truth_images = Vec::with_capacity(coco.images.len());
    for (i, image) in coco.images.iter().enumerate() {
        let path = directory.join(&image.file_name);
        let loaded = load_png(&path, image.id, &format!("{field}.directory"))?;
        if (loaded.width, loaded.height) != (image.width, image.height) {
            return Err(at(
                format!("images[{i}]"),
                format!(
                    "{} is {}x{} but the annotations say {}x{}",
                    image.file_name, loaded.width, loaded.height, image.width, image.height
                ),
            ));
        }
        images.push(loaded);
        truth_images.push(TruthImage {
            id: image.id,
            file_name: image.file_name.clone(),
            width: image.width,
            height: image.height,
        });
    }
    Ok(LoadedSet {
        truth: ImageSetTruth {
            name: name.to_owned(),
            categories: categories.into_iter().collect(),
            images: truth_images,
            annotations: objects,
        },
        images,
    })
}

/// Reads a PNG into `rgb8` (colour, alpha dropped) or `mono8` (grey), 8 bits per channel.
pub fn load_png(path: &Path, id: u64, field: &str) -> Result<LoadedImage> {
    let bad = |message: String| AssetError::new(path, field, message);
    let file = File::open(path).map_err(|e| missing(path, field, "image", e))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    // Palettes expand to RGB, 16-bit samples strip to 8.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| bad("not a readable PNG image".into()).caused_by(e))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("image too large".into()))?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| bad("damaged PNG data".into()).caused_by(e))?;
    buf.truncate(info.buffer_size());
    let (width, height) = (info.width, info.height);
    let (encoding, data) = match info.color_type {
        png::ColorType::Rgb => ("rgb8", buf),
        png::ColorType::Rgba => (
            "rgb8",
            buf.chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
        ),
        png::ColorType::Grayscale => ("mono8", buf),
        png::ColorType::GrayscaleAlpha => ("mono8", buf.chunks_exact(2).map(|p| p[0]).collect()),
        other => return Err(bad(format!("unsupported PNG colour type {other:?}"))),
    };
    let channels = if encoding == "rgb8" { 3 } else { 1 };
    Ok(LoadedImage {
        id,
        width,
        height,
        encoding,
        step: width * channels,
        data,
    })
}

/// Writes `rgb8` pixels as a PNG (the SIMULATED image set generator and tests use it).
pub fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> std::io::Result<()> {
    let file = File::create(path)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(rgb)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coco(dir: &Path, json: &serde_json::Value) -> PathBuf {
        let path = dir.join("instances.json");
        std::fs::write(&path, serde_json::to_vec(json).unwrap()).unwrap();
        path
    }

    fn image_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("a.png"), 4, 3, &[200; 36]).unwrap();
        dir
    }

    fn good() -> serde_json::Value {
        serde_json::json!({
            "images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 3}],
            "annotations": [{"image_id": 1, "category_id": 7, "bbox": [0, 0, 2, 2]}],
            "categories": [{"id": 7, "name": "red_rectangle"}],
        })
    }

    #[test]
    fn an_image_set_loads_with_pixels_and_ground_truth() {
        let dir = image_dir();
        let ann = coco(dir.path(), &good());
        let set = load_set("s", dir.path(), &ann, "f").unwrap();
        assert_eq!(set.images[0].data.len(), 36);
        assert_eq!(set.images[0].encoding, "rgb8");
        assert_eq!(set.truth.annotations[0].area, 4.0);
        assert_eq!(set.truth.categories, vec![(7, "red_rectangle".to_owned())]);
    }

    #[test]
    fn annotations_that_do_not_match_the_images_are_refused_with_their_json_path() {
        let dir = image_dir();
        for (edit, field, says) in [
            (
                serde_json::json!({"image_id": 9}),
                "annotations[0].image_id",
                "9 is not the id",
            ),
            (
                serde_json::json!({"category_id": 3}),
                "annotations[0].category_id",
                "3 is not the id",
            ),
            (
                serde_json::json!({"bbox": [3, 0, 2, 2]}),
                "annotations[0].bbox",
                "inside its 4x3 image",
            ),
        ] {
            let mut json = good();
            for (k, v) in edit.as_object().unwrap() {
                json["annotations"][0][k] = v.clone();
            }
            let ann = coco(dir.path(), &json);
            let e = load_set("s", dir.path(), &ann, "f").unwrap_err();
            assert_eq!(e.field, field);
            assert!(e.message.contains(says), "{e}");
            assert_eq!(e.path, ann);
        }
        let mut json = good();
        json["images"][0]["width"] = 5.into();
        let e = load_set("s", dir.path(), &coco(dir.path(), &json), "f").unwrap_err();
        assert!(
            e.message.contains("is 4x3 but the annotations say 5x3"),
            "{e}"
        );
        let mut json = good();
        json["images"][0]["file_name"] = "../a.png".into();
        let e = load_set("s", dir.path(), &coco(dir.path(), &json), "f").unwrap_err();
        assert!(e.message.contains("not a file inside"), "{e}");
        let mut json = good();
        json["images"][0]["file_name"] = "b.png".into();
        let e = load_set("s", dir.path(), &coco(dir.path(), &json), "f").unwrap_err();
        assert!(
            e.path.ends_with("b.png") && e.message.contains("cannot open"),
            "{e}"
        );
        std::fs::write(dir.path().join("instances.json"), "{\"images\": 3}").unwrap();
        let e = load_set("s", dir.path(), &dir.path().join("instances.json"), "f").unwrap_err();
        assert_eq!(e.field, "images");
    }

    #[test]
    fn wav_files_of_any_pcm_width_become_16_bit_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for v in [0, 1 << 22, -(1 << 23)] {
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let clip = load_wav(&path, "f").unwrap();
        assert_eq!(clip.samples, vec![0, 1 << 14, i16::MIN]);
        assert_eq!((clip.rate, clip.channels), (16_000, 1));
        std::fs::write(&path, b"RIFF....nonsense").unwrap();
        let e = load_wav(&path, "scenario.commands[0].audio").unwrap_err();
        assert!(e.message.contains("not a readable WAV"), "{e}");
        let e = load_wav(&dir.path().join("none.wav"), "x").unwrap_err();
        assert!(e.message.contains("cannot open the audio file"), "{e}");
    }
}
