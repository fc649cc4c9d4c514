//! The UI's raw events, packed: blocks of up to [`BLOCK`] events, each
//! field a varint of its difference from the same field of the event
//! before it in the block (zigzag, so events that arrive out of time order
//! cost a byte more, not a panic). An event that takes 64 bytes as an
//! `Event` takes about 13 here (timestamps a few µs apart, the same thread
//! and inode, nearby folios and ops), so a 10 M-event replay keeps every
//! raw event in well under the 640 MB it would otherwise take. Each block
//! knows its time range, so "the events of [t0, t1]" decodes only the
//! blocks that reach into it.

use lockline_engine::probe::Event;
use std::collections::VecDeque;

/// Events per block: small enough that decoding one for a lookup is
/// nothing next to a frame, large enough that the per-block index costs
/// under a byte per event.
pub const BLOCK: usize = 256;

#[derive(Debug)]
struct Block {
    min_ts: u64,
    max_ts: u64,
    len: u32,
    bytes: Box<[u8]>,
}

/// Raw events in arrival order, most of them packed.
#[derive(Debug, Default)]
pub struct PackedEvents {
    blocks: VecDeque<Block>,
    /// The newest events, not yet a full block.
    tail: Vec<Event>,
    packed_len: usize,
    /// Bytes of the packed blocks.
    packed_bytes: usize,
    /// Arrival index of the oldest event kept (those before were evicted):
    /// every event keeps its index for good, so a hold can name its
    /// acquire event by it.
    base: u64,
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get(b: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let x = b[*at];
        *at += 1;
        v |= ((x & 0x7f) as u64) << shift;
        if x < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn zig(prev: u64, cur: u64) -> u64 {
    let d = cur.wrapping_sub(prev) as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzig(prev: u64, z: u64) -> u64 {
    let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
    prev.wrapping_add(d as u64)
}

/// The fields in the order they are packed.
fn fields(e: &Event) -> [u64; 9] {
    [
        e.ts_ns,
        e.tid as u64,
        e.code as u64,
        e.inode,
        e.folio,
        e.op,
        e.a,
        e.b,
        e.fid,
    ]
}

fn event(f: [u64; 9]) -> Event {
    Event {
        ts_ns: f[0],
        tid: f[1] as u32,
        code: f[2] as u32,
        inode: f[3],
        folio: f[4],
        op: f[5],
        a: f[6],
        b: f[7],
        fid: f[8],
    }
}

impl Block {
    fn pack(events: &[Event]) -> Block {
        let mut out = Vec::with_capacity(events.len() * 16);
        let mut prev = [0u64; 9];
        for e in events {
            let f = fields(e);
            for (p, v) in prev.iter_mut().zip(f) {
                put(&mut out, zig(*p, v));
                *p = v;
            }
        }
        Block {
            min_ts: events.iter().map(|e| e.ts_ns).min().unwrap_or(0),
            max_ts: events.iter().map(|e| e.ts_ns).max().unwrap_or(0),
            len: events.len() as u32,
            // A copy of exactly its size: shrinking `out` in place would
            // leave a hole behind every block that nothing else fills.
            bytes: out.as_slice().into(),
        }
    }

    fn unpack(&self, out: &mut Vec<Event>) {
        let mut at = 0;
        let mut prev = [0u64; 9];
        for _ in 0..self.len {
            for p in prev.iter_mut() {
                *p = unzig(*p, get(&self.bytes, &mut at));
            }
            out.push(event(prev));
        }
    }

    /// The block's `n`th event, decoding only up to it.
    fn nth(&self, n: usize) -> Event {
        let mut at = 0;
        let mut prev = [0u64; 9];
        for _ in 0..=n {
            for p in prev.iter_mut() {
                *p = unzig(*p, get(&self.bytes, &mut at));
            }
        }
        event(prev)
    }

    fn reaches(&self, t0: u64, t1: u64) -> bool {
        self.min_ts <= t1 && t0 <= self.max_ts
    }
}

impl PackedEvents {
    pub fn len(&self) -> usize {
        self.packed_len + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The arrival index the next event pushed will have.
    pub fn end_index(&self) -> u64 {
        self.base + self.len() as u64
    }

    /// The event of arrival index `i`, if it is still kept. Every block
    /// but the tail is full, so finding its block is a division.
    pub fn get(&self, i: u64) -> Option<Event> {
        let rel = usize::try_from(i.checked_sub(self.base)?).ok()?;
        if rel < self.packed_len {
            Some(self.blocks[rel / BLOCK].nth(rel % BLOCK))
        } else {
            self.tail.get(rel - self.packed_len).copied()
        }
    }

    /// The arrival index of the oldest event `evict_before(cutoff)` would
    /// keep.
    pub fn base_after_evicting(&self, cutoff: u64) -> u64 {
        let gone: usize = self
            .blocks
            .iter()
            .take_while(|b| b.max_ts < cutoff)
            .map(|b| b.len as usize)
            .sum();
        self.base + gone as u64
    }

    pub fn push(&mut self, e: Event) {
        self.tail.push(e);
        if self.tail.len() == BLOCK {
            let b = Block::pack(&self.tail);
            self.packed_len += b.len as usize;
            self.packed_bytes += b.bytes.len();
            self.blocks.push_back(b);
            self.tail.clear();
        }
    }

    /// Drops whole blocks of events all older than `cutoff`, oldest first
    /// (the live window's eviction; a block straddling the cutoff stays);
    /// returns how many events went.
    pub fn evict_before(&mut self, cutoff: u64) -> usize {
        let mut gone = 0;
        while self.blocks.front().is_some_and(|b| b.max_ts < cutoff) {
            let b = self.blocks.pop_front().expect("front exists");
            self.packed_len -= b.len as usize;
            self.packed_bytes -= b.bytes.len();
            gone += b.len as usize;
        }
        self.base += gone as u64;
        gone
    }

    /// The time of the `n`th newest event (0: the newest).
    pub fn ts_from_end(&self, n: usize) -> Option<u64> {
        if n < self.tail.len() {
            return Some(self.tail[self.tail.len() - 1 - n].ts_ns);
        }
        let mut n = n - self.tail.len();
        let mut buf = Vec::new();
        for b in self.blocks.iter().rev() {
            if n < b.len as usize {
                b.unpack(&mut buf);
                return Some(buf[buf.len() - 1 - n].ts_ns);
            }
            n -= b.len as usize;
        }
        None
    }

    /// Every event whose time is in [t0, t1], in arrival order.
    pub fn in_range(&self, t0: u64, t1: u64) -> Vec<Event> {
        self.filtered(t0, t1, |_| true)
    }

    /// The events of [t0, t1] that `keep` accepts, in arrival order;
    /// blocks wholly outside the range are not decoded.
    pub fn filtered(&self, t0: u64, t1: u64, keep: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(BLOCK);
        let wanted = |e: &Event| e.ts_ns >= t0 && e.ts_ns <= t1 && keep(e);
        for b in self.blocks.iter().filter(|b| b.reaches(t0, t1)) {
            buf.clear();
            b.unpack(&mut buf);
            out.extend(buf.iter().filter(|e| wanted(e)));
        }
        out.extend(self.tail.iter().filter(|e| wanted(e)));
        out
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.packed_bytes
            + self.blocks.capacity() * std::mem::size_of::<Block>()
            + self.tail.capacity() * std::mem::size_of::<Event>()
    }

    /// Gives back what growth reserved beyond what is held.
    pub fn shrink_to_fit(&mut self) {
        self.blocks.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: u64) -> Event {
        Event {
            // Mostly rising, sometimes back in time (live arrival order).
            ts_ns: 1_000_000 + i * 1_700 - if i % 7 == 3 { 5_000 } else { 0 },
            tid: 100 + (i % 3) as u32,
            code: (i % 11) as u32 | 0x0002_0100,
            inode: 2 + i % 2,
            folio: (i * 37) % 512,
            op: i / 5,
            a: if i.is_multiple_of(13) {
                u64::MAX
            } else {
                i * 4096
            },
            b: i % 5,
            fid: if i.is_multiple_of(4) { 0 } else { 7_000 + i },
        }
    }

    #[test]
    fn every_field_round_trips_through_blocks_and_tail() {
        let all: Vec<Event> = (0..(3 * BLOCK as u64 + 17)).map(ev).collect();
        let mut p = PackedEvents::default();
        for e in &all {
            p.push(*e);
        }
        assert_eq!(p.len(), all.len());
        assert_eq!(p.in_range(0, u64::MAX), all);
        // The extremes of every field survive the differences.
        let odd = Event {
            ts_ns: u64::MAX,
            tid: u32::MAX,
            code: u32::MAX,
            inode: u64::MAX,
            folio: 0,
            op: u64::MAX,
            a: 0,
            b: u64::MAX,
            fid: 1,
        };
        let mut q = PackedEvents::default();
        for i in 0..BLOCK * 2 {
            q.push(if i % 2 == 0 { odd } else { Event::default() });
        }
        let back = q.in_range(0, u64::MAX);
        assert_eq!(back.len(), BLOCK * 2);
        assert!(back.iter().step_by(2).all(|e| *e == odd));
        assert!(back
            .iter()
            .skip(1)
            .step_by(2)
            .all(|e| *e == Event::default()));
    }

    #[test]
    fn a_steady_stream_packs_to_a_quarter_of_its_size() {
        // One thread taking and dropping folio locks along a file, as a
        // buffered write does: what most of a trace looks like.
        let mut p = PackedEvents::default();
        let n = 64 * BLOCK as u64;
        for i in 0..n {
            p.push(Event {
                ts_ns: 5_000_000_000 + i * 1_500,
                tid: 4242,
                code: 0x0001_0300 | (i % 2) as u32,
                inode: 2,
                folio: i / 2,
                op: 1_000 + i / 32,
                a: 0,
                b: 4096,
                fid: 90_000 + i / 2,
            });
        }
        let per_event = p.bytes() as f64 / n as f64;
        assert!(per_event < 16.0, "{per_event} bytes per event");
    }

    #[test]
    fn a_range_is_what_a_scan_would_find_and_eviction_takes_whole_old_blocks() {
        let all: Vec<Event> = (0..(4 * BLOCK as u64)).map(ev).collect();
        let mut p = PackedEvents::default();
        for e in &all {
            p.push(*e);
        }
        let (t0, t1) = (all[300].ts_ns, all[700].ts_ns);
        let scan: Vec<Event> = all
            .iter()
            .filter(|e| e.ts_ns >= t0 && e.ts_ns <= t1)
            .copied()
            .collect();
        assert_eq!(p.in_range(t0, t1), scan);
        assert_eq!(p.ts_from_end(0), Some(all[all.len() - 1].ts_ns));
        assert_eq!(p.ts_from_end(600), Some(all[all.len() - 601].ts_ns));
        assert_eq!(p.ts_from_end(all.len()), None);
        for i in [0, 1, 255, 256, 700, all.len() - 1] {
            assert_eq!(p.get(i as u64), Some(all[i]), "event {i}");
        }
        assert_eq!(p.get(all.len() as u64), None);
        assert_eq!(p.base_after_evicting(all[BLOCK + 10].ts_ns), BLOCK as u64);
        let gone = p.evict_before(all[BLOCK + 10].ts_ns);
        assert_eq!(gone, BLOCK);
        // Indices stay what they were: the evicted are gone, the rest found.
        assert_eq!(p.get(3), None);
        assert_eq!(p.get(BLOCK as u64 + 3), Some(all[BLOCK + 3]));
        assert_eq!(p.end_index(), all.len() as u64);
        assert_eq!(p.len(), all.len() - BLOCK);
        assert_eq!(p.in_range(0, u64::MAX), all[BLOCK..].to_vec());
    }
}
