//! The one macro that declares a tolerant wire struct.

/// Declares a wire struct in which every modelled field is optional and every unmodelled member is
/// kept in `extra`, so that nothing a future platform version adds is lost or rejected.
///
/// Each field is written as `name: Type = "jsonName"` and becomes `pub name: Option<Type>`, read
/// from and written to that JSON member, and left out of the output when it is `None`.
///
/// The (de)serialization is written out rather than derived because `#[serde(flatten)]` buffers
/// every member before reading it, which made reading a notification cost as much as verifying a
/// signature; this reads each member once, in a single pass.
macro_rules! model_struct {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$field_meta:meta])* $field:ident : $field_type:ty = $json:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $(
                $(#[$field_meta])*
                pub $field: Option<$field_type>,
            )*
            /// Members this version does not model, kept exactly as they were sent.
            pub extra: serde_json::Map<String, serde_json::Value>,
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $(
                    if let Some(value) = &self.$field {
                        map.serialize_entry($json, value)?;
                    }
                )*
                for (key, value) in &self.extra {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct MembersVisitor;

                impl<'de> serde::de::Visitor<'de> for MembersVisitor {
                    type Value = $name;

                    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        formatter.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }

                    // A modelled member that does not fit its type is an error: callers decide
                    // how to tolerate it (`read_member_by_member`).
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut value = $name::default();
                        while let Some(key) = map.next_key::<crate::wire::Key<'de>>()? {
                            match key.as_str() {
                                $(
                                    $json => {
                                        value.$field = map.next_value::<Option<$field_type>>()?;
                                    }
                                )*
                                other => {
                                    let member = map.next_value::<serde_json::Value>()?;
                                    value.extra.insert(other.to_owned(), member);
                                }
                            }
                        }
                        Ok(value)
                    }
                }

                deserializer.deserialize_map(MembersVisitor)
            }
        }

        impl $name {
            /// Reads the members left in `map` and says whether they fit this struct, by the rules
            /// of its `Deserialize` (a modelled member must be `null` or fit its type; the others
            /// are kept in `extra`, so anything fits there), without building it.
            ///
            /// `read_member` is offered each member first, to read the facts it wants: it returns
            /// `Some(fits)` when it consumed the member's value, `None` to leave it to this check.
            /// As in the tolerant path, which reads an object with repeated members as its last
            /// occurrence, the last occurrence of a modelled member decides.
            pub(crate) fn fit_members<'de, A: serde::de::MapAccess<'de>>(
                map: &mut A,
                mut read_member: impl FnMut(&str, &mut A) -> Result<Option<bool>, A::Error>,
            ) -> Result<bool, A::Error> {
                struct Fitting {
                    $( $field: bool, )*
                }
                let mut fitting = Fitting { $( $field: true, )* };
                while let Some(key) = map.next_key::<crate::wire::Key<'de>>()? {
                    let read = read_member(key.as_str(), map)?;
                    match key.as_str() {
                        $(
                            $json => {
                                fitting.$field = match read {
                                    Some(fits) => fits,
                                    None => map
                                        .next_value::<crate::fit::FieldFit<$field_type>>()?
                                        .fits(),
                                };
                            }
                        )*
                        _ => {
                            if read.is_none() {
                                map.next_value::<crate::fit::Skip>()?;
                            }
                        }
                    }
                }
                Ok(true $( && fitting.$field )*)
            }
        }

        impl crate::macros::WithExtra for $name {
            fn extra_mut(&mut self) -> &mut serde_json::Map<String, serde_json::Value> {
                &mut self.extra
            }
        }

        impl crate::fit::Fits for $name {
            fn fits<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
                struct Members;

                impl<'de> crate::fit::Shape<'de> for Members {
                    type Value = bool;

                    fn other(self) -> bool {
                        false
                    }

                    fn map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
                        $name::fit_members(&mut map, |_, _| Ok(None))
                    }
                }

                crate::fit::read_shape(deserializer, Members)
            }
        }
    };
}

/// A wire struct's `extra`: where the members it does not model, or could not read, are kept.
pub(crate) trait WithExtra {
    fn extra_mut(&mut self) -> &mut serde_json::Map<String, serde_json::Value>;
}

/// Reads `value` as a `T` whose members do not all fit: each member that does not fit `T` on its
/// own (a call's `id` sent as a number, say) is kept in `extra` under its own key, and the rest is
/// read as usual, so that one member the model did not foresee never hides the others. `None` when
/// `value` is not an object.
pub(crate) fn read_member_by_member<T>(value: serde_json::Value) -> Option<T>
where
    T: serde::de::DeserializeOwned + WithExtra,
{
    let serde_json::Value::Object(object) = value else {
        return None;
    };
    let mut fitting = serde_json::Map::new();
    let mut misfits = serde_json::Map::new();
    for (key, member) in object {
        let mut alone = serde_json::Map::new();
        alone.insert(key, member);
        let alone = serde_json::Value::Object(alone);
        let fits = T::deserialize(&alone).is_ok();
        let serde_json::Value::Object(alone) = alone else {
            continue;
        };
        if fits {
            fitting.extend(alone);
        } else {
            misfits.extend(alone);
        }
    }
    let mut read = T::deserialize(serde_json::Value::Object(fitting)).ok()?;
    read.extra_mut().extend(misfits);
    Some(read)
}

pub(crate) use model_struct;
