//! The PDF file around the drawing, written to a sink as it goes: the header, each indirect
//! object as soon as it is complete (only its byte offset is kept, for the cross-reference
//! table), then the cross-reference table and the trailer. The bytes are those `pdf_writer::Pdf`
//! writes for the same objects; only the order of the objects in the file is the writer's.

use std::io::{self, Write};

use pdf_writer::{Chunk, Ref};

/// What every PDF starts with (version, and a comment of bytes above 127 that marks the file as
/// binary for transfer programs).
const HEADER: &[u8] = b"%PDF-1.7\n%\x80\x80\x80\x80\n\n";

/// A PDF being written to `sink`.
pub(super) struct Out<W: Write> {
    sink: W,
    /// Bytes written so far.
    pos: u64,
    /// The byte offset of each reserved object (id 1 first), `None` until it is written.
    offsets: Vec<Option<u64>>,
    /// The sink's first error: nothing more is written after it, and `finish` returns it.
    error: Option<io::Error>,
}

impl<W: Write> Out<W> {
    pub(super) fn new(sink: W) -> Out<W> {
        let mut out = Out {
            sink,
            pos: 0,
            offsets: Vec::new(),
            error: None,
        };
        out.write(HEADER);
        out
    }

    /// A new object id, to be written later (references to it may be written before).
    pub(super) fn reserve(&mut self) -> Ref {
        self.offsets.push(None);
        Ref::new(i32::try_from(self.offsets.len()).unwrap_or(i32::MAX))
    }

    /// Whether the sink has failed (the reader went away): nothing more reaches it.
    pub(super) fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        match self.sink.write_all(bytes) {
            Ok(()) => self.pos += bytes.len() as u64,
            Err(e) => self.error = Some(e),
        }
    }

    /// Writes reserved object `id`, made by `make` in a chunk of its own.
    pub(super) fn object(&mut self, id: Ref, make: impl FnOnce(&mut Chunk)) {
        let mut chunk = Chunk::new();
        make(&mut chunk);
        debug_assert!(chunk.refs().eq([id]), "one object, {id:?}, per chunk");
        let slot = usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.offsets.get_mut(i));
        match slot {
            Some(slot @ None) => *slot = Some(self.pos),
            _ => {
                self.error.get_or_insert_with(|| {
                    io::Error::other(format!("object {} not reserved once", id.get()))
                });
                return;
            }
        }
        self.write(chunk.as_bytes());
    }

    /// The cross-reference table and the trailer (`catalog` its root, `info` its document
    /// information), flushed; the sink back, or its first error.
    pub(super) fn finish(mut self, catalog: Ref, info: Ref) -> io::Result<W> {
        let xref = self.pos;
        let size = self.offsets.len() + 1;
        self.write(format!("xref\n0 {size}\n").as_bytes());
        self.write(b"0000000000 65535 f\r\n");
        for i in 0..self.offsets.len() {
            match self.offsets[i] {
                Some(offset) => self.write(format!("{offset:010} 00000 n\r\n").as_bytes()),
                None => {
                    self.error
                        .get_or_insert_with(|| io::Error::other(format!("object {} never written", i + 1)));
                }
            }
        }
        self.write(
            format!(
                "trailer\n<<\n  /Size {size}\n  /Root {} 0 R\n  /Info {} 0 R\n>>\nstartxref\n{xref}\n%%EOF",
                catalog.get(),
                info.get()
            )
            .as_bytes(),
        );
        if let Some(e) = self.error {
            return Err(e);
        }
        self.sink.flush()?;
        Ok(self.sink)
    }
}
