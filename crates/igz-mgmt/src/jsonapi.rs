//! JSON:API envelopes as the management API uses them, decoded leniently: unknown fields are
//! ignored, absent or `null` optional fields take their default, and a value of the wrong type
//! is a `Decode` error naming the field's path.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::error::MgmtError;

/// `{"data": ..., "included": [...]}`. `K` chooses which included resources are kept: a page
/// of groups includes every member's full user resource, which is parsed one at a time and
/// dropped at once when nobody needs it (the answer's size must not become the client's).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
pub(crate) struct Document<D, K: Keep = KeepAll> {
    pub data: D,
    #[serde(default, deserialize_with = "kept::<_, K>")]
    pub included: Vec<Resource<serde_json::Value>>,
    #[serde(skip)]
    keep: PhantomData<K>,
}

/// Which included resources a [`Document`] keeps, by type.
pub(crate) trait Keep {
    fn keep(kind: &str) -> bool;
}

#[derive(Debug)]
pub(crate) struct KeepAll;
impl Keep for KeepAll {
    fn keep(_: &str) -> bool {
        true
    }
}

/// For answers whose relationships (ids) are all the caller reads.
#[derive(Debug)]
pub(crate) struct KeepNone;
impl Keep for KeepNone {
    fn keep(_: &str) -> bool {
        false
    }
}

/// Only a project's authorization roles (not the principals' own resources).
#[derive(Debug)]
pub(crate) struct KeepRoles;
impl Keep for KeepRoles {
    fn keep(kind: &str) -> bool {
        kind == "project_authorization_role"
    }
}

/// Reads `included` one resource at a time, keeping those `K` wants; `null` reads as empty.
fn kept<'de, De, K: Keep>(de: De) -> Result<Vec<Resource<serde_json::Value>>, De::Error>
where
    De: Deserializer<'de>,
{
    struct Items<K>(PhantomData<K>);
    impl<'de, K: Keep> serde::de::Visitor<'de> for Items<K> {
        type Value = Vec<Resource<serde_json::Value>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of resources")
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_seq<S: serde::de::SeqAccess<'de>>(
            self,
            mut seq: S,
        ) -> Result<Self::Value, S::Error> {
            let mut kept = Vec::new();
            while let Some(item) = seq.next_element::<Resource<serde_json::Value>>()? {
                if K::keep(&item.kind) {
                    kept.push(item);
                }
            }
            Ok(kept)
        }
    }
    de.deserialize_any(Items::<K>(PhantomData))
}

/// `{"type", "id", "attributes", "relationships"}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Resource<A> {
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    #[serde(
        default = "default_of",
        deserialize_with = "nullable",
        bound(deserialize = "A: Deserialize<'de> + Default")
    )]
    pub attributes: A,
    #[serde(default, deserialize_with = "nullable")]
    pub relationships: BTreeMap<String, Relationship>,
}

fn default_of<A: Default>() -> A {
    A::default()
}

/// `{"data": linkage}`; `data` may be absent, `null`, one identifier or a list.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Relationship {
    #[serde(default)]
    pub data: Option<Linkage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Linkage {
    Many(Vec<Identifier>),
    One(Identifier),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Identifier {
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub kind: String,
    pub id: String,
}

impl Identifier {
    pub fn new(kind: &str, id: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.to_owned(),
        }
    }
}

impl<A> Resource<A> {
    /// Ids linked under `name`: `None` when the relationship is absent (the server did not
    /// include it), an empty list when it is present but empty or `null`.
    pub fn related_ids(&self, name: &str) -> Option<Vec<String>> {
        let rel = self.relationships.get(name)?;
        Some(match &rel.data {
            None => Vec::new(),
            Some(Linkage::One(one)) => vec![one.id.clone()],
            Some(Linkage::Many(many)) => many.iter().map(|i| i.id.clone()).collect(),
        })
    }
}

/// Treats an explicit `null` like an absent field.
pub(crate) fn nullable<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// Decodes a response body; the error names the JSON path that did not fit.
pub(crate) fn decode<T: DeserializeOwned>(context: &str, body: &[u8]) -> Result<T, MgmtError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| MgmtError::decode(context, &e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| MgmtError::decode(context, "", e))?;
    Ok(value)
}

/// Decodes an included resource's attributes; the error path starts at `included[i]`.
pub(crate) fn decode_included<A: DeserializeOwned>(
    context: &str,
    index: usize,
    resource: &Resource<serde_json::Value>,
) -> Result<A, MgmtError> {
    serde_path_to_error::deserialize(&resource.attributes).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." {
            format!("included[{index}].attributes")
        } else {
            format!("included[{index}].attributes.{inner}")
        };
        MgmtError::decode(context, &path, e.inner())
    })
}

/// An outgoing `{"data": {...}}` body.
#[derive(Debug, Serialize)]
pub(crate) struct Outgoing<A> {
    pub data: OutResource<A>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutResource<A> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: A,
    pub relationships: BTreeMap<&'static str, OutRelationship>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutRelationship {
    pub data: Vec<Identifier>,
}

impl<A> Outgoing<A> {
    pub fn new(kind: &'static str, attributes: A) -> Self {
        Self {
            data: OutResource {
                kind,
                attributes,
                relationships: BTreeMap::new(),
            },
        }
    }

    /// Adds a to-many relationship, e.g. `users` with the given ids of type `user`.
    pub fn with_many(mut self, name: &'static str, kind: &str, ids: &[String]) -> Self {
        let data = ids.iter().map(|id| Identifier::new(kind, id)).collect();
        self.data
            .relationships
            .insert(name, OutRelationship { data });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[derive(Debug, Default, Deserialize)]
    struct Attrs {
        #[serde(default, deserialize_with = "nullable")]
        name: String,
        #[serde(default, deserialize_with = "nullable")]
        gid: i64,
    }

    #[test]
    fn unknown_fields_are_ignored_and_nulls_default() {
        let body =
            br#"{"data":{"type":"user_group","id":"g1","attributes":{"name":null,"extra":[1,2]},
            "relationships":{"users":{"data":null},"owner":{"data":{"type":"user","id":"u1"}},
            "links_only":{"links":{}}}},"meta":{"ctx":"x"}}"#;
        let doc: Document<Resource<Attrs>> = decode("test", body).unwrap();
        assert_eq!(doc.data.id, "g1");
        assert_eq!(doc.data.attributes.name, "");
        assert_eq!(doc.data.attributes.gid, 0);
        assert_eq!(doc.data.related_ids("users"), Some(vec![]));
        assert_eq!(doc.data.related_ids("owner"), Some(vec!["u1".to_owned()]));
        assert_eq!(doc.data.related_ids("links_only"), Some(vec![]));
        assert_eq!(doc.data.related_ids("missing"), None);
        assert!(doc.included.is_empty());
    }

    #[test]
    fn wrong_types_name_the_field() {
        let body = br#"{"data":{"id":"g1","attributes":{"gid":"seven"}}}"#;
        let err =
            decode::<Document<Resource<Attrs>>>("GET /api/user_groups/{id}", body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.to_string().contains("`data.attributes.gid`"), "{err}");

        let body = br#"{"data":[{"id":"a"},{"id":7}]}"#;
        let err = decode::<Document<Vec<Resource<Attrs>>>>("list", body).unwrap_err();
        assert!(err.to_string().contains("`data[1].id`"), "{err}");
    }

    #[test]
    fn malformed_bodies_are_decode_errors() {
        for body in [
            &b""[..],
            b"{",
            b"not json",
            b"{\"data\":{}} trailing",
            b"[]",
            b"\xff",
        ] {
            let err = decode::<Document<Resource<Attrs>>>("x", body).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{body:?}");
        }
    }

    #[test]
    fn included_resources_are_kept_by_type() {
        let body = br#"{"data": [], "included": [
            {"type": "user", "id": "u1", "attributes": {"username": "a"}},
            {"type": "project_authorization_role", "id": "r1", "attributes": {"name": "Admin"}},
            {"type": "user_group", "id": "g1"}]}"#;
        let all: Document<Vec<Resource<Attrs>>> = decode("x", body).unwrap();
        assert_eq!(all.included.len(), 3);
        let roles: Document<Vec<Resource<Attrs>>, KeepRoles> = decode("x", body).unwrap();
        let ids: Vec<&str> = roles.included.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["r1"]);
        let none: Document<Vec<Resource<Attrs>>, KeepNone> = decode("x", body).unwrap();
        assert!(none.included.is_empty());
        // Absent or null: empty; not a list: an error naming the field.
        let absent: Document<Vec<Resource<Attrs>>, KeepNone> =
            decode("x", br#"{"data": []}"#).unwrap();
        assert!(absent.included.is_empty());
        let null: Document<Vec<Resource<Attrs>>, KeepRoles> =
            decode("x", br#"{"data": [], "included": null}"#).unwrap();
        assert!(null.included.is_empty());
        let err = decode::<Document<Vec<Resource<Attrs>>, KeepNone>>(
            "x",
            br#"{"data": [], "included": 7}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("included"), "{err}");
    }

    #[test]
    fn included_attributes_decode_with_their_index() {
        let body =
            br#"{"data":{"id":"p"},"included":[{"type":"t","id":"a","attributes":{"name":"ok"}},
            {"type":"t","id":"b","attributes":{"name":5}}]}"#;
        let doc: Document<Resource<Attrs>> = decode("x", body).unwrap();
        let first: Attrs = decode_included("x", 0, &doc.included[0]).unwrap();
        assert_eq!(first.name, "ok");
        let err = decode_included::<Attrs>("x", 1, &doc.included[1]).unwrap_err();
        assert!(
            err.to_string().contains("`included[1].attributes.name`"),
            "{err}"
        );
    }

    #[test]
    fn outgoing_bodies_have_the_json_api_shape() {
        let body = Outgoing::new("user_group", serde_json::json!({"name": "g"})).with_many(
            "users",
            "user",
            &["u1".to_owned()],
        );
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"data": {"type": "user_group", "attributes": {"name": "g"},
                "relationships": {"users": {"data": [{"type": "user", "id": "u1"}]}}}})
        );
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..256)) {
                let _ = decode::<Document<Vec<Resource<Attrs>>>>("x", &body);
            }

            #[test]
            fn arbitrary_json(value in arb_json()) {
                let body = serde_json::to_vec(&value).unwrap();
                let _ = decode::<Document<Resource<Attrs>>>("x", &body);
                let _ = decode::<Document<Vec<Resource<Attrs>>>>("x", &body);
            }
        }

        fn arb_json() -> impl Strategy<Value = serde_json::Value> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                "[a-z]{0,4}".prop_map(serde_json::Value::from),
            ];
            leaf.prop_recursive(4, 32, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4)
                        .prop_map(serde_json::Value::from),
                    proptest::collection::btree_map(
                        prop_oneof![
                            Just("data".to_owned()),
                            Just("attributes".to_owned()),
                            Just("id".to_owned()),
                            Just("relationships".to_owned()),
                            Just("gid".to_owned()),
                            "[a-z]{1,3}"
                        ],
                        inner,
                        0..4
                    )
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
                ]
            })
        }
    }
}
