//! The one macro that declares a tolerant wire struct.

/// Declares a wire struct in which every modelled field is optional and every unmodelled field is
/// kept in `extra`, so that nothing a future platform version adds is lost or rejected.
///
/// Each field is written as `name: Type` and becomes `pub name: Option<Type>`, read from and written
/// to its lower-camel JSON key (override with `#[serde(rename = "...")]`), and left out of the output
/// when it is `None`.
macro_rules! model_struct {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$field_meta:meta])* $field:ident : $field_type:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$field_type>,
            )*
            /// Fields this version does not model, kept exactly as they were sent.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }
    };
}

pub(crate) use model_struct;
