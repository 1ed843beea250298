//! Length-prefixed frames: a 4-byte big-endian length, then that many bytes. Each socket
//! and direction has its limit ([`Frames`]); a frame over it is refused before its body is
//! read, so a client cannot make the reader allocate what it claims.

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 4;

/// One kind of frame and its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frames {
    /// Largest accepted body in bytes.
    pub max: usize,
    /// What the frames carry, for error messages (`request`, `reply`, `frame`).
    pub what: &'static str,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Frames {
    /// Frames of at most `max` bytes, called `what` in errors.
    pub const fn new(max: usize, what: &'static str) -> Frames {
        Frames { max, what }
    }

    /// Validates a length prefix; a length over the limit is an `InvalidData` error.
    pub fn len(&self, prefix: [u8; PREFIX_LEN]) -> io::Result<usize> {
        let len = u32::from_be_bytes(prefix) as usize;
        if len > self.max {
            return Err(invalid(format!(
                "{} of {len} bytes exceeds the {}-byte limit",
                self.what, self.max
            )));
        }
        Ok(len)
    }

    /// The whole frame (prefix and body) in one wiped buffer, ready to write.
    pub fn encode(&self, body: &[u8]) -> io::Result<Zeroizing<Vec<u8>>> {
        if body.len() > self.max {
            return Err(invalid(format!(
                "{} of {} bytes exceeds the {}-byte limit",
                self.what,
                body.len(),
                self.max
            )));
        }
        // The limit check above keeps every accepted length within u32 (limits are small).
        let len = u32::try_from(body.len()).map_err(|_| invalid("frame too large".into()))?;
        let mut frame = Zeroizing::new(Vec::with_capacity(PREFIX_LEN + body.len()));
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(body);
        Ok(frame)
    }

    /// Writes one frame with blocking I/O and flushes.
    pub fn write(&self, w: &mut impl Write, body: &[u8]) -> io::Result<()> {
        let frame = self.encode(body)?;
        w.write_all(&frame)?;
        w.flush()
    }

    /// Reads one frame with blocking I/O, refusing a body over the limit before reading it.
    pub fn read(&self, r: &mut impl Read) -> io::Result<Zeroizing<Vec<u8>>> {
        let mut prefix = [0u8; PREFIX_LEN];
        r.read_exact(&mut prefix)?;
        let mut body = Zeroizing::new(vec![0u8; self.len(prefix)?]);
        r.read_exact(&mut body)?;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Frames = Frames::new(8, "frame");

    #[test]
    fn len_over_limit_is_error() {
        assert!(SMALL.len(9u32.to_be_bytes()).is_err());
        assert!(SMALL.len(u32::MAX.to_be_bytes()).is_err());
        assert_eq!(SMALL.len(8u32.to_be_bytes()).unwrap(), 8);
    }

    #[test]
    fn write_then_read_roundtrips() {
        let mut buf = Vec::new();
        SMALL.write(&mut buf, b"abc").unwrap();
        assert_eq!(buf, [0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(*SMALL.read(&mut &buf[..]).unwrap(), b"abc");
    }

    #[test]
    fn write_over_limit_is_error_and_writes_nothing() {
        let mut buf = Vec::new();
        assert!(SMALL.write(&mut buf, &[0; 9]).is_err());
        assert!(buf.is_empty());
    }

    #[test]
    fn read_truncated_body_is_error() {
        assert!(SMALL.read(&mut &[0, 0, 0, 4, 1, 2][..]).is_err());
        assert!(SMALL.read(&mut &[0, 0][..]).is_err());
    }

    #[test]
    fn error_names_what_and_limit() {
        let err = Frames::new(10, "request")
            .len(11u32.to_be_bytes())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "request of 11 bytes exceeds the 10-byte limit"
        );
    }
}
