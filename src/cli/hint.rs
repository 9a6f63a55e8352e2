//! The next step after a failure: the `hint:` line `main` prints under an error.

/// The next step for a failure, where there is an obvious one (`main` prints it as `hint:`).
pub fn hint(e: &anyhow::Error) -> Option<String> {
    let text = format!("{e:#}");
    for cause in e.chain() {
        if let Some(h) = cause
            .downcast_ref::<crate::engine::guard::QueryError>()
            .and_then(|q| q.hint())
        {
            return Some(h.to_string());
        }
        if let Some(c) = cause.downcast_ref::<crate::engine::cluster::ClusterError>() {
            return Some(c.hint().to_string());
        }
        if let Some(h) = cause
            .downcast_ref::<crate::node::NodeError>()
            .and_then(|n| n.hint())
        {
            return Some(h.to_string());
        }
        if let Some(h) = cause
            .downcast_ref::<crate::server::ServerError>()
            .and_then(|s| s.hint())
        {
            return Some(h);
        }
    }
    if text.contains("has no committed snapshot") {
        return Some(
            "check the --warehouse path, or load submissions into it with \
             `povcensus ingest SUBMISSIONS... --warehouse WH`"
                .into(),
        );
    }
    if let Some(crate::pipeline::PipelineError::Unknown { name, available }) = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::pipeline::PipelineError>())
        && let Some(near) = nearest(name, available)
    {
        return Some(format!(
            "did you mean `{near}`? (`povcensus pipelines` lists them)"
        ));
    }
    let credentials = [
        "SecretAccessKey",
        "AccessKeyId",
        "credential",
        "no S3 credentials",
        "InvalidAccessKeyId",
    ];
    if text.contains("s3://") && credentials.iter().any(|c| text.contains(c)) {
        return Some(
            "for s3:// paths set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION; \
             AWS_ENDPOINT_URL with AWS_ALLOW_HTTP=true for a local S3 server)"
                .into(),
        );
    }
    None
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a slip.
fn nearest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    candidates
        .iter()
        .map(|c| (distance(word, c), c.as_str()))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(2))
        .min()
        .map(|(_, c)| c)
}
