//! List routes: `filter[field]=value` (exact match), `sort=a,-b`, 0-based
//! `page[number]`/`page[size]`, and `include`.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::jsonapi::{ApiError, ApiResult};
use super::model::{Id, Model};
use super::render::{Included, Kind, resource};

/// Default page size when only `page[number]` is given.
const DEFAULT_PAGE_SIZE: usize = 50;

#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub filters: Vec<(String, String)>,
    /// (field, descending)
    pub sort: Vec<(String, bool)>,
    /// (number, size)
    pub page: Option<(usize, usize)>,
    pub include: Vec<String>,
}

impl ListParams {
    pub fn filter(&self, field: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a comma list, dropping empty items.
pub fn comma_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads the `include` parameter of a single-resource route.
pub fn includes(pairs: &[(String, String)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == "include")
        .flat_map(|(_, v)| comma_list(v))
        .collect()
}

fn parse_number(key: &str, value: &str) -> ApiResult<usize> {
    value.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{key} must be a non-negative integer, got '{value}'"
        ))
    })
}

/// Parses list parameters, checking field names against `kind`. Unknown parameters are ignored
/// (the SDK may send `count=records`).
pub fn parse(kind: Kind, pairs: &[(String, String)]) -> ApiResult<ListParams> {
    let mut params = ListParams::default();
    let (mut number, mut size) = (None, None);
    let known = |field: &str| field == "id" || kind.fields().contains(&field);
    for (key, value) in pairs {
        if let Some(field) = key
            .strip_prefix("filter[")
            .and_then(|k| k.strip_suffix(']'))
        {
            if !known(field) {
                return Err(ApiError::bad_request(format!(
                    "cannot filter {} by '{field}'",
                    kind.type_name()
                )));
            }
            params.filters.push((field.to_owned(), value.clone()));
        } else if key == "sort" {
            for item in comma_list(value) {
                let (field, descending) = match item.strip_prefix('-') {
                    Some(field) => (field.to_owned(), true),
                    None => (item.trim_start_matches('+').to_owned(), false),
                };
                if !known(&field) {
                    return Err(ApiError::bad_request(format!(
                        "cannot sort {} by '{field}'",
                        kind.type_name()
                    )));
                }
                params.sort.push((field, descending));
            }
        } else if key == "page[number]" {
            number = Some(parse_number(key, value)?);
        } else if key == "page[size]" {
            size = Some(parse_number(key, value)?);
        } else if key == "include" {
            params.include.extend(comma_list(value));
        }
    }
    if number.is_some() || size.is_some() {
        params.page = Some((number.unwrap_or(0), size.unwrap_or(DEFAULT_PAGE_SIZE)));
    }
    kind.check_includes(&params.include)?;
    Ok(params)
}

/// The comparable value of `field` on a rendered resource.
fn field<'a>(item: &'a Value, field: &str) -> &'a Value {
    if field == "id" {
        &item["id"]
    } else {
        &item["attributes"][field]
    }
}

fn matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s == wanted,
        Value::Number(n) => n.to_string() == wanted,
        Value::Bool(b) => b.to_string() == wanted,
        _ => false,
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Renders, filters, sorts and pages `ids` (already in default order) into a list document.
/// Each item also carries its own `included`, which is where the vendor SDK looks for it.
pub fn list(m: &Model, kind: Kind, ids: &[Id], params: &ListParams) -> Value {
    // Filtered and sorted on each resource's sort fields, taken once from its rendering without
    // relationships; only the page is rendered whole. (Rendering and comparing whole resources
    // for every page made a paged read of a large platform slow and quadratic, all of it under
    // the model's lock that writes wait for.)
    let mut keyed: Vec<(Id, Vec<Value>)> = ids
        .iter()
        .filter_map(|id| {
            let v = resource(m, kind, id, &[])?;
            let wanted = params
                .filters
                .iter()
                .all(|(f, wanted)| matches(field(&v, f), wanted));
            let key = params.sort.iter().map(|(f, _)| field(&v, f).clone());
            wanted.then(|| (*id, key.collect()))
        })
        .collect();
    // Stable: ties keep the default order.
    keyed.sort_by(|(_, a), (_, b)| {
        a.iter()
            .zip(b)
            .zip(&params.sort)
            .map(|((x, y), (_, desc))| {
                let ord = compare(x, y);
                if *desc { ord.reverse() } else { ord }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    let total = keyed.len();
    let (skip, take) = params.page.map_or((0, usize::MAX), |(number, size)| {
        (number.saturating_mul(size), size)
    });
    let page = keyed.into_iter().skip(skip).take(take).map(|(id, _)| id);
    let mut doc_included = Included::default();
    let data: Vec<Value> = page
        .filter_map(|id| {
            let mut item = resource(m, kind, &id, &params.include)?;
            if params.include.is_empty() {
                return Some(item);
            }
            let mut own = Included::default();
            own.add(m, kind, &id, &params.include);
            doc_included.add(m, kind, &id, &params.include);
            item["included"] = Value::Array(own.into_vec());
            Some(item)
        })
        .collect();
    let mut doc = json!({ "data": data, "meta": { "total": total } });
    if !params.include.is_empty() {
        doc["included"] = Value::Array(doc_included.into_vec());
    }
    doc
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{NewUser, NewUserGroup};

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Groups `b`, `a`, `c` (created in that order; gids 1, 3, 2; only `c` has a description),
    /// alice in `a` only.
    fn model() -> Model {
        let mut m = Model::new(Duration::ZERO);
        let alice = m
            .create_user(NewUser {
                username: "alice".into(),
                email: "alice@x.io".into(),
                ..Default::default()
            })
            .unwrap();
        for (name, gid, members) in [("b", 1, vec![]), ("a", 3, vec![alice]), ("c", 2, vec![])] {
            m.create_group(NewUserGroup {
                name: name.into(),
                gid: Some(gid),
                description: if name == "c" { "x" } else { "" }.into(),
                members,
                ..Default::default()
            })
            .unwrap();
        }
        m
    }

    fn names(doc: &Value) -> Vec<&str> {
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["attributes"]["name"].as_str().unwrap())
            .filter(|n| n.len() == 1)
            .collect()
    }

    fn list_groups(m: &Model, query: &[(&str, &str)]) -> Value {
        let params = parse(Kind::UserGroup, &pairs(query)).unwrap();
        let ids: Vec<Id> = m.groups().iter().map(|g| g.id).collect();
        list(m, Kind::UserGroup, &ids, &params)
    }

    #[test]
    fn sorts_by_each_key_in_turn_either_way_then_pages() {
        let m = model();
        let by_description_then_gid_desc = list_groups(
            &m,
            &[("sort", "-description,-gid"), ("filter[kind]", "local")],
        );
        // The second key decides between a and b, against their creation order.
        assert_eq!(names(&by_description_then_gid_desc), ["c", "a", "b"]);
        let second_page = list_groups(
            &m,
            &[("sort", "name"), ("page[number]", "1"), ("page[size]", "1")],
        );
        // Page 1 of the groups sorted by name (the built-in groups sort among them).
        let all = list_groups(&m, &[("sort", "name")]);
        let all_names: Vec<&str> = all["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["attributes"]["name"].as_str().unwrap())
            .collect();
        let mut sorted = all_names.clone();
        sorted.sort();
        assert_eq!(all_names, sorted);
        assert_eq!(
            second_page["data"][0]["attributes"]["name"], all_names[1],
            "page 1 of size 1 is the second by name"
        );
        assert_eq!(second_page["meta"]["total"], all_names.len());
    }

    #[test]
    fn filters_and_renders_includes_for_the_page_only() {
        let m = model();
        let doc = list_groups(&m, &[("filter[name]", "a"), ("include", "users")]);
        assert_eq!(names(&doc), ["a"]);
        assert_eq!(doc["meta"]["total"], 1);
        let item = &doc["data"][0];
        assert_eq!(item["relationships"]["users"]["data"][0]["type"], "user");
        assert_eq!(item["included"][0]["attributes"]["username"], "alice");
        assert_eq!(doc["included"][0]["attributes"]["username"], "alice");
        let plain = list_groups(&m, &[("filter[name]", "a")]);
        assert!(plain.get("included").is_none());
        assert!(plain["data"][0].get("included").is_none());
    }
}
