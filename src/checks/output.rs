//! Bounded check output: scripts keep the last `max` bytes (Consul's circular buffer, with a
//! `Captured N of M bytes` header when cut); HTTP keeps the first `max` bytes of the body.

/// Collects a command's output, keeping only the tail.
#[derive(Debug)]
pub struct Tail {
    max: usize,
    buf: Vec<u8>,
    total: usize,
}

impl Tail {
    /// An empty buffer keeping at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Tail {
            max: max.max(1),
            buf: Vec::new(),
            total: 0,
        }
    }

    /// Appends bytes, dropping the oldest beyond `max`.
    pub fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len();
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > self.max {
            let cut = self.buf.len() - self.max;
            self.buf.drain(..cut);
        }
    }

    /// The output as Consul shows it.
    pub fn finish(self) -> String {
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        if self.total > self.buf.len() {
            format!(
                "Captured {} of {} bytes\n...\n{}",
                self.buf.len(),
                self.total,
                text
            )
        } else {
            text
        }
    }
}

/// The first `max` bytes of `bytes` as text (a cut UTF-8 sequence is replaced, not an error).
pub fn head(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_and_says_it_was_cut() {
        let mut t = Tail::new(4);
        t.push(b"abc");
        t.push(b"defg");
        assert_eq!(t.finish(), "Captured 4 of 7 bytes\n...\ndefg");
        let mut t = Tail::new(10);
        t.push(b"short");
        assert_eq!(t.finish(), "short");
    }

    #[test]
    fn head_cuts_at_max() {
        assert_eq!(head(b"hello world", 5), "hello");
        assert_eq!(head(b"hi", 5), "hi");
    }
}
