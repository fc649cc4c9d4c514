//! The protobuf wire format, as much of it as a trace needs: varints,
//! doubles, fixed64 and length-delimited fields, written into one growing
//! buffer (a nested message reserves one length byte and moves itself
//! right in the rare case it is 128 bytes or more).

/// A message being encoded.
#[derive(Default)]
pub(super) struct Msg {
    pub buf: Vec<u8>,
}

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn tag(buf: &mut Vec<u8>, field: u32, wire: u8) {
    varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

impl Msg {
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// uint32/uint64/int32/enum/bool fields (int64 values go through
    /// `int`: negative ones take ten bytes, as protobuf has it).
    pub fn uint(&mut self, field: u32, v: u64) {
        tag(&mut self.buf, field, 0);
        varint(&mut self.buf, v);
    }

    pub fn int(&mut self, field: u32, v: i64) {
        self.uint(field, v as u64);
    }

    pub fn double(&mut self, field: u32, v: f64) {
        tag(&mut self.buf, field, 1);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn fixed64(&mut self, field: u32, v: u64) {
        tag(&mut self.buf, field, 1);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        tag(&mut self.buf, field, 2);
        varint(&mut self.buf, v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// The head of a length-delimited field whose `len` bytes follow.
    pub fn bytes_head(&mut self, field: u32, len: usize) {
        tag(&mut self.buf, field, 2);
        varint(&mut self.buf, len as u64);
    }

    pub fn str(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    /// A nested message, written by `f` in place.
    pub fn nested(&mut self, field: u32, f: impl FnOnce(&mut Msg)) {
        tag(&mut self.buf, field, 2);
        let at = self.buf.len();
        self.buf.push(0);
        f(self);
        let len = self.buf.len() - at - 1;
        if len < 0x80 {
            self.buf[at] = len as u8;
        } else {
            let mut head = Vec::with_capacity(10);
            varint(&mut head, len as u64);
            self.buf.splice(at..at + 1, head);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_nested_lengths() {
        let mut m = Msg::default();
        m.uint(1, 300);
        assert_eq!(m.buf, [0x08, 0xac, 0x02]);
        m.clear();
        m.nested(2, |m| m.bytes(1, &[7; 200]));
        // tag 0x12, length 203 (0xcb 0x01), inner tag 0x0a, length 200 (0xc8 0x01)
        assert_eq!(&m.buf[..5], &[0x12, 0xcb, 0x01, 0x0a, 0xc8]);
        assert_eq!(m.buf.len(), 3 + 203);
        m.clear();
        m.int(4, -1);
        assert_eq!(m.buf.len(), 11);
    }
}
