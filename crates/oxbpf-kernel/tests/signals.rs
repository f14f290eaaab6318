//! Ctrl-C handling: the flag is set, waits return early, and dropping detaches.
//! (Its own test binary: the handler is process-wide.)

mod common;

use std::time::{Duration, Instant};

use common::*;
use oxbpf_kernel::{signals, KernelObject};

#[test]
fn sigint_sets_the_flag_and_cuts_waits_short() {
    require_bpf!();
    signals::catch_interrupts().unwrap();
    assert!(!signals::interrupted());
    let mut obj = KernelObject::load_file(fixture("events.o")).unwrap();
    let link = obj
        .attach_tracepoint("ring_getpid", "syscalls", "sys_enter_getpid")
        .unwrap();
    let ring = obj.ring_buffer("ring").unwrap();

    // A helper process sends SIGINT while this thread waits; the waiting thread may not
    // be the one the signal interrupts, so the loop checks the flag between short waits
    // as a tool would.
    let pid = std::process::id().to_string();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        run("kill", &["-INT", &pid]);
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !signals::interrupted() && Instant::now() < deadline {
        ring.wait(Duration::from_millis(100)).unwrap();
    }
    killer.join().unwrap();
    assert!(signals::interrupted(), "SIGINT did not arrive");
    signals::clear_interrupted();
    assert!(!signals::interrupted());

    // The clean exit path: drop everything, nothing stays loaded.
    let ids = obj.program_ids();
    drop(ring);
    drop(link);
    drop(obj);
    assert_unloaded(&ids);
}
