//! The receipt as a PDF, written with `pdf-writer`: A4, the standard Helvetica fonts (nothing
//! embedded) with WinAnsi encoding, uncompressed content streams.
//!
//! Text outside WinAnsi (Thai, Cyrillic, CJK, emoji, ...) cannot be drawn with the standard
//! fonts: it is transliterated to Latin letters (`deunicode`), or written `?` when there is no
//! transliteration, and the PDF then says so at its end. Layout works in integer tenths of a
//! point (the page is scaled by 0.1 once), measured with Helvetica's own glyph widths, so no
//! float arithmetic is needed.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::ReceiptDoc;

mod text;

pub use text::encode;
use text::{width, wrap, Font};

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

struct Writer {
    pages: Vec<Content>,
    /// The top of the next thing to draw.
    y: i32,
    lossy: bool,
}

impl Writer {
    fn new() -> Writer {
        let mut w = Writer {
            pages: Vec::new(),
            y: TOP,
            lossy: false,
        };
        w.new_page();
        w
    }

    fn new_page(&mut self) {
        let mut c = Content::new();
        // Tenths of a point from here on.
        c.transform([0.1, 0.0, 0.0, 0.1, 0.0, 0.0]);
        self.pages.push(c);
        self.y = TOP;
    }

    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.new_page();
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
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

fn table_header(w: &mut Writer, cols: &[Column], header: &Row) {
    w.need(600);
    w.row(cols, &header.cells, header.font, header.size, None);
    w.rule(w.y + 18, 5);
}

/// The PDF of a receipt: the same content as the printed page.
pub fn receipt_pdf(doc: &ReceiptDoc, site_name: &str) -> Vec<u8> {
    let mut w = Writer::new();
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
    for line in &doc.lines {
        let rates = if line.rates.is_empty() {
            vec!["earlier rate *".to_string()]
        } else {
            line.rates.clone()
        };
        let cells = vec![
            vec![line.ended.clone()],
            vec![line.job_id.clone()],
            vec![line.description.clone()],
            line.quantities.clone(),
            rates,
            vec![line.amount.clone()],
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
    if doc.earlier_rates {
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

    // Footer on every page.
    let pages = w.pages.len();
    let mut lossy = w.lossy;
    let footer_name = encode(&issuer_name, &mut lossy);
    for (i, page) in w.pages.iter_mut().enumerate() {
        let mut text = footer_name.clone();
        text.extend_from_slice(format!(" - Receipt {} - page {} of {pages}", doc.number, i + 1).as_bytes());
        page.begin_text();
        page.set_fill_gray(0.35);
        page.set_font(Font::Regular.name(), at(80));
        page.next_line(at(LEFT), at(BOTTOM - 300));
        page.show(Str(&text));
        page.end_text();
    }

    assemble(w.pages, &format!("Receipt {}", doc.number), &issuer_name)
}

/// The document around the pages' contents: catalog, page tree, the two fonts, info.
fn assemble(pages: Vec<Content>, title: &str, author: &str) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let mut next = 6;
    let mut page_ids = Vec::new();
    let mut content_ids = Vec::new();
    for _ in &pages {
        page_ids.push(Ref::new(next));
        content_ids.push(Ref::new(next + 1));
        next += 2;
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
    for (&page_id, &content_id) in page_ids.iter().zip(&content_ids) {
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(Font::Regular.name(), regular)
            .pair(Font::Bold.name(), bold);
        resources.finish();
        page.finish();
    }
    for (id, base) in [(regular, Name(b"Helvetica")), (bold, Name(b"Helvetica-Bold"))] {
        pdf.type1_font(id)
            .base_font(base)
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    // The info dictionary takes Unicode text as it is (UTF-16 where needed).
    pdf.document_info(info)
        .title(TextStr(title))
        .author(TextStr(author))
        .creator(TextStr("HPC Usage Portal"));
    for (content, id) in pages.into_iter().zip(content_ids) {
        pdf.stream(id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

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
