//! Text dumps of maps, in the style of `bpftool map dump`: every entry as hex bytes,
//! per-CPU values one line per CPU, then the element count.
//!
//! ```text
//! key: 00 00 00 00  value: 01 00 00 00 00 00 00 00
//! key: 01 00 00 00  value: 02 00 00 00 00 00 00 00
//! Found 2 elements
//! ```

use crate::env::ProgramRunner;
use crate::maps::{Map, MapError, MapKind, MapType};
use std::fmt::Write;

/// Bytes as space-separated lower-case hex pairs.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A one-line description: `NAME: TYPE key K value V max_entries N flags 0xF`.
pub fn describe(map: &Map) -> String {
    let s = map.spec();
    format!(
        "{}: {} key {}B value {}B max_entries {} flags 0x{:x}",
        s.name,
        s.map_type
            .name()
            .trim_start_matches("BPF_MAP_TYPE_")
            .to_lowercase(),
        s.key_size,
        s.value_size,
        s.max_entries,
        s.flags
    )
}

/// The contents of `map` (a snapshot), as `bpftool map dump` shows them.
pub fn dump(map: &Map) -> Result<String, MapError> {
    let mut out = String::new();
    match map.kind() {
        MapKind::RingBuf(rb) => {
            let _ = writeln!(
                out,
                "ring buffer: {} bytes unconsumed of {}, {} records dropped",
                rb.query(crate::maps::ringbuf_flags::BPF_RB_AVAIL_DATA),
                rb.query(crate::maps::ringbuf_flags::BPF_RB_RING_SIZE),
                rb.dropped()
            );
            return Ok(out);
        }
        MapKind::PerfEventArray(p) => {
            let mut open = 0;
            for i in 0..map.spec().max_entries {
                if let Some(b) = p.buffer(i) {
                    open += 1;
                    let _ = writeln!(
                        out,
                        "slot {i}: CPU {} buffer, {} bytes held, {} samples, {} lost",
                        b.cpu(),
                        b.used(),
                        b.samples(),
                        b.lost()
                    );
                }
            }
            let _ = writeln!(out, "Found {open} open buffers");
            return Ok(out);
        }
        MapKind::ProgArray(pa) => {
            let mut n = 0;
            for i in 0..map.spec().max_entries {
                if let Some(h) = pa.get(i) {
                    n += 1;
                    let name = h
                        .downcast_ref::<ProgramRunner>()
                        .map_or_else(|| "<program>".to_string(), |r| r.env().name.to_string());
                    let _ = writeln!(out, "key: {}  value: {name}", hex(&i.to_ne_bytes()));
                }
            }
            let _ = writeln!(out, "Found {n} elements");
            return Ok(out);
        }
        MapKind::OfMaps(_) => {
            let mut n = 0;
            for k in map.keys()? {
                if let Some(inner) = map.lookup_inner_map(&k) {
                    n += 1;
                    let _ = writeln!(out, "key: {}  inner_map: {}", hex(&k), inner.name());
                }
            }
            let _ = writeln!(out, "Found {n} elements");
            return Ok(out);
        }
        MapKind::QueueStack(_) => {
            match map.peek()? {
                Some(v) => {
                    let _ = writeln!(out, "next value: {}", hex(&v));
                }
                None => {
                    let _ = writeln!(out, "empty");
                }
            }
            let _ = writeln!(out, "Found {} elements", map.len());
            return Ok(out);
        }
        MapKind::Bloom(_) => {
            let _ = writeln!(out, "bloom filter: membership only (no elements to list)");
            return Ok(out);
        }
        _ => {}
    }
    let entries = map.entries()?;
    let percpu = map.map_type().is_percpu();
    let stride = map.percpu_value_stride();
    let vsize = map.spec().value_size as usize;
    for (k, v) in &entries {
        if percpu {
            let _ = writeln!(out, "key: {}", hex(k));
            for (cpu, chunk) in v.chunks(stride.max(1)).enumerate() {
                let _ = writeln!(
                    out,
                    "  value (CPU {cpu:02}): {}",
                    hex(&chunk[..vsize.min(chunk.len())])
                );
            }
        } else {
            let _ = writeln!(out, "key: {}  value: {}", hex(k), hex(v));
        }
    }
    let _ = writeln!(out, "Found {} elements", entries.len());
    Ok(out)
}

/// True for the map types whose entries are listed key by key.
pub fn lists_entries(t: MapType) -> bool {
    matches!(
        t,
        MapType::Array
            | MapType::PerCpuArray
            | MapType::Hash
            | MapType::PerCpuHash
            | MapType::LruHash
            | MapType::LruPerCpuHash
            | MapType::LpmTrie
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::MapSpec;

    #[test]
    fn dumps_like_bpftool() {
        let m = Map::create(MapSpec::new("counts", MapType::Array, 4, 8, 2)).unwrap();
        m.update(&1u32.to_ne_bytes(), &5u64.to_ne_bytes(), 0)
            .unwrap();
        assert_eq!(
            dump(&m).unwrap(),
            "key: 00 00 00 00  value: 00 00 00 00 00 00 00 00\n\
             key: 01 00 00 00  value: 05 00 00 00 00 00 00 00\n\
             Found 2 elements\n"
        );
        assert_eq!(
            describe(&m),
            "counts: array key 4B value 8B max_entries 2 flags 0x0"
        );
        let p = Map::create(MapSpec::new("p", MapType::PerCpuArray, 4, 4, 1)).unwrap();
        let d = dump(&p).unwrap();
        assert!(
            d.starts_with("key: 00 00 00 00\n  value (CPU 00): 00 00 00 00\n"),
            "{d}"
        );
        let q = Map::create(MapSpec::new("q", MapType::Queue, 0, 4, 4)).unwrap();
        q.push(&7u32.to_ne_bytes(), 0).unwrap();
        assert_eq!(
            dump(&q).unwrap(),
            "next value: 07 00 00 00\nFound 1 elements\n"
        );
        assert!(lists_entries(MapType::Hash));
        assert!(!lists_entries(MapType::RingBuf));
    }
}
