//! Runs the golden corpus (`tests/corpus/*.test`): every program's verdict, error kind
//! and message must match. `OXBPF_BLESS=1` rewrites the expectations.

mod common;

use oxbpf_verifier::verify;

#[test]
fn corpus() {
    let bless = std::env::var_os("OXBPF_BLESS").is_some();
    let cases = common::load_all();
    assert!(cases.len() >= 10, "corpus too small");
    let mut failures = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for c in &cases {
        let prog = c.program();
        let got = verify(&prog, &c.config());
        let (expect, message) = match &got {
            Ok(_) => {
                accepted += 1;
                ("accept".to_string(), None)
            }
            Err(e) => {
                rejected += 1;
                let kind = serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                (format!("reject {kind}"), Some(e.message.clone()))
            }
        };
        if bless {
            if expect != c.expect || message != c.message {
                c.bless(&expect, message.as_deref());
            }
            continue;
        }
        if expect != c.expect || message != c.message {
            let detail = match &got {
                Err(e) => e.report(),
                Ok(v) => format!("accepted ({} insns processed)", v.stats.insns_processed),
            };
            failures.push(format!(
                "{}: expected `{}` {:?}, got `{expect}` {:?}\n{detail}",
                c.name, c.expect, c.message, message
            ));
        }
    }
    println!(
        "corpus: {} programs, {accepted} accepted, {rejected} rejected",
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
