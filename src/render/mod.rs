//! Rendering primitives for documents: HTML pages ([`html`]) and XLSX workbooks ([`xlsx`]),
//! shared by the reports and the research extract's risk report. They know no census concept.

pub mod html;
pub mod xlsx;

/// A document that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
