//! The README documents the condition reason vocabulary (a public contract); keep them in step.

use igz_operator::crd::Reason;

#[test]
fn readme_documents_every_condition_reason() {
    let readme = include_str!("../../README.md");
    for reason in Reason::ALL {
        let row = format!("| `{}` | {} |", reason.as_str(), reason.description());
        assert!(readme.contains(&row), "README.md lacks the row: {row}");
    }
}

#[test]
fn readme_documents_every_connection_reason() {
    let readme = include_str!("../../README.md");
    for reason in igz_operator::crd::ConnectionReason::ALL {
        let row = format!("| `{}` | {} |", reason.as_str(), reason.description());
        assert!(readme.contains(&row), "README.md lacks the row: {row}");
    }
}
