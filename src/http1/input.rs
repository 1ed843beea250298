//! A connection's input: the bytes read and not yet consumed, grown up to
//! [`MAX_HEAD`] for a large head, and wiped when the connection ends (requests carry
//! secrets in `Authorization`).

use zeroize::Zeroize;

use super::parse::MAX_HEAD;

/// Initial size: an nginx subrequest head is well under a kilobyte.
const INITIAL: usize = 4096;

pub struct Input {
    buf: Vec<u8>,
    /// The unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Body octets of the last request still to be discarded as they arrive.
    skip: u64,
    /// The most of `buf` ever written, so that only that much is wiped.
    used: usize,
    /// The client has closed its sending side.
    pub eof: bool,
}

impl Input {
    pub fn new() -> Input {
        Input {
            buf: vec![0; INITIAL],
            start: 0,
            end: 0,
            skip: 0,
            used: 0,
            eof: false,
        }
    }

    /// The bytes not consumed yet.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Whether nothing of a next request has arrived.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Consumes a head of `head` octets and a body of `body` octets (those not here yet
    /// are discarded when they arrive).
    pub fn consume(&mut self, head: usize, body: u64) {
        self.start += head;
        self.skip = body;
        self.discard_body();
    }

    fn discard_body(&mut self) {
        let here = (self.end - self.start) as u64;
        let n = self.skip.min(here);
        // `n` is at most `end - start`, a usize.
        self.start += usize::try_from(n).unwrap_or(0);
        self.skip -= n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The free space to read into, made when the pending bytes reach the end of the
    /// buffer; `None` when a head of [`MAX_HEAD`] octets is still incomplete.
    pub fn space(&mut self) -> Option<&mut [u8]> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < MAX_HEAD {
                self.buf.resize((self.buf.len() * 2).min(MAX_HEAD), 0);
            } else {
                return None;
            }
        }
        Some(&mut self.buf[self.end..])
    }

    /// Records `n` octets read into [`Input::space`]; 0 is the end of input.
    pub fn filled(&mut self, n: usize) {
        if n == 0 {
            self.eof = true;
            return;
        }
        self.end += n;
        self.used = self.used.max(self.end);
        self.discard_body();
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.buf[..self.used].zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(input: &mut Input, bytes: &[u8]) {
        let space = input.space().unwrap();
        space[..bytes.len()].copy_from_slice(bytes);
        input.filled(bytes.len());
    }

    #[test]
    fn consume_skips_a_body_across_reads() {
        let mut input = Input::new();
        feed(&mut input, b"HEADbo");
        input.consume(4, 4);
        assert!(input.is_empty());
        feed(&mut input, b"dyNEXT");
        assert_eq!(input.pending(), b"NEXT");
    }

    #[test]
    fn space_grows_to_max_head_then_refuses() {
        let mut input = Input::new();
        while let Some(space) = input.space() {
            let n = space.len();
            space.fill(b'a');
            input.filled(n);
        }
        assert_eq!(input.pending().len(), MAX_HEAD);
        input.consume(10, 0);
        assert_eq!(input.space().map(|s| s.len()), Some(10), "compacted");
    }
}
