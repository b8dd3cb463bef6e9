//! The single-pass reader behind [`CommsNotifications::from_slice_fast`].
//!
//! It reads straight from the bytes into the model and gives up (returns `None`) at the first thing
//! that does not fit exactly, leaving those bodies to the tolerant path. The one structural
//! assumption is that a resource's `@odata.type` is its first member, as the platform writes it;
//! a resource that puts it elsewhere simply takes the tolerant path.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::{
    Call, ChangeType, CommsNotification, CommsNotifications, ContentSharingSession, Operation,
    Participant, PlayPromptOperation, RecordOperation, Resource, ResourceData, graph_type_name_of,
};
use crate::wire::Key;

/// Reads an envelope, or `None` when the body needs the tolerant path.
pub(super) fn read_envelope(body: &[u8]) -> Option<CommsNotifications> {
    serde_json::from_slice::<FastEnvelope>(body)
        .ok()
        .map(|envelope| envelope.0)
}

/// Why the fast path gave up; the tolerant path finds the real reason.
const GIVE_UP: &str = "not read by the single-pass reader";

struct FastEnvelope(CommsNotifications);

impl<'de> Deserialize<'de> for FastEnvelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = FastEnvelope;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a commsNotifications object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastEnvelope, A::Error> {
        let mut envelope = CommsNotifications::default();
        let mut has_value = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "@odata.type" => envelope.odata_type = Some(map.next_value()?),
                "value" => {
                    let items: Vec<FastItem> = map.next_value()?;
                    envelope.value = items.into_iter().map(|item| item.0).collect();
                    // A repeated `value` would leave the tolerant path with the last one only.
                    if has_value {
                        return Err(serde::de::Error::custom(GIVE_UP));
                    }
                    has_value = true;
                }
                other => {
                    let value = map.next_value::<Value>()?;
                    envelope.extra.insert(other.to_owned(), value);
                }
            }
        }
        if !has_value {
            return Err(serde::de::Error::custom(GIVE_UP));
        }
        Ok(FastEnvelope(envelope))
    }
}

struct FastItem(CommsNotification);

impl<'de> Deserialize<'de> for FastItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = FastItem;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a commsNotification object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastItem, A::Error> {
        let mut item = CommsNotification::default();
        let mut resource_url = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "@odata.type" => item.odata_type = Some(map.next_value()?),
                "changeType" => item.change_type = Some(map.next_value::<ChangeType>()?),
                "resourceUrl" => resource_url = Some(map.next_value::<String>()?),
                "resource" => item.resource = Some(map.next_value()?),
                "callbackUri" => item.callback_uri = Some(map.next_value()?),
                "resourceData" => item.resource_data = map.next_value_seed(ResourceDataSeed)?,
                other => {
                    let value = map.next_value::<Value>()?;
                    item.extra.insert(other.to_owned(), value);
                }
            }
        }
        item.resource_url = resource_url.ok_or_else(|| serde::de::Error::custom(GIVE_UP))?;
        Ok(FastItem(item))
    }
}

struct ResourceDataSeed;

impl<'de> DeserializeSeed<'de> for ResourceDataSeed {
    type Value = ResourceData;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ResourceData, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResourceDataSeed {
    type Value = ResourceData;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("an object or an array of resources")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ResourceData, A::Error> {
        ResourceVisitor
            .visit_map(map)
            .map(|resource| ResourceData::Object(Box::new(resource.0)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResourceData, A::Error> {
        let mut resources = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(resource) = seq.next_element::<FastResource>()? {
            resources.push(resource.0);
        }
        Ok(ResourceData::Array(resources))
    }
}

struct FastResource(Resource);

impl<'de> Deserialize<'de> for FastResource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ResourceVisitor)
    }
}

struct ResourceVisitor;

impl<'de> Visitor<'de> for ResourceVisitor {
    type Value = FastResource;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a resource object starting with @odata.type")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastResource, A::Error> {
        let give_up = || serde::de::Error::custom(GIVE_UP);
        let first = map.next_key::<Key<'de>>()?.ok_or_else(give_up)?;
        if first.as_str() != "@odata.type" {
            return Err(give_up());
        }
        let odata_type: String = map.next_value()?;
        let kind = graph_type_name_of(&odata_type).map(str::to_ascii_lowercase);
        let resource = match kind.as_deref() {
            Some("call") => Resource::Call(Box::new(
                Call {
                    odata_type: Some(odata_type.clone()),
                    ..Call::default()
                }
                .read_remaining_members(&mut map)?,
            )),
            Some("participant") => Resource::Participant(Box::new(
                Participant {
                    odata_type: Some(odata_type.clone()),
                    ..Participant::default()
                }
                .read_remaining_members(&mut map)?,
            )),
            Some("playpromptoperation") => Resource::PlayPromptOperation(Box::new(
                PlayPromptOperation {
                    odata_type: Some(odata_type.clone()),
                    ..Default::default()
                }
                .read_remaining_members(&mut map)?,
            )),
            Some("recordoperation") => Resource::RecordOperation(Box::new(
                RecordOperation {
                    odata_type: Some(odata_type.clone()),
                    ..Default::default()
                }
                .read_remaining_members(&mut map)?,
            )),
            Some("contentsharingsession") => Resource::ContentSharingSession(Box::new(
                ContentSharingSession {
                    odata_type: Some(odata_type.clone()),
                    ..Default::default()
                }
                .read_remaining_members(&mut map)?,
            )),
            Some(name) if name.ends_with("operation") => Resource::Operation(Box::new(
                Operation {
                    odata_type: Some(odata_type.clone()),
                    ..Operation::default()
                }
                .read_remaining_members(&mut map)?,
            )),
            _ => {
                let mut object = Map::new();
                object.insert("@odata.type".to_owned(), Value::String(odata_type.clone()));
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<Value>()?;
                    object.insert(key, value);
                }
                Resource::Unknown(Value::Object(object))
            }
        };
        // A repeated `@odata.type` would make the tolerant path dispatch on the last one.
        if resource.odata_type() != Some(odata_type.as_str()) {
            return Err(give_up());
        }
        Ok(FastResource(resource))
    }
}
