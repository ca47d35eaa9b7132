//! The documentation (README.md and every page in docs/) is checked against the code, so that a
//! reader who copies a command gets one that works:
//! - the condition reason vocabulary (a public contract) is the table in docs/group.md;
//! - every `make TARGET` is a target of the Makefile, and every repository path named exists;
//! - every relative link resolves, anchors included;
//! - every flag given to `igz-operator run` or `import` is one the binary takes;
//! - every Group and GroupGrant shown is accepted by the API server (strict field validation),
//!   and the tenancy page's answer to "how do I let team-a use project X" does what it says.
//!
//! The Argo CD health check shown in docs/gitops.md is checked by hack/tools/check-gitops-tools.sh.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use igz_operator::crd::{Group, GroupGrant, PlatformConnection, Reason};
use igz_testkit::paths::repo_root;
use igz_testkit::wait::{self, DEFAULT_DEADLINE};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use regex::Regex;
use serde_json::Value;

use crate::support::Harness;
use crate::support::grants::TEST_GRANT_LABEL;

/// A page of the documentation: its path (relative to the repository) and text.
struct Page {
    path: PathBuf,
    text: String,
}

impl Page {
    /// Fenced code blocks: (info string, body).
    fn blocks(&self) -> Vec<(String, String)> {
        let mut blocks = Vec::new();
        let mut open: Option<(String, String)> = None;
        for line in self.text.lines() {
            match (&mut open, line.trim_start().strip_prefix("```")) {
                (None, Some(info)) => open = Some((info.trim().to_owned(), String::new())),
                (Some(_), Some(_)) => blocks.extend(open.take()),
                (Some((_, body)), None) => {
                    body.push_str(line);
                    body.push('\n');
                }
                (None, None) => {}
            }
        }
        blocks
    }

    /// The text outside fenced code blocks.
    fn prose(&self) -> String {
        let mut fenced = false;
        let mut out = String::new();
        for line in self.text.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            } else if !fenced {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Inline code spans of the prose.
    fn spans(&self) -> Vec<String> {
        let span = Regex::new(r"`([^`\n]+)`").unwrap();
        span.captures_iter(&self.prose())
            .map(|c| c[1].to_owned())
            .collect()
    }

    /// Everything a reader might copy: fenced blocks and inline spans.
    fn code(&self) -> Vec<String> {
        let mut code: Vec<String> = self.blocks().into_iter().map(|(_, b)| b).collect();
        code.extend(self.spans());
        code
    }

    /// The anchors of its headings, as GitHub makes them.
    fn anchors(&self) -> BTreeSet<String> {
        self.prose()
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .map(|h| {
                h.trim_start_matches('#')
                    .trim()
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                    .map(|c| if c == ' ' { '-' } else { c })
                    .collect()
            })
            .collect()
    }

    /// The section under the heading `title` (to the next heading of the same or a higher level).
    fn section(&self, title: &str) -> String {
        let mut level = None;
        let mut out = String::new();
        for line in self.prose().lines() {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            if hashes > 0 && line[hashes..].trim() == title {
                level = Some(hashes);
                continue;
            }
            match level {
                Some(l) if hashes > 0 && hashes <= l => break,
                Some(_) => {
                    out.push_str(line);
                    out.push('\n');
                }
                None => {}
            }
        }
        assert!(
            level.is_some(),
            "{} has no heading {title:?}",
            self.path.display()
        );
        out
    }
}

fn pages() -> Vec<Page> {
    let root = repo_root();
    let mut paths = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| p.strip_prefix(root).unwrap().to_owned())
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|path| Page {
            text: std::fs::read_to_string(root.join(&path))
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
            path,
        })
        .collect()
}

fn page(path: &str) -> Page {
    pages()
        .into_iter()
        .find(|p| p.path == Path::new(path))
        .unwrap_or_else(|| panic!("no page {path}"))
}

#[test]
fn the_group_page_documents_every_condition_reason() {
    let group = page("docs/group.md");
    for reason in Reason::ALL {
        let row = format!("| `{}` | {} |", reason.as_str(), reason.description());
        assert!(
            group.text.contains(&row),
            "docs/group.md lacks the row: {row}"
        );
    }
}

#[test]
fn the_connections_page_documents_every_connection_reason() {
    let connections = page("docs/connections.md");
    for reason in igz_operator::crd::ConnectionReason::ALL {
        let row = format!("| `{}` | {} |", reason.as_str(), reason.description());
        assert!(
            connections.text.contains(&row),
            "docs/connections.md lacks the row: {row}"
        );
    }
}

#[test]
fn every_make_target_and_repository_path_named_exists() {
    let root = repo_root();
    let makefile = std::fs::read_to_string(root.join("Makefile")).unwrap();
    let targets: BTreeSet<&str> = Regex::new(r"(?m)^([a-z][a-z-]*):")
        .unwrap()
        .captures_iter(&makefile)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    let make = Regex::new(r"\bmake ([a-z][a-z-]*)").unwrap();
    let path = Regex::new(
        r"^\.?/?((?:src|crates|tests|hack|charts|deploy|docs|examples|benches|crds|\.ci)/[A-Za-z0-9_./*-]*)$",
    )
    .unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages() {
        for code in page.code() {
            for m in make.captures_iter(&code) {
                checked += 1;
                if !targets.contains(&m[1]) {
                    problems.push(format!("{}: make {}", page.path.display(), &m[1]));
                }
            }
            for token in code.split(|c: char| c.is_whitespace() || "'\"=,()[]<>|".contains(c)) {
                let token = token.trim_end_matches(['.', ':', ';']);
                let Some(m) = path.captures(token) else {
                    continue;
                };
                checked += 1;
                // A glob is checked up to its first wildcard.
                let named = m[1].split('*').next().unwrap();
                if !root.join(named).exists() {
                    problems.push(format!("{}: {}", page.path.display(), &m[1]));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} commands and paths found");
    assert!(
        problems.is_empty(),
        "missing make targets or paths: {problems:#?}"
    );
}

#[test]
fn every_relative_link_resolves() {
    let root = repo_root();
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let all = pages();
    let mut problems = Vec::new();
    for page in &all {
        let dir = page.path.parent().unwrap();
        for m in link.captures_iter(&page.prose()) {
            let target = &m[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let resolved = if file.is_empty() {
                page.path.clone()
            } else {
                normalize(&dir.join(file))
            };
            if !root.join(&resolved).exists() {
                problems.push(format!("{}: {target} (no such file)", page.path.display()));
                continue;
            }
            if !anchor.is_empty() {
                let anchors = all
                    .iter()
                    .find(|p| p.path == resolved)
                    .map(Page::anchors)
                    .unwrap_or_else(|| {
                        Page {
                            text: std::fs::read_to_string(root.join(&resolved)).unwrap(),
                            path: resolved.clone(),
                        }
                        .anchors()
                    });
                if !anchors.contains(anchor) {
                    problems.push(format!(
                        "{}: {target} (no such heading)",
                        page.path.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "broken links: {problems:#?}");
}

/// `a/../b` -> `b` (the paths are relative to the repository, so no filesystem lookup).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn help(subcommand: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_igz-operator"))
        .args([subcommand, "--help"])
        .output()
        .expect("run igz-operator");
    assert!(out.status.success(), "igz-operator {subcommand} --help");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_flag_shown_is_one_the_operator_takes() {
    let flag = Regex::new(r"--[a-z][a-z-]*").unwrap();
    let invocation = Regex::new(r"igz-operator (run|import)\b(.*)").unwrap();
    let helps = [("run", help("run")), ("import", help("import"))];
    let known = |sub: &str, f: &str| {
        helps.iter().any(|(s, h)| {
            *s == sub && (h.contains(&format!("{f} ")) || h.contains(&format!("{f}\n")))
        })
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages() {
        for code in page.code() {
            // Commands continued with a backslash are one command.
            let code = code.replace("\\\n", " ");
            for line in code.lines() {
                let Some(m) = invocation.captures(line) else {
                    continue;
                };
                // Flags after a comment or a pipe belong to something else.
                let args = m[2].split(['#', '|', '>']).next().unwrap();
                for f in flag.find_iter(args) {
                    checked += 1;
                    if !known(&m[1], f.as_str()) {
                        problems.push(format!(
                            "{}: igz-operator {} {}",
                            page.path.display(),
                            &m[1],
                            f.as_str()
                        ));
                    }
                }
            }
        }
    }
    // The flags the operating page lists in prose are `run`'s.
    let operating = page("docs/operating.md");
    let listed = operating.section("Running it by hand, and its flags");
    for span in Regex::new(r"`([^`]+)`").unwrap().captures_iter(&listed) {
        for f in flag.find_iter(&span[1]) {
            checked += 1;
            if !known("run", f.as_str()) {
                problems.push(format!("docs/operating.md: run {}", f.as_str()));
            }
        }
    }
    assert!(checked > 20, "only {checked} flags found");
    assert!(
        problems.is_empty(),
        "flags the binary does not take: {problems:#?}"
    );
}

/// Every Group and GroupGrant a page shows (in a YAML block or a shell here-document), as JSON,
/// with the page it is on.
fn shown_objects() -> Vec<(PathBuf, Value)> {
    let heredoc = Regex::new(r"(?s)<<'YAML'\n(.*?)\nYAML\n").unwrap();
    let mut objects = Vec::new();
    for page in pages() {
        let mut yaml: Vec<String> = Vec::new();
        for (info, body) in page.blocks() {
            if info == "yaml" {
                yaml.push(body.clone());
            }
            yaml.extend(heredoc.captures_iter(&body).map(|c| c[1].to_owned()));
        }
        for text in yaml {
            use serde::Deserialize as _;
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let value = Value::deserialize(doc)
                    .unwrap_or_else(|e| panic!("{}: YAML: {e}\n{text}", page.path.display()));
                if value["apiVersion"] == "igz-operator.io/v1alpha1" {
                    objects.push((page.path.clone(), value));
                }
            }
        }
    }
    objects
}

#[tokio::test]
async fn every_group_grant_and_connection_shown_is_accepted_by_the_api_server() {
    let h = Harness::without_operator("docs", &[], &[]).await;
    let strict = PatchParams::apply("docs-check")
        .dry_run()
        .validation_strict();
    let objects = shown_objects();
    let kinds: BTreeSet<&str> = objects
        .iter()
        .filter_map(|(_, o)| o["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["Group", "GroupGrant", "PlatformConnection"]),
        "{objects:#?}"
    );
    for (path, mut object) in objects {
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let answer = match object["kind"].as_str().unwrap() {
            "Group" => {
                // Into the test's namespace, which a grant for everything selects.
                object["metadata"]["namespace"] = h.ns.clone().into();
                h.groups
                    .patch(&name, &strict, &Patch::Apply(&object))
                    .await
                    .map(|_| ())
            }
            "PlatformConnection" => Api::<PlatformConnection>::all(h.client.clone())
                .patch(&name, &strict, &Patch::Apply(&object))
                .await
                .map(|_| ()),
            _ => Api::<GroupGrant>::all(h.client.clone())
                .patch(&name, &strict, &Patch::Apply(&object))
                .await
                .map(|_| ()),
        };
        if let Err(e) = answer {
            panic!("{}: {name} is refused: {e}", path.display());
        }
    }
    h.stop().await;
}

#[tokio::test]
async fn the_tenancy_page_lets_team_a_use_project_x_and_nothing_more() {
    let h = Harness::without_operator("docs-tenancy", &[], &[]).await;
    let shown = |kind: &str| {
        shown_objects()
            .into_iter()
            .find(|(path, o)| path == Path::new("docs/tenancy.md") && o["kind"] == kind)
            .unwrap_or_else(|| panic!("docs/tenancy.md shows no {kind}"))
            .1
    };
    // The page's grant, as it is, and a namespace labelled as the page labels team-a's.
    let mut grant = shown("GroupGrant");
    grant["metadata"]["labels"] = serde_json::json!({TEST_GRANT_LABEL: "true"});
    let grant_name = grant["metadata"]["name"].as_str().unwrap().to_owned();
    let selector = &grant["spec"]["namespaceSelector"]["matchLabels"];
    let labels: Vec<(String, String)> = selector
        .as_object()
        .expect("the grant selects by label")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let labels: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ns = igz_testkit::envtest::fresh_namespace_labelled(&h.client, "team-a", &labels).await;
    let grants: Api<GroupGrant> = Api::all(h.client.clone());
    grants
        .patch(
            &grant_name,
            &PatchParams::apply("docs-check").force(),
            &Patch::Apply(&grant),
        )
        .await
        .expect("apply the page's grant");

    let groups: Api<Group> = Api::namespaced(h.client.clone(), &ns);
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let mut group: Group = serde_json::from_value(shown("Group")).expect("the page's Group");
    group.metadata.namespace = Some(ns.clone());
    // The page's Group is admitted once the grant reaches the admission policy.
    wait::until(
        &format!("admission admits the page's Group in {ns}"),
        DEFAULT_DEADLINE,
        || async {
            groups
                .create(&dry_run, &group)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
    .await;
    // And what the page says is refused, is.
    let refused = |change: &dyn Fn(&mut Group)| {
        let mut g = group.clone();
        change(&mut g);
        g
    };
    let asks_more = [
        (
            "Admin in x",
            refused(&|g| g.spec.project_roles[0].role = igz_operator::crd::ProjectRole::Admin),
        ),
        (
            "a role in another project",
            refused(&|g| g.spec.project_roles[0].project = "y".into()),
        ),
        (
            "a tenant policy",
            refused(&|g| {
                g.spec.assigned_policies = Some(vec![igz_operator::crd::TenantPolicy::Data])
            }),
        ),
        (
            "another name",
            refused(&|g| g.metadata.name = Some("team-b-analysts".into())),
        ),
    ];
    for (what, g) in asks_more {
        let answer = groups.create(&dry_run, &g).await;
        assert!(answer.is_err(), "a Group asking for {what} was admitted");
    }
    let _ = grants.delete(&grant_name, &Default::default()).await;
    h.stop().await;
}
