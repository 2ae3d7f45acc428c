//! The stream's start: an optional ID3v2 tag, the `fLaC` marker and the
//! metadata blocks, of which only STREAMINFO is read (the others are
//! skipped by their length).

use super::FlacError;

/// What STREAMINFO says about the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub min_block: u32,
    pub max_block: u32,
    pub sample_rate: u32,
    pub channels: u32,
    pub bits_per_sample: u32,
    /// Frames (samples per channel) in the stream; 0: unknown.
    pub total_frames: u64,
}

/// Bytes of an ID3v2 tag at the start of `data` (0 if there is none).
fn id3v2_len(data: &[u8]) -> usize {
    if data.len() < 10 || &data[..3] != b"ID3" || data[6..10].iter().any(|b| b & 0x80 != 0) {
        return 0;
    }
    let size = data[6..10].iter().fold(0usize, |a, &b| (a << 7) | b as usize);
    let footer = if data[5] & 0x10 != 0 { 10 } else { 0 };
    10 + size + footer
}

/// STREAMINFO and the offset of the first frame.
pub fn read_metadata(data: &[u8]) -> Result<(StreamInfo, usize), FlacError> {
    let mut at = id3v2_len(data);
    if data.get(at..at + 4) != Some(b"fLaC".as_slice()) {
        return Err(FlacError::new("no fLaC marker: not a FLAC stream", at));
    }
    at += 4;
    let mut info: Option<StreamInfo> = None;
    loop {
        let head = data
            .get(at..at + 4)
            .ok_or(FlacError::new("metadata block header cut off", at))?;
        let last = head[0] & 0x80 != 0;
        let kind = head[0] & 0x7f;
        let len = (head[1] as usize) << 16 | (head[2] as usize) << 8 | head[3] as usize;
        let body = data
            .get(at + 4..at + 4 + len)
            .ok_or(FlacError::new("metadata block cut off", at))?;
        match kind {
            0 if info.is_none() && at == 4 + id3v2_len(data) => info = Some(parse_streaminfo(body, at)?),
            0 => return Err(FlacError::new("STREAMINFO not first, or twice", at)),
            127 => return Err(FlacError::new("invalid metadata block type 127", at)),
            _ if info.is_none() => return Err(FlacError::new("the first metadata block is not STREAMINFO", at)),
            _ => {}
        }
        at += 4 + len;
        if last {
            break;
        }
    }
    Ok((info.ok_or(FlacError::new("no STREAMINFO", at))?, at))
}

fn parse_streaminfo(b: &[u8], at: usize) -> Result<StreamInfo, FlacError> {
    if b.len() != 34 {
        return Err(FlacError::new("STREAMINFO is not 34 bytes", at));
    }
    let be = |r: &[u8]| r.iter().fold(0u64, |a, &x| (a << 8) | x as u64);
    let packed = be(&b[10..18]);
    let info = StreamInfo {
        min_block: be(&b[0..2]) as u32,
        max_block: be(&b[2..4]) as u32,
        sample_rate: (packed >> 44) as u32,
        channels: ((packed >> 41) & 7) as u32 + 1,
        bits_per_sample: ((packed >> 36) & 31) as u32 + 1,
        total_frames: packed & ((1 << 36) - 1),
    };
    if info.max_block < 16 || info.min_block > info.max_block || info.sample_rate == 0 {
        return Err(FlacError::new("STREAMINFO block sizes or sample rate invalid", at));
    }
    Ok(info)
}
