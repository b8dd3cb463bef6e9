//! A lean reader of Graph bodies: the few facts of each notification that routing and logging use,
//! read straight from the body without building the model.
//!
//! Routing a new incoming call to the deployment of its region reads a handful of its facts, and the
//! log line of a delivery five facts of each notification. The full model
//! ([`CommsNotifications`](super::CommsNotifications)) is for the bot: it keeps every member, the
//! unknown ones as JSON trees, and building it only to read those facts costs dozens of times the
//! body's size. [`read_facts`] reads the body once with `serde_json`, keeps only those facts, as text
//! borrowed from the body (copied only where the JSON escapes it), keeps routing facts only for the
//! notifications that announce a new incoming call, and skips everything else without building
//! it, checked as the model's JSON tree checks it (nesting within `serde_json`'s limit of 128,
//! numbers within the range of `f64`, valid escapes).
//!
//! The rules are the model's, not a second opinion, and a test holds the two readers equal on every
//! body the model reads: [`NotificationFacts::is_new_incoming_call`] is
//! [`CommsNotification::is_new_incoming_call`](super::CommsNotification::is_new_incoming_call)
//! (enumerations compared case-insensitively; a member of a call that does not fit the model, such
//! as an `id` sent as a number, is dropped from the facts as the model keeps it in the call's
//! `extra`, checked by the model's own rules for each member's type), the call id comes from
//! [`call_id_from_path`] as in [`CommsNotification::call_id`](super::CommsNotification::call_id),
//! the resource type of an array is its first element's, and the routing facts are those of
//! [`Call`](super::Call)'s accessors. A repeated member counts by its last occurrence, as in the model's JSON
//! tree.
//!
//! An item's resource path is its `resourceUrl`, else its `resource` (real bodies and Microsoft's
//! documentation have items with only `resource`); an item with neither is refused, as the model
//! refuses it.
//!
//! So it reads a body exactly when the model reads it as a Graph envelope, and refuses it for the
//! model's reason otherwise (a test holds it to that on generated and mutated bodies): it can make
//! the decision of `callhook_protocol::negotiate` for Graph bodies without building anything. A
//! UTF-8 byte order mark before the JSON is skipped, as `negotiate` skips it.
//!
//! # Example
//!
//! ```
//! use callhook_model::graph::facts::read_facts;
//!
//! let body = br##"{"value":[{"changeType":"Created","resourceUrl":"/communications/calls/57DA",
//!   "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming",
//!     "source":{"identity":{"phone":{"id":"+15555550100"}},"region":"amer"},
//!     "targets":[{"identity":{"applicationInstance":{"id":"bot-instance-id"}}}]}}]}"##;
//! let facts = read_facts(body)?;
//!
//! let call = facts.new_incoming_calls().next().expect("one new incoming call");
//! assert_eq!(call.source_region(), Some("amer"));
//! assert_eq!(call.caller_phone_number(), Some("+15555550100"));
//! assert_eq!(call.target_application_ids().collect::<Vec<_>>(), ["bot-instance-id"]);
//!
//! let summary = facts.notifications()[0].summary();
//! assert_eq!(summary.change_type, "created");
//! assert_eq!(summary.call_id, Some("57DA"));
//! # Ok::<(), callhook_model::graph::facts::FactsError>(())
//! ```

use std::borrow::Cow;

use serde::de::{MapAccess, SeqAccess};
use serde::{Deserialize, Deserializer, Serialize};

use super::{
    CallState, ChangeType, EnvelopeError, Identity, IdentitySet, InvitationParticipantInfo,
    ParticipantInfo, call_id_from_path, graph_type_name_of,
};
use crate::fit::{OptionalSeed, Shape, ShapeSeed, Skip, read_shape, skip_seq};
use crate::wire::Key;

/// Reads the facts of a Graph body; see the [module documentation](self) for what is read and how.
///
/// Never panics, whatever the bytes.
pub fn read_facts(body: &[u8]) -> Result<Facts<'_>, FactsError> {
    read_envelope(body_text(body)?, Keep::Everything)
}

/// Reads the facts of a Graph body as [`read_facts`] does, except the routing facts of its new
/// incoming calls: each notification's facts (those of the log line) are the same, and
/// [`Facts::new_incoming_calls`] is empty. For a caller without region rules, which never reads
/// the caller, the targets or the region of a call; those members are skipped by the rules of the
/// model's JSON tree instead of read, so the decision and any error are [`read_facts`]'.
///
/// # Errors
///
/// The [`FactsError`] that [`read_facts`] gives for the same body.
pub fn read_summaries(body: &[u8]) -> Result<Facts<'_>, FactsError> {
    read_envelope(body_text(body)?, Keep::Summaries)
}

/// The body as text, after a byte order mark. One UTF-8 check of the whole body lets every string
/// borrow from it, and checks the strings that are skipped as the model's reader checks them.
fn body_text(body: &[u8]) -> Result<&str, FactsError> {
    let body = body.strip_prefix(UTF8_BYTE_ORDER_MARK).unwrap_or(body);
    std::str::from_utf8(body).map_err(|error| {
        FactsError::NotJson(serde::de::Error::custom(format_args!(
            "invalid UTF-8 at byte {}",
            error.valid_up_to()
        )))
    })
}

/// Reads the envelope of `text`, keeping what `keep` says.
fn read_envelope(text: &str, keep: Keep) -> Result<Facts<'_>, FactsError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let read = read_shape(&mut deserializer, EnvelopeShape { keep })
        .and_then(|read| deserializer.end().map(|()| read))
        .map_err(FactsError::NotJson)?;
    read.map(|(facts, _)| facts)
        .map_err(FactsError::NotAnEnvelope)
}

/// Whether `body` is a Graph body, as [`read_facts`] decides it, and how many notifications it
/// holds, without keeping any fact: each item's `resourceData` is skipped by the rules of the
/// model's JSON tree rather than read. For a caller that needs the decision and none of the facts.
///
/// # Errors
///
/// The [`FactsError`] that [`read_facts`] gives for the same body.
pub fn check_graph(body: &[u8]) -> Result<usize, FactsError> {
    let text = body_text(body)?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let checked = read_shape(
        &mut deserializer,
        EnvelopeShape {
            keep: Keep::Nothing,
        },
    )
    .and_then(|checked| deserializer.end().map(|()| checked))
    .map_err(FactsError::NotJson)?;
    checked
        .map(|(_, count)| count)
        .map_err(FactsError::NotAnEnvelope)
}

/// The facts of one Graph body: one entry per notification, and the routing facts of the new
/// incoming calls among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts<'a> {
    notifications: Vec<NotificationFacts<'a>>,
    new_incoming_calls: Vec<IncomingCallFacts<'a>>,
    /// The number of notifications of a body that was checked but not read ([`Facts::unread`]).
    unread: Option<usize>,
}

impl<'a> Facts<'a> {
    /// The facts of a Graph body of `count` notifications that [`check_graph`] checked and did
    /// not read: it has no facts ([`Facts::is_read`] is false), only its length.
    #[must_use]
    pub fn unread(count: usize) -> Facts<'static> {
        Facts {
            notifications: Vec::new(),
            new_incoming_calls: Vec::new(),
            unread: Some(count),
        }
    }

    /// Whether the notifications were read ([`read_facts`]), rather than only checked and counted
    /// ([`Facts::unread`]).
    #[must_use]
    pub fn is_read(&self) -> bool {
        self.unread.is_none()
    }

    /// The facts of every notification, in the order of `value`.
    pub fn notifications(&self) -> &[NotificationFacts<'a>] {
        &self.notifications
    }

    /// The number of notifications.
    pub fn len(&self) -> usize {
        self.unread.unwrap_or(self.notifications.len())
    }

    /// True when `value` is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The routing facts of the notifications that announce a new incoming call (see
    /// [`NotificationFacts::is_new_incoming_call`]), in the order of `value`.
    pub fn new_incoming_calls(&self) -> std::slice::Iter<'_, IncomingCallFacts<'a>> {
        self.new_incoming_calls.iter()
    }

    /// One summary per notification, for a log line (see [`NotificationFacts::summary`]).
    pub fn summaries(&self) -> impl ExactSizeIterator<Item = NotificationSummary<'_>> {
        self.notifications.iter().map(NotificationFacts::summary)
    }
}

/// What one notification (one item of `value`) says, with text as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFacts<'a> {
    change_type: Option<Cow<'a, str>>,
    resource_url: Option<Cow<'a, str>>,
    resource_type: Option<Cow<'a, str>>,
    state: Option<Cow<'a, str>>,
    call_id: Option<Cow<'a, str>>,
}

impl NotificationFacts<'_> {
    /// `changeType` as sent; `None` when absent or not a string.
    pub fn change_type(&self) -> Option<&str> {
        self.change_type.as_deref()
    }

    /// `resourceUrl` as sent, else `resource` (the old path form); `None` when neither is a string.
    pub fn resource_url(&self) -> Option<&str> {
        self.resource_url.as_deref()
    }

    /// The `@odata.type` of `resourceData`, as sent: of the object, or of an array's first element
    /// (as [`CommsNotification::resource_type`](super::CommsNotification::resource_type)).
    pub fn resource_type(&self) -> Option<&str> {
        self.resource_type.as_deref()
    }

    /// The `state` of the call in `resourceData`, as sent; `None` unless `resourceData` is a call
    /// that the model reads (as [`CommsNotification::state`](super::CommsNotification::state)).
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The call id, from `resourceUrl`, else `resource`, else the call's `id` (as
    /// [`CommsNotification::call_id`](super::CommsNotification::call_id)).
    pub fn call_id(&self) -> Option<&str> {
        self.call_id.as_deref()
    }

    /// True for the notification a bot must answer within 15 seconds: `changeType` `created` and
    /// a call in state `incoming`, compared case-insensitively (as
    /// [`CommsNotification::is_new_incoming_call`](super::CommsNotification::is_new_incoming_call)).
    pub fn is_new_incoming_call(&self) -> bool {
        // `state` is only kept for a call the model reads, so this is the model's rule.
        self.change_type
            .as_deref()
            .is_some_and(|change| change.eq_ignore_ascii_case(ChangeType::Created.as_str()))
            && self
                .state
                .as_deref()
                .is_some_and(|state| state.eq_ignore_ascii_case(CallState::Incoming.as_str()))
    }

    /// The facts for a log line, written as the model writes them back (the documented spelling of
    /// a known `changeType` or `state`).
    pub fn summary(&self) -> NotificationSummary<'_> {
        NotificationSummary {
            change_type: self
                .change_type()
                .map(|change| documented_spelling(ChangeType::DOCUMENTED_SPELLINGS, change))
                .unwrap_or_default(),
            resource_url: self.resource_url().unwrap_or_default(),
            resource_type: self.resource_type(),
            state: self
                .state()
                .map(|state| documented_spelling(CallState::DOCUMENTED_SPELLINGS, state)),
            call_id: self.call_id(),
        }
    }
}

/// One notification's line in a log: the members of `callhook_protocol`'s summary entry, borrowed.
///
/// Serialized, it is `{"changeType","resourceUrl","resourceType","state","callId"}` with absent values
/// as `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSummary<'a> {
    /// `changeType` in its documented spelling when known, else as sent; empty when absent.
    pub change_type: &'a str,
    /// `resourceUrl` (else `resource`); empty when absent.
    pub resource_url: &'a str,
    /// The `@odata.type` of `resourceData` (for an array, its first element's).
    pub resource_type: Option<&'a str>,
    /// The call's state in its documented spelling when known, else as sent.
    pub state: Option<&'a str>,
    /// The call id.
    pub call_id: Option<&'a str>,
}

/// The routing facts of a new incoming call, with text as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncomingCallFacts<'a> {
    index: usize,
    source_region: Option<Cow<'a, str>>,
    caller_phone_number: Option<Cow<'a, str>>,
    tenant_id: Option<Cow<'a, str>>,
    target_application_ids: Vec<Cow<'a, str>>,
}

impl IncomingCallFacts<'_> {
    /// The notification's position in `value` (and in [`Facts::notifications`]), from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The caller's region, `source.region` (as [`Call::source_region`](super::Call::source_region)).
    pub fn source_region(&self) -> Option<&str> {
        self.source_region.as_deref()
    }

    /// A PSTN caller's phone number, `source.identity.phone.id` (as [`Call::caller_phone_number`](super::Call::caller_phone_number)).
    pub fn caller_phone_number(&self) -> Option<&str> {
        self.caller_phone_number.as_deref()
    }

    /// The call's `tenantId`, else the caller's user tenant (as [`Call::tenant_id`](super::Call::tenant_id)).
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The ids of the targets' `application` and `applicationInstance` identities, in order (as
    /// [`Call::target_application_ids`](super::Call::target_application_ids)).
    pub fn target_application_ids(&self) -> impl ExactSizeIterator<Item = &str> {
        self.target_application_ids.iter().map(AsRef::as_ref)
    }
}

/// Why [`read_facts`] read no facts.
#[derive(Debug)]
#[non_exhaustive]
pub enum FactsError {
    /// The body is not JSON (or not UTF-8).
    NotJson(serde_json::Error),
    /// The body is JSON but not a Graph envelope.
    NotAnEnvelope(EnvelopeError),
}

impl std::fmt::Display for FactsError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotJson(error) => write!(formatter, "not JSON: {error}"),
            Self::NotAnEnvelope(error) => error.fmt(formatter),
        }
    }
}

impl std::error::Error for FactsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NotJson(error) => Some(error),
            Self::NotAnEnvelope(error) => Some(error),
        }
    }
}

/// The UTF-8 byte order mark, which some HTTP clients put before JSON.
const UTF8_BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// The documented spelling of `text` among `spellings`, compared as the lenient enumerations
/// compare; `text` itself when it is none of them.
fn documented_spelling<'t>(spellings: &'static [&'static str], text: &'t str) -> &'t str {
    spellings
        .iter()
        .copied()
        .find(|spelling| spelling.eq_ignore_ascii_case(text))
        .unwrap_or(text)
}

/// The call id in a path, borrowed from the body when the path is.
fn call_id_in<'de>(path: &Cow<'de, str>) -> Option<Cow<'de, str>> {
    match path {
        Cow::Borrowed(path) => call_id_from_path(path).map(Cow::Borrowed),
        Cow::Owned(path) => call_id_from_path(path).map(|id| Cow::Owned(id.to_owned())),
    }
}

/// The whole body: the facts, or why it is not an envelope.
/// What a reading of the envelope keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Nothing: the items are checked and counted ([`check_graph`]).
    Nothing,
    /// Each notification's facts, without the routing facts of calls ([`read_summaries`]).
    Summaries,
    /// Everything [`read_facts`] reads.
    Everything,
}

/// The envelope; its items' facts are kept as `keep` says.
struct EnvelopeShape {
    keep: Keep,
}

/// What reading `value` gives: the facts kept and the number of items, or why it is refused.
type ValueRead<'de> = Result<(Facts<'de>, usize), EnvelopeError>;

impl<'de> Shape<'de> for EnvelopeShape {
    type Value = ValueRead<'de>;

    fn other(self) -> Self::Value {
        Err(EnvelopeError::NotAnObject)
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut value = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() == "value" {
                // A repeated `value` counts by its last occurrence; the earlier facts go first.
                drop(value.take());
                value = Some(map.next_value_seed(ShapeSeed(ValueShape { keep: self.keep }))?);
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(value.unwrap_or(Err(EnvelopeError::MissingValue)))
    }
}

/// The `value` member.
struct ValueShape {
    keep: Keep,
}

impl<'de> Shape<'de> for ValueShape {
    type Value = ValueRead<'de>;

    fn other(self) -> Self::Value {
        Err(EnvelopeError::ValueNotArray)
    }

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut facts = Facts::default();
        let mut index = 0;
        loop {
            let item = ItemShape {
                index,
                facts: &mut facts,
                keep: self.keep,
            };
            let refusal = match seq.next_element_seed(ShapeSeed(item))? {
                None => break,
                Some(ItemRead::Read) => {
                    index += 1;
                    continue;
                }
                Some(ItemRead::NotAnObject) => EnvelopeError::ItemNotObject { index },
                Some(ItemRead::WithoutResource) => EnvelopeError::ItemWithoutResource { index },
            };
            // The body is refused, but only once it is known to be JSON, as the model parses it
            // whole before it looks at the items.
            skip_seq(seq)?;
            return Ok(Err(refusal));
        }
        shrink_when_mostly_empty(&mut facts.notifications);
        shrink_when_mostly_empty(&mut facts.new_incoming_calls);
        Ok(Ok((facts, index)))
    }
}

/// Gives back the room of `items` when more than half of it, and more than a few items' worth,
/// is unused: a large batch keeps no more than it needs while its request lasts, and the usual
/// body of one notification is not copied for the three places it does not use.
fn shrink_when_mostly_empty<T>(items: &mut Vec<T>) {
    if items.capacity() > 2 * items.len().max(4) {
        items.shrink_to_fit();
    }
}

/// What reading one item of `value` found.
enum ItemRead {
    /// A notification, whose facts were kept.
    Read,
    /// Not an object.
    NotAnObject,
    /// An object with neither a `resourceUrl` string nor a `resource` string.
    WithoutResource,
}

/// One item of `value`; with `keep`, its facts go into `facts`; reading it says what it was.
struct ItemShape<'f, 'de> {
    index: usize,
    facts: &'f mut Facts<'de>,
    keep: Keep,
}

impl<'de> Shape<'de> for ItemShape<'_, 'de> {
    type Value = ItemRead;

    fn other(self) -> ItemRead {
        ItemRead::NotAnObject
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<ItemRead, A::Error> {
        let mut change_type = None;
        let mut resource_url = None;
        let mut resource = None;
        let mut resource_data = ResourceDataFacts::Absent;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "changeType" => change_type = map.next_value::<TextMember<'de>>()?.into_text(),
                "resourceUrl" => resource_url = map.next_value::<TextMember<'de>>()?.into_text(),
                "resource" => resource = map.next_value::<TextMember<'de>>()?.into_text(),
                "resourceData" if self.keep != Keep::Nothing => {
                    drop(std::mem::take(&mut resource_data));
                    resource_data = map.next_value_seed(ShapeSeed(ResourceDataShape {
                        routing: self.keep == Keep::Everything,
                    }))?;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }

        if resource_url.is_none() && resource.is_none() {
            return Ok(ItemRead::WithoutResource);
        }
        if self.keep == Keep::Nothing {
            return Ok(ItemRead::Read);
        }
        let (resource_type, mut call) = match resource_data {
            ResourceDataFacts::Absent => (None, None),
            ResourceDataFacts::Array { first_type } => (first_type, None),
            ResourceDataFacts::Object { mut resource } => {
                let is_call = resource.is_call();
                (resource.odata_type.take(), is_call.then_some(resource))
            }
        };
        let state = call
            .as_mut()
            .and_then(|call| call.state.take().or_else(|| call.call_state.take()));
        let call_id = resource_url
            .as_ref()
            .and_then(call_id_in)
            .or_else(|| resource.as_ref().and_then(call_id_in))
            .or_else(|| call.as_mut().and_then(|call| call.id.take()));
        let notification = NotificationFacts {
            change_type,
            resource_url: resource_url.or(resource),
            resource_type,
            state,
            call_id,
        };
        if self.keep == Keep::Everything
            && notification.is_new_incoming_call()
            && let Some(call) = call
        {
            self.facts
                .new_incoming_calls
                .push(call.into_incoming_call(self.index));
        }
        self.facts.notifications.push(notification);
        Ok(ItemRead::Read)
    }
}

/// What `resourceData` holds, as far as the facts go.
#[allow(
    clippy::large_enum_variant,
    reason = "one lives on the stack while an item is read; boxing would allocate for every item"
)]
#[derive(Default)]
enum ResourceDataFacts<'de> {
    /// Absent, or neither an object nor an array (the model keeps those in the item's `extra`).
    #[default]
    Absent,
    /// An object.
    Object { resource: ResourceFacts<'de> },
    /// An array, and the `@odata.type` of its first element.
    Array { first_type: Option<Cow<'de, str>> },
}

/// `resourceData`; with `routing`, a call's routing facts are read too.
struct ResourceDataShape {
    routing: bool,
}

impl<'de> Shape<'de> for ResourceDataShape {
    type Value = ResourceDataFacts<'de>;

    fn other(self) -> Self::Value {
        ResourceDataFacts::Absent
    }

    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut resource = ResourceFacts::default();
        CallShape {
            facts: &mut resource,
            routing: self.routing,
        }
        .read(map)?;
        Ok(ResourceDataFacts::Object { resource })
    }

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element_seed(ShapeSeed(OdataTypeShape))?;
        skip_seq(seq)?;
        Ok(ResourceDataFacts::Array {
            first_type: first.flatten(),
        })
    }
}

/// The `@odata.type` of a resource in an array: of an object, its last string `@odata.type`.
struct OdataTypeShape;

impl<'de> Shape<'de> for OdataTypeShape {
    type Value = Option<Cow<'de, str>>;

    fn other(self) -> Self::Value {
        None
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut odata_type = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() == "@odata.type" {
                odata_type = map.next_value::<TextMember<'de>>()?.into_text();
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(odata_type)
    }
}

/// The facts of a resource object: its `@odata.type`, and what it gives if it is a call.
///
/// Which kind a resource is shows only once its `@odata.type` is read, wherever it stands, so every
/// resource object is read as a call might be; only its `@odata.type` is kept when it is not one.
#[derive(Default)]
struct ResourceFacts<'de> {
    odata_type: Option<Cow<'de, str>>,
    id: Option<Cow<'de, str>>,
    state: Option<Cow<'de, str>>,
    /// The pre-release (2018) name of `state`; the state is `state`, else this.
    call_state: Option<Cow<'de, str>>,
    tenant_id: Option<Cow<'de, str>>,
    source: ParticipantFacts<'de>,
    target_application_ids: Vec<Cow<'de, str>>,
}

impl<'de> ResourceFacts<'de> {
    /// Whether the `@odata.type` names a call, as [`Resource::from_value`](super::Resource::from_value)
    /// dispatches.
    fn is_call(&self) -> bool {
        self.odata_type
            .as_deref()
            .and_then(graph_type_name_of)
            .and_then(super::ResourceKind::of)
            == Some(super::ResourceKind::Call)
    }

    /// The routing facts of this call, the notification at `index` being a new incoming call.
    fn into_incoming_call(self, index: usize) -> IncomingCallFacts<'de> {
        let ParticipantFacts { region, identity } = self.source;
        IncomingCallFacts {
            index,
            source_region: region,
            caller_phone_number: identity.phone.id,
            tenant_id: self.tenant_id.or(identity.user.tenant_id),
            target_application_ids: self.target_application_ids,
        }
    }
}

/// A resource object read as a [`Call`](super::Call) might be. As in the model, which keeps a member that does
/// not fit in the call's `extra`, a fact whose member does not fit is dropped, and the others stay.
/// Without `routing`, the members only routing reads (`tenantId`, `source`, `targets`) are skipped.
struct CallShape<'f, 'de> {
    facts: &'f mut ResourceFacts<'de>,
    routing: bool,
}

impl<'de> CallShape<'_, 'de> {
    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Self { facts, routing } = self;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "@odata.type" => {
                    read_text(&mut map, &mut facts.odata_type)?;
                }
                "id" => {
                    read_text(&mut map, &mut facts.id)?;
                }
                "state" => {
                    read_text(&mut map, &mut facts.state)?;
                }
                "callState" => {
                    read_text(&mut map, &mut facts.call_state)?;
                }
                "tenantId" if routing => {
                    read_text(&mut map, &mut facts.tenant_id)?;
                }
                "source" if routing => {
                    let mut source = ParticipantFacts::default();
                    let fits = map.next_value_seed(OptionalSeed(ParticipantShape(&mut source)))?;
                    facts.source = if fits {
                        source
                    } else {
                        ParticipantFacts::default()
                    };
                }
                "targets" if routing => {
                    let mut ids = Vec::new();
                    let fits = map.next_value_seed(OptionalSeed(TargetsShape(&mut ids)))?;
                    facts.target_application_ids = if fits { ids } else { Vec::new() };
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(())
    }
}

/// The facts of a `participantInfo` (the caller, `source`).
#[derive(Default)]
struct ParticipantFacts<'de> {
    region: Option<Cow<'de, str>>,
    identity: IdentitySetFacts<'de>,
}

/// A [`ParticipantInfo`]; reading it says whether it fits.
struct ParticipantShape<'f, 'de>(&'f mut ParticipantFacts<'de>);

impl<'de> Shape<'de> for ParticipantShape<'_, 'de> {
    type Value = bool;

    fn other(self) -> bool {
        false
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let facts = self.0;
        ParticipantInfo::fit_members(&mut map, |key, map| {
            Ok(Some(match key {
                "region" => read_text(map, &mut facts.region)?,
                "identity" => read_identity_set(map, &mut facts.identity)?,
                _ => return Ok(None),
            }))
        })
    }
}

/// The call's `targets`: an array of [`InvitationParticipantInfo`], whose application ids are
/// collected in order.
struct TargetsShape<'f, 'de>(&'f mut Vec<Cow<'de, str>>);

impl<'de> Shape<'de> for TargetsShape<'_, 'de> {
    type Value = bool;

    fn other(self) -> bool {
        false
    }

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut fits = true;
        loop {
            let mut identity = IdentitySetFacts::default();
            let Some(target_fits) = seq.next_element_seed(ShapeSeed(TargetShape(&mut identity)))?
            else {
                break;
            };
            fits &= target_fits;
            // The application before the application instance, whatever their order in the JSON,
            // as `Call::target_application_ids` lists them.
            self.0.extend(identity.application.id);
            self.0.extend(identity.application_instance.id);
        }
        Ok(fits)
    }
}

/// One [`InvitationParticipantInfo`]; reading it says whether it fits.
struct TargetShape<'f, 'de>(&'f mut IdentitySetFacts<'de>);

impl<'de> Shape<'de> for TargetShape<'_, 'de> {
    type Value = bool;

    fn other(self) -> bool {
        false
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let facts = self.0;
        InvitationParticipantInfo::fit_members(&mut map, |key, map| {
            Ok(Some(match key {
                "identity" => read_identity_set(map, facts)?,
                _ => return Ok(None),
            }))
        })
    }
}

/// The facts of an `identitySet`.
#[derive(Default)]
struct IdentitySetFacts<'de> {
    user: IdentityFacts<'de>,
    application: IdentityFacts<'de>,
    application_instance: IdentityFacts<'de>,
    phone: IdentityFacts<'de>,
}

/// An [`IdentitySet`]; reading it says whether it fits.
struct IdentitySetShape<'f, 'de>(&'f mut IdentitySetFacts<'de>);

impl<'de> Shape<'de> for IdentitySetShape<'_, 'de> {
    type Value = bool;

    fn other(self) -> bool {
        false
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let facts = self.0;
        IdentitySet::fit_members(&mut map, |key, map| {
            Ok(Some(match key {
                "user" => read_identity(map, &mut facts.user)?,
                "application" => read_identity(map, &mut facts.application)?,
                "applicationInstance" => read_identity(map, &mut facts.application_instance)?,
                "phone" => read_identity(map, &mut facts.phone)?,
                _ => return Ok(None),
            }))
        })
    }
}

/// The facts of an `identity`.
#[derive(Default)]
struct IdentityFacts<'de> {
    id: Option<Cow<'de, str>>,
    tenant_id: Option<Cow<'de, str>>,
}

/// An [`Identity`]; reading it says whether it fits.
struct IdentityShape<'f, 'de>(&'f mut IdentityFacts<'de>);

impl<'de> Shape<'de> for IdentityShape<'_, 'de> {
    type Value = bool;

    fn other(self) -> bool {
        false
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let facts = self.0;
        Identity::fit_members(&mut map, |key, map| {
            Ok(Some(match key {
                "id" => read_text(map, &mut facts.id)?,
                "tenantId" => read_text(map, &mut facts.tenant_id)?,
                _ => return Ok(None),
            }))
        })
    }
}

/// Reads an optional `identitySet` member into `slot` (replacing an earlier occurrence) and says
/// whether it fits.
fn read_identity_set<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut IdentitySetFacts<'de>,
) -> Result<bool, A::Error> {
    let mut identity = IdentitySetFacts::default();
    let fits = map.next_value_seed(OptionalSeed(IdentitySetShape(&mut identity)))?;
    *slot = identity;
    Ok(fits)
}

/// Reads an optional `identity` member into `slot` (replacing an earlier occurrence) and says
/// whether it fits.
fn read_identity<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut IdentityFacts<'de>,
) -> Result<bool, A::Error> {
    let mut identity = IdentityFacts::default();
    let fits = map.next_value_seed(OptionalSeed(IdentityShape(&mut identity)))?;
    *slot = identity;
    Ok(fits)
}

/// Reads a member whose model type reads a JSON string (`String` or an enumeration) into `slot`
/// and says whether it fits: `null` fits (and is absent), a string fits, anything else does not.
fn read_text<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<Cow<'de, str>>,
) -> Result<bool, A::Error> {
    let member = map.next_value::<TextMember<'de>>()?;
    let fits = !matches!(member, TextMember::Other);
    *slot = member.into_text();
    Ok(fits)
}

/// A member read for its text.
enum TextMember<'de> {
    /// `null`.
    Null,
    /// A string, borrowed from the body unless the JSON escapes it.
    Text(Cow<'de, str>),
    /// Anything else (skipped).
    Other,
}

impl<'de> TextMember<'de> {
    fn into_text(self) -> Option<Cow<'de, str>> {
        match self {
            Self::Text(text) => Some(text),
            Self::Null | Self::Other => None,
        }
    }
}

impl<'de> Deserialize<'de> for TextMember<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = TextMember<'de>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(TextMember::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(TextMember::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(TextMember::Text(Cow::Owned(text)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(TextMember::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(TextMember::Null)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(TextMember::Other)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(TextMember::Other)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(TextMember::Other)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(TextMember::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| TextMember::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        crate::fit::skip_map(map).map(|()| TextMember::Other)
    }
}
