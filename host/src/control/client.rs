//! A small blocking HTTPS/1.1 client of the control API (`eti ctl`, tests,
//! the kill bench): one connection per request, `Connection: close`.

use super::secrets::Secret;
use super::tls::{self, TlsError};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("url {0:?}: expected https://HOST:PORT")]
    Url(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("i/o with the server: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed response from the server")]
    Response,
}

/// A response: status and body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// The client.
pub struct Client {
    host: String,
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    token: Option<Secret>,
    pub timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .field("token", &self.token)
            .finish()
    }
}

impl Client {
    /// `url` is `https://HOST:PORT`; `ca` the PEM the server's certificate
    /// must chain to.
    ///
    /// # Errors
    /// A bad URL, an unreadable CA or client identity.
    pub fn new(
        url: &str,
        ca: &Path,
        token: Option<Secret>,
        identity: Option<(&Path, &Path)>,
    ) -> Result<Client, ClientError> {
        let hostport = url
            .trim()
            .strip_prefix("https://")
            .map(|s| s.trim_end_matches('/'))
            .ok_or_else(|| ClientError::Url(url.to_string()))?;
        let addr = hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| ClientError::Url(url.to_string()))?;
        let host = match hostport.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']').to_string(),
            None => return Err(ClientError::Url(url.to_string())),
        };
        Ok(Client {
            host,
            addr,
            config: tls::client_config(ca, identity)?,
            token,
            timeout: Duration::from_secs(10),
        })
    }

    /// Send one request and read the whole response.
    ///
    /// # Errors
    /// Connection, TLS (an untrusted server), I/O, a response that is not HTTP.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Reply, ClientError> {
        let mut s = self.connect()?;
        let body = body.unwrap_or("");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if let Some(t) = &self.token {
            head.push_str("Authorization: Bearer ");
            head.push_str(t.expose());
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut req = zeroize::Zeroizing::new(head.into_bytes());
        req.extend_from_slice(body.as_bytes());
        s.write_all(&req)?;
        s.flush()?;
        read_reply(&mut s)
    }

    /// A TLS connection to the server, handshake done (for callers that
    /// write their own bytes: tests of slow or oversized requests).
    ///
    /// # Errors
    /// Connection, TLS.
    pub fn connect(
        &self,
    ) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, ClientError> {
        let tcp = TcpStream::connect_timeout(&self.addr, self.timeout).map_err(|source| {
            ClientError::Connect {
                addr: self.addr.to_string(),
                source,
            }
        })?;
        tcp.set_read_timeout(Some(self.timeout))?;
        tcp.set_write_timeout(Some(self.timeout))?;
        tcp.set_nodelay(true)?;
        let conn =
            rustls::ClientConnection::new(self.config.clone(), tls::server_name(&self.host)?)
                .map_err(TlsError::from)?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(s)
    }
}

/// Read a whole response (until the server closes) and parse it.
///
/// # Errors
/// I/O, a response that is not HTTP.
pub fn read_reply(s: &mut impl Read) -> Result<Reply, ClientError> {
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        // a server closing without close_notify after a complete response
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    parse_response(&raw)
}

/// Status and body of an HTTP/1.1 response (Content-Length or chunked).
///
/// # Errors
/// [`ClientError::Response`].
pub fn parse_response(raw: &[u8]) -> Result<Reply, ClientError> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(ClientError::Response)?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| ClientError::Response)?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or(ClientError::Response)?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        let mut out = Vec::new();
        let mut r = rest;
        loop {
            let nl = r
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or(ClientError::Response)?;
            let n = usize::from_str_radix(
                std::str::from_utf8(&r[..nl])
                    .map_err(|_| ClientError::Response)?
                    .trim(),
                16,
            )
            .map_err(|_| ClientError::Response)?;
            r = &r[nl + 2..];
            if n == 0 {
                break;
            }
            out.extend_from_slice(r.get(..n).ok_or(ClientError::Response)?);
            r = r.get(n + 2..).unwrap_or(&[]);
        }
        out
    } else {
        rest.to_vec()
    };
    Ok(Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
