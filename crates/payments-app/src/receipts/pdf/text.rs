//! Text in the standard Helvetica fonts: WinAnsi encoding (other scripts transliterated with
//! `deunicode`, or `?`), glyph widths from Adobe's font metrics, and line wrapping, all in
//! integer units.

use pdf_writer::Name;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Font {
    Regular,
    Bold,
}

impl Font {
    pub(super) fn name(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }
}

/// Glyph widths (1/1000 em) of Helvetica for the printable ASCII characters 32..=126, from
/// Adobe's font metrics (AFM) of the standard 14 fonts.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, //
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, //
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, //
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, //
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, //
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// The same for Helvetica-Bold.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, //
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, //
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, //
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, //
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, //
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// WinAnsi's codes 0x80..=0x9F (where it departs from Latin-1), by Unicode character.
const WIN_ANSI_EXTRA: [(char, u8); 27] = [
    ('\u{20AC}', 0x80),
    ('\u{201A}', 0x82),
    ('\u{0192}', 0x83),
    ('\u{201E}', 0x84),
    ('\u{2026}', 0x85),
    ('\u{2020}', 0x86),
    ('\u{2021}', 0x87),
    ('\u{02C6}', 0x88),
    ('\u{2030}', 0x89),
    ('\u{0160}', 0x8A),
    ('\u{2039}', 0x8B),
    ('\u{0152}', 0x8C),
    ('\u{017D}', 0x8E),
    ('\u{2018}', 0x91),
    ('\u{2019}', 0x92),
    ('\u{201C}', 0x93),
    ('\u{201D}', 0x94),
    ('\u{2022}', 0x95),
    ('\u{2013}', 0x96),
    ('\u{2014}', 0x97),
    ('\u{02DC}', 0x98),
    ('\u{2122}', 0x99),
    ('\u{0161}', 0x9A),
    ('\u{203A}', 0x9B),
    ('\u{0153}', 0x9C),
    ('\u{017E}', 0x9E),
    ('\u{0178}', 0x9F),
];

/// The WinAnsi code of `c`, if it has one (control characters have none).
fn win_ansi(c: char) -> Option<u8> {
    match c {
        ' '..='~' => u8::try_from(u32::from(c)).ok(),
        '\u{A0}'..='\u{FF}' => u8::try_from(u32::from(c)).ok(),
        _ => WIN_ANSI_EXTRA.iter().find(|(u, _)| *u == c).map(|(_, b)| *b),
    }
}

/// `text` in WinAnsi bytes; `lossy` is set when something had to be transliterated or replaced.
pub fn encode(text: &str, lossy: &mut bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() && !matches!(c, ' ' | '\u{A0}') {
            out.push(b' ');
            continue;
        }
        if let Some(b) = win_ansi(c) {
            out.push(b);
            continue;
        }
        *lossy = true;
        match deunicode::deunicode_char(c) {
            Some(latin) => out.extend(latin.chars().map(|l| win_ansi(l).unwrap_or(b'?'))),
            None => out.push(b'?'),
        }
    }
    out
}

/// The width of one WinAnsi code in 1/1000 em (outside ASCII: that of its Latin base letter,
/// else an average glyph).
fn glyph_width(b: u8, font: Font) -> i32 {
    let table = match font {
        Font::Regular => &HELVETICA,
        Font::Bold => &HELVETICA_BOLD,
    };
    let ascii = match b {
        32..=126 => b,
        0xC0..=0xC5 => b'A',
        0xC7 => b'C',
        0xC8..=0xCB => b'E',
        0xCC..=0xCF => b'I',
        0xD1 => b'N',
        0xD2..=0xD6 | 0xD8 => b'O',
        0xD9..=0xDC => b'U',
        0xDD => b'Y',
        0xE0..=0xE5 => b'a',
        0xE7 => b'c',
        0xE8..=0xEB => b'e',
        0xEC..=0xEF => b'i',
        0xF1 => b'n',
        0xF2..=0xF6 | 0xF8 => b'o',
        0xF9..=0xFC => b'u',
        0xFD | 0xFF => b'y',
        0x8A | 0x9A => b'S',
        0x8E | 0x9E => b'Z',
        0x91 | 0x92 | 0x82 => b'\'',
        0x93 | 0x94 | 0x84 => b'"',
        0xA0 => b' ',
        0xAD => b'-',
        0xC6 | 0xE6 | 0x8C | 0x9C | 0x97 | 0x89 | 0x99 => return 1000,
        _ => return 556,
    };
    i32::from(table[usize::from(ascii - 32)])
}

/// The width of WinAnsi `bytes` at `size` (both in tenths of a point).
pub(super) fn width(bytes: &[u8], font: Font, size: i32) -> i32 {
    bytes.iter().map(|&b| glyph_width(b, font)).sum::<i32>() * size / 1000
}

/// `bytes` broken into lines no wider than `max`: at spaces, and inside words too long for a
/// line (ids).
pub(super) fn wrap(bytes: &[u8], font: Font, size: i32, max: i32) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in bytes.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(word);
        if width(&candidate, font, size) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word too long for a line (an id) breaks after a hyphen or underscore where it can,
        // anywhere else where it must.
        for piece in word.split_inclusive(|&b| b == b'-' || b == b'_') {
            let mut candidate = line.clone();
            candidate.extend_from_slice(piece);
            if width(&candidate, font, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for &b in piece {
                line.push(b);
                if width(&line, font, size) > max && line.len() > 1 {
                    let last = line.pop().unwrap_or(b' ');
                    lines.push(std::mem::replace(&mut line, vec![last]));
                }
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}
