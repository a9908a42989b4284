//! The lab's web node: a tiny HTTP server that answers every request with its own name, so the
//! client can count which real server answered.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serve until the process is killed.
pub async fn serve(name: String, listen: SocketAddr) -> std::io::Result<()> {
    serve_on(name, TcpListener::bind(listen).await?).await
}

/// Serve on a bound listener until the process is killed. A failed accept (a connection
/// reset while queued, no file descriptor free) skips that one: the node stays up.
pub async fn serve_on(name: String, listener: TcpListener) -> std::io::Result<()> {
    let body = format!("{name}\n");
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let body = body.clone();
        tokio::spawn(async move {
            // Read the request head (bounded); its content does not matter.
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 16 * 1024 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let response = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
