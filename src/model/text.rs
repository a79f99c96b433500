//! Types written as their text: parsed from a string with `FromStr`, written with `Display`, and
//! described to JSON Schema as a string. One macro, so each such type states only its name and
//! its schema.

/// Implements `Deserialize` (through `FromStr`), `Serialize` (through `Display`) and
/// `schemars::JsonSchema` (a string with the given schema) for `$type`.
macro_rules! written_as_text {
    ($type:ident, $schema:tt) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$type, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl schemars::JsonSchema for $type {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($type).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

pub(crate) use written_as_text;
