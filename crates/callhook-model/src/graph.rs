//! The Microsoft Graph notification format: `commsNotifications` and everything inside them.
//!
//! # What is required, and what is tolerated
//!
//! Only the envelope decides whether a body is a Graph notification (see [`EnvelopeError`]):
//!
//! * the body is a JSON object with a `value` member;
//! * `value` is an array, and every item of it is an object;
//! * every item has a resource path: a `resourceUrl` string, or a `resource` string (the older
//!   form, `/app/calls/{id}`, which the platform's own documentation and real traffic show alone).
//!
//! Everything else is optional and tolerant, because a webhook must never refuse a real platform
//! notification over a detail of the model:
//!
//! * unknown members are kept in `extra` at every level;
//! * enumerations compare case-insensitively and keep unknown values;
//! * an item member the model cannot read (for example a `changeType` that is not a string, or a
//!   `resourceData` that is `null` or a number) is kept in the item's `extra` under its own key;
//! * a member of a resource that does not fit the model (a call's `id` sent as a number, say) is
//!   kept in that resource's `extra`, and the rest of the resource is read as usual;
//! * a resource whose `@odata.type` is unknown or missing is kept as [`Resource::Unknown`] with its
//!   raw JSON.
//!
//! Serializing writes back everything that was read. Two normalisations are documented: a known
//! enumeration value is written in its documented spelling (`"Incoming"` becomes `"incoming"`), and a
//! modelled optional member whose value was JSON `null` is read as absent and therefore not written.

pub mod facts;
mod parts;
mod resources;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use crate::code::ResultCode;
pub use crate::enums::{
    CallDirection, CallState, ChangeType, EndpointType, MediaDirection, MediaStatus, Modality,
    OperationStatus, PlayPromptCompletionReason, RecordCompletionReason, Tone,
};
pub use parts::{
    ChatInfo, Identity, IdentitySet, IncomingContext, InvitationParticipantInfo,
    JoinMeetingIdMeetingInfo, MediaState, MediaStream, MeetingInfo, OrganizerMeetingInfo,
    ParticipantInfo, ResultInfo, TokenMeetingInfo, ToneInfo,
};
pub use resources::{
    Call, ContentSharingSession, Operation, Participant, PlayPromptOperation, RecordOperation,
};

/// Why a JSON value is not a Graph `commsNotifications` envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The JSON value is not an object.
    NotAnObject,
    /// The object has no `value` member.
    MissingValue,
    /// The `value` member is not an array.
    ValueNotArray,
    /// An item of `value` is not a JSON object.
    ItemNotObject {
        /// The item's position in `value`, from 0.
        index: usize,
    },
    /// An item of `value` has neither a `resourceUrl` string nor a `resource` string.
    ItemWithoutResource {
        /// The item's position in `value`, from 0.
        index: usize,
    },
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnObject => formatter.write_str("a Graph notification must be a JSON object"),
            Self::MissingValue => formatter.write_str("JSON object has no `value`"),
            Self::ValueNotArray => formatter.write_str("`value` must be an array"),
            Self::ItemNotObject { index } => {
                write!(formatter, "`value[{index}]` must be an object")
            }
            Self::ItemWithoutResource { index } => write!(
                formatter,
                "`value[{index}]` has neither a `resourceUrl` nor a `resource` string, so it names \
                 no call"
            ),
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// A Graph `commsNotifications` envelope: one POST from the platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CommsNotifications {
    /// `@odata.type` (`#microsoft.graph.commsNotifications`), when present.
    #[serde(rename = "@odata.type", skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<String>,
    /// The notifications, in the order they were sent.
    pub value: Vec<CommsNotification>,
    /// Members this version does not model, kept exactly as they were sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CommsNotifications {
    /// Reads an envelope from parsed JSON; see the [module documentation](self) for what is required.
    pub fn from_value(value: Value) -> Result<Self, EnvelopeError> {
        match value {
            Value::Object(object) => Self::from_json_object(object),
            _ => Err(EnvelopeError::NotAnObject),
        }
    }

    /// Reads an envelope from a parsed JSON object; see the [module documentation](self).
    pub fn from_json_object(mut object: Map<String, Value>) -> Result<Self, EnvelopeError> {
        let items = match object.shift_remove("value") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(EnvelopeError::ValueNotArray),
            None => return Err(EnvelopeError::MissingValue),
        };
        let value = items
            .into_iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::Object(item) => CommsNotification::from_json_object(item)
                    .ok_or(EnvelopeError::ItemWithoutResource { index }),
                _ => Err(EnvelopeError::ItemNotObject { index }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let odata_type = take_string(&mut object, "@odata.type");
        Ok(Self {
            odata_type,
            value,
            extra: object,
        })
    }

    /// The notifications.
    pub fn iter(&self) -> std::slice::Iter<'_, CommsNotification> {
        self.value.iter()
    }

    /// The number of notifications.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// True when `value` is empty.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The notifications that announce a new incoming call (see
    /// [`CommsNotification::is_new_incoming_call`]).
    pub fn new_incoming_calls(&self) -> impl Iterator<Item = &CommsNotification> {
        self.value
            .iter()
            .filter(|notification| notification.is_new_incoming_call())
    }
}

impl<'a> IntoIterator for &'a CommsNotifications {
    type Item = &'a CommsNotification;
    type IntoIter = std::slice::Iter<'a, CommsNotification>;

    fn into_iter(self) -> Self::IntoIter {
        self.value.iter()
    }
}

impl<'de> Deserialize<'de> for CommsNotifications {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = Map::deserialize(deserializer)?;
        Self::from_json_object(object).map_err(serde::de::Error::custom)
    }
}

/// One Graph `commsNotification`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommsNotification {
    /// `@odata.type` (`#microsoft.graph.commsNotification`), when present.
    #[serde(rename = "@odata.type", skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<String>,
    /// What happened; `None` when absent or not a string (then kept in `extra`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_type: Option<ChangeType>,
    /// The resource path, for example `/communications/calls/{id}`. Absent only when `resource`
    /// is present: an item read from JSON has at least one of the two (see
    /// [`CommsNotification::resource_path`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_url: Option<String>,
    /// The old form of the resource path, for example `/app/calls/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The callback URI the call was answered with, when the platform repeats it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
    /// The resource itself: an object, an array, or absent.
    #[serde(skip_serializing_if = "ResourceData::is_absent")]
    pub resource_data: ResourceData,
    /// Members this version does not model, or could not read, kept exactly as they were sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CommsNotification {
    /// Reads one item of `value`; `None` when it has neither a `resourceUrl` string nor a
    /// `resource` string, the one requirement.
    pub fn from_json_object(mut object: Map<String, Value>) -> Option<Self> {
        let resource_url = take_string(&mut object, "resourceUrl");
        let resource = take_string(&mut object, "resource");
        if resource_url.is_none() && resource.is_none() {
            return None;
        }
        let odata_type = take_string(&mut object, "@odata.type");
        let change_type =
            take_string(&mut object, "changeType").map(|text| ChangeType::parse(&text));
        let callback_uri = take_string(&mut object, "callbackUri");
        // A `resourceData` that is neither an object nor an array (for example `null`) stays in
        // `extra`, so that it is written back as it came.
        let resource_data = match object.get("resourceData") {
            Some(Value::Object(_) | Value::Array(_)) => object
                .shift_remove("resourceData")
                .map(ResourceData::from_value)
                .unwrap_or_default(),
            _ => ResourceData::Absent,
        };
        Some(Self {
            odata_type,
            change_type,
            resource_url,
            resource,
            callback_uri,
            resource_data,
            extra: object,
        })
    }

    /// The call id, from `resourceUrl` (`/communications/calls/{id}...`), else from `resource`
    /// (`/app/calls/{id}`), else the `id` of a call in `resourceData`.
    pub fn call_id(&self) -> Option<&str> {
        (self.resource_url.as_deref().and_then(call_id_from_path))
            .or_else(|| self.resource.as_deref().and_then(call_id_from_path))
            .or_else(|| self.call().and_then(|call| call.id.as_deref()))
    }

    /// The resource path: `resourceUrl`, else `resource` (the older form, for example
    /// `/app/calls/{id}`). Every item read from JSON has one.
    pub fn resource_path(&self) -> Option<&str> {
        self.resource_url.as_deref().or(self.resource.as_deref())
    }

    /// The call in `resourceData`, when `resourceData` is a single call.
    pub fn call(&self) -> Option<&Call> {
        match &self.resource_data {
            ResourceData::Object(resource) => match resource.as_ref() {
                Resource::Call(call) => Some(call),
                _ => None,
            },
            _ => None,
        }
    }

    /// What happened, when the platform said so.
    pub fn change_type(&self) -> Option<&ChangeType> {
        self.change_type.as_ref()
    }

    /// True for the notification a bot must answer within 15 seconds: `changeType` `created` and a
    /// call in state `incoming`.
    pub fn is_new_incoming_call(&self) -> bool {
        self.change_type == Some(ChangeType::Created)
            && self.call().and_then(Call::state) == Some(&CallState::Incoming)
    }

    /// The `@odata.type` of `resourceData`, exactly as sent (for example `#microsoft.graph.call`).
    ///
    /// For an array this is the type of its first element, because the platform sends arrays of one
    /// kind (participants, content-sharing sessions); `None` for an empty array, for absent
    /// `resourceData`, and for a resource without `@odata.type`.
    pub fn resource_type(&self) -> Option<&str> {
        match &self.resource_data {
            ResourceData::Absent => None,
            ResourceData::Object(resource) => resource.odata_type(),
            ResourceData::Array(resources) => resources.first().and_then(Resource::odata_type),
        }
    }

    /// The state of the call in `resourceData`.
    pub fn state(&self) -> Option<&CallState> {
        self.call().and_then(Call::state)
    }
}

impl<'de> Deserialize<'de> for CommsNotification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = Map::deserialize(deserializer)?;
        Self::from_json_object(object).ok_or_else(|| {
            serde::de::Error::custom("neither a `resourceUrl` nor a `resource` string")
        })
    }
}

/// The `resourceData` of a notification.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ResourceData {
    /// No `resourceData` (for example content-sharing notifications).
    #[default]
    Absent,
    /// A single resource (a call or an operation).
    Object(Box<Resource>),
    /// Several resources (participants, content-sharing sessions).
    Array(Vec<Resource>),
}

impl ResourceData {
    /// Reads `resourceData` from JSON; `null` and scalars read as [`ResourceData::Absent`].
    ///
    /// Within a notification, a `null` or scalar `resourceData` is kept in the item's `extra`
    /// instead (see [`CommsNotification::from_json_object`]), so nothing is lost there.
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Object(_) => Self::Object(Box::new(Resource::from_value(value))),
            Value::Array(items) => {
                Self::Array(items.into_iter().map(Resource::from_value).collect())
            }
            _ => Self::Absent,
        }
    }

    /// True when there is no `resourceData`.
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    /// The resources: none, one, or all of the array.
    pub fn resources(&self) -> &[Resource] {
        match self {
            Self::Absent => &[],
            Self::Object(resource) => std::slice::from_ref(resource.as_ref()),
            Self::Array(resources) => resources,
        }
    }
}

impl Serialize for ResourceData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Absent => serializer.serialize_none(),
            Self::Object(resource) => resource.serialize(serializer),
            Self::Array(resources) => resources.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ResourceData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from_value)
    }
}

/// A resource in `resourceData`, dispatched on its `@odata.type`.
///
/// The type is compared case-insensitively, with or without the leading `#`, and with or without
/// the `microsoft.graph.` namespace. Anything this version does not model, including objects without
/// `@odata.type`, is kept as [`Resource::Unknown`] with the raw JSON; a member of a known type that
/// does not fit the model (a call's `id` sent as a number, say) is kept in the resource's `extra`,
/// so that the rest stays readable. Reading a resource never fails.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Resource {
    /// `#microsoft.graph.call`.
    Call(Box<Call>),
    /// `#microsoft.graph.participant`.
    Participant(Box<Participant>),
    /// `#microsoft.graph.playPromptOperation`.
    PlayPromptOperation(Box<PlayPromptOperation>),
    /// `#microsoft.graph.recordOperation`.
    RecordOperation(Box<RecordOperation>),
    /// `#microsoft.graph.commsOperation` or any other `#microsoft.graph.*Operation`.
    Operation(Box<Operation>),
    /// `#microsoft.graph.contentSharingSession`.
    ContentSharingSession(Box<ContentSharingSession>),
    /// Anything else, as sent.
    Unknown(Value),
}

impl Resource {
    /// Reads a resource from JSON; never fails (see the type's documentation).
    pub fn from_value(value: Value) -> Self {
        let read = match graph_type_name(&value).and_then(ResourceKind::of) {
            Some(ResourceKind::Call) => read_with_fallback(value, Self::Call),
            Some(ResourceKind::Participant) => read_with_fallback(value, Self::Participant),
            Some(ResourceKind::PlayPromptOperation) => {
                read_with_fallback(value, Self::PlayPromptOperation)
            }
            Some(ResourceKind::RecordOperation) => read_with_fallback(value, Self::RecordOperation),
            Some(ResourceKind::ContentSharingSession) => {
                read_with_fallback(value, Self::ContentSharingSession)
            }
            Some(ResourceKind::Operation) => read_with_fallback(value, Self::Operation),
            None => Err(value),
        };
        read.unwrap_or_else(Self::Unknown)
    }

    /// The `@odata.type`, exactly as sent.
    pub fn odata_type(&self) -> Option<&str> {
        match self {
            Self::Call(call) => call.odata_type.as_deref(),
            Self::Participant(participant) => participant.odata_type.as_deref(),
            Self::PlayPromptOperation(operation) => operation.odata_type.as_deref(),
            Self::RecordOperation(operation) => operation.odata_type.as_deref(),
            Self::Operation(operation) => operation.odata_type.as_deref(),
            Self::ContentSharingSession(session) => session.odata_type.as_deref(),
            Self::Unknown(value) => value.get("@odata.type").and_then(Value::as_str),
        }
    }

    /// A short name of the variant, for logs and summaries (`call`, `participant`, ..., `unknown`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Call(_) => "call",
            Self::Participant(_) => "participant",
            Self::PlayPromptOperation(_) => "playPromptOperation",
            Self::RecordOperation(_) => "recordOperation",
            Self::Operation(_) => "operation",
            Self::ContentSharingSession(_) => "contentSharingSession",
            Self::Unknown(_) => "unknown",
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Call(call) => call.serialize(serializer),
            Self::Participant(participant) => participant.serialize(serializer),
            Self::PlayPromptOperation(operation) => operation.serialize(serializer),
            Self::RecordOperation(operation) => operation.serialize(serializer),
            Self::Operation(operation) => operation.serialize(serializer),
            Self::ContentSharingSession(session) => session.serialize(serializer),
            Self::Unknown(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from_value)
    }
}

/// The kinds of resource the model reads, by the name of their `@odata.type`: the one table that
/// both the model ([`Resource::from_value`]) and the facts reader (`facts.rs`) dispatch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceKind {
    Call,
    Participant,
    PlayPromptOperation,
    RecordOperation,
    ContentSharingSession,
    /// `commsOperation` and every other `*Operation`.
    Operation,
}

impl ResourceKind {
    /// The kind of a type name (without `#` and namespace), compared case-insensitively.
    pub(crate) fn of(name: &str) -> Option<Self> {
        const KINDS: [(&str, ResourceKind); 5] = [
            ("call", ResourceKind::Call),
            ("participant", ResourceKind::Participant),
            ("playPromptOperation", ResourceKind::PlayPromptOperation),
            ("recordOperation", ResourceKind::RecordOperation),
            ("contentSharingSession", ResourceKind::ContentSharingSession),
        ];
        KINDS
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, kind)| *kind)
            .or_else(|| {
                let suffix = name.len().checked_sub("operation".len())?;
                name.get(suffix..)
                    .filter(|end| end.eq_ignore_ascii_case("operation"))
                    .map(|_| ResourceKind::Operation)
            })
    }
}

/// Reads `value` as a `T` and wraps it; a member that does not fit `T` is kept in its `extra`
/// (see [`read_member_by_member`](crate::macros::read_member_by_member)). `Err` gives `value`
/// back when it is not an object.
pub(crate) fn read_with_fallback<T, R>(
    value: Value,
    wrap: impl FnOnce(Box<T>) -> R,
) -> Result<R, Value>
where
    T: serde::de::DeserializeOwned + crate::macros::WithExtra,
{
    if !value.is_object() {
        return Err(value);
    }
    match T::deserialize(&value) {
        Ok(read) => Ok(wrap(Box::new(read))),
        // Rare (a member the model did not foresee), so the copy kept for the worst case is cheap.
        Err(_) => {
            let original = value.clone();
            crate::macros::read_member_by_member::<T>(value)
                .map(|read| wrap(Box::new(read)))
                .ok_or(original)
        }
    }
}

/// The call id in a path such as `/communications/calls/{id}/participants` or `/app/calls/{id}`:
/// the segment after the first `calls` segment (compared case-insensitively).
pub fn call_id_from_path(path: &str) -> Option<&str> {
    // One pass over the bytes, up to the query or the fragment: every mark is ASCII, so each
    // segment ends at a character boundary. (Splitting on a char pattern, after a search for the
    // end, cost about twice as many instructions on every notification; docs/performance.md.)
    let mut start = 0;
    let mut after_calls = false;
    for (index, byte) in path.bytes().enumerate() {
        if !matches!(byte, b'/' | b'?' | b'#') {
            continue;
        }
        let segment = path.get(start..index).unwrap_or_default();
        if after_calls {
            return Some(segment).filter(|id| !id.is_empty());
        }
        if byte != b'/' {
            return None;
        }
        after_calls = segment.eq_ignore_ascii_case("calls");
        start = index + 1;
    }
    let last = path.get(start..).unwrap_or_default();
    Some(last).filter(|id| after_calls && !id.is_empty())
}

/// The name of a Graph `@odata.type` without `#` and the `microsoft.graph.` namespace;
/// `None` when absent, not a string, or in another namespace.
pub(crate) fn graph_type_name(value: &Value) -> Option<&str> {
    graph_type_name_of(value.get("@odata.type")?.as_str()?)
}

/// [`graph_type_name`] of the text of an `@odata.type`.
pub(crate) fn graph_type_name_of(full: &str) -> Option<&str> {
    let full = full.strip_prefix('#').unwrap_or(full);
    const NAMESPACE: &str = "microsoft.graph.";
    match full.get(..NAMESPACE.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(NAMESPACE) => full.get(NAMESPACE.len()..),
        _ if !full.contains('.') => Some(full),
        _ => None,
    }
}

/// Removes `key` from `object` when its value is a string; leaves any other value in place.
pub(crate) fn take_string(object: &mut Map<String, Value>, key: &str) -> Option<String> {
    if !object.get(key).is_some_and(Value::is_string) {
        return None;
    }
    match object.shift_remove(key) {
        Some(Value::String(text)) => Some(text),
        _ => None,
    }
}
