//! uprobes and uretprobes on a function of this test binary, limited to this process:
//! calls counted, arguments and return values summed (x86_64 registers) in a map.

mod common;

use std::hint::black_box;

use common::*;
use oxbpf_kernel::{AttachTarget, FallbackPolicy, KernelError, KernelObject, UprobeTarget};

/// The probes are per process and these tests call the function from several threads:
/// one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The probed function: not inlined, exported under this name in the symbol table.
#[no_mangle]
#[inline(never)]
pub extern "C" fn oxbpf_uprobe_target(x: u64) -> u64 {
    black_box(x).wrapping_mul(3).wrapping_add(1)
}

/// The file offset of `symbol` in the ELF file `path`.
fn file_offset(path: &std::path::Path, symbol: &str) -> u64 {
    use object::{Object, ObjectSection, ObjectSymbol};
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(symbol))
        .expect("the symbol is in the symbol table");
    let section = file.section_by_index(sym.section_index().unwrap()).unwrap();
    let (section_offset, _) = section.file_range().unwrap();
    sym.address() - section.address() + section_offset
}

fn stats(obj: &KernelObject) -> [u64; 4] {
    let m = obj.map("stats").unwrap();
    [0u32, 1, 2, 3].map(|i| m.get::<u32, u64>(&i).unwrap().unwrap())
}

#[test]
fn uprobe_and_uretprobe_on_a_function_of_this_binary() {
    require_bpf!();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let exe = std::env::current_exe().unwrap();
    let target = UprobeTarget::symbol(&exe, "oxbpf_uprobe_target").pid(std::process::id());
    let mut obj = KernelObject::load_file(fixture("uprobe.o")).unwrap();
    let enter = obj.attach_uprobe("uprobe_enter", &target).unwrap();
    let ret = obj.attach_uretprobe("uprobe_return", &target).unwrap();
    assert_eq!(
        enter.targets(),
        [format!(
            "uprobe:{}:oxbpf_uprobe_target:pid={}",
            exe.display(),
            std::process::id()
        )]
    );

    let f: extern "C" fn(u64) -> u64 = black_box(oxbpf_uprobe_target);
    let args = [1u64, 10, 100, 1000, 7];
    let mut rets = 0u64;
    for a in args {
        rets += f(a);
    }
    let s = stats(&obj);
    assert_eq!(s[0], args.len() as u64, "calls");
    assert_eq!(s[2], args.len() as u64, "returns");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(s[1], args.iter().sum::<u64>(), "sum of arguments");
        assert_eq!(s[3], rets, "sum of return values");
    }

    drop(enter);
    f(5);
    let s2 = stats(&obj);
    assert_eq!(s2[0], s[0], "uprobe still counting after detach");
    assert_eq!(s2[2], s[2] + 1, "uretprobe stopped with the uprobe");
    drop(ret);

    // By file offset: the symbol's address translated through its section.
    let offset = file_offset(&exe, "oxbpf_uprobe_target");
    let by_offset = obj
        .attach_uprobe(
            "uprobe_enter",
            &UprobeTarget::offset(&exe, offset).pid(std::process::id()),
        )
        .unwrap();
    assert_eq!(
        by_offset.targets()[0],
        format!(
            "uprobe:{}:{offset:#x}:pid={}",
            exe.display(),
            std::process::id()
        )
    );
    f(1);
    assert_eq!(stats(&obj)[0], s2[0] + 1);
    drop(by_offset);

    let ids = obj.program_ids();
    drop(obj);
    assert_unloaded(&ids);
}

#[test]
fn uprobe_errors_name_the_problem() {
    require_bpf!();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let exe = std::env::current_exe().unwrap();
    let mut obj = KernelObject::load_file(fixture("uprobe.o")).unwrap();
    let e = obj
        .attach_uprobe(
            "uprobe_enter",
            &UprobeTarget::symbol(&exe, "no_such_symbol_here"),
        )
        .unwrap_err();
    assert!(
        matches!(e, KernelError::NotFound { what: "symbol", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("no_such_symbol_here"), "{e}");
    let e = obj
        .attach_uprobe(
            "uprobe_enter",
            &UprobeTarget::symbol("/no/such/binary", "main"),
        )
        .unwrap_err();
    assert!(
        matches!(e, KernelError::NotFound { what: "binary", .. }),
        "{e}"
    );
    // A uretprobe program is not a uprobe program.
    let e = obj
        .attach_uprobe(
            "uprobe_return",
            &UprobeTarget::symbol(&exe, "oxbpf_uprobe_target"),
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("program `uprobe_return` is a uretprobe program"),
        "{e}"
    );
    // The text form.
    let t = AttachTarget::parse(&format!(
        "uprobe:{}:oxbpf_uprobe_target:pid={}",
        exe.display(),
        std::process::id()
    ))
    .unwrap();
    let a = obj
        .attach("uprobe_enter", &t, FallbackPolicy::Never)
        .unwrap();
    black_box(oxbpf_uprobe_target as extern "C" fn(u64) -> u64)(2);
    assert_eq!(stats(&obj)[0], 1);
    drop(a);
}
