//! The end-of-run report of `oxbpf run`: maps that hold histograms or counts, printed as
//! bpftrace prints its maps (`@name[key]: value`) with BCC's histogram layout.

use super::error::BpfError;
use super::map::BpfMap;
use super::Bpf;
use crate::hist;
use oxbpf_obj::MapKind;

/// How a map is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapShape {
    /// Slot `i` counts values in `[2^(i-1), 2^i)` (name contains `hist` or `dist`).
    Log2Hist,
    /// Slot `i` counts the value `i` (name contains `lhist` or `linear`).
    LinearHist,
    /// Keys with counters (`@name[key]: value`).
    Counts,
}

/// Map types whose entries are key/value counters (hash, array, per-CPU and LRU kinds).
const COUNTER_TYPES: [u32; 6] = [1, 2, 5, 6, 9, 10];

/// How `map` is shown, or `None` when it holds neither counts nor a histogram.
pub fn shape(map: &BpfMap) -> Option<MapShape> {
    if !COUNTER_TYPES.contains(&map.map_type()) || ![1, 2, 4, 8].contains(&map.value_size()) {
        return None;
    }
    let name = map.name().to_ascii_lowercase();
    let int_key = (1..=8).contains(&map.key_size());
    if int_key && (name.contains("lhist") || name.contains("linear")) {
        Some(MapShape::LinearHist)
    } else if int_key && (name.contains("hist") || name.contains("dist")) {
        Some(MapShape::Log2Hist)
    } else {
        Some(MapShape::Counts)
    }
}

/// A key as text: an integer (keys of up to 8 bytes), a string (longer keys of printable
/// bytes up to a NUL, as `comm`), or hex bytes.
pub fn key_text(key: &[u8]) -> String {
    if (1..=8).contains(&key.len()) {
        let mut a = [0u8; 8];
        a[..key.len()].copy_from_slice(key);
        return u64::from_le_bytes(a).to_string();
    }
    if let Some(s) = printable_prefix(key) {
        return s;
    }
    crate::record::hex(key)
}

/// The text before the first NUL when it is printable ASCII and everything after is NUL.
fn printable_prefix(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    if end == 0 || !b[..end].iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return None;
    }
    if b[end..].iter().any(|&c| c != 0) {
        return None;
    }
    Some(String::from_utf8_lossy(&b[..end]).into_owned())
}

/// The report of one map: empty when it has nothing to show.
pub fn map_report(map: &BpfMap) -> Result<String, BpfError> {
    let Some(shape) = shape(map) else {
        return Ok(String::new());
    };
    let array = matches!(map.map_type(), 2 | 6);
    match shape {
        MapShape::Log2Hist | MapShape::LinearHist => {
            let slots = map.hist_slots()?;
            let body = if shape == MapShape::Log2Hist {
                hist::log2_hist(&slots, "value")
            } else {
                hist::linear_hist(&slots, "value")
            };
            if body.is_empty() {
                return Ok(String::new());
            }
            Ok(format!("@{}:\n{body}", map.name()))
        }
        MapShape::Counts => {
            let mut rows: Vec<(String, u64)> = Vec::new();
            for (k, v) in map.entries()? {
                let v = map.value_sum(&v)?;
                if array && v == 0 {
                    continue;
                }
                rows.push((key_text(&k), v));
            }
            if rows.is_empty() {
                return Ok(String::new());
            }
            if array && map.max_entries() == 1 && rows.len() == 1 {
                return Ok(format!("@{}: {}\n", map.name(), rows[0].1));
            }
            rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let mut s = String::new();
            for (k, v) in rows {
                s.push_str(&format!("@{}[{k}]: {v}\n", map.name()));
            }
            Ok(s)
        }
    }
}

impl Bpf {
    /// The maps that hold counts or histograms, as `oxbpf run` prints them at the end
    /// (global data maps are left out); maps are separated by an empty line.
    pub fn maps_report(&self) -> Result<String, BpfError> {
        let mut parts = Vec::new();
        for def in &self.src.maps {
            if def.kind != MapKind::Regular {
                continue;
            }
            let m = self.map(&def.name)?;
            let r = map_report(&m)?;
            if !r.is_empty() {
                parts.push(r);
            }
        }
        Ok(parts.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_text() {
        assert_eq!(key_text(&7u32.to_le_bytes()), "7");
        assert_eq!(key_text(&42u64.to_le_bytes()), "42");
        let mut comm = [0u8; 16];
        comm[..3].copy_from_slice(b"cat");
        assert_eq!(key_text(&comm), "cat");
        assert_eq!(
            key_text(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            "01 02 03 04 05 06 07 08 09"
        );
        assert_eq!(key_text(&65u64.to_le_bytes()), "65");
    }
}
