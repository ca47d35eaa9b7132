//! Label selectors, as Kubernetes applies them: every `matchLabels` pair and every
//! `matchExpressions` requirement must hold; an empty selector selects everything.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `selector` selects an object with `labels`. Unknown operators select nothing (a
/// selector we cannot read grants nothing).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector.match_labels.iter().flatten();
    let pairs_hold = pairs.into_iter().all(|(k, v)| labels.get(k) == Some(v));
    let requirements = selector.match_expressions.iter().flatten();
    pairs_hold
        && requirements.into_iter().all(|req| {
            let value = labels.get(&req.key);
            let values = req.values.as_deref().unwrap_or_default();
            match req.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn empty_selector_selects_everything() {
        assert!(selects(&LabelSelector::default(), &labels(&[])));
        assert!(selects(&LabelSelector::default(), &labels(&[("a", "b")])));
    }

    #[test]
    fn match_labels_need_every_pair() {
        let selector = LabelSelector {
            match_labels: Some(
                labels(&[("tenant", "a"), ("env", "prod")])
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };
        assert!(selects(
            &selector,
            &labels(&[("tenant", "a"), ("env", "prod"), ("x", "y")])
        ));
        assert!(!selects(&selector, &labels(&[("tenant", "a")])));
        assert!(!selects(
            &selector,
            &labels(&[("tenant", "b"), ("env", "prod")])
        ));
    }

    #[test]
    fn expressions_follow_kubernetes() {
        let case = |operator, values: &[&str], present: Option<&str>| {
            let selector = LabelSelector {
                match_expressions: Some(vec![requirement("tenant", operator, values)]),
                ..Default::default()
            };
            let labels = present.map_or_else(BTreeMap::new, |v| labels(&[("tenant", v)]));
            selects(&selector, &labels)
        };
        assert!(case("In", &["a", "b"], Some("a")));
        assert!(!case("In", &["a", "b"], Some("c")));
        assert!(!case("In", &["a"], None));
        assert!(case("NotIn", &["a"], Some("c")));
        assert!(case("NotIn", &["a"], None));
        assert!(!case("NotIn", &["a"], Some("a")));
        assert!(case("Exists", &[], Some("x")));
        assert!(!case("Exists", &[], None));
        assert!(case("DoesNotExist", &[], None));
        assert!(!case("DoesNotExist", &[], Some("x")));
        assert!(
            !case("Near", &["a"], Some("a")),
            "unknown operators select nothing"
        );
    }
}
