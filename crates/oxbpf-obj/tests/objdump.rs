//! Cross-check with `llvm-objdump -d`: every function linked into every program has the
//! slot count and bytes llvm-objdump shows for it, except the fields the loader rewrites
//! (the immediates of relocated `lddw`s and local calls).

mod common;

use std::collections::HashMap;
use std::process::Command;

/// `(section, slot) -> 8 bytes` from `llvm-objdump -d`.
fn objdump(path: &std::path::Path) -> Option<HashMap<(String, usize), [u8; 8]>> {
    let out = Command::new("llvm-objdump")
        .arg("-d")
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut section = String::new();
    let mut slots = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Disassembly of section ") {
            section = rest.trim_end_matches(':').to_string();
            continue;
        }
        // "      12:\tb7 02 00 00 0e 00 00 00\tr2 = 14"
        let Some((idx, rest)) = line.trim_start().split_once(":\t") else {
            continue;
        };
        let Ok(slot) = idx.parse::<usize>() else {
            continue;
        };
        let hex = rest.split('\t').next().unwrap_or("");
        let bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        assert!(bytes.len() == 8 || bytes.len() == 16, "{line}");
        for (k, chunk) in bytes.chunks(8).enumerate() {
            let mut a = [0u8; 8];
            a.copy_from_slice(chunk);
            slots.insert((section.clone(), slot + k), a);
        }
    }
    Some(slots)
}

#[test]
fn functions_match_llvm_objdump() {
    if Command::new("llvm-objdump")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIP: llvm-objdump not found");
        return;
    }
    let mut checked = 0;
    for src in common::sources() {
        let obj_path = src.with_extension("o");
        let o = common::load(&obj_path);
        let dump = objdump(&obj_path).expect("llvm-objdump failed");
        for p in &o.programs {
            let bytes = p.insns.to_bytes();
            let ours: Vec<&[u8]> = bytes.chunks(8).collect();
            // Slots whose immediate the loader rewrote.
            let mut rewritten = std::collections::HashSet::new();
            for (_, slot, insn) in p.insns.iter() {
                match insn {
                    oxbpf_isa::Insn::Call(oxbpf_isa::CallTarget::Local(_)) => {
                        rewritten.insert(slot);
                    }
                    oxbpf_isa::Insn::LoadImm64 { value, .. }
                        if !matches!(value, oxbpf_isa::LoadImm64::Imm(_)) =>
                    {
                        rewritten.insert(slot);
                        rewritten.insert(slot + 1);
                    }
                    _ => {}
                }
            }
            for f in &p.functions {
                let first = f.section_offset / 8;
                // llvm-objdump has exactly f.slots slots for this function.
                for k in 0..f.slots {
                    let theirs = dump
                        .get(&(f.section.clone(), first + k))
                        .unwrap_or_else(|| panic!("{}: {} slot {k} missing", p.name, f.name));
                    let mine = ours[f.start_slot + k];
                    if rewritten.contains(&(f.start_slot + k)) {
                        // Same opcode and destination register; src and imm rewritten.
                        assert_eq!(mine[0], theirs[0], "{} {} slot {k}", p.name, f.name);
                        assert_eq!(mine[1] & 0xf, theirs[1] & 0xf);
                    } else {
                        assert_eq!(mine, theirs, "{} {} slot {k}", p.name, f.name);
                    }
                }
                let next = f.section_offset / 8 + f.slots;
                let owner_of_next = o
                    .functions
                    .iter()
                    .any(|g| g.section == f.section && g.offset / 8 == next);
                assert!(
                    !dump.contains_key(&(f.section.clone(), next)) || owner_of_next,
                    "{}: llvm-objdump shows more slots after {}",
                    p.name,
                    f.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} functions checked");
}
