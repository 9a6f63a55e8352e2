//! Reading one submitted file: decoding (UTF-8 with or without BOM, or GB18030, declared or
//! detected), CSV records with the physical line each starts on, the header, row-level
//! validation, and the file-level checks (encoding, header, manifest row count and SHA-256,
//! file of another province).
//!
//! The reader streams: memory does not depend on the file's size. File-level faults found only
//! at the end (a checksum mismatch) reject the whole file, so callers stage a file's rows and
//! commit them only when [`FileCheck::rejected`] is false.

use std::io::{self, Read};

use encoding_rs::{Decoder, DecoderResult};
use sha2::{Digest, Sha256};

use crate::contract::manifest::{Encoding, ManifestFile};
use crate::contract::registers::Layout;
use crate::contract::rules::Rule;
use crate::contract::schema::Table;
use crate::ingest::validation::{Finding, HeaderMap, RowValidator, Value};

/// Bytes inspected to detect the encoding of a file whose manifest does not declare it.
const SNIFF: usize = 64 * 1024;
const CHUNK: usize = 256 * 1024;

/// An undecodable byte sequence at this byte offset of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: u64,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "undecodable bytes at byte offset {}", self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// A `Read` adapter that hashes the raw bytes and yields them decoded as UTF-8, failing with a
/// [`DecodeError`] (wrapped in `io::Error`) at the first malformed sequence.
pub struct DecodingReader<R> {
    inner: R,
    decoder: Decoder,
    raw: Vec<u8>,
    raw_start: usize,
    raw_end: usize,
    out: Vec<u8>,
    out_start: usize,
    out_end: usize,
    /// Raw bytes consumed by the decoder before `raw[raw_start]`.
    consumed: u64,
    hasher: Sha256,
    raw_total: u64,
    newlines: u64,
    /// Carriage returns not followed by a line feed (line ends of a CR-only file).
    lone_crs: u64,
    last_byte: Option<u8>,
    eof: bool,
    done: bool,
    failed: Option<DecodeError>,
}

impl<R: Read> DecodingReader<R> {
    /// Decode `inner` with `encoding`. A UTF-8 BOM is stripped (and wins over a declared
    /// GB18030, as a BOM is unambiguous).
    pub fn new(inner: R, encoding: Encoding, prefix: Vec<u8>) -> Self {
        let decoder = match encoding {
            Encoding::Utf8 => encoding_rs::UTF_8.new_decoder_with_bom_removal(),
            Encoding::Gb18030 => encoding_rs::GB18030.new_decoder(),
        };
        let mut r = DecodingReader {
            inner,
            decoder,
            raw: vec![0; CHUNK.max(prefix.len())],
            raw_start: 0,
            raw_end: 0,
            out: vec![0; CHUNK * 3 + 16],
            out_start: 0,
            out_end: 0,
            consumed: 0,
            hasher: Sha256::new(),
            raw_total: 0,
            newlines: 0,
            lone_crs: 0,
            last_byte: None,
            eof: false,
            done: false,
            failed: None,
        };
        r.account(&prefix);
        r.raw[..prefix.len()].copy_from_slice(&prefix);
        r.raw_end = prefix.len();
        r
    }

    fn account(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.raw_total += bytes.len() as u64;
        self.newlines += memchr::memchr_iter(b'\n', bytes).count() as u64;
        // Carriage returns not followed by a line feed; one that ends the chunk is decided by
        // the next chunk's first byte (or, at the end of the file, by `cr_lines`).
        if self.last_byte == Some(b'\r') && bytes.first().is_some_and(|&b| b != b'\n') {
            self.lone_crs += 1;
        }
        for i in memchr::memchr_iter(b'\r', bytes) {
            if bytes.get(i + 1).is_some_and(|&b| b != b'\n') {
                self.lone_crs += 1;
            }
        }
        if let Some(&b) = bytes.last() {
            self.last_byte = Some(b);
        }
    }

    /// Read the rest of the raw input (after a decode error) so that size, hash and line
    /// count cover the whole file.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = self.inner.read(&mut buf)?;
            if n == 0 {
                break;
            }
            self.account(&buf[..n]);
        }
        self.eof = true;
        Ok(())
    }

    /// SHA-256 of all raw bytes read so far (the whole file once the reader is exhausted).
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Number of physical lines of the raw bytes read so far.
    pub fn physical_lines(&self) -> u64 {
        self.newlines + u64::from(self.last_byte.is_some_and(|b| b != b'\n'))
    }

    /// Number of lines of the raw bytes read so far, taking a carriage return alone as a line
    /// end too (for a CR-only file).
    pub fn cr_lines(&self) -> u64 {
        let trailing_cr = u64::from(self.last_byte == Some(b'\r'));
        self.newlines
            + self.lone_crs
            + trailing_cr
            + u64::from(self.last_byte.is_some_and(|b| b != b'\n' && b != b'\r'))
    }

    pub fn decode_error(&self) -> Option<DecodeError> {
        self.failed
    }

    fn fill(&mut self) -> io::Result<()> {
        while self.out_start == self.out_end {
            if let Some(e) = self.failed {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            if self.done {
                return Ok(());
            }
            if self.raw_start == self.raw_end && !self.eof {
                let n = self.inner.read(&mut self.raw)?;
                if n == 0 {
                    self.eof = true;
                } else {
                    let chunk = std::mem::take(&mut self.raw);
                    self.account(&chunk[..n]);
                    self.raw = chunk;
                }
                self.raw_start = 0;
                self.raw_end = n;
            }
            let last = self.eof;
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.raw[self.raw_start..self.raw_end],
                &mut self.out,
                last,
            );
            self.raw_start += read;
            self.consumed += read as u64;
            self.out_start = 0;
            self.out_end = written;
            match result {
                DecoderResult::InputEmpty => self.done = last,
                DecoderResult::OutputFull => {}
                DecoderResult::Malformed(bad, extra) => {
                    let offset = self.consumed - u64::from(bad) - u64::from(extra);
                    self.failed = Some(DecodeError { offset });
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fill()?;
        let n = (self.out_end - self.out_start).min(buf.len());
        buf[..n].copy_from_slice(&self.out[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

/// Detect the encoding from the first bytes: a UTF-8 BOM or valid UTF-8 means UTF-8,
/// anything else GB18030.
pub fn detect_encoding(prefix: &[u8]) -> Encoding {
    if prefix.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Encoding::Utf8;
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => Encoding::Utf8,
        // A character cut at the end of the sniffed prefix is not evidence against UTF-8.
        Err(e) if e.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Gb18030,
    }
}

/// One data record handed to the caller.
pub struct RowEvent<'r, 'a> {
    /// Physical line on which the record starts (header = line 1).
    pub line: u64,
    /// Rows the record counts for: 1, or for a malformed record that runs over several
    /// physical lines (an unclosed quote swallowing the lines after it), every line it
    /// consumed, so that swallowed lines count as rejected rows.
    pub rows: u64,
    pub fields: &'r [&'a str],
    /// Typed values in schema column order (`Null` for empty or invalid).
    pub values: &'r [Value<'a>],
    /// Row-level findings; the row is rejected when any is an error.
    pub findings: Vec<Finding>,
    validator: &'r RowValidator,
}

impl RowEvent<'_, '_> {
    /// The record's key for the rejects table (computed on demand: most rows never need it).
    pub fn key(&self) -> Option<String> {
        self.validator.record_key(self.fields)
    }

    pub fn rejected(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity() == crate::contract::rules::Severity::Error)
    }
}

/// The outcome of reading one file.
#[derive(Debug, Clone)]
pub struct FileCheck {
    pub table: Layout,
    pub encoding: Encoding,
    /// Data records read (for an undecodable file: physical lines after the header).
    pub rows_read: u64,
    /// File-level findings (errors reject the whole file; warnings do not).
    pub findings: Vec<Finding>,
    pub sha256: String,
}

impl FileCheck {
    pub fn rejected(&self) -> bool {
        HeaderMap::rejects_file(&self.findings)
    }
}

/// Read and check one file of a province's submission, calling `on_row` for every data
/// record in order. `declared` is the manifest's encoding, `expected` its entry for the file.
pub fn read_table<R: Read>(
    mut input: R,
    table: impl Into<Layout>,
    province: &str,
    declared: Option<Encoding>,
    expected: Option<&ManifestFile>,
    mut on_row: impl FnMut(RowEvent<'_, '_>),
) -> io::Result<FileCheck> {
    let table: Layout = table.into();
    let prefix = sniff(&mut input)?;
    let encoding = declared.unwrap_or_else(|| detect_encoding(&prefix));
    // Lines ending in a carriage return alone (old Mac OS): the CSV reader would see one
    // record. Such a file is rejected with a clear finding rather than misread.
    let cr_only = !prefix.contains(&b'\n') && prefix.contains(&b'\r');
    let mut decoding = DecodingReader::new(input, encoding, prefix);
    let mut findings = Vec::new();
    let (mut rows, header_seen) = if cr_only {
        (read_cr_only(&mut decoding, &mut findings)?, false)
    } else {
        read_records(&mut decoding, table, province, &mut findings, &mut on_row)?
    };
    if let Some(e) = decoding.decode_error() {
        decoding.drain()?;
        findings.push(Finding::new(
            Rule::FileEncoding,
            None,
            format!(
                "the file cannot be decoded as {}: invalid bytes at byte offset {}{}",
                encoding.label(),
                e.offset,
                if declared.is_none() {
                    " (the encoding was detected; declare it in manifest.json)"
                } else {
                    ""
                }
            ),
        ));
        rows = decoding.physical_lines().saturating_sub(1);
    } else if !cr_only && !header_seen {
        findings.push(Finding::new(
            Rule::FileHeader,
            None,
            format!(
                "{} is empty: it has no header row (and no records)",
                table.file_name()
            ),
        ));
    }
    let sha256 = decoding.sha256_hex();
    if let Some(m) = expected {
        manifest_findings(m, rows, &sha256, &mut findings);
    }
    Ok(FileCheck {
        table,
        encoding,
        rows_read: rows,
        findings,
        sha256,
    })
}

/// The first bytes of the input (up to [`SNIFF`]), to detect the encoding and line ends.
fn sniff<R: Read>(input: &mut R) -> io::Result<Vec<u8>> {
    let mut prefix = vec![0u8; SNIFF];
    let mut filled = 0;
    while filled < SNIFF {
        let n = input.read(&mut prefix[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    prefix.truncate(filled);
    Ok(prefix)
}

/// A file whose lines end in a carriage return alone: no record is read, every line after the
/// first counts as a row, and the file is rejected. Returns the rows.
fn read_cr_only<R: Read>(
    decoding: &mut DecodingReader<R>,
    findings: &mut Vec<Finding>,
) -> io::Result<u64> {
    decoding.drain()?;
    let rows = decoding.cr_lines().saturating_sub(1);
    findings.push(Finding::new(
        Rule::FileLineEndings,
        None,
        format!(
            "the lines of the file end with a carriage return (CR) alone, as on old Mac OS; \
             no record can be read: save it with LF or CRLF line endings ({} lines)",
            decoding.cr_lines()
        ),
    ));
    Ok(rows)
}

/// Read the CSV records: the header row, then every data record checked and handed to
/// `on_row`. Returns the rows read and whether a header row was seen.
fn read_records<R: Read>(
    decoding: &mut DecodingReader<R>,
    table: Layout,
    province: &str,
    findings: &mut Vec<Finding>,
    on_row: &mut impl FnMut(RowEvent<'_, '_>),
) -> io::Result<(u64, bool)> {
    // Records end at `\n` only: with the default CRLF handling the reader would take a
    // record's starting line before consuming the `\n` of the previous `\r\n`, one line
    // early. A trailing `\r` stays in the last field, and values are trimmed anyway.
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(decoding);
    let mut rows: u64 = 0;
    let mut other_province_checked = false;
    let mut header_seen = false;
    // Byte records, made text with one validation of the whole record: the decoder's output
    // is UTF-8 and fields end only at ASCII bytes, so this never fails. csv's own
    // `StringRecord` checks a record for ASCII, then, when it holds a name, validates each
    // field on its own (4.3 % of the ingest's CPU at scale 0.1).
    let mut record = csv::ByteRecord::new();
    let mut validator: Option<RowValidator> = None;
    let mut values_buf: Vec<Value<'static>> = Vec::new();
    let mut fields_buf: Vec<&'static str> = Vec::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                return Err(io::Error::other(e));
            }
        }
        let not_text = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a record that is not UTF-8 after decoding",
            )
        };
        let text = std::str::from_utf8(record.as_slice()).map_err(|_| not_text())?;
        let mut fields = recycle(std::mem::take(&mut fields_buf));
        for i in 0..record.len() {
            fields.push(
                record
                    .range(i)
                    .and_then(|r| text.get(r))
                    .ok_or_else(not_text)?,
            );
        }
        if fields.len() == 1 && fields[0].trim().is_empty() {
            fields_buf = recycle(fields);
            continue; // a blank line (the reader itself skips only truly empty ones)
        }
        let line = record.position().map_or(0, |p| p.line());
        // The line after the record: how many physical lines the record consumed.
        let next_line = csv.position().line();
        let Some(v) = validator.as_ref() else {
            header_seen = true;
            validator = header_validator(&fields, table, province, findings);
            fields_buf = recycle(fields);
            if validator.is_none() {
                // Count the remaining records without validating them.
                while let Ok(true) = csv.read_byte_record(&mut record) {
                    rows += 1;
                }
                break;
            }
            continue;
        };
        let mut values = recycle_values(std::mem::take(&mut values_buf));
        let mut row_findings = v.check(&fields, &mut values);
        let weight = record_weight(&mut row_findings, line, next_line);
        rows += weight;
        if !other_province_checked {
            other_province_checked = true;
            findings.extend(other_province(table, v, &fields, line, province));
        }
        on_row(RowEvent {
            line,
            rows: weight,
            fields: &fields,
            values: &values,
            findings: row_findings,
            validator: v,
        });
        fields_buf = recycle(fields);
        values_buf = recycle_values(values);
    }
    Ok((rows, header_seen))
}

/// Map the header row, adding its findings. Returns the validator of the data records, or
/// None when the header findings reject the file.
fn header_validator(
    header: &[&str],
    table: Layout,
    province: &str,
    findings: &mut Vec<Finding>,
) -> Option<RowValidator> {
    let (map, header_findings) = HeaderMap::new(table, header);
    let reject = HeaderMap::rejects_file(&header_findings);
    findings.extend(header_findings);
    (!reject).then(|| RowValidator::new(table, province, map))
}

/// The rows a record counts for: 1, or for a malformed record that runs from `line` over
/// several physical lines (to before `next_line`), every line it consumed; its
/// `csv.malformed` finding then says so.
fn record_weight(row_findings: &mut [Finding], line: u64, next_line: u64) -> u64 {
    let span = next_line.saturating_sub(line).max(1);
    if span > 1
        && let Some(f) = row_findings
            .iter_mut()
            .find(|f| f.rule == Rule::CsvMalformed)
    {
        // An unclosed quote swallows the lines after it into one record: report it
        // where it opened, and count every line it consumed as a rejected row.
        f.message = format!(
            "the record starting on this line runs over {span} physical lines (to line \
             {}), most likely because a quote (\") opened here is never closed; its {} \
             lines count as rejected rows; {}",
            line + span - 1,
            span,
            f.message
        );
        return span;
    }
    1
}

/// The `file.other_province` finding when the first record (on `line`) belongs to another
/// province than the submitting one.
fn other_province(
    table: Layout,
    v: &RowValidator,
    fields: &[&str],
    line: u64,
    province: &str,
) -> Option<Finding> {
    let p = record_province(table, v, fields).filter(|p| *p != province)?;
    Some(Finding::new(
        Rule::FileOtherProvince,
        None,
        format!(
            "the first record (line {line}) belongs to province {p}, not to the submitting province {province}; the file is rejected"
        ),
    ))
}

/// The findings of the file against its manifest entry: the row count and the SHA-256.
fn manifest_findings(m: &ManifestFile, rows: u64, sha256: &str, findings: &mut Vec<Finding>) {
    if let Some(want) = m.rows.filter(|w| *w != rows) {
        findings.push(Finding::new(
            Rule::FileManifestRows,
            None,
            format!("the file has {rows} data rows but manifest.json states {want} (truncated or altered upload)"),
        ));
    }
    if let Some(want) = m
        .sha256
        .as_ref()
        .filter(|w| !w.eq_ignore_ascii_case(sha256))
    {
        findings.push(Finding::new(
            Rule::FileManifestSha256,
            None,
            format!("the file's SHA-256 is {sha256} but manifest.json states {want} (truncated or altered upload)"),
        ));
    }
}

/// Empty a vector and reuse its allocation for borrows of another lifetime (the standard
/// library collects in place when the layouts agree).
fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    // The vector is empty: the closure never runs.
    v.into_iter().map(|_| unreachable!()).collect()
}

fn recycle_values<'b>(mut v: Vec<Value<'_>>) -> Vec<Value<'b>> {
    v.clear();
    // The vector is empty: the closure never runs.
    v.into_iter().map(|_| unreachable!()).collect()
}

/// The province a record belongs to by its key (first two digits), when readable.
fn record_province<'f>(table: Layout, v: &RowValidator, fields: &[&'f str]) -> Option<&'f str> {
    // A register covers counties of every province: it has no submitting province.
    let col = match table.table()? {
        Table::AssessmentHouseholds => "county_code",
        t => t.key_column()?,
    };
    let i = v.header().field_of(col)?;
    let s = fields.get(i)?.trim();
    (s.len() >= 2 && s.as_bytes()[..2].iter().all(u8::is_ascii_digit)).then(|| &s[..2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], enc: Encoding) -> Result<String, DecodeError> {
        let mut r = DecodingReader::new(
            &bytes[bytes.len().min(3)..],
            enc,
            bytes[..bytes.len().min(3)].to_vec(),
        );
        let mut s = String::new();
        match r.read_to_string(&mut s) {
            Ok(_) => Ok(s),
            Err(e) => Err(*e.into_inner().unwrap().downcast::<DecodeError>().unwrap()),
        }
    }

    /// Line endings are counted the same however the bytes arrive in chunks, a CR LF split
    /// across two chunks included.
    #[test]
    fn line_counts_do_not_depend_on_chunk_boundaries() {
        let text: &[u8] = b"a\r\nb\rc\r\r\nd\ne\r";
        let counts = |chunks: &[&[u8]]| {
            let mut r = DecodingReader::new(&b""[..], Encoding::Utf8, Vec::new());
            for c in chunks {
                r.account(c);
            }
            (r.physical_lines(), r.cr_lines())
        };
        let whole = counts(&[text]);
        // "a", "b\rc\r", "d", "e\r": 4 LF-ended lines; CR-only lines: a, b, c, (empty), d, e.
        assert_eq!(whole, (4, 6));
        for cut in 0..=text.len() {
            let (head, tail) = text.split_at(cut);
            assert_eq!(counts(&[head, tail]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn decodes_utf8_bom_and_gb18030() {
        assert_eq!(
            decode_all("\u{feff}户编码,a\n".as_bytes(), Encoding::Utf8).unwrap(),
            "户编码,a\n"
        );
        let (gb, _, _) = encoding_rs::GB18030.encode("户编码,姓名\n");
        assert_eq!(detect_encoding(&gb), Encoding::Gb18030);
        assert_eq!(decode_all(&gb, Encoding::Gb18030).unwrap(), "户编码,姓名\n");
        assert_eq!(detect_encoding("户编码".as_bytes()), Encoding::Utf8);
        // A UTF-8 character cut by the sniffing window is still UTF-8.
        assert_eq!(detect_encoding(&"户编码".as_bytes()[..4]), Encoding::Utf8);
    }

    #[test]
    fn reports_the_offset_of_undecodable_bytes() {
        let mut bytes = b"abc,def\n12,".to_vec();
        bytes.push(0xFF);
        bytes.extend_from_slice(b"3\n");
        assert_eq!(
            decode_all(&bytes, Encoding::Utf8),
            Err(DecodeError { offset: 11 })
        );
        assert_eq!(
            decode_all(&bytes, Encoding::Gb18030),
            Err(DecodeError { offset: 11 })
        );
    }
}
