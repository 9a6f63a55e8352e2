//! The README documents every rule id exactly as the catalogue defines it.

use std::path::Path;

#[test]
fn readme_rule_table_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let table = povcensus::contract::rules::markdown_table();
    if std::env::var_os("POVCENSUS_BLESS").is_some() {
        let start = readme
            .find("| rule id |")
            .unwrap_or_else(|| readme.find("RULES_TABLE").unwrap());
        let end = readme[start..]
            .find("\n\n")
            .map_or(readme.len(), |e| start + e + 1);
        let updated = format!("{}{}{}", &readme[..start], table, &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        readme.contains(&table),
        "README.md's rule table is stale: run POVCENSUS_BLESS=1 cargo test readme"
    );
}
