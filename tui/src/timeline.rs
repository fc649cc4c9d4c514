//! A text lock timeline: one lane per thread, one column per time slice,
//! each cell showing the strongest lock class the thread held then.

use lockline_analysis::Hold;
use lockline_engine::probe::LockClass;
use std::collections::BTreeMap;

/// Cell letter per class; when several are held the earliest in this list wins.
const PRIORITY: [(LockClass, char); 5] = [
    (LockClass::PagecacheBlock, 'B'),
    (LockClass::Inode, 'I'),
    (LockClass::Folio, 'F'),
    (LockClass::PagecacheAdd, 'A'),
    (LockClass::ILock, 's'),
];

pub const LEGEND: &str = "B=pagecache block  I=inode  F=folio  A=pagecache add  s=i_lock  .=none";

/// Renders holds inside [t0, t1) into `width` columns per lane; holds still
/// open at the end of the trace run to t1.
pub fn render(holds: &[Hold], t0: u64, t1: u64, width: usize) -> Vec<String> {
    let width = width.max(1);
    let span = t1.saturating_sub(t0).max(1);
    let mut lanes: BTreeMap<u32, Vec<Option<usize>>> = BTreeMap::new();
    for h in holds {
        let end = h.released_ns.unwrap_or(t1).min(t1);
        if end <= t0 || h.acquired_ns >= t1 {
            continue;
        }
        let Some(rank) = PRIORITY.iter().position(|(c, _)| *c == h.class) else {
            continue;
        };
        let col = |t: u64| ((t.saturating_sub(t0)) as u128 * width as u128 / span as u128) as usize;
        let (a, b) = (
            col(h.acquired_ns.max(t0)),
            col(end).max(col(h.acquired_ns.max(t0)) + 1),
        );
        let lane = lanes.entry(h.tid).or_insert_with(|| vec![None; width]);
        for cell in &mut lane[a.min(width - 1)..b.min(width)] {
            *cell = Some(cell.map_or(rank, |r| r.min(rank)));
        }
    }
    lanes
        .into_iter()
        .map(|(tid, cells)| {
            let s: String = cells
                .into_iter()
                .map(|c| c.map_or('.', |r| PRIORITY[r].1))
                .collect();
            format!("{tid:>7} |{s}|")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockline_engine::probe::LockMode;

    fn hold(tid: u32, class: LockClass, a: u64, r: Option<u64>) -> Hold {
        Hold {
            class,
            mode: LockMode::Exclusive,
            tid,
            inode: 1,
            folio: 0,
            fid: 0,
            op: 0,
            wait_ns: None,
            acquired_ns: a,
            released_ns: r,
        }
    }

    #[test]
    fn lanes_show_strongest_class() {
        let hs = [
            hold(7, LockClass::PagecacheAdd, 0, Some(100)),
            hold(7, LockClass::Folio, 50, Some(60)),
            hold(9, LockClass::Inode, 80, None),
        ];
        let out = render(&hs, 0, 100, 10);
        assert_eq!(out, vec!["      7 |AAAAAFAAAA|", "      9 |........II|"]);
    }
}
