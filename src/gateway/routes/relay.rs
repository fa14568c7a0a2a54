//! The agent's response body on its way to the client. The agent's connection is driven
//! here, by the client's task, not by a task of its own: before each frame is asked for,
//! the connection reads what the agent sent and decodes the next frame. hyper's client
//! passes a body on one frame (one chunk, at most 8 KiB) at a time; with a task of its
//! own, every frame took a turn of the runtime, and the client's side, finding no next
//! frame, wrote each with a system call of its own. Driven here, the frames already read
//! come in one go, and the client's side writes them together (up to 16 in one `writev`);
//! none waits for another, so a paced stream's events still go out as they arrive. While
//! the client cannot take more, the agent's connection is not read: the agent is slowed
//! down, nothing piles up here.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::upstream::Connection;

pub struct Relay<T> {
    body: Incoming,
    /// The agent's connection until it is done (its body read to the end, or failed).
    connection: Option<Connection>,
    /// Kept as long as the body (the admission: the agent's in-flight count).
    _held: T,
}

impl<T> Relay<T> {
    pub fn new(body: Incoming, connection: Option<Connection>, held: T) -> Self {
        Relay {
            body,
            connection,
            _held: held,
        }
    }
}

impl<T: Unpin> Body for Relay<T> {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if let Some(connection) = &mut this.connection {
            // Its end (or failure) reaches the body too, as the body's end or error.
            if Pin::new(connection).poll(cx).is_ready() {
                this.connection = None;
            }
        }
        Pin::new(&mut this.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
