//! CDR (XCDR1) encoding of messages as ROS 2 puts them on the wire and in bags.
//!
//! A serialized message is a 4-byte encapsulation header (representation id, options)
//! followed by the plain CDR body, aligned relative to the body's start. The body is
//! written and read by the `cdr-encoding` crate (the one RustDDS uses); this module only
//! adds the encapsulation header and typed errors.

use byteorder::{BigEndian, LittleEndian};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::std_msgs::Header;

/// Errors of CDR encoding and decoding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data cannot even hold the encapsulation header.
    #[error("CDR data is {len} bytes long, shorter than the 4-byte encapsulation header")]
    TooShort {
        /// Length of the data.
        len: usize,
    },
    /// The representation is not plain CDR (e.g. XCDR2 or a parameter list).
    #[error(
        "unsupported CDR representation id {id:#06x}; only CDR_BE (0x0000) and CDR_LE (0x0001) are understood"
    )]
    UnsupportedRepresentation {
        /// The representation id of the header.
        id: u16,
    },
    /// A value could not be encoded.
    #[error("cannot encode {type_name} as CDR: {source}")]
    Encode {
        /// Rust type being encoded.
        type_name: &'static str,
        /// What `cdr-encoding` reported.
        source: cdr_encoding::Error,
    },
    /// The body does not hold a valid value of the type.
    #[error("cannot decode {type_name} from CDR: {source}")]
    Decode {
        /// Rust type being decoded.
        type_name: &'static str,
        /// What `cdr-encoding` reported.
        source: cdr_encoding::Error,
    },
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Byte order of a CDR body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endianness {
    /// CDR_LE, what every ROS 2 middleware writes on common hardware.
    Little,
    /// CDR_BE.
    Big,
}

/// Encapsulation header of a little-endian CDR body.
pub const CDR_LE_HEADER: [u8; 4] = [0x00, 0x01, 0x00, 0x00];
/// Encapsulation header of a big-endian CDR body.
pub const CDR_BE_HEADER: [u8; 4] = [0x00, 0x00, 0x00, 0x00];

/// Encodes `value` as little-endian CDR with its encapsulation header.
pub fn to_cdr<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    to_cdr_with(value, Endianness::Little)
}

/// Encodes `value` as CDR of the given byte order with its encapsulation header.
pub fn to_cdr_with<T: Serialize>(value: &T, endianness: Endianness) -> Result<Vec<u8>> {
    let (header, body) = match endianness {
        Endianness::Little => (
            CDR_LE_HEADER,
            cdr_encoding::to_vec::<T, LittleEndian>(value),
        ),
        Endianness::Big => (CDR_BE_HEADER, cdr_encoding::to_vec::<T, BigEndian>(value)),
    };
    let body = body.map_err(|source| Error::Encode {
        type_name: std::any::type_name::<T>(),
        source,
    })?;
    let mut out = Vec::with_capacity(header.len() + body.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a CDR message with its encapsulation header (either byte order).
///
/// Bytes after the value are ignored: middlewares may pad the body to a multiple of 4.
pub fn from_cdr<T: DeserializeOwned>(data: &[u8]) -> Result<T> {
    let (endianness, body) = split_encapsulation(data)?;
    let decoded = match endianness {
        Endianness::Little => cdr_encoding::from_bytes::<T, LittleEndian>(body),
        Endianness::Big => cdr_encoding::from_bytes::<T, BigEndian>(body),
    };
    decoded
        .map(|(value, _consumed)| value)
        .map_err(|source| Error::Decode {
            type_name: std::any::type_name::<T>(),
            source,
        })
}

/// Decodes only the leading `std_msgs/Header` of any message whose first field is one
/// (`sensor_msgs/Image`, `vision_msgs/Detection2DArray`, ...).
///
/// The payload after the header is never read, so the cost does not depend on its size;
/// this is how the collector timestamps topics it has no mirror for.
pub fn decode_header(data: &[u8]) -> Result<Header> {
    from_cdr::<Header>(data)
}

/// Splits off the encapsulation header and reports the body's byte order.
fn split_encapsulation(data: &[u8]) -> Result<(Endianness, &[u8])> {
    let Some((header, body)) = data.split_first_chunk::<4>() else {
        return Err(Error::TooShort { len: data.len() });
    };
    // The options half (bytes 2..4) only carries padding hints; the body does not need it.
    match u16::from_be_bytes([header[0], header[1]]) {
        0x0000 => Ok((Endianness::Big, body)),
        0x0001 => Ok((Endianness::Little, body)),
        id => Err(Error::UnsupportedRepresentation { id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::builtin_interfaces::Time;
    use crate::msg::unique_identifier_msgs::UUID;
    use crate::msg::{std_msgs, ResourceUsage, StageEvent, StageLatency};
    use proptest::prelude::*;

    /// A message with a header and a large payload, shaped like sensor_msgs/Image.
    #[derive(Debug, Serialize)]
    struct ImageLike {
        header: Header,
        height: u32,
        width: u32,
        encoding: String,
        is_bigendian: u8,
        step: u32,
        data: Vec<u8>,
    }

    fn header(sec: i32, frame: &str) -> Header {
        Header {
            stamp: Time { sec, nanosec: 42 },
            frame_id: frame.into(),
        }
    }

    #[test]
    fn a_string_message_encodes_to_the_bytes_rosbags_writes() {
        // Produced by rosbags 0.11 `serialize_cdr(String(data='h'), 'std_msgs/msg/String')`.
        let msg = std_msgs::String { data: "h".into() };
        assert_eq!(to_cdr(&msg).unwrap(), [0, 1, 0, 0, 2, 0, 0, 0, b'h', 0]);
        assert_eq!(
            to_cdr_with(&msg, Endianness::Big).unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 2, b'h', 0]
        );
    }

    #[test]
    fn a_fixed_size_array_has_no_length_prefix() {
        let uuid = UUID {
            uuid: std::array::from_fn(|i| i as u8),
        };
        let bytes = to_cdr(&uuid).unwrap();
        assert_eq!(bytes.len(), 4 + 16);
        assert_eq!(&bytes[4..], &uuid.uuid);
        assert_eq!(from_cdr::<UUID>(&bytes).unwrap(), uuid);
    }

    #[test]
    fn both_byte_orders_decode_to_the_same_message() {
        let msg = StageEvent {
            header: header(-5, "base_link"),
            command_id: "cmd-1".into(),
            stage: "plan".into(),
            phase: StageEvent::PHASE_END,
            confidence: 0.75,
            detail: "ünïcødé 🚀".into(),
        };
        for endianness in [Endianness::Little, Endianness::Big] {
            let bytes = to_cdr_with(&msg, endianness).unwrap();
            assert_eq!(from_cdr::<StageEvent>(&bytes).unwrap(), msg);
        }
    }

    #[test]
    fn doubles_are_aligned_to_eight_bytes_from_the_body_start() {
        let msg = StageLatency {
            stage: "ab".into(),
            reached: true,
            latency: 1.0,
        };
        let bytes = to_cdr(&msg).unwrap();
        // body: len(4) "ab\0"(3) bool(1) -> 8, the double starts at body offset 8.
        assert_eq!(bytes.len(), 4 + 8 + 8);
        assert_eq!(&bytes[12..], &1.0f64.to_le_bytes());
    }

    #[test]
    fn the_header_decodes_without_reading_the_payload() {
        let image = ImageLike {
            header: header(1_700_000_000, "camera"),
            height: 480,
            width: 640,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: 1920,
            data: vec![7; 480 * 1920],
        };
        let bytes = to_cdr(&image).unwrap();
        assert_eq!(decode_header(&bytes).unwrap(), image.header);
        // Cutting the message right after the header proves nothing beyond it is read.
        let header_len = to_cdr(&image.header).unwrap().len();
        assert_eq!(decode_header(&bytes[..header_len]).unwrap(), image.header);
    }

    #[test]
    fn short_and_unknown_encapsulations_are_typed_errors() {
        assert!(matches!(
            from_cdr::<Header>(&[0, 1]),
            Err(Error::TooShort { len: 2 })
        ));
        assert!(matches!(
            decode_header(&[0, 7, 0, 0, 0, 0, 0, 0]),
            Err(Error::UnsupportedRepresentation { id: 7 })
        ));
        let truncated = &to_cdr(&header(1, "frame")).unwrap()[..10];
        let err = decode_header(truncated).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
        assert!(err.to_string().contains("Header"), "{err}");
    }

    #[test]
    fn invalid_utf8_and_booleans_are_decode_errors() {
        let mut bytes = to_cdr(&std_msgs::String { data: "ab".into() }).unwrap();
        bytes[8] = 0xff;
        assert!(matches!(
            from_cdr::<std_msgs::String>(&bytes),
            Err(Error::Decode { .. })
        ));
        let mut bytes = to_cdr(&StageLatency::default()).unwrap();
        bytes[9] = 2; // the bool after the empty string's length and NUL
        assert!(matches!(
            from_cdr::<StageLatency>(&bytes),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn a_huge_sequence_length_fails_instead_of_allocating() {
        // cpu_per_core_percent claims u32::MAX doubles but the data ends.
        let mut bytes = to_cdr(&ResourceUsage::default()).unwrap();
        // Body: stamp 8, frame_id 4+1, pad 3, robot_id 4+1, pad 3, cpu_percent 8.
        let at = 4 + 32;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            from_cdr::<ResourceUsage>(&bytes),
            Err(Error::Decode { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_header(&data);
            let _ = from_cdr::<StageEvent>(&data);
            let _ = from_cdr::<ResourceUsage>(&data);
            let _ = from_cdr::<crate::msg::BenchmarkResult>(&data);
            let _ = from_cdr::<crate::msg::action_msgs::GoalStatusArray>(&data);
        }

        #[test]
        fn arbitrary_bytes_behind_a_valid_encapsulation_never_panic(
            le in any::<bool>(),
            body in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut data = if le { CDR_LE_HEADER.to_vec() } else { CDR_BE_HEADER.to_vec() };
            data.extend_from_slice(&body);
            let _ = decode_header(&data);
            let _ = from_cdr::<ResourceUsage>(&data);
            let _ = from_cdr::<crate::msg::Alert>(&data);
            let _ = from_cdr::<crate::msg::diagnostic_msgs::DiagnosticArray>(&data);
        }

        #[test]
        fn stage_events_round_trip_bit_for_bit(
            sec in any::<i32>(),
            nanosec in any::<u32>(),
            frame in ".*",
            phase in any::<u8>(),
            confidence_bits in any::<u64>(),
            big_endian in any::<bool>(),
        ) {
            let msg = StageEvent {
                header: Header { stamp: Time { sec, nanosec }, frame_id: frame },
                phase,
                confidence: f64::from_bits(confidence_bits),
                ..StageEvent::default()
            };
            let order = if big_endian { Endianness::Big } else { Endianness::Little };
            let back: StageEvent = from_cdr(&to_cdr_with(&msg, order).unwrap()).unwrap();
            prop_assert_eq!(back.confidence.to_bits(), confidence_bits);
            prop_assert_eq!(back.header, msg.header);
            prop_assert_eq!(back.phase, phase);
        }
    }
}
