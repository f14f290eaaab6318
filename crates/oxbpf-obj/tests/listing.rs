//! The object listing (`oxbpf disasm prog.o`): maps, programs and instructions with the C
//! source interleaved.

mod common;

use oxbpf_obj::listing::{render, ListingOptions};

#[test]
fn hello_world_listing() {
    let o = common::load(&common::root().join("examples/hello_world.o"));
    let text = render(&o, "hello_world.o", &ListingOptions::default()).unwrap();
    assert_eq!(
        text,
        "\
hello_world.o: eBPF object, license \"GPL\", 1 program, 1 map, BTF with line info

Maps:
  idx  name     type                key   value   entries   flags  section
    0  .rodata  array                 4      14         1    0x80  .rodata, read-only data

Programs:
  hello_world  .text  unspecified               5 instructions

Disassembly of program hello_world (section .text, unspecified):
hello_world:
; examples/hello_world.c:3:5
;   bpf_trace_printk(\"Hello, World!\");
       0:\tr1 = map_idx_value(0, 0) ll ; .rodata: hello_world.____fmt \"Hello, World!\"
       2:\tr2 = 14
       3:\tcall 6 ; bpf_trace_printk
; examples/hello_world.c:4:5
;   return 0;
       4:\tr0 = 0
       5:\texit
"
    );
    // Without source lines.
    let plain = render(
        &o,
        "hello_world.o",
        &ListingOptions {
            source: false,
            ..ListingOptions::default()
        },
    )
    .unwrap();
    assert!(!plain.contains("; examples/hello_world.c"));
    assert!(plain.contains("       3:\tcall 6 ; bpf_trace_printk"));
}

#[test]
fn calls_are_named_and_maps_annotated() {
    let o = common::fixture("calls");
    let text = render(
        &o,
        "calls.o",
        &ListingOptions {
            program: Some("caller_loop".into()),
            ..ListingOptions::default()
        },
    )
    .unwrap();
    assert!(
        text.contains("  caller_one   tp/sched/sched_switch"),
        "{text}"
    );
    assert!(text.contains("21 instructions, calls sum_squares, square, global_add"));
    assert!(text.contains("Disassembly of program caller_loop"));
    assert!(!text.contains("Disassembly of program caller_one"));
    assert!(text.contains("r2 = func(pc+5) ll <loop_body>"), "{text}");
    assert!(text.contains("\nloop_body:\n"), "{text}");
    assert!(text.contains(";   bpf_loop(10, loop_body, &acc, 0);"));

    let o = common::fixture("maps_btf");
    let text = render(&o, "maps_btf.o", &ListingOptions::default()).unwrap();
    assert!(text.contains("r1 = map_idx(0) ll ; array_map"), "{text}");
    assert!(text.contains("lru_map"));
    assert!(text.contains("pinned by name"));
    let o = common::fixture("maps_in_maps");
    let text = render(&o, "maps_in_maps.o", &ListingOptions::default()).unwrap();
    assert!(text.contains("inner array key 4 value 4 entries 1, [1] = inner_a, [3] = inner_b"));
    assert!(text.contains("[2] = tail_target"));

    let o = common::fixture("global_data");
    let text = render(&o, "global_data.o", &ListingOptions::default()).unwrap();
    assert!(
        text.contains("; .rodata: target_pid\n"),
        "no string preview for an int"
    );
    assert!(text.contains("; .rodata.str1.1+4 \"literal\""), "{text}");
    assert!(text.contains("; .bss: scratch"));
}

#[test]
fn unknown_program_is_an_error() {
    let o = common::fixture("calls");
    let e = render(
        &o,
        "calls.o",
        &ListingOptions {
            program: Some("nope".into()),
            ..ListingOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "no program named `nope` in the object");
}
