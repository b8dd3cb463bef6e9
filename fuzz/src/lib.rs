//! Shared parts of callhook's fuzz targets: the fixed clock and audience the token seeds were
//! minted for, a runtime that is built once, and a loopback HTTP server for the key-fetch target.
//!
//! The harness code may panic: in a fuzz target a panic is how a broken invariant is reported.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "fuzz harness: a panic is a finding"
)]

use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};

/// The time every token seed was minted for (the verifier tests' `NOW`).
pub const NOW: u64 = 1_666_971_144;

/// The audience every token seed carries (the verifier tests' app id).
pub const APP_ID: &str = "8a34a46b-3d17-4adc-8dce-dc4e7d572698";

/// Separates two documents in one fuzz input. A NUL byte cannot appear in JSON text outside a
/// string, and not raw inside one, so the seeds never contain it by accident.
pub const SEPARATOR: u8 = 0;

/// Splits `data` at the first [`SEPARATOR`]: `(before, after)`, `after` empty when there is none.
pub fn split_two(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|byte| *byte == SEPARATOR) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// One current-thread tokio runtime per fuzzing process: building one per input would dominate
/// the time of every execution.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// How the loopback server frames one response, chosen by the fuzzer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `200 OK` with a correct `Content-Length`, connection kept alive.
    Honest,
    /// `200 OK`, `Transfer-Encoding: chunked` in uneven pieces, connection kept alive.
    Chunked,
    /// `200 OK` announcing more bytes than are sent, then the connection is closed.
    Truncated,
    /// `200 OK` with no length at all: the body ends when the connection closes.
    UntilClose,
    /// `200 OK` announcing a body far larger than the key source accepts.
    DeclaredHuge,
    /// `500 Internal Server Error` with the document as its body.
    ServerError,
}

impl Framing {
    /// The framing selected by one byte of fuzz input.
    pub fn from_byte(byte: u8) -> Framing {
        match byte % 6 {
            0 => Framing::Honest,
            1 => Framing::Chunked,
            2 => Framing::Truncated,
            3 => Framing::UntilClose,
            4 => Framing::DeclaredHuge,
            _ => Framing::ServerError,
        }
    }

    /// Whether a fetch through this framing can succeed at all.
    pub fn is_well_formed(self) -> bool {
        matches!(
            self,
            Framing::Honest | Framing::Chunked | Framing::UntilClose
        )
    }

    fn closes(self) -> bool {
        matches!(
            self,
            Framing::Truncated | Framing::UntilClose | Framing::DeclaredHuge
        )
    }

    fn render(self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 128);
        let status = if self == Framing::ServerError {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        out.extend_from_slice(
            format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\n").as_bytes(),
        );
        match self {
            Framing::Honest | Framing::ServerError => {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
            }
            Framing::Chunked => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut size = 1;
                let mut rest = body;
                while !rest.is_empty() {
                    let take = size.min(rest.len());
                    out.extend_from_slice(format!("{take:x}\r\n").as_bytes());
                    out.extend_from_slice(&rest[..take]);
                    out.extend_from_slice(b"\r\n");
                    rest = &rest[take..];
                    size = size * 3 + 1;
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            Framing::Truncated => {
                let announced = body.len() + 17;
                out.extend_from_slice(
                    format!("Content-Length: {announced}\r\nConnection: close\r\n\r\n").as_bytes(),
                );
                out.extend_from_slice(body);
            }
            Framing::UntilClose => {
                out.extend_from_slice(b"Connection: close\r\n\r\n");
                out.extend_from_slice(body);
            }
            Framing::DeclaredHuge => {
                out.extend_from_slice(b"Content-Length: 1073741824\r\nConnection: close\r\n\r\n");
                out.extend_from_slice(body);
            }
        }
        out
    }
}

/// What the loopback server answers now, by path.
#[derive(Default)]
struct Documents {
    openid: (Vec<u8>, bool),
    keys: (Vec<u8>, bool),
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that serves two documents the fuzzer chose, with the
/// framing it chose. One task per connection, keep-alive unless the framing closes.
pub struct LoopbackIssuer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    documents: Arc<Mutex<Documents>>,
}

impl LoopbackIssuer {
    /// The process's server, started on first use.
    pub fn get() -> &'static LoopbackIssuer {
        static ISSUER: OnceLock<LoopbackIssuer> = OnceLock::new();
        ISSUER.get_or_init(LoopbackIssuer::start)
    }

    fn start() -> LoopbackIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let documents = Arc::new(Mutex::new(Documents::default()));
        let shared = Arc::clone(&documents);
        // The server runs as tasks on the fuzzing runtime, not on threads of its own: it makes
        // progress while a fetch is awaited in `block_on`, and nothing it allocates is ever left
        // on a thread that is winding down (which LeakSanitizer reports as a leak).
        let runtime = runtime();
        let _entered = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
            }
        });
        LoopbackIssuer { base, documents }
    }

    /// The URL of the OpenID configuration document.
    pub fn openid_url(&self) -> String {
        format!("{}/openid", self.base)
    }

    /// The URL of the key set document.
    pub fn keys_url(&self) -> String {
        format!("{}/keys", self.base)
    }

    /// Sets what the next requests get.
    pub fn serve(&self, openid: (Vec<u8>, Framing), keys: (Vec<u8>, Framing)) {
        let mut documents = self
            .documents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        documents.openid = (openid.1.render(&openid.0), openid.1.closes());
        documents.keys = (keys.1.render(&keys.0), keys.1.closes());
    }
}

async fn serve_connection(mut stream: tokio::net::TcpStream, documents: Arc<Mutex<Documents>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Anything that does not start like an HTTP request (a TLS handshake, when a fuzzed
        // `jwks_uri` says https) is closed at once rather than left to time out.
        if buffer
            .first()
            .is_some_and(|byte| !byte.is_ascii_uppercase())
        {
            return;
        }
        let Some(end) = find(&buffer, b"\r\n\r\n") else {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    buffer.extend_from_slice(&chunk[..read]);
                    continue;
                }
            }
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end + 4);
        let path = head.split(' ').nth(1).unwrap_or("");
        let (response, closes) = {
            let documents = documents
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if path.starts_with("/openid") {
                documents.openid.clone()
            } else if path.starts_with("/keys") {
                documents.keys.clone()
            } else {
                (
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                    false,
                )
            }
        };
        if stream.write_all(&response).await.is_err() || closes {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
