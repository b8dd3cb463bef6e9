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

        impl $name {
            /// Reads the members left in `map` into `self`; a modelled member that does not fit its
            /// type is an error (callers decide how to tolerate it).
            #[allow(dead_code, reason = "used by the single-pass reader for resources only")]
            pub(crate) fn read_remaining_members<'de, A: serde::de::MapAccess<'de>>(
                mut self,
                map: &mut A,
            ) -> Result<Self, A::Error> {
                while let Some(key) = map.next_key::<crate::wire::Key<'de>>()? {
                    match key.as_str() {
                        $( $json => self.$field = map.next_value::<Option<$field_type>>()?, )*
                        other => {
                            let value = map.next_value::<serde_json::Value>()?;
                            self.extra.insert(other.to_owned(), value);
                        }
                    }
                }
                Ok(self)
            }
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

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        $name::default().read_remaining_members(&mut map)
                    }
                }

                deserializer.deserialize_map(MembersVisitor)
            }
        }
    };
}

pub(crate) use model_struct;
