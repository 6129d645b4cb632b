//! A minimal OpenAI-compatible chat completions server with a fixed latency,
//! for benchmarks: every `POST .../chat/completions` gets the same small
//! answer (with usage) after `--latency-ms`. HTTP/1.1 with keep-alive; no
//! other route, no validation.
//!
//! ```text
//! cargo run --release --example mock_llm -- --port 8787 --latency-ms 200
//! ```
//!
//! It prints `listening on http://127.0.0.1:PORT` and, on stdin EOF or a
//! kill, stops. `--port 0` picks a free port.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BODY: &str = r#"{"id":"chatcmpl-mock","object":"chat.completion","model":"gpt-4o-mini-mock","choices":[{"index":0,"message":{"role":"assistant","content":"{\"category\": \"billing\", \"priority\": \"normal\", \"summary\": \"Customer asks about an invoice.\"}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":24,"total_tokens":144}}"#;

fn main() {
    let mut port = 8787u16;
    let mut latency_ms = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|v| v.parse().ok()).expect("--port N"),
            "--latency-ms" => latency_ms = args.next().and_then(|v| v.parse().ok()).expect("--latency-ms N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!("listening on http://{}", listener.local_addr().unwrap());
        let delay = Duration::from_millis(latency_ms);
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let _ = sock.set_nodelay(true);
            tokio::spawn(serve(sock, delay));
        }
    });
}

async fn serve(mut sock: TcpStream, delay: Duration) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        // Read the head.
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + len);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        if sock.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
