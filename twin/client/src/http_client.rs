//! A small HTTP/1.1 client over tokio for `replay`, the load generator and
//! tests: `http://` only, one keep-alive connection per client, bodies with
//! a Content-Length.

use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest response body read, bytes.
pub const RESPONSE_BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

/// One connection to a server.
pub struct Client {
    reader: BufReader<TcpStream>,
    host: String,
    authorization: Option<String>,
}

/// Splits `http://host:port/path` into `(host:port, /path)`.
pub fn split_url(url: &str) -> io::Result<(String, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: only http:// URLs are supported"))
    })?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: no host")));
    }
    Ok((host.to_string(), path.to_string()))
}

impl Client {
    /// Connects to `host:port`.
    pub async fn connect(host: &str) -> io::Result<Client> {
        let stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        Ok(Client { reader: BufReader::new(stream), host: host.to_string(), authorization: None })
    }

    /// Sends `Authorization: Bearer TOKEN` with every request.
    pub fn with_token(mut self, token: Option<&str>) -> Client {
        self.authorization = token.map(|t| format!("Bearer {t}"));
        self
    }

    /// Sends a request and reads the response: `(status, body)`.
    ///
    /// The head and the body leave in one write: written apart (with
    /// `TCP_NODELAY`) they travel as two segments, and the server wakes
    /// and reads twice per request.
    pub async fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<(u16, Vec<u8>)> {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(160 + body.map_or(0, <[u8]>::len));
        let _ = write!(out, "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n", self.host);
        if let Some(authorization) = &self.authorization {
            let _ = write!(out, "Authorization: {authorization}\r\n");
        }
        if let Some(body) = body {
            let _ = write!(out, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        if let Some(body) = body {
            out.extend_from_slice(body);
        }
        let stream = self.reader.get_mut();
        stream.write_all(&out).await?;
        stream.flush().await?;
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before a response"));
        }
        let status: u16 =
            status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {status_line:?}"))
            })?;
        let mut length = None;
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length =
            length.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "response without Content-Length"))?;
        if length > RESPONSE_BODY_BYTES_MAX {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("response of {length} bytes is too large")));
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await?;
        Ok((status, body))
    }
}
