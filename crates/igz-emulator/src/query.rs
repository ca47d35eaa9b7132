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
    let mut items: Vec<(Id, Value)> = ids
        .iter()
        .filter_map(|id| resource(m, kind, id, &params.include).map(|v| (*id, v)))
        .filter(|(_, v)| {
            params
                .filters
                .iter()
                .all(|(f, wanted)| matches(field(v, f), wanted))
        })
        .collect();
    if !params.sort.is_empty() {
        items.sort_by(|(_, a), (_, b)| {
            params
                .sort
                .iter()
                .map(|(f, desc)| {
                    let ord = compare(field(a, f), field(b, f));
                    if *desc { ord.reverse() } else { ord }
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
    let total = items.len();
    if let Some((number, size)) = params.page {
        items = items
            .into_iter()
            .skip(number.saturating_mul(size))
            .take(size)
            .collect();
    }
    let mut doc_included = Included::default();
    let data: Vec<Value> = items
        .into_iter()
        .map(|(id, mut item)| {
            if !params.include.is_empty() {
                let mut own = Included::default();
                own.add(m, kind, &id, &params.include);
                doc_included.add(m, kind, &id, &params.include);
                item["included"] = Value::Array(own.into_vec());
            }
            item
        })
        .collect();
    let mut doc = json!({ "data": data, "meta": { "total": total } });
    if !params.include.is_empty() {
        doc["included"] = Value::Array(doc_included.into_vec());
    }
    doc
}
