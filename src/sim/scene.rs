//! The simulated camera's scene: coloured rectangles and circles drifting slowly over a
//! grey background, rendered as `rgb8` with the exact box of every object (ground truth).

/// Background grey.
pub const BACKGROUND: [u8; 3] = [128, 128, 128];

/// Colour classes of the scene's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Colour {
    /// Pure red.
    Red,
    /// Pure green.
    Green,
    /// Pure blue.
    Blue,
    /// Red plus green.
    Yellow,
}

impl Colour {
    /// Every colour, in class order.
    pub const ALL: [Colour; 4] = [Colour::Red, Colour::Green, Colour::Blue, Colour::Yellow];

    /// The RGB the camera paints.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [220, 30, 30],
            Colour::Green => [30, 200, 40],
            Colour::Blue => [30, 50, 220],
            Colour::Yellow => [230, 220, 40],
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Yellow => "yellow",
        }
    }
}

/// Shape classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// Axis-aligned rectangle.
    Rectangle,
    /// Disc.
    Circle,
}

impl Shape {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Rectangle => "rectangle",
            Shape::Circle => "circle",
        }
    }
}

/// The class id published by the vision node: `red_rectangle`, `yellow_circle`, ...
pub fn class_id(colour: Colour, shape: Shape) -> String {
    format!("{}_{}", colour.name(), shape.name())
}

/// A pixel box: columns `x..x + width`, rows `y..y + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBox {
    /// First column.
    pub x: u32,
    /// First row.
    pub y: u32,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

/// One object in a frame and its exact box (the painted pixels' bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruthObject {
    /// Colour.
    pub colour: Colour,
    /// Shape.
    pub shape: Shape,
    /// Tight box of the painted pixels.
    pub bbox: PixelBox,
}

/// A rendered frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `rgb8` pixels, row-major, `3 * width` bytes per row.
    pub rgb: Vec<u8>,
    /// Ground truth.
    pub objects: Vec<TruthObject>,
}

/// Where object `i` of 4 is at time `t` (seconds), in pixels: each object drifts in its own
/// quadrant (so objects never overlap), at a few percent of the image per second.
fn layout(i: usize, width: u32, height: u32, t: f64) -> (Colour, Shape, f64, f64, f64, f64) {
    let (w, h) = (f64::from(width), f64::from(height));
    let (qw, qh) = (w / 2.0, h / 2.0);
    let (colour, shape) = [
        (Colour::Red, Shape::Rectangle),
        (Colour::Green, Shape::Circle),
        (Colour::Blue, Shape::Rectangle),
        (Colour::Yellow, Shape::Circle),
    ][i % 4];
    // Object size: a fraction of the quadrant, so every resolution shows the same scene.
    let (sw, sh) = match shape {
        Shape::Rectangle => (qw * (0.30 + 0.05 * i as f64), qh * 0.35),
        Shape::Circle => {
            let d = qw.min(qh) * 0.40;
            (d, d)
        }
    };
    // Triangle-wave drift over the free room of the quadrant, phase-shifted per object.
    let wave = |period: f64, phase: f64| {
        let x = ((t / period + phase).rem_euclid(1.0) * 2.0 - 1.0).abs();
        0.05 + 0.9 * x
    };
    let (ox, oy) = ((i % 2) as f64 * qw, (i / 2) as f64 * qh);
    let x = ox + (qw - sw) * wave(17.0 + 3.0 * i as f64, 0.25 * i as f64);
    let y = oy + (qh - sh) * wave(23.0 + 5.0 * i as f64, 0.4 + 0.2 * i as f64);
    (colour, shape, x, y, sw, sh)
}

/// Renders the scene at time `t` seconds into a `width` x `height` frame.
pub fn render(width: u32, height: u32, t: f64) -> Frame {
    let (wu, hu) = (width as usize, height as usize);
    let mut rgb = Vec::with_capacity(wu * hu * 3);
    for _ in 0..wu * hu {
        rgb.extend_from_slice(&BACKGROUND);
    }
    let mut objects = Vec::new();
    for i in 0..4 {
        let (colour, shape, x, y, sw, sh) = layout(i, width, height, t);
        let paint = colour.rgb();
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        let (cx, cy, r) = (x + sw / 2.0, y + sh / 2.0, sw.min(sh) / 2.0);
        let rows = (y.floor().max(0.0) as u32)..((y + sh).ceil().min(f64::from(height)) as u32);
        for row in rows {
            let cols = (x.floor().max(0.0) as u32)..((x + sw).ceil().min(f64::from(width)) as u32);
            for col in cols {
                // A pixel belongs to the object when its centre does.
                let (px, py) = (f64::from(col) + 0.5, f64::from(row) + 0.5);
                let inside = match shape {
                    Shape::Rectangle => px >= x && px < x + sw && py >= y && py < y + sh,
                    Shape::Circle => (px - cx).powi(2) + (py - cy).powi(2) <= r * r,
                };
                if inside {
                    let at = (row as usize * wu + col as usize) * 3;
                    rgb[at..at + 3].copy_from_slice(&paint);
                    (x0, y0, x1, y1) = (x0.min(col), y0.min(row), x1.max(col), y1.max(row));
                }
            }
        }
        if x0 <= x1 && y0 <= y1 {
            objects.push(TruthObject {
                colour,
                shape,
                bbox: PixelBox {
                    x: x0,
                    y: y0,
                    width: x1 - x0 + 1,
                    height: y1 - y0 + 1,
                },
            });
        }
    }
    Frame {
        width,
        height,
        rgb,
        objects,
    }
}

/// Categories of a SIMULATED image set: the four objects every scene holds, by COCO id.
pub fn categories() -> Vec<(u64, String)> {
    (0..4)
        .map(|i| {
            let (colour, shape, ..) = layout(i, 4, 4, 0.0);
            (i as u64 + 1, class_id(colour, shape))
        })
        .collect()
}

/// A SIMULATED image set for the benchmark's visual perception suite: `count` scenes of
/// `width` x `height` at times 0, 3.7 s, 7.4 s ... as frames, and their COCO annotation
/// file (the exact boxes of the painted pixels). Write the frames as PNG `frame_NNN.png`.
pub fn image_set(
    count: usize,
    width: u32,
    height: u32,
) -> (Vec<(String, Frame)>, serde_json::Value) {
    let categories = categories();
    let mut frames = Vec::with_capacity(count);
    let mut images = Vec::new();
    let mut annotations = Vec::new();
    for n in 0..count {
        let frame = render(width, height, 3.7 * n as f64);
        let name = format!("frame_{n:03}.png");
        images.push(serde_json::json!({
            "id": n + 1, "file_name": name, "width": width, "height": height,
        }));
        for o in &frame.objects {
            let class = class_id(o.colour, o.shape);
            let category = categories
                .iter()
                .find(|(_, c)| *c == class)
                .map_or(0, |(id, _)| *id);
            let b = o.bbox;
            annotations.push(serde_json::json!({
                "id": annotations.len() + 1,
                "image_id": n + 1,
                "category_id": category,
                "bbox": [b.x, b.y, b.width, b.height],
                "area": u64::from(b.width) * u64::from(b.height),
                "iscrowd": 0,
            }));
        }
        frames.push((name, frame));
    }
    let coco = serde_json::json!({
        "info": {"description": "SIMULATED scenes of vla_perf's sim_camera (src/sim/scene.rs)"},
        "images": images,
        "annotations": annotations,
        "categories": categories.iter().map(|(id, name)| serde_json::json!({
            "id": id, "name": name, "supercategory": "shape",
        })).collect::<Vec<_>>(),
    });
    (frames, coco)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_hold_four_objects_inside_the_image_and_they_move() {
        let a = render(640, 480, 0.0);
        assert_eq!(a.rgb.len(), 640 * 480 * 3);
        assert_eq!(a.objects.len(), 4);
        for o in &a.objects {
            assert!(o.bbox.x + o.bbox.width <= 640 && o.bbox.y + o.bbox.height <= 480);
            assert!(o.bbox.width > 20 && o.bbox.height > 20, "{o:?}");
        }
        let b = render(640, 480, 2.0);
        assert_ne!(a.objects, b.objects, "objects drift over time");
        let small = render(64, 48, 5.0);
        assert_eq!(small.objects.len(), 4);
    }
}
