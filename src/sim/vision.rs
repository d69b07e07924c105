//! The simulated perception node's pixel work, which is real: colour thresholding and
//! connected components (4-connected, labelled with a union-find over runs of pixels) on
//! an `rgb8` image, each blob classified as rectangle or circle by how much of its box it
//! fills. Pure and synchronous; the node runs it on a blocking thread.

use super::scene::{Colour, PixelBox, Shape};

/// One object found in an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Colour class.
    pub colour: Colour,
    /// Shape class.
    pub shape: Shape,
    /// Tight box of the blob.
    pub bbox: PixelBox,
    /// Confidence from the fill ratio: 1 when the blob fills its box exactly as the shape
    /// should (all of it for a rectangle, pi/4 for a circle).
    pub score: f64,
}

/// Why an image could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Only `rgb8` and `bgr8` are understood.
    #[error("unsupported encoding {0:?} (rgb8 or bgr8)")]
    Encoding(String),
    /// `data` is shorter than `step * height`, or `step` is shorter than a row.
    #[error("{width}x{height} image with step {step} needs {needed} bytes, has {len}")]
    Size {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
        /// Bytes per row.
        step: u32,
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        len: usize,
    },
}

/// The colour class of one pixel, if it has one: a channel test with wide margins around
/// the painted colours, so mild noise or compression would not break it.
fn classify(r: u8, g: u8, b: u8) -> Option<Colour> {
    let (hi, lo) = (|v: u8| v >= 160, |v: u8| v <= 100);
    match (hi(r), hi(g), hi(b)) {
        (true, true, false) if lo(b) => Some(Colour::Yellow),
        (true, false, false) if lo(g) && lo(b) => Some(Colour::Red),
        (false, true, false) if lo(r) && lo(b) => Some(Colour::Green),
        (false, false, true) if lo(r) && lo(g) => Some(Colour::Blue),
        _ => None,
    }
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let up = parent[parent[i as usize] as usize];
        parent[i as usize] = up;
        i = up;
    }
    i
}

/// Finds the coloured objects of an image with `encoding` (`rgb8`/`bgr8`), `width` x
/// `height` pixels, `step` bytes per row. Blobs smaller than `min_area` pixels are noise.
// Long: connected-component labelling over pixel runs; its passes share the run tables.
pub fn detect(
    encoding: &str,
    width: u32,
    height: u32,
    step: u32,
    data: &[u8],
    min_area: u32,
) -> Result<Vec<Found>, ImageError> {
    let bgr = match encoding {
        "rgb8" => false,
        "bgr8" => true,
        other => return Err(ImageError::Encoding(other.to_owned())),
    };
    let needed = u64::from(step) * u64::from(height);
    if u64::from(step) < u64::from(width) * 3 || (data.len() as u64) < needed {
        return Err(ImageError::Size {
            width,
            height,
            step,
            needed: needed.max(u64::from(width) * 3 * u64::from(height)),
            len: data.len(),
        });
    }
    let (w, h) = (width as usize, height as usize);
    // Runs of same-class pixels per row: (row, start, end, colour, label).
    let mut runs: Vec<(u32, u32, u32, Colour)> = Vec::new();
    let mut row_start = Vec::with_capacity(h + 1);
    for y in 0..h {
        row_start.push(runs.len());
        let row = &data[y * step as usize..y * step as usize + w * 3];
        let mut x = 0;
        while x < w {
            let p = &row[x * 3..x * 3 + 3];
            let (r, b) = if bgr { (p[2], p[0]) } else { (p[0], p[2]) };
            match classify(r, p[1], b) {
                None => x += 1,
                Some(c) => {
                    let start = x;
                    x += 1;
                    while x < w {
                        let p = &row[x * 3..x * 3 + 3];
                        let (r, b) = if bgr { (p[2], p[0]) } else { (p[0], p[2]) };
                        if classify(r, p[1], b) != Some(c) {
                            break;
                        }
                        x += 1;
                    }
                    runs.push((y as u32, start as u32, x as u32, c));
                }
            }
        }
    }
    row_start.push(runs.len());
    // Union runs that overlap a run of the same colour on the row above.
    let mut parent: Vec<u32> = (0..runs.len() as u32).collect();
    for y in 1..h {
        let (above, here) = (
            row_start[y - 1]..row_start[y],
            row_start[y]..row_start[y + 1],
        );
        let mut j = above.start;
        for i in here {
            let (_, s, e, c) = runs[i];
            while j < above.end && runs[j].2 <= s {
                j += 1;
            }
            let mut k = j;
            while k < above.end && runs[k].1 < e {
                if runs[k].3 == c {
                    let (a, b) = (find(&mut parent, i as u32), find(&mut parent, k as u32));
                    if a != b {
                        parent[a.max(b) as usize] = a.min(b);
                    }
                }
                k += 1;
            }
        }
    }
    // Accumulate area and bounds per root.
    let mut blobs: std::collections::BTreeMap<u32, (Colour, u64, u32, u32, u32, u32)> =
        std::collections::BTreeMap::new();
    for (i, &(y, s, e, c)) in runs.iter().enumerate() {
        let root = find(&mut parent, i as u32);
        let entry = blobs
            .entry(root)
            .or_insert((c, 0, u32::MAX, u32::MAX, 0, 0));
        entry.1 += u64::from(e - s);
        entry.2 = entry.2.min(s);
        entry.3 = entry.3.min(y);
        entry.4 = entry.4.max(e - 1);
        entry.5 = entry.5.max(y);
    }
    let mut found = Vec::new();
    for (colour, area, x0, y0, x1, y1) in blobs.into_values() {
        if area < u64::from(min_area) {
            continue;
        }
        let bbox = PixelBox {
            x: x0,
            y: y0,
            width: x1 - x0 + 1,
            height: y1 - y0 + 1,
        };
        let fill = area as f64 / (f64::from(bbox.width) * f64::from(bbox.height));
        let circle_fill = std::f64::consts::FRAC_PI_4;
        // Halfway between a circle's and a rectangle's fill.
        let shape = if fill > (1.0 + circle_fill) / 2.0 {
            Shape::Rectangle
        } else {
            Shape::Circle
        };
        let expected = match shape {
            Shape::Rectangle => 1.0,
            Shape::Circle => circle_fill,
        };
        let score = (1.0 - 2.0 * (fill - expected).abs()).clamp(0.0, 1.0);
        found.push(Found {
            colour,
            shape,
            bbox,
            score,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::kpi::detection::{BBox, Detection, DetectionEvaluator, GroundTruth};
    use crate::sim::scene::render;

    fn category(colour: Colour, shape: Shape) -> u64 {
        colour as u64 * 2 + shape as u64
    }

    fn coco(b: &PixelBox) -> BBox {
        BBox::new(
            f64::from(b.x),
            f64::from(b.y),
            f64::from(b.width),
            f64::from(b.height),
        )
        .unwrap()
    }

    #[test]
    fn every_shape_of_generated_frames_is_found_with_iou_above_0_9_and_ap_1() {
        let mut evaluator = DetectionEvaluator::new();
        let mut worst_iou: f64 = 1.0;
        for (image, (w, h)) in [(640, 480), (320, 240), (160, 120)].iter().enumerate() {
            for k in 0..8 {
                let image_id = (image * 100 + k) as u64;
                let frame = render(*w, *h, k as f64 * 3.7);
                let found = detect("rgb8", *w, *h, w * 3, &frame.rgb, 30).unwrap();
                assert_eq!(found.len(), frame.objects.len(), "{w}x{h} t={k}");
                for truth in &frame.objects {
                    let hit = found
                        .iter()
                        .find(|f| f.colour == truth.colour && f.shape == truth.shape)
                        .unwrap_or_else(|| panic!("{truth:?} not found in {found:?}"));
                    worst_iou = worst_iou.min(coco(&hit.bbox).iou(&coco(&truth.bbox)));
                    evaluator
                        .add_ground_truth(GroundTruth {
                            image_id,
                            category_id: category(truth.colour, truth.shape),
                            bbox: coco(&truth.bbox),
                            iscrowd: false,
                            area: None,
                        })
                        .unwrap();
                }
                for f in &found {
                    assert!(f.score > 0.5, "{f:?}");
                    evaluator
                        .add_detection(Detection {
                            image_id,
                            category_id: category(f.colour, f.shape),
                            bbox: coco(&f.bbox),
                            score: f.score,
                        })
                        .unwrap();
                }
            }
        }
        assert!(worst_iou >= 0.9, "worst IoU {worst_iou}");
        let summary = evaluator.coco_summary();
        assert_eq!(summary.map50(), Some(1.0));
        assert!(
            summary.map().is_some_and(|m| m >= 0.9),
            "{:?}",
            summary.map()
        );
    }

    #[test]
    fn bgr_images_are_read_with_swapped_channels_and_bad_images_are_errors() {
        let frame = render(64, 48, 1.0);
        let mut bgr = frame.rgb.clone();
        for p in bgr.chunks_exact_mut(3) {
            p.swap(0, 2);
        }
        let a = detect("rgb8", 64, 48, 192, &frame.rgb, 5).unwrap();
        let b = detect("bgr8", 64, 48, 192, &bgr, 5).unwrap();
        assert_eq!(a, b);
        assert!(matches!(
            detect("mono8", 64, 48, 64, &frame.rgb, 5),
            Err(ImageError::Encoding(_))
        ));
        assert!(matches!(
            detect("rgb8", 64, 48, 192, &frame.rgb[..100], 5),
            Err(ImageError::Size { .. })
        ));
        assert!(detect("rgb8", 64, 48, 10, &frame.rgb, 5).is_err());
    }

    #[test]
    fn a_grey_image_has_no_objects_and_tiny_blobs_are_noise() {
        let mut grey = vec![128u8; 32 * 32 * 3];
        assert!(detect("rgb8", 32, 32, 96, &grey, 5).unwrap().is_empty());
        grey[..3].copy_from_slice(&Colour::Red.rgb());
        assert!(detect("rgb8", 32, 32, 96, &grey, 5).unwrap().is_empty());
        assert_eq!(detect("rgb8", 32, 32, 96, &grey, 1).unwrap().len(), 1);
    }
}
