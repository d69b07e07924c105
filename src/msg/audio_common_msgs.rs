//! Audio chunks of `audio_common_msgs` (the ROS 2 `audio_common` stack), read only as far as
//! the length of their sample buffer: counting samples must not copy the audio.
//!
//! `AudioData` is `uint8[] data`; `AudioDataStamped` is a `std_msgs/Header` then an
//! `AudioData`. The sample format (bytes per sample, channels) is published separately on
//! an `AudioInfo` topic, so it comes from the collector's configuration.

use serde::Deserialize;

use super::cdr;
use super::ros_message;
use super::std_msgs::Header;

/// `audio_common_msgs/msg/AudioData`.
pub const AUDIO_DATA: &str = "audio_common_msgs/msg/AudioData";
/// `audio_common_msgs/msg/AudioDataStamped`.
pub const AUDIO_DATA_STAMPED: &str = "audio_common_msgs/msg/AudioDataStamped";

/// Whether `msg_type` is an audio chunk type whose samples can be counted.
pub fn is_audio(msg_type: &str) -> bool {
    msg_type == AUDIO_DATA || msg_type == AUDIO_DATA_STAMPED
}

/// What the collector reads of an audio chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioChunk {
    /// The header of a stamped chunk.
    pub header: Option<Header>,
    /// Bytes of audio in the chunk.
    pub bytes: u64,
}

#[derive(Deserialize)]
struct Unstamped {
    len: u32,
}

#[derive(Deserialize)]
struct Stamped {
    header: Header,
    len: u32,
}

/// Reads the header (if any) and the buffer length of an audio chunk of type `msg_type`;
/// `data` may be a prefix of the message that holds at least that much.
pub fn decode_chunk(msg_type: &str, data: &[u8]) -> cdr::Result<AudioChunk> {
    if msg_type == AUDIO_DATA_STAMPED {
        let s: Stamped = cdr::from_cdr(data)?;
        Ok(AudioChunk {
            header: Some(s.header),
            bytes: u64::from(s.len),
        })
    } else {
        let u: Unstamped = cdr::from_cdr(data)?;
        Ok(AudioChunk {
            header: None,
            bytes: u64::from(u.len),
        })
    }
}

// The ROS 2 `audio_common` of mgonzs13 (whose `AudioStamped` the default collector pipeline
// listens to on `/audio/utterance`) reuses the name `AudioData` for a struct of typed sample
// arrays, unlike the `uint8[] data` chunk above; the mirrors below are of that package.

ros_message! {
    /// Samples of one chunk in the array that matches `AudioInfo::format`
    /// (mgonzs13 `audio_common_msgs/msg/AudioData`).
    pub struct AudioData = "audio_common_msgs/msg/AudioData";
    fields {
        /// `paFloat32` samples.
        float32_data: Vec<f32> as "float32[]",
        /// `paInt32` samples.
        int32_data: Vec<i32> as "int32[]",
        /// `paInt16` samples.
        int16_data: Vec<i16> as "int16[]",
        /// `paInt8` samples.
        int8_data: Vec<i8> as "int8[]",
        /// `paUInt8` samples.
        uint8_data: Vec<u8> as "uint8[]",
    }
}

ros_message! {
    /// How the samples are laid out: PortAudio sample format, channels, rate, frames.
    pub struct AudioInfo = "audio_common_msgs/msg/AudioInfo";
    fields {
        /// PortAudio sample format (`paInt16` = 8, `paUInt8` = 32, ...).
        format: i32 as "int32",
        /// Interleaved channels.
        channels: i32 as "int32",
        /// Frames per second.
        rate: i32 as "int32",
        /// Frames per chunk.
        chunk: i32 as "int32",
    }
}

ros_message! {
    /// Samples and their layout.
    pub struct Audio = "audio_common_msgs/msg/Audio";
    fields {
        /// The samples.
        audio_data: AudioData as "AudioData",
        /// Their layout.
        info: AudioInfo as "AudioInfo",
    }
}

ros_message! {
    /// A stamped chunk of audio (an utterance, on `/audio/utterance`).
    pub struct AudioStamped = "audio_common_msgs/msg/AudioStamped";
    fields {
        /// Capture time and microphone frame.
        header: Header as "std_msgs/Header",
        /// The audio.
        audio: Audio as "Audio",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::builtin_interfaces::Time;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Data {
        data: Vec<u8>,
    }

    #[derive(Serialize)]
    struct DataStamped {
        header: Header,
        audio: Data,
    }

    #[test]
    fn the_buffer_length_is_read_from_either_chunk_type() {
        let plain = cdr::to_cdr(&Data {
            data: vec![7; 3200],
        })
        .unwrap();
        let chunk = decode_chunk(AUDIO_DATA, &plain).unwrap();
        assert_eq!(
            chunk,
            AudioChunk {
                header: None,
                bytes: 3200
            }
        );
        let header = Header {
            stamp: Time { sec: 3, nanosec: 9 },
            frame_id: "mic_array".into(),
        };
        let stamped = cdr::to_cdr(&DataStamped {
            header: header.clone(),
            audio: Data { data: vec![1; 641] },
        })
        .unwrap();
        // A prefix that stops inside the samples is enough.
        let chunk = decode_chunk(AUDIO_DATA_STAMPED, &stamped[..40]).unwrap();
        assert_eq!(chunk.header, Some(header));
        assert_eq!(chunk.bytes, 641);
        assert!(decode_chunk(AUDIO_DATA_STAMPED, &stamped[..10]).is_err());
        assert!(is_audio(AUDIO_DATA) && !is_audio("sensor_msgs/msg/Image"));
    }
}
