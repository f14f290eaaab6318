//! The loader and aya-obj agree on program and map names (for the objects aya-obj 0.3
//! accepts), so a backend that loads through aya finds what the model names.

mod common;

use oxbpf_obj::aya_compat::parse_with_aya;
use oxbpf_obj::ProgramKind;

#[test]
fn program_and_map_names_agree_with_aya() {
    let mut compared = 0;
    for src in common::sources() {
        let o = common::load(&src.with_extension("o"));
        let aya = match o.aya_object() {
            Ok(a) => a,
            Err(e) => {
                // Known aya-obj 0.3 gaps: `tc`/`tcx` sections and prog-array `.values`.
                let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
                assert!(
                    ["sections_tc", "maps_in_maps"].contains(&stem.as_str()),
                    "{}: {e}",
                    src.display()
                );
                continue;
            }
        };
        let mut ours: Vec<&str> = o
            .programs
            .iter()
            .filter(|p| p.kind != ProgramKind::Unspecified) // aya has no .text programs
            .map(|p| p.name.as_str())
            .collect();
        ours.sort();
        let mut theirs: Vec<&str> = aya.programs.keys().map(String::as_str).collect();
        theirs.sort();
        assert_eq!(ours, theirs, "{}", src.display());
        let mut ours: Vec<&str> = o.maps.iter().map(|m| m.name.as_str()).collect();
        ours.sort();
        let mut theirs: Vec<&str> = aya.maps.keys().map(String::as_str).collect();
        theirs.sort();
        assert_eq!(ours, theirs, "{}", src.display());
        // Map definitions agree too.
        for m in &o.maps {
            let a = &aya.maps[&m.name];
            assert_eq!(a.map_type(), m.map_type, "{}", m.name);
            assert_eq!(a.key_size(), m.key_size, "{}", m.name);
            assert_eq!(a.value_size(), m.value_size, "{}", m.name);
            assert_eq!(a.max_entries(), m.max_entries, "{}", m.name);
            assert_eq!(a.map_flags(), m.flags, "{}", m.name);
        }
        compared += 1;
    }
    assert!(compared >= 8, "only {compared} objects compared");
    assert!(parse_with_aya(b"not elf").is_err());
}

/// Programs are linked in the order libbpf and aya-obj use (depth first: a callee is
/// appended where it is first referenced, followed at once by its own callees), so that
/// slot numbers in listings, line info and errors match the kernel's verifier log for the
/// same program loaded through aya or libbpf.
#[test]
fn linked_layout_agrees_with_aya() {
    let mut compared = 0;
    for src in common::sources() {
        let o = common::load(&src.with_extension("o"));
        let Ok(mut aya) = o.aya_object() else {
            continue; // the known aya-obj gaps, see above
        };
        let text: std::collections::HashSet<usize> =
            aya.functions.keys().map(|(s, _)| *s).collect();
        aya.relocate_calls(&text).unwrap();
        for p in o
            .programs
            .iter()
            .filter(|p| p.kind != ProgramKind::Unspecified)
        {
            let key = aya.programs[&p.name].function_key();
            let theirs = &aya.functions[&key].instructions;
            let ours = p.insns.to_bytes();
            assert_eq!(
                ours.len(),
                theirs.len() * 8,
                "{}: {}",
                src.display(),
                p.name
            );
            let mut slot = 0;
            while slot < theirs.len() {
                let b = &ours[slot * 8..slot * 8 + 8];
                let t = &theirs[slot];
                let (code, src_reg) = (b[0], b[1] >> 4);
                let imm = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                let at = format!("{}: {} slot {slot}", src.display(), p.name);
                assert_eq!(code, t.code, "{at}");
                if code == 0x18 && matches!(src_reg, 5 | 6) {
                    // A map reference: ours names the map by index, aya's is relocated
                    // later (relocate_maps).
                    slot += 2;
                    continue;
                }
                assert_eq!(src_reg, t.src_reg(), "{at}");
                assert_eq!(imm, t.imm, "{at}");
                slot += 1;
            }
            compared += 1;
        }
    }
    assert!(compared >= 10, "only {compared} programs compared");
}
