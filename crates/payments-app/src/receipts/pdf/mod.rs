//! The receipt as a PDF, written with `pdf-writer`: A4, the standard Helvetica fonts (nothing
//! embedded) with WinAnsi encoding, uncompressed content streams.
//!
//! The PDF is written to a sink as it is drawn ([`write_receipt_pdf`]): each page (its object
//! and its content stream) as soon as it is full, the line items pulled one at a time from an
//! iterator (which reads them from the database a page at a time), so that a receipt of 100,000
//! lines needs no more memory than one of ten. The footer ("page 3 of 12") is each page's second
//! content stream, written at the end when the number of pages is known; the page tree, the
//! fonts, the catalog and the cross-reference table come last (their ids are reserved first).
//!
//! Text outside WinAnsi (Thai, Cyrillic, CJK, emoji, ...) cannot be drawn with the standard
//! fonts: it is transliterated to Latin letters (`deunicode`), or written `?` when there is no
//! transliteration, and the PDF then says so at its end. Layout works in integer tenths of a
//! point (the page is scaled by 0.1 once), measured with Helvetica's own glyph widths, so no
//! float arithmetic is needed.

use std::io::Write;

use pdf_writer::writers::{Catalog, DocumentInfo};
use pdf_writer::{Content, Name, Rect, Ref, Str, TextStr};

use super::{LineItem, ReceiptDoc};

mod out;
mod text;

use out::Out;
pub use text::encode;
use text::{width, wrap, Font};

/// Why a PDF could not be written to the end.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// A line item could not be read (the database failed): what was written is incomplete.
    #[error("reading the receipt's lines: {0}")]
    Lines(#[from] crate::Error),
    /// The sink refused the bytes (the reader went away).
    #[error("writing the PDF: {0}")]
    Write(#[from] std::io::Error),
}

/// A4 in tenths of a point.
const PAGE_W: i32 = 5950;
const PAGE_H: i32 = 8420;
const LEFT: i32 = 500;
const RIGHT: i32 = PAGE_W - 500;
const TOP: i32 = PAGE_H - 560;
/// Nothing but the footer goes below this line.
const BOTTOM: i32 = 700;
/// Space between a column's text and the next column.
const GUTTER: i32 = 80;

/// A coordinate in tenths of a point as the `f32` pdf-writer takes (every page coordinate fits
/// in an `i16`).
fn at(v: i32) -> f32 {
    f32::from(i16::try_from(v.clamp(-32_000, 32_000)).unwrap_or(0))
}

/// A table column: where it starts, how wide its text may be, right-aligned or not.
#[derive(Clone, Copy)]
struct Column {
    x: i32,
    w: i32,
    right: bool,
}

/// Columns from widths (the last ones right-aligned when `right_from` says so).
fn columns(widths: &[i32], right_from: usize) -> Vec<Column> {
    let mut x = LEFT;
    widths
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let c = Column {
                x,
                w: w - GUTTER,
                right: i >= right_from,
            };
            x += w;
            c
        })
        .collect()
}

/// How a piece of text is drawn: font, size (tenths of a point), grey or black.
#[derive(Clone, Copy)]
struct Style {
    font: Font,
    size: i32,
    gray: bool,
}

/// Black text.
fn style(font: Font, size: i32) -> Style {
    Style {
        font,
        size,
        gray: false,
    }
}

/// The objects every receipt has, their ids reserved before any page is written.
#[derive(Clone, Copy)]
struct Ids {
    catalog: Ref,
    tree: Ref,
    regular: Ref,
    bold: Ref,
    info: Ref,
}

/// A page's content stream as it starts: tenths of a point from here on.
fn new_content() -> Content {
    let mut c = Content::new();
    c.transform([0.1, 0.0, 0.0, 0.1, 0.0, 0.0]);
    c
}

struct Writer<W: Write> {
    out: Out<W>,
    ids: Ids,
    /// The page being drawn.
    content: Content,
    /// Each written page's object and the id of its footer (a content stream written at the
    /// end, when the number of pages is known).
    pages: Vec<(Ref, Ref)>,
    /// The top of the next thing to draw.
    y: i32,
    lossy: bool,
}

impl<W: Write> Writer<W> {
    fn new(sink: W) -> Writer<W> {
        let mut out = Out::new(sink);
        let ids = Ids {
            catalog: out.reserve(),
            tree: out.reserve(),
            regular: out.reserve(),
            bold: out.reserve(),
            info: out.reserve(),
        };
        Writer {
            out,
            ids,
            content: new_content(),
            pages: Vec::new(),
            y: TOP,
            lossy: false,
        }
    }

    /// Writes the page drawn so far (its object and content stream) and starts the next.
    fn new_page(&mut self) {
        self.write_page();
        self.content = new_content();
        self.y = TOP;
    }

    fn write_page(&mut self) {
        let content = std::mem::replace(&mut self.content, Content::new());
        // The footer stream follows this one: a reader joins them as one, so the line break
        // `finish` drops at the end is put back between them.
        let mut bytes = content.finish().into_vec();
        bytes.push(b'\n');
        let page_id = self.out.reserve();
        let content_id = self.out.reserve();
        let footer_id = self.out.reserve();
        let Ids {
            tree, regular, bold, ..
        } = self.ids;
        self.out.object(page_id, |chunk| {
            let mut page = chunk.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
            page.parent(tree);
            page.insert(Name(b"Contents"))
                .array()
                .items([content_id, footer_id]);
            page.resources()
                .fonts()
                .pair(Font::Regular.name(), regular)
                .pair(Font::Bold.name(), bold);
        });
        self.out.object(content_id, |chunk| {
            chunk.stream(content_id, &bytes);
        });
        self.pages.push((page_id, footer_id));
    }

    fn page(&mut self) -> &mut Content {
        &mut self.content
    }

    /// Makes room for `height` below the cursor, on a new page if need be; true if it turned one.
    fn need(&mut self, height: i32) -> bool {
        if self.y - height < BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
    }

    fn encode(&mut self, text: &str) -> Vec<u8> {
        encode(text, &mut self.lossy)
    }

    /// Draws WinAnsi `bytes` with its baseline at `y`, starting at `x` (or ending there).
    fn show(&mut self, x: i32, y: i32, style: Style, bytes: &[u8], right: bool) {
        let Style { font, size, gray } = style;
        let x = if right { x - width(bytes, font, size) } else { x };
        let page = self.page();
        page.begin_text();
        if gray {
            page.set_fill_gray(0.35);
        }
        page.set_font(font.name(), at(size));
        page.next_line(at(x), at(y));
        page.show(Str(bytes));
        page.end_text();
        if gray {
            page.set_fill_gray(0.0);
        }
    }

    /// A paragraph across `[x, x + max]`, from the cursor down.
    fn paragraph(&mut self, x: i32, max: i32, font: Font, size: i32, text: &str, gray: bool) {
        let bytes = self.encode(text);
        let leading = size * 13 / 10;
        for line in wrap(&bytes, font, size, max) {
            self.need(leading);
            self.y -= leading;
            self.show(x, self.y, Style { font, size, gray }, &line, false);
        }
    }

    fn rule(&mut self, y: i32, width: i32) {
        let page = self.page();
        page.set_line_width(at(width));
        page.set_stroke_gray(0.6);
        page.move_to(at(LEFT), at(y));
        page.line_to(at(RIGHT), at(y));
        page.stroke();
    }

    /// One table row: each cell's lines wrapped to its column, the row as tall as its tallest
    /// cell. Rows do not split across pages; `header` is drawn again on a new page.
    fn row(&mut self, cols: &[Column], cells: &[Vec<String>], font: Font, size: i32, header: Option<&Row>) {
        let leading = size * 13 / 10;
        let wrapped: Vec<Vec<Vec<u8>>> = cols
            .iter()
            .zip(cells)
            .map(|(c, texts)| {
                texts
                    .iter()
                    .flat_map(|t| {
                        let bytes = self.encode(t);
                        wrap(&bytes, font, size, c.w)
                    })
                    .collect()
            })
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let height = i32::try_from(lines).unwrap_or(1) * leading + leading / 3;
        if self.need(height) {
            if let Some(h) = header {
                self.row(cols, &h.cells, h.font, h.size, None);
                self.rule(self.y + leading / 6, 5);
            }
        }
        for (c, cell) in cols.iter().zip(&wrapped) {
            let mut y = self.y;
            for line in cell {
                y -= leading;
                let x = if c.right { c.x + c.w } else { c.x };
                self.show(x, y, style(font, size), line, c.right);
            }
        }
        self.y -= height;
    }

    fn heading(&mut self, text: &str) {
        self.need(900);
        self.y -= 300;
        let bytes = self.encode(text);
        self.y -= 120;
        self.show(LEFT, self.y, style(Font::Bold, 120), &bytes, false);
        self.y -= 80;
    }
}

/// A table's header row.
struct Row {
    cells: Vec<Vec<String>>,
    font: Font,
    size: i32,
}

impl Row {
    fn header(titles: &[&str]) -> Row {
        Row {
            cells: titles.iter().map(|t| vec![t.to_string()]).collect(),
            font: Font::Bold,
            size: 85,
        }
    }
}

fn table_header<W: Write>(w: &mut Writer<W>, cols: &[Column], header: &Row) {
    w.need(600);
    w.row(cols, &header.cells, header.font, header.size, None);
    w.rule(w.y + 18, 5);
}

/// Writes the PDF of receipt `doc` (the same content as the printed page) to `sink` as it is
/// drawn, and returns the sink. The line items are `lines` (in receipt order; `doc.lines` is not
/// used), pulled one at a time as the table is drawn: memory stays that of one page and the
/// ids and byte offsets of the objects, whatever the number of lines.
///
/// A line that cannot be read ends the writing with [`PdfError::Lines`], the sink's first error
/// (checked after each line) with [`PdfError::Write`]: the sink then holds an incomplete PDF.
pub fn write_receipt_pdf<W, I>(doc: &ReceiptDoc, lines: I, site_name: &str, sink: W) -> Result<W, PdfError>
where
    W: Write,
    I: IntoIterator<Item = Result<LineItem, crate::Error>>,
{
    let mut w = Writer::new(sink);
    let issuer_name = doc.issuer.name.clone().unwrap_or_else(|| site_name.to_string());

    // Issuer on the left, the receipt's number, date and status on the right.
    let top = w.y;
    w.y -= 40;
    w.paragraph(LEFT, 2900, Font::Bold, 140, &issuer_name, false);
    w.y -= 30;
    for line in &doc.issuer.address {
        w.paragraph(LEFT, 2900, Font::Regular, 95, line, false);
    }
    if let Some(tax) = &doc.issuer.tax_id {
        w.paragraph(LEFT, 2900, Font::Regular, 95, &format!("Tax ID: {tax}"), false);
    }
    let left_bottom = w.y;
    w.y = top;
    let title = w.encode("RECEIPT");
    w.show(RIGHT, top - 180, style(Font::Bold, 200), &title, true);
    let mut y = top - 180 - 120;
    for (label, value) in [
        ("Receipt no.", doc.number.to_string()),
        ("Date", doc.created.clone()),
        ("Status", doc.status_text.clone()),
    ] {
        y -= 140;
        let v = w.encode(&value);
        w.show(RIGHT, y, style(Font::Regular, 95), &v, true);
        let l = w.encode(label);
        let vw = width(&v, Font::Regular, 95);
        w.show(RIGHT - vw - 120, y, style(Font::Bold, 95), &l, true);
    }
    w.y = left_bottom.min(y - 60);

    // Customer.
    w.y -= 300;
    let billed = w.encode("Billed to");
    w.show(
        LEFT,
        w.y,
        Style {
            font: Font::Bold,
            size: 95,
            gray: true,
        },
        &billed,
        false,
    );
    w.paragraph(LEFT, 4950, Font::Regular, 105, &doc.customer, false);
    w.y -= 200;

    // Line items.
    let cols = columns(&[620, 950, 1200, 900, 680, 600], 4);
    let header = Row::header(&["Date", "Job", "Description", "Quantity", "Rate", "Amount"]);
    table_header(&mut w, &cols, &header);
    // A line priced at rates that have changed since shows none (see `ReceiptDoc::build`).
    let mut earlier_rates = doc.earlier_rates;
    for line in lines {
        if w.out.failed() {
            break;
        }
        let line = line?;
        earlier_rates |= line.rates.is_empty();
        let rates = if line.rates.is_empty() {
            vec!["earlier rate *".to_string()]
        } else {
            line.rates
        };
        let cells = vec![
            vec![line.ended],
            vec![line.job_id],
            vec![line.description],
            line.quantities,
            rates,
            vec![line.amount],
        ];
        w.row(&cols, &cells, Font::Regular, 85, Some(&header));
    }
    w.need(500);
    w.rule(w.y + 20, 8);
    w.y -= 160;
    let label = w.encode("Total");
    w.show(LEFT, w.y, style(Font::Bold, 110), &label, false);
    let total = w.encode(&doc.total);
    w.show(RIGHT, w.y, style(Font::Bold, 110), &total, true);
    w.y -= 60;

    // How the amounts were computed.
    w.heading("Rates and rounding");
    for rate in &doc.rates {
        w.paragraph(LEFT, 4950, Font::Regular, 90, rate, false);
    }
    if earlier_rates {
        w.paragraph(
            LEFT,
            4950,
            Font::Regular,
            90,
            "* Priced when its usage was imported, at rates that have changed since; the amount is as billed then.",
            false,
        );
    }
    w.y -= 60;
    w.paragraph(LEFT, 4950, Font::Regular, 90, &doc.rounding, false);

    // Payment history.
    w.heading("Payments");
    if doc.payments.is_empty() {
        w.paragraph(
            LEFT,
            4950,
            Font::Regular,
            90,
            "No payment has been made for this receipt.",
            false,
        );
    } else {
        let cols = columns(&[1250, 650, 750, 850, 850, 600], 5);
        let header = Row::header(&[
            "Payment",
            "Provider",
            "Status",
            "Started",
            "Last change",
            "Amount",
        ]);
        table_header(&mut w, &cols, &header);
        for p in &doc.payments {
            let cells = vec![
                vec![p.public_id.clone()],
                vec![p.provider.clone()],
                vec![p.state.clone()],
                vec![p.started.clone()],
                vec![p.updated.clone()],
                vec![p.amount.clone()],
            ];
            w.row(&cols, &cells, Font::Regular, 85, Some(&header));
        }
    }

    if !doc.refunds.is_empty() {
        w.heading("Refunds");
        let cols = columns(&[350, 900, 1350, 1750, 600], 4);
        let header = Row::header(&["#", "Date", "State", "Note", "Amount"]);
        table_header(&mut w, &cols, &header);
        for r in &doc.refunds {
            let cells = vec![
                vec![r.number.to_string()],
                vec![r.date.clone()],
                vec![r.state.clone()],
                vec![r.note.clone()],
                vec![r.amount.clone()],
            ];
            w.row(&cols, &cells, Font::Regular, 85, Some(&header));
        }
        if let Some(refunded) = &doc.refunded {
            w.paragraph(
                LEFT,
                4950,
                Font::Bold,
                90,
                &format!("Refunded in all: {refunded}"),
                false,
            );
        }
    }
    if !doc.disputes.is_empty() {
        w.heading("Disputes");
        w.paragraph(
            LEFT,
            4950,
            Font::Regular,
            85,
            "The payer's bank disputed this payment; the outcome follows from the provider.",
            false,
        );
        let cols = columns(&[1000, 3350, 600], 2);
        let header = Row::header(&["Date", "Event", "Amount"]);
        table_header(&mut w, &cols, &header);
        for d in &doc.disputes {
            let cells = vec![
                vec![d.date.clone()],
                vec![d.event.clone()],
                vec![d.amount.clone()],
            ];
            w.row(&cols, &cells, Font::Regular, 85, Some(&header));
        }
    }

    if w.lossy {
        w.y -= 200;
        w.paragraph(
            LEFT,
            4950,
            Font::Regular,
            80,
            "Some names or addresses hold characters this PDF's standard font cannot show; they are \
             written in Latin letters here. The receipt on the portal shows them as entered.",
            true,
        );
    }

    w.finish(doc.number, &issuer_name)
}

impl<W: Write> Writer<W> {
    /// Writes the last page, every page's footer (now that their number is known), the fonts,
    /// the document information, the page tree, the catalog and the cross-reference table.
    fn finish(mut self, number: i64, issuer_name: &str) -> Result<W, PdfError> {
        self.write_page();
        let pages = self.pages.len();
        let mut lossy = self.lossy;
        let footer_name = encode(issuer_name, &mut lossy);
        let Ids {
            catalog,
            tree,
            regular,
            bold,
            info,
        } = self.ids;
        for (i, &(_, footer)) in self.pages.iter().enumerate() {
            let mut text = footer_name.clone();
            text.extend_from_slice(format!(" - Receipt {number} - page {} of {pages}", i + 1).as_bytes());
            let mut page = Content::new();
            page.begin_text();
            page.set_fill_gray(0.35);
            page.set_font(Font::Regular.name(), at(80));
            page.next_line(at(LEFT), at(BOTTOM - 300));
            page.show(Str(&text));
            page.end_text();
            let bytes = page.finish();
            self.out.object(footer, |chunk| {
                chunk.stream(footer, &bytes);
            });
        }
        for (id, base) in [(regular, Name(b"Helvetica")), (bold, Name(b"Helvetica-Bold"))] {
            self.out.object(id, |chunk| {
                chunk
                    .type1_font(id)
                    .base_font(base)
                    .encoding_predefined(Name(b"WinAnsiEncoding"));
            });
        }
        // The info dictionary takes Unicode text as it is (UTF-16 where needed).
        self.out.object(info, |chunk| {
            chunk
                .indirect(info)
                .start::<DocumentInfo>()
                .title(TextStr(&format!("Receipt {number}")))
                .author(TextStr(issuer_name))
                .creator(TextStr("HPC Usage Portal"));
        });
        let kids: Vec<Ref> = self.pages.iter().map(|&(page, _)| page).collect();
        self.out.object(tree, |chunk| {
            chunk
                .pages(tree)
                .kids(kids)
                .count(i32::try_from(pages).unwrap_or(i32::MAX));
        });
        self.out.object(catalog, |chunk| {
            chunk.indirect(catalog).start::<Catalog>().pages(tree);
        });
        Ok(self.out.finish(catalog, info)?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A receipt of three pages: a line table across a page break (its header drawn again),
    /// payments, refunds, disputes, a line at earlier rates and text outside WinAnsi.
    pub(crate) fn sample_doc() -> ReceiptDoc {
        use super::super::{DisputeEntry, Issuer, LineItem, PaymentEntry, RefundEntry};
        let lines = (0..70)
            .map(|i| LineItem {
                ended: format!("2026-11-{:02} 12:00 UTC", 1 + i % 28),
                job_id: format!("job-2026110278-xx{i:05}-0123456789abcdef"),
                description: if i == 3 {
                    "Łódź run (retry) \\ 東京".to_string()
                } else {
                    format!("training run {i}")
                },
                quantities: if i % 3 == 0 {
                    vec!["CPU 1h 30m 00s".to_string(), "GPU 30m 00s".to_string()]
                } else {
                    vec!["CPU 0h 01m 00s".to_string()]
                },
                rates: match i % 3 {
                    0 => vec!["THB 1.00/h".to_string(), "THB 50.00/h".to_string()],
                    1 => vec!["THB 1.00/h".to_string()],
                    _ if i == 5 => Vec::new(),
                    _ => vec!["THB 1.00/h".to_string()],
                },
                amount: format!("THB {}.{:02}", 26 + i, i % 100),
            })
            .collect();
        ReceiptDoc {
            number: 4711,
            issuer: Issuer {
                name: Some("Zürich HPC Centre".to_string()),
                address: vec![
                    "1 Science Road".to_string(),
                    "Pathum Wan, Bangkok 10330".to_string(),
                ],
                tax_id: Some("0105551234567".to_string()),
            },
            customer: "alice".to_string(),
            created: "2026-11-26 15:40 UTC".to_string(),
            status: "partially_refunded".to_string(),
            status_text: "Partially refunded, THB 20.00 back".to_string(),
            paid: Some("2026-11-26 15:45 UTC".to_string()),
            lines,
            total: "THB 4,270.35".to_string(),
            rates: vec![
                "CPU core time: THB 1.00 per core-hour".to_string(),
                "GPU time: THB 50.00 per GPU-hour".to_string(),
            ],
            rounding: "Each line's amount is rounded up once, to the next THB 0.01.".to_string(),
            earlier_rates: true,
            payments: vec![PaymentEntry {
                public_id: "pay_0123456789abcdef0123456789abcdef".to_string(),
                provider: "stripe".to_string(),
                external_id: "cs_test_1".to_string(),
                status: "succeeded".to_string(),
                state: "partially refunded (THB 20.00)".to_string(),
                started: "2026-11-26 15:41:02 UTC".to_string(),
                updated: "2026-11-26 15:45:09 UTC".to_string(),
                amount: "THB 4,270.35".to_string(),
            }],
            refunds: vec![RefundEntry {
                number: 1,
                id: 9,
                date: "2026-11-27 09:00 UTC".to_string(),
                amount: "THB 20.00".to_string(),
                status: "succeeded".to_string(),
                state: "refunded".to_string(),
                note: "A job that failed (node fault)".to_string(),
            }],
            disputes: vec![DisputeEntry {
                date: "2026-11-28 10:00 UTC".to_string(),
                amount: "THB 4,270.35".to_string(),
                event: "charge.dispute.created".to_string(),
            }],
            refunded: Some("THB 20.00".to_string()),
        }
    }

    /// The objects of `pdf` by id, found through its cross-reference table (which must point at
    /// each): `(dictionary, stream data)`.
    fn objects(pdf: &[u8]) -> BTreeMap<i32, (String, Vec<u8>)> {
        let text = String::from_utf8_lossy(pdf);
        assert!(pdf.starts_with(b"%PDF-1.7\n") && pdf.ends_with(b"\n%%EOF"));
        let tail = &text[text.rfind("startxref\n").expect("startxref")..];
        let xref: usize = tail.lines().nth(1).unwrap().parse().unwrap();
        assert!(
            pdf[xref..].starts_with(b"xref\n0 "),
            "startxref points at the table"
        );
        let table = String::from_utf8_lossy(&pdf[xref..]).into_owned();
        let mut lines = table.lines().skip(1);
        let size: usize = lines.next().unwrap()[2..].parse().unwrap();
        assert_eq!(lines.next(), Some("0000000000 65535 f"));
        let mut objects = BTreeMap::new();
        for id in 1..i32::try_from(size).unwrap() {
            let entry = lines.next().expect("an entry per object");
            assert!(
                entry.len() == 18 && entry.ends_with(" 00000 n"),
                "object {id} in use: {entry:?}"
            );
            let offset: usize = entry[..10].parse().unwrap();
            let head = format!("{id} 0 obj\n");
            assert!(
                pdf[offset..].starts_with(head.as_bytes()),
                "object {id} is where the table says"
            );
            let body = &pdf[offset + head.len()..];
            let dict_end = find(body, b"\n>>\n").expect("a dictionary") + 4;
            let dict = String::from_utf8_lossy(&body[..dict_end]).into_owned();
            let data = if body[dict_end..].starts_with(b"stream\n") {
                let length: usize = dict
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("/Length "))
                    .expect("a stream's length")
                    .parse()
                    .unwrap();
                let start = dict_end + 7;
                assert!(body[start + length..].starts_with(b"\nendstream\nendobj"));
                body[start..start + length].to_vec()
            } else {
                assert!(body[dict_end..].starts_with(b"endobj"));
                Vec::new()
            };
            objects.insert(id, (dict, data));
        }
        assert_eq!(lines.next(), Some("trailer"));
        objects
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    /// The ids a dictionary line refers to (`/Kids [6 0 R 9 0 R]`, `/Contents 7 0 R`).
    fn refs(line: &str) -> Vec<i32> {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
            .filter(|w| !w.is_empty())
            .collect();
        words
            .windows(3)
            .filter(|w| w[1] == "0" && w[2] == "R")
            .filter_map(|w| w[0].parse().ok())
            .collect()
    }

    fn entry<'a>(dict: &'a str, key: &str) -> &'a str {
        dict.lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in {dict}"))
    }

    /// What a reader sees of `pdf`: the catalog, each page in order (its dictionary without
    /// `/Contents`, and its content streams joined), the page count, the fonts and the
    /// document information.
    #[derive(Debug, PartialEq)]
    struct Seen {
        catalog: String,
        count: String,
        pages: Vec<(String, Vec<u8>)>,
        fonts: Vec<String>,
        info: String,
    }

    fn seen(pdf: &[u8]) -> Seen {
        let objects = objects(pdf);
        let text = String::from_utf8_lossy(pdf);
        let trailer = &text[text.rfind("trailer\n").unwrap()..];
        let root = refs(entry(trailer, "/Root"))[0];
        let info = refs(entry(trailer, "/Info"))[0];
        let catalog = &objects[&root].0;
        let tree = &objects[&refs(entry(catalog, "/Pages"))[0]].0;
        let kids = refs(entry(tree, "/Kids"));
        let pages: Vec<(String, Vec<u8>)> = kids
            .iter()
            .map(|id| {
                let dict = &objects[id].0;
                let content = refs(entry(dict, "/Contents"))
                    .iter()
                    .flat_map(|c| objects[c].1.clone())
                    .collect();
                let without: Vec<&str> = dict.lines().filter(|l| !l.contains("/Contents")).collect();
                (without.join("\n"), content)
            })
            .collect();
        assert!(
            objects
                .values()
                .filter(|(d, _)| d.contains("/Type /Page\n"))
                .count()
                == kids.len(),
            "every page object is in the page tree"
        );
        let fonts = refs(entry(&pages[0].0, "/Font"))
            .iter()
            .map(|id| objects[id].0.clone())
            .collect();
        Seen {
            catalog: catalog.clone(),
            count: entry(tree, "/Count").to_string(),
            pages,
            fonts,
            info: objects[&info].0.clone(),
        }
    }

    /// Writes `doc` with its lines pulled from an iterator, as the server does.
    fn streamed(doc: &ReceiptDoc) -> Vec<u8> {
        let lines = doc.lines.clone().into_iter().map(Ok);
        write_receipt_pdf(doc, lines, "HPC Usage Portal", Vec::new()).unwrap()
    }

    #[test]
    fn the_streamed_pdf_shows_what_the_whole_document_pdf_showed() {
        // `testdata/before.pdf`: this document as the writer that built the whole PDF in memory
        // (one content stream per page, the footer in it) wrote it.
        let before = seen(include_bytes!("testdata/before.pdf"));
        let doc = sample_doc();
        let after = seen(&streamed(&doc));
        assert_eq!(before.pages.len(), 5, "the sample spans pages");
        assert_eq!(after.count, "/Count 5");
        for (i, (b, a)) in before.pages.iter().zip(&after.pages).enumerate() {
            assert_eq!(b.0, a.0, "page {} dictionary", i + 1);
            assert!(
                b.1 == a.1,
                "page {} content:\n{}\n---\n{}",
                i + 1,
                String::from_utf8_lossy(&b.1),
                String::from_utf8_lossy(&a.1)
            );
        }
        assert_eq!(before, after);
        // The earlier-rate note comes from the lines themselves, not from the document's flag.
        let mut plain = doc.clone();
        plain.earlier_rates = false;
        assert_eq!(seen(&streamed(&plain)), after);
        for line in &mut plain.lines {
            if line.rates.is_empty() {
                line.rates = vec!["THB 1.00/h".to_string()];
            }
        }
        let body = streamed(&plain);
        assert!(find(&body, b"earlier rate *").is_none() && find(&body, b"Priced when").is_none());
    }

    /// A sink shared with the test, to see what was written while lines are still pulled.
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn line(i: usize) -> LineItem {
        LineItem {
            ended: "2026-11-02 08:00 UTC".to_string(),
            job_id: format!("job-{i:06}"),
            description: "task".to_string(),
            quantities: vec!["CPU 0h 01m 00s".to_string()],
            rates: vec!["THB 1.00/h".to_string()],
            amount: "THB 0.02".to_string(),
        }
    }

    #[test]
    fn pages_reach_the_sink_while_lines_are_still_read() {
        let mut doc = sample_doc();
        doc.lines.clear();
        doc.issuer.name = None;
        let sink = Shared::default();
        let seen_at_half = std::cell::Cell::new(0);
        let lines = (0..3_000).map(|i| {
            if i == 1_500 {
                seen_at_half.set(sink.0.borrow().len());
            }
            Ok(line(i))
        });
        write_receipt_pdf(&doc, lines, "HPC Usage Portal", sink.clone()).unwrap();
        let pdf = sink.0.borrow().clone();
        assert!(
            seen_at_half.get() > pdf.len() / 3,
            "{} of {} bytes written when half the lines were read",
            seen_at_half.get(),
            pdf.len()
        );
        let seen = seen(&pdf);
        assert_eq!(seen.count, format!("/Count {}", seen.pages.len()));
        assert!(seen.pages.len() > 50, "{} pages", seen.pages.len());
        let last = seen.pages.len();
        let footer = format!("(HPC Usage Portal - Receipt 4711 - page {last} of {last}) Tj");
        assert!(
            find(&seen.pages[last - 1].1, footer.as_bytes()).is_some(),
            "{footer}"
        );
        for job in ["(job-000000) Tj", "(job-002999) Tj"] {
            assert!(find(&pdf, job.as_bytes()).is_some(), "{job}");
        }
    }

    #[test]
    fn a_failed_read_or_sink_ends_the_pdf_with_its_error() {
        let doc = sample_doc();
        let lines = (0..100).map(|i| {
            if i == 60 {
                Err(crate::Error::internal("the database went away"))
            } else {
                Ok(line(i))
            }
        });
        let err = write_receipt_pdf(&doc, lines, "x", Vec::new()).unwrap_err();
        assert!(matches!(err, PdfError::Lines(_)), "{err}");

        /// Takes `left` bytes, then fails.
        #[derive(Debug)]
        struct Closed {
            left: usize,
        }
        impl Write for Closed {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.left < buf.len() {
                    return Err(std::io::ErrorKind::BrokenPipe.into());
                }
                self.left -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let pulled = std::cell::Cell::new(0);
        let lines = (0..10_000).map(|i| {
            pulled.set(i);
            Ok(line(i))
        });
        let err = write_receipt_pdf(&doc, lines, "x", Closed { left: 20_000 }).unwrap_err();
        assert!(
            matches!(&err, PdfError::Write(e) if e.kind() == std::io::ErrorKind::BrokenPipe),
            "{err}"
        );
        assert!(
            pulled.get() < 500,
            "stopped reading once the reader was gone: {}",
            pulled.get()
        );
    }

    #[test]
    fn text_outside_win_ansi_is_transliterated_and_flagged() {
        let mut lossy = false;
        assert_eq!(encode("Zürich – 5 €", &mut lossy), b"Z\xfcrich \x96 5 \x80");
        assert!(!lossy, "Latin-1 and WinAnsi's extras are drawn as they are");
        assert_eq!(encode("Łódź", &mut lossy), b"L\xf3dz");
        assert!(lossy);
        let mut lossy = false;
        let thai = encode("กรุงเทพ", &mut lossy);
        assert!(lossy && !thai.is_empty() && thai.iter().all(u8::is_ascii));
        assert_eq!(
            encode("a\tb\nc", &mut false),
            b"a b c",
            "no control characters reach a string"
        );
    }

    #[test]
    fn long_ids_wrap_inside_their_column() {
        let id = b"pay_0123456789abcdef0123456789abcdef";
        let lines = wrap(id, Font::Regular, 85, 600);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| width(l, Font::Regular, 85) <= 600));
        assert_eq!(lines.concat(), id.to_vec());
        assert_eq!(wrap(b"a b", Font::Regular, 85, 5000), vec![b"a b".to_vec()]);
        let job = b"job-2026110278-xx00278-0123456789abcdef";
        let lines = wrap(job, Font::Regular, 85, 900);
        assert_eq!(
            lines[0],
            b"job-2026110278-".to_vec(),
            "breaks after a hyphen first"
        );
        assert_eq!(lines.concat(), job.to_vec());
        assert_eq!(width(b"0", Font::Regular, 1000), 556);
    }
}
