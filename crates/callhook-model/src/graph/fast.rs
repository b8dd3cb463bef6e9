//! The single-pass reader behind [`CommsNotifications::from_slice_fast`].
//!
//! It reads straight from the bytes into the model and gives up (returns `None`) at the first thing
//! that does not fit exactly, leaving those bodies to the tolerant path. The one structural
//! assumption is that a resource's `@odata.type` is its first member, as the platform writes it;
//! a resource that puts it elsewhere simply takes the tolerant path.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::parts::MeetingInfoKind;
use super::{
    Call, ChangeType, CommsNotification, CommsNotifications, ContentSharingSession,
    JoinMeetingIdMeetingInfo, MeetingInfo, Operation, OrganizerMeetingInfo, Participant,
    PlayPromptOperation, RecordOperation, Resource, ResourceData, ResourceKind, TokenMeetingInfo,
    graph_type_name_of,
};
use crate::wire::Key;

/// Reads an envelope, or `None` when the body needs the tolerant path.
pub(super) fn read_envelope(body: &[u8]) -> Option<CommsNotifications> {
    // One UTF-8 check of the whole body (word at a time over ASCII) instead of one per string,
    // which is what reading from bytes does, at a large share of the parse (docs/performance.md).
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str::<FastEnvelope>(text)
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
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "@odata.type" => item.odata_type = Some(map.next_value()?),
                "changeType" => item.change_type = Some(map.next_value::<ChangeType>()?),
                "resourceUrl" => item.resource_url = Some(map.next_value()?),
                "resource" => item.resource = Some(map.next_value()?),
                "callbackUri" => item.callback_uri = Some(map.next_value()?),
                "resourceData" => item.resource_data = map.next_value_seed(ResourceDataSeed)?,
                other => {
                    let value = map.next_value::<Value>()?;
                    item.extra.insert(other.to_owned(), value);
                }
            }
        }
        if item.resource_url.is_none() && item.resource.is_none() {
            return Err(serde::de::Error::custom(GIVE_UP));
        }
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
        let odata_type = read_leading_odata_type(&mut map)?;
        let resource = match graph_type_name_of(&odata_type).and_then(ResourceKind::of) {
            Some(ResourceKind::Call) => Resource::Call(read_typed(&odata_type, &mut map)?),
            Some(ResourceKind::Participant) => {
                Resource::Participant(read_typed(&odata_type, &mut map)?)
            }
            Some(ResourceKind::PlayPromptOperation) => {
                Resource::PlayPromptOperation(read_typed(&odata_type, &mut map)?)
            }
            Some(ResourceKind::RecordOperation) => {
                Resource::RecordOperation(read_typed(&odata_type, &mut map)?)
            }
            Some(ResourceKind::ContentSharingSession) => {
                Resource::ContentSharingSession(read_typed(&odata_type, &mut map)?)
            }
            Some(ResourceKind::Operation) => {
                Resource::Operation(read_typed(&odata_type, &mut map)?)
            }
            None => Resource::Unknown(read_untyped(odata_type.clone(), &mut map)?),
        };
        // A repeated `@odata.type` would make the tolerant path dispatch on the last one.
        if resource.odata_type() != Some(odata_type.as_str()) {
            return Err(serde::de::Error::custom(GIVE_UP));
        }
        Ok(FastResource(resource))
    }
}

/// Reads the first member of an object, which must be its `@odata.type`, and returns its text.
fn read_leading_odata_type<'de, A: MapAccess<'de>>(map: &mut A) -> Result<String, A::Error> {
    let give_up = || serde::de::Error::custom(GIVE_UP);
    let first = map.next_key::<Key<'de>>()?.ok_or_else(give_up)?;
    if first.as_str() != "@odata.type" {
        return Err(give_up());
    }
    map.next_value()
}

/// The objects the single-pass reader reads by their `@odata.type`.
trait Typed: Default {
    fn set_odata_type(&mut self, odata_type: &str);
    fn read_rest<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error>;
}

macro_rules! typed {
    ($($name:ty),* $(,)?) => {$(
        impl Typed for $name {
            fn set_odata_type(&mut self, odata_type: &str) {
                self.odata_type = Some(odata_type.to_owned());
            }

            fn read_rest<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
                self.read_remaining_members::<true, A>(map)
            }
        }
    )*};
}

typed!(
    Call,
    Participant,
    PlayPromptOperation,
    RecordOperation,
    ContentSharingSession,
    Operation,
    OrganizerMeetingInfo,
    TokenMeetingInfo,
    JoinMeetingIdMeetingInfo,
);

/// Reads the members after `@odata.type` into a `T`, boxed from the start so that the (large)
/// model is written in place rather than moved.
fn read_typed<'de, T: Typed, A: MapAccess<'de>>(
    odata_type: &str,
    map: &mut A,
) -> Result<Box<T>, A::Error> {
    let mut value = Box::<T>::default();
    value.set_odata_type(odata_type);
    value.read_rest(map)?;
    Ok(value)
}

/// Reads the members after `@odata.type` of a kind this version does not model, as JSON.
fn read_untyped<'de, A: MapAccess<'de>>(
    odata_type: String,
    map: &mut A,
) -> Result<Value, A::Error> {
    let mut object = Map::new();
    object.insert("@odata.type".to_owned(), Value::String(odata_type));
    while let Some(key) = map.next_key::<String>()? {
        let value = map.next_value::<Value>()?;
        object.insert(key, value);
    }
    Ok(Value::Object(object))
}

/// A `meetingInfo` read in one pass: [`MeetingInfo`]'s own `Deserialize` buffers the whole object
/// as JSON first (it must never fail), which was a third of reading a typical incoming call.
pub(crate) struct FastMeetingInfo(MeetingInfo);

impl From<FastMeetingInfo> for MeetingInfo {
    fn from(info: FastMeetingInfo) -> Self {
        info.0
    }
}

impl<'de> Deserialize<'de> for FastMeetingInfo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MeetingInfoVisitor)
    }
}

struct MeetingInfoVisitor;

impl<'de> Visitor<'de> for MeetingInfoVisitor {
    type Value = FastMeetingInfo;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a meetingInfo object starting with @odata.type")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastMeetingInfo, A::Error> {
        let odata_type = read_leading_odata_type(&mut map)?;
        let info = match graph_type_name_of(&odata_type).and_then(MeetingInfoKind::of) {
            Some(MeetingInfoKind::Organizer) => {
                MeetingInfo::Organizer(read_typed(&odata_type, &mut map)?)
            }
            Some(MeetingInfoKind::Token) => MeetingInfo::Token(read_typed(&odata_type, &mut map)?),
            Some(MeetingInfoKind::JoinMeetingId) => {
                MeetingInfo::JoinMeetingId(read_typed(&odata_type, &mut map)?)
            }
            None => MeetingInfo::Unknown(read_untyped(odata_type.clone(), &mut map)?),
        };
        // As for resources: the tolerant path would dispatch on a repeated `@odata.type`.
        if info.odata_type() != Some(odata_type.as_str()) {
            return Err(serde::de::Error::custom(GIVE_UP));
        }
        Ok(FastMeetingInfo(info))
    }
}
