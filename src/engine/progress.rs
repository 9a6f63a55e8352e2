//! Progress bars on standard error for long work: the generator's counties, the ingest's
//! bytes, the extract's records. Hidden when the caller is not interactive. And the elapsed
//! times the logs give.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `total` steps drawn with an indicatif `template`, or a hidden one when `show` is
/// false.
pub fn bar(show: bool, total: u64, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(total);
    // Cannot fail: the templates are static strings of this crate.
    b.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    b
}

/// The seconds since `start`, as the logs give them ("12.34").
pub fn seconds(start: std::time::Instant) -> String {
    format!("{:.2}", start.elapsed().as_secs_f64())
}
