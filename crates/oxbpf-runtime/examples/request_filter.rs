//! An embedder hook in a small HTTP-ish server: every request is described in a
//! `#[repr(C)]` struct and passed to eBPF filter programs attached to a hook; the first
//! program that returns non-zero decides the HTTP status of the refusal.
//!
//! `cargo run -p oxbpf-runtime --example request_filter`
//!
//! The server listens on 127.0.0.1 (an ephemeral port), a client thread sends a fixed set
//! of requests, the program prints what happened and exits. A filter is swapped while the
//! server runs, without stopping it.

use oxbpf_runtime::hook::{Hook, HookOptions, Policy};
use oxbpf_runtime::hook_context;
use oxbpf_vm::{Helpers, Interpreter};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// What filters see of a request.
#[repr(C)]
struct Request {
    /// 1 GET, 2 POST, 0 other.
    method: u32,
    path_len: u32,
    /// The path, NUL-padded (first 64 bytes).
    path: [u8; 64],
    body_len: u32,
    /// Client IPv4 address, network byte order.
    client_ip: u32,
    /// Scratch a filter may write: why it refused (for the log).
    reason: u32,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            method: 0,
            path_len: 0,
            path: [0; 64],
            body_len: 0,
            client_ip: 0,
            reason: 0,
        }
    }
}

hook_context!(Request {
    method: read,
    path_len: read,
    path: read,
    body_len: read,
    client_ip: read,
    reason: write,
});

/// Refuses `/admin...` with 403 (reason 1).
const DENY_ADMIN: &str = "
    r2 = *(u32 *)(r1 + 4)           ; path_len
    if r2 < 6 goto allow
    r3 = *(u32 *)(r1 + 8)           ; path[0..4]
    if r3 != 0x6d64612f goto allow  ; \"/adm\"
    r3 = *(u16 *)(r1 + 12)          ; path[4..6]
    if r3 != 0x6e69 goto allow      ; \"in\"
    *(u32 *)(r1 + 80) = 1
    r0 = 403
    exit
allow:
    r0 = 0
    exit
";

/// Refuses POST bodies over 1 KiB with 413 (reason 2).
const LIMIT_BODY: &str = "
    r2 = *(u32 *)(r1 + 0)
    if r2 != 2 goto allow
    r2 = *(u32 *)(r1 + 72)
    if r2 <= 1024 goto allow
    *(u32 *)(r1 + 80) = 2
    r0 = 413
    exit
allow:
    r0 = 0
    exit
";

fn load(src: &str) -> Arc<Interpreter> {
    let p = oxbpf_isa::assemble(src).unwrap_or_else(|e| panic!("filter program: {e}"));
    Arc::new(
        Interpreter::new(&p, &Helpers::new()).unwrap_or_else(|e| panic!("filter program: {e}")),
    )
}

fn parse(stream: &TcpStream, reader: &mut BufReader<&TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = match parts.next()? {
        "GET" => 1,
        "POST" => 2,
        _ => 0,
    };
    let path = parts.next()?.as_bytes();
    let mut body_len = 0u32;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            body_len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut r = Request {
        method,
        path_len: path.len() as u32,
        body_len,
        ..Default::default()
    };
    let n = path.len().min(64);
    r.path[..n].copy_from_slice(&path[..n]);
    if let Ok(std::net::SocketAddr::V4(a)) = stream.peer_addr() {
        r.client_ip = u32::from_ne_bytes(a.ip().octets());
    }
    Some(r)
}

fn serve(listener: TcpListener, hook: Arc<Hook<Request>>, requests: usize) {
    for stream in listener.incoming().take(requests) {
        let stream = stream.unwrap();
        let mut reader = BufReader::new(&stream);
        let Some(mut req) = parse(&stream, &mut reader) else {
            continue;
        };
        // Skip the body.
        let mut body = vec![0u8; req.body_len as usize];
        let _ = reader.read_exact(&mut body);
        let verdict = hook.fire(&mut req);
        let status = match verdict.value {
            0 => 200,
            s => s,
        };
        let text = format!("reason {}\n", req.reason);
        let mut s = &stream;
        let _ = write!(
            s,
            "HTTP/1.0 {status} x\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
    }
}

fn request(port: u16, head: &str, body: usize) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{head}\r\ncontent-length: {body}\r\n\r\n").unwrap();
    s.write_all(&vec![b'x'; body]).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.lines().next().unwrap_or("").to_string()
}

fn main() {
    let hook: Arc<Hook<Request>> = Arc::new(
        Hook::with_options(
            "http_request",
            HookOptions {
                policy: Policy::FirstNonZero,
                // A failing filter refuses the request (fail closed).
                error_value: Some(500),
                budget: Some(10_000),
            },
        )
        .unwrap(),
    );
    let admin = hook.attach(load(DENY_ADMIN));
    hook.attach(load(LIMIT_BODY));

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cases = [
        ("GET /index.html HTTP/1.0", 0),
        ("GET /admin/users HTTP/1.0", 0),
        ("POST /upload HTTP/1.0", 100),
        ("POST /upload HTTP/1.0", 4000),
    ];
    let server = {
        let hook = hook.clone();
        std::thread::spawn(move || serve(listener, hook, cases.len() + 1))
    };
    for (head, body) in cases {
        println!("{head:<28} body {body:>4} -> {}", request(port, head, body));
    }
    // Swap policy live: the admin filter goes away, the next request passes.
    hook.detach(admin);
    println!(
        "{:<28} body {:>4} -> {}  (after detaching the admin filter)",
        "GET /admin/users HTTP/1.0",
        0,
        request(port, "GET /admin/users HTTP/1.0", 0)
    );
    server.join().unwrap();
    println!("filter failures: {}", hook.failures());
}
