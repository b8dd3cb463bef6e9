//! The connection under the HTTP parser: the header deadline of every request, and the socket.
//!
//! actix-http's own `client_request_timeout` covers only the first request of a connection: once
//! a kept-alive connection has been answered, a client can trickle the head of its next request
//! one byte at a time and hold the connection for as long as it likes. [`GuardedStream`] wraps each
//! accepted TCP stream and enforces a deadline on every request head:
//!
//! - after a connection opens, and after each answer, the connection waits for a request head;
//! - once its first byte arrives, the head must be complete within the header deadline;
//! - bytes of a next head that arrived early (pipelining) are bounded too: the head must then be
//!   complete within the keep-alive time plus the header deadline after the previous answer.
//!
//! A head that misses its deadline gets `408 Request Timeout` with `Connection: close`, and the
//! connection is closed. The [`RequestPhase`] shared with the app is how the stream learns where
//! requests begin and end: the app's outermost middleware marks a request as started when actix
//! hands it over (its head is complete) and as answered when its response is ready. The body's
//! own deadline is the handler's (`server.body_timeout_ms`), since only the handler knows it is
//! reading one.

use std::cell::Cell;
use std::future::Future as _;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// How long an idle kept-alive connection stays open (actix-http's keep-alive, set explicitly so
/// that the header deadline of a pipelined head can be computed from it).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The answer to a request head that missed its deadline on a kept-alive connection (actix-http
/// answers the first request's itself, the same way).
const REQUEST_TIMEOUT_ANSWER: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// Where a connection is in its request cycle, shared by its stream and the app.
#[derive(Debug)]
pub struct RequestPhase {
    state: Cell<Phase>,
    header_timeout: Duration,
    /// Set when a request's framing cannot be trusted: nothing after it on this connection may be
    /// answered, since its bytes may belong to the refused request.
    refusing: Cell<bool>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head, since `since` (the connection's start or the last answer);
    /// `first_byte` is when a byte of it was first read after that.
    AwaitingHead {
        since: Instant,
        first_byte: Option<Instant>,
    },
    /// A request's head was complete; its body and handler have their own deadlines.
    InRequest,
}

impl RequestPhase {
    fn new(header_timeout: Duration) -> Self {
        Self {
            state: Cell::new(Phase::AwaitingHead {
                since: Instant::now(),
                first_byte: None,
            }),
            header_timeout,
            refusing: Cell::new(false),
        }
    }

    /// Nothing after the current request may be answered: the connection is closed once the
    /// current answer is written, and requests already read behind it are dropped unanswered.
    pub fn refuse_the_rest(&self) {
        self.refusing.set(true);
    }

    /// Whether [`RequestPhase::refuse_the_rest`] was called.
    pub fn is_refusing(&self) -> bool {
        self.refusing.get()
    }

    /// The app got a request: its head was complete.
    pub fn request_started(&self) {
        self.state.set(Phase::InRequest);
    }

    /// The app answered: the connection waits for the next head.
    pub fn request_answered(&self) {
        self.state.set(Phase::AwaitingHead {
            since: Instant::now(),
            first_byte: None,
        });
    }

    fn bytes_read(&self) {
        if let Phase::AwaitingHead {
            since,
            first_byte: None,
        } = self.state.get()
        {
            self.state.set(Phase::AwaitingHead {
                since,
                first_byte: Some(Instant::now()),
            });
        }
    }

    /// Whether the connection is between requests with nothing of the next one read.
    fn is_idle(&self) -> bool {
        matches!(
            self.state.get(),
            Phase::AwaitingHead {
                first_byte: None,
                ..
            }
        )
    }

    /// When the head being awaited must be complete, and whether any of it has arrived.
    fn head_deadline(&self) -> Option<(Instant, bool)> {
        match self.state.get() {
            Phase::AwaitingHead {
                first_byte: Some(first_byte),
                ..
            } => Some((first_byte + self.header_timeout, true)),
            // Nothing read since the last answer: either the connection is idle (actix's
            // keep-alive timer closes it first) or the head's first bytes were read before the
            // answer, pipelined; this bounds the latter.
            Phase::AwaitingHead {
                since,
                first_byte: None,
            } => Some((since + KEEP_ALIVE + self.header_timeout, false)),
            Phase::InRequest => None,
        }
    }
}

/// An accepted TCP stream with the header deadline of every request.
pub struct GuardedStream {
    stream: TcpStream,
    phase: Rc<RequestPhase>,
    timer: Pin<Box<Sleep>>,
    timed_out: bool,
    /// The answer before a refusal was written: the next read ends the connection.
    closing: bool,
    /// Ready once a graceful stop began: an idle connection then ends at once, instead of
    /// holding up the stop until its keep-alive runs out.
    drain: Pin<Box<dyn std::future::Future<Output = ()>>>,
}

impl std::fmt::Debug for GuardedStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GuardedStream")
            .field("stream", &self.stream)
            .field("phase", &self.phase)
            .field("timed_out", &self.timed_out)
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

impl GuardedStream {
    /// Wraps `stream`, whose request heads must each arrive within `header_timeout`; once
    /// `draining` turns true, the connection ends as soon as it is idle.
    pub fn new(
        stream: TcpStream,
        header_timeout: Duration,
        mut draining: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let phase = Rc::new(RequestPhase::new(header_timeout));
        let first_deadline = phase
            .head_deadline()
            .map_or_else(Instant::now, |(deadline, _)| deadline);
        Self {
            stream,
            phase,
            timer: Box::pin(tokio::time::sleep_until(first_deadline)),
            timed_out: false,
            closing: false,
            drain: Box::pin(async move {
                // A dropped sender (the server is gone) ends idle connections too.
                let _ended = draining.wait_for(|draining| *draining).await;
            }),
        }
    }

    /// The phase shared with the app (put into each request's connection data).
    pub fn phase(&self) -> Rc<RequestPhase> {
        Rc::clone(&self.phase)
    }

    /// Called when a read would wait: has the awaited head missed its deadline?
    fn head_deadline_passed(&mut self, context: &mut Context<'_>) -> bool {
        let Some((deadline, partial_head)) = self.phase.head_deadline() else {
            return false;
        };
        // The deadline moves later with every request (its first byte, then its answer), and
        // moving the timer with it cost two timer-wheel updates a request. So the timer only ever
        // moves earlier; when it fires before the deadline, it is moved to the deadline then.
        if deadline < self.timer.deadline() {
            self.timer.as_mut().reset(deadline);
        }
        if self.timer.as_mut().poll(context).is_pending() {
            return false;
        }
        if Instant::now() < deadline {
            self.timer.as_mut().reset(deadline);
            if self.timer.as_mut().poll(context).is_ready() {
                // Not expected for a deadline ahead; look again rather than lose the wake-up.
                context.waker().wake_by_ref();
            }
            return false;
        }
        if partial_head {
            // Best effort: a client that stopped reading does not get to delay the close.
            let _written = Pin::new(&mut self.stream).poll_write(context, REQUEST_TIMEOUT_ANSWER);
        }
        true
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.timed_out {
            return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
        }
        if this.closing {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the connection's framing was refused",
            )));
        }
        let filled = buffer.filled().len();
        match Pin::new(&mut this.stream).poll_read(context, buffer) {
            Poll::Ready(Ok(())) => {
                if buffer.filled().len() > filled {
                    this.phase.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if this.head_deadline_passed(context) {
                    this.timed_out = true;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request head missed its deadline",
                    )));
                }
                if this.phase.is_idle() && this.drain.as_mut().poll(context).is_ready() {
                    // The end of the stream: actix-http closes an idle connection that reads it.
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(context, buffer)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = ready!(Pin::new(&mut self.stream).poll_flush(context));
        // actix-http flushes the stream only once its whole write buffer was written: after a
        // refusal, that includes the refusal's answer, so the connection can end now (the next
        // read fails, and actix drops the connection with whatever it queued behind).
        if flushed.is_ok() && self.phase.is_refusing() {
            self.closing = true;
            context.waker().wake_by_ref();
        }
        Poll::Ready(flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(context)
    }
}

/// Binds `address` with a listen backlog of `backlog` connections (the standard library's
/// `TcpListener::bind` always asks for 128, so a burst while the process is briefly busy waits
/// for SYN retransmits).
pub fn bind_with_backlog(address: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};

    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // As the standard library and actix do: a restarted server can bind while old connections of
    // the previous process are in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}
