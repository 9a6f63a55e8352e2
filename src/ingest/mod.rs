//! Ingest: reading province submissions. Owns decoding, CSV parsing with physical line
//! numbers, header mapping and the file-level checks ([`source`]); row rules come from
//! `validation`.

pub mod source;
