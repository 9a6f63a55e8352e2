//! The decide phase: which provinces of the run change the warehouse. A province changes it
//! when its manifest is valid and its content hash differs from the latest snapshot's
//! version of the province (or the province is new).

use std::collections::{BTreeMap, BTreeSet};

use crate::warehouse::ProvinceVersion;

use super::{IngestError, ProvinceRun, manifest_of};

/// The provinces of the run that change the warehouse.
pub(super) struct Changed {
    /// Their indices in the runs.
    pub(super) runs: Vec<usize>,
    /// Their province codes.
    pub(super) codes: BTreeSet<String>,
}

/// Decide which runs change the warehouse whose latest snapshot holds `current`.
pub(super) fn changed(
    runs: &[ProvinceRun],
    current: Option<&BTreeMap<String, ProvinceVersion>>,
) -> Result<Changed, IngestError> {
    let indices: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].manifest.is_some() && unchanged_version(&runs[i], current).is_none())
        .collect();
    let codes: BTreeSet<String> = indices
        .iter()
        .map(|&i| manifest_of(&runs[i]).map(|m| m.province_code.clone()))
        .collect::<Result<_, _>>()?;
    Ok(Changed {
        runs: indices,
        codes,
    })
}

/// The current version of the run's province when the run's content is that version's.
pub(super) fn unchanged_version<'c>(
    run: &ProvinceRun,
    current: Option<&'c BTreeMap<String, ProvinceVersion>>,
) -> Option<&'c ProvinceVersion> {
    current
        .and_then(|c| c.get(&run.code()))
        .filter(|v| v.content_sha256 == run.content_sha256)
}
