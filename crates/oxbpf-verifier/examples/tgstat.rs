//! Development aid: why unmutated oxbpf-testgen programs are rejected.
use oxbpf_testgen::{Config, TestCase};
use oxbpf_verifier::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn main() {
    let kernel = std::env::args().nth(1).as_deref() == Some("kernel");
    let cfg = if kernel {
        Config::kernel()
    } else {
        Config::vm()
    };
    let mut reasons: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    let mut ok = 0;
    for seed in 1..2000u64 {
        let case = TestCase::generate(seed, &cfg);
        let size = case.input.len() as u32;
        let ctx = ContextDescriptor::new(
            "buffer",
            size,
            vec![ContextField::scalar("data", 0, size)
                .writable()
                .with_narrow(Narrow::LoadsAndStores)],
        )
        .unwrap();
        let mut h = HookSpec::new("m", ctx);
        h.plain_memory = true;
        h.allow_ptr_leaks = true;
        let mut conf = VerifierConfig::new(ProgramType::Hook(Arc::new(h)));
        let a = Arg::Anything;
        conf.helpers = vec![
            HelperProto::new(1, "mix", vec![a, a, a, a, a], Ret::Integer),
            HelperProto::new(
                2,
                "load",
                vec![
                    Arg::FixedMem {
                        size: 8,
                        write: false,
                    },
                    a,
                ],
                Ret::Integer,
            ),
            HelperProto::new(
                3,
                "store",
                vec![
                    Arg::FixedMem {
                        size: 8,
                        write: true,
                    },
                    a,
                    a,
                ],
                Ret::Integer,
            ),
        ];
        conf.allow_uninit_stack = true;
        let prog = if kernel {
            case.kernel_program()
        } else {
            case.program()
        };
        if kernel {
            conf.prog_type = ProgramType::Xdp;
        }
        match verify(&prog, &conf) {
            Ok(_) => ok += 1,
            Err(e) => {
                let key: String = e.message.chars().take(70).collect::<String>();
                let key = key
                    .split(|c: char| c.is_ascii_digit())
                    .collect::<Vec<_>>()
                    .join("#");
                let ent = reasons.entry(key).or_insert((0, seed));
                ent.0 += 1;
            }
        }
    }
    println!("accepted {ok}");
    let mut v: Vec<_> = reasons.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1 .0));
    for (k, (n, seed)) in v.iter().take(25) {
        println!("{n:5} (seed {seed}) {k}");
    }
}
