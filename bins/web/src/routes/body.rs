//! Response bodies written by a blocking task as the client reads them: a bounded channel of
//! chunks between the two, so that memory stays a few chunks whatever the body's size, and a
//! writer stops as soon as the client has gone.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::web;

/// The channel between a blocking writer and its response body: `Err` cuts the download short
/// (the client sees a failed transfer, never a body that looks complete).
pub type Chunks = tokio::sync::mpsc::Receiver<Result<web::Bytes, io::Error>>;

/// A response body fed by a channel.
pub struct ChannelBody(pub Chunks);

impl futures_core::Stream for ChannelBody {
    type Item = Result<web::Bytes, io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// An `io::Write` for a blocking thread that sends what it is given down a channel in chunks of
/// `size` bytes (the rest on `flush`); once the client has gone (the channel is closed) every
/// write fails with `BrokenPipe`. Only [`ChunkWriter::finish`] ends its body as complete: dropped
/// without it (an error, a panic), the body ends with an error, so the client never takes what
/// was sent for the whole.
pub struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Result<web::Bytes, io::Error>>,
    buf: Vec<u8>,
    size: usize,
    complete: Arc<AtomicBool>,
}

/// The response body of a [`ChunkWriter`].
pub struct WrittenBody {
    chunks: ChannelBody,
    complete: Arc<AtomicBool>,
    ended: bool,
}

impl ChunkWriter {
    /// A writer of `size`-byte chunks and the body that reads them, `capacity` chunks in between.
    pub fn channel(size: usize, capacity: usize) -> (ChunkWriter, WrittenBody) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        let complete = Arc::new(AtomicBool::new(false));
        let writer = ChunkWriter {
            tx,
            buf: Vec::with_capacity(size),
            size: size.max(1),
            complete: complete.clone(),
        };
        let body = WrittenBody {
            chunks: ChannelBody(rx),
            complete,
            ended: false,
        };
        (writer, body)
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(self.size));
        self.tx
            .blocking_send(Ok(web::Bytes::from(chunk)))
            .map_err(|_| gone())
    }

    /// Sends what is left and ends the body as complete.
    pub fn finish(mut self) -> io::Result<()> {
        self.send()?;
        self.complete.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the client has gone")
}

impl io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.tx.is_closed() {
            return Err(gone());
        }
        let taken = data.len().min(self.size - self.buf.len());
        self.buf.extend_from_slice(&data[..taken]);
        if self.buf.len() >= self.size {
            self.send()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl futures_core::Stream for WrittenBody {
    type Item = Result<web::Bytes, io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if self.ended {
            return Poll::Ready(None);
        }
        match std::pin::Pin::new(&mut self.chunks).poll_next(cx) {
            // The writer is gone: complete only if it said so.
            Poll::Ready(None) => {
                self.ended = true;
                if self.complete.load(Ordering::SeqCst) {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(io::Error::other("the body was not written to its end"))))
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Everything the body yields until it ends.
    async fn read(mut body: WrittenBody) -> Vec<Result<web::Bytes, io::Error>> {
        use futures_core::Stream;
        let mut items = Vec::new();
        while let Some(item) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_next(cx)).await {
            items.push(item);
        }
        items
    }

    #[actix_web::test]
    async fn a_finished_body_arrives_in_chunks_and_an_unfinished_one_ends_with_an_error() {
        let (mut sink, body) = ChunkWriter::channel(4, 2);
        let writer = std::thread::spawn(move || {
            sink.write_all(b"0123456789").unwrap();
            sink.finish().unwrap();
        });
        let items = read(body).await;
        writer.join().unwrap();
        let chunks: Vec<web::Bytes> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(chunks, ["0123", "4567", "89"]);

        let (mut sink, body) = ChunkWriter::channel(4, 2);
        let writer = std::thread::spawn(move || {
            sink.write_all(b"0123456789").unwrap();
            // Dropped without `finish` (an error on the way).
        });
        let items = read(body).await;
        writer.join().unwrap();
        assert_eq!(items.len(), 3, "two chunks, then the error");
        assert!(items[..2].iter().all(Result::is_ok));
        assert!(items[2].is_err(), "never a body that looks complete");
    }

    #[actix_web::test]
    async fn writes_fail_once_the_client_has_gone() {
        let (mut sink, body) = ChunkWriter::channel(4, 1);
        drop(body);
        let writer = std::thread::spawn(move || sink.write_all(b"0123456789"));
        let err = writer.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
