//! Whether a JSON value fits a model type, decided while reading it and without building it.
//!
//! The tolerant model keeps a resource whose members do not fit its type as raw JSON (see
//! [`Resource`](crate::Resource)), so a call with a misfit member is not a call to it. A reader that
//! does not build the model (the [facts reader](crate::graph::facts)) must still know whether the
//! model would have read a call, or it would route calls the model does not see. Every model type
//! answers that here with the rules its `Deserialize` follows: the model structs through
//! `model_struct!`, the enumerations through `lenient_enum!`, and the few other types below.
//!
//! The value is consumed either way, so a misfit is an answer (`false`), not an error: the only
//! errors are those of the JSON itself.

use std::marker::PhantomData;

use serde::Deserialize as _;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A model type that can say whether a JSON value fits it.
pub(crate) trait Fits {
    /// Reads one JSON value and says whether `Self`'s `Deserialize` would accept it.
    fn fits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error>;
}

/// The JSON scalars a leaf type of the model accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
    /// A string: `String` and every lenient enumeration.
    Text,
    /// `true` or `false`.
    Boolean,
    /// An integer in the range of `i64`, as `i64`'s own `Deserialize` requires.
    Integer,
    /// A number or a string, as [`ResultCode`](crate::ResultCode) reads both.
    NumberOrText,
}

/// A JSON scalar, as a [`Shape`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// A negative integer.
    Signed,
    /// A non-negative integer.
    Unsigned(u64),
    /// A number with a fraction or an exponent, or an integer beyond `u64`.
    Float,
    /// A string.
    Text,
}

impl Leaf {
    /// Whether this leaf type reads `scalar`.
    pub(crate) fn accepts(self, scalar: Scalar) -> bool {
        match (self, scalar) {
            (Self::Text, Scalar::Text)
            | (Self::Boolean, Scalar::Boolean)
            | (Self::Integer, Scalar::Signed)
            | (
                Self::NumberOrText,
                Scalar::Signed | Scalar::Unsigned(_) | Scalar::Float | Scalar::Text,
            ) => true,
            (Self::Integer, Scalar::Unsigned(number)) => i64::try_from(number).is_ok(),
            _ => false,
        }
    }
}

/// What a reader makes of one JSON value, by its kind: each kind goes to its method, and a kind a
/// shape does not override gives [`Shape::other`] (a container is skipped first).
///
/// The fit checks are shapes whose value is whether the JSON fits (and `other` is a misfit); the
/// facts reader's envelope, items and resources are shapes too.
pub(crate) trait Shape<'de>: Sized {
    /// What reading a value gives.
    type Value;

    /// The value for a kind of JSON this shape does not take.
    fn other(self) -> Self::Value;

    /// Reads a scalar.
    fn scalar(self, scalar: Scalar) -> Self::Value {
        let _ = scalar;
        self.other()
    }

    /// Reads an array.
    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| self.other())
    }

    /// Reads an object.
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| self.other())
    }
}

/// Reads one JSON value with `shape`.
pub(crate) fn read_shape<'de, D: Deserializer<'de>, S: Shape<'de>>(
    deserializer: D,
    shape: S,
) -> Result<S::Value, D::Error> {
    deserializer.deserialize_any(ShapeVisitor(shape))
}

/// Reads a leaf value and says whether it is one `leaf` accepts.
pub(crate) fn read_leaf<'de, D: Deserializer<'de>>(
    deserializer: D,
    leaf: Leaf,
) -> Result<bool, D::Error> {
    read_shape(deserializer, LeafShape(leaf))
}

/// Reads the value of a modelled member (an `Option` field of a model struct): `null` fits, as
/// `Option`'s `Deserialize` reads it as `None`; anything else must fit `shape`.
pub(crate) struct OptionalSeed<S>(pub(crate) S);

impl<'de, S: Shape<'de, Value = bool>> DeserializeSeed<'de> for OptionalSeed<S> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_option(OptionalVisitor(self.0))
    }
}

/// Reads one value with `shape`, `null` included (for a fit: an element of an array field).
pub(crate) struct ShapeSeed<S>(pub(crate) S);

impl<'de, S: Shape<'de>> DeserializeSeed<'de> for ShapeSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        read_shape(deserializer, self.0)
    }
}

/// The fit of a modelled member of type `T` (the field is `Option<T>`): deserializing it reads the
/// member's value and keeps only the answer.
pub(crate) struct FieldFit<T>(bool, PhantomData<T>);

impl<T> FieldFit<T> {
    /// Whether the member fits.
    pub(crate) fn fits(&self) -> bool {
        self.0
    }
}

impl<'de, T: Fits> serde::Deserialize<'de> for FieldFit<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_option(FieldFitVisitor::<T>(PhantomData))
            .map(|fits| Self(fits, PhantomData))
    }
}

/// The `null` test of an `Option<T>` field, then `T`'s own check.
struct FieldFitVisitor<T>(PhantomData<T>);

impl<'de, T: Fits> Visitor<'de> for FieldFitVisitor<T> {
    type Value = bool;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        T::fits(deserializer)
    }
}

/// The fit of an element of type `T` (an element of a `Vec<T>` field, where `null` fits only a `T`
/// that reads it).
struct ElementFit<T>(bool, PhantomData<T>);

impl<'de, T: Fits> serde::Deserialize<'de> for ElementFit<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::fits(deserializer).map(|fits| Self(fits, PhantomData))
    }
}

/// The `null` test of an optional member, then the shape.
struct OptionalVisitor<S>(S);

impl<'de, S: Shape<'de, Value = bool>> Visitor<'de> for OptionalVisitor<S> {
    type Value = bool;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        read_shape(deserializer, self.0)
    }
}

/// Sends every kind of JSON value to a [`Shape`].
struct ShapeVisitor<S>(S);

impl<'de, S: Shape<'de>> Visitor<'de> for ShapeVisitor<S> {
    type Value = S::Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<S::Value, E> {
        Ok(self.0.scalar(Scalar::Null))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<S::Value, E> {
        Ok(self.0.scalar(Scalar::Null))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<S::Value, E> {
        Ok(self.0.scalar(Scalar::Boolean))
    }

    fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<S::Value, E> {
        // serde_json hands non-negative integers to `visit_u64`, but other callers may not.
        Ok(match u64::try_from(number) {
            Ok(number) => self.0.scalar(Scalar::Unsigned(number)),
            Err(_) => self.0.scalar(Scalar::Signed),
        })
    }

    fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<S::Value, E> {
        Ok(self.0.scalar(Scalar::Unsigned(number)))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<S::Value, E> {
        Ok(self.0.scalar(Scalar::Float))
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<S::Value, E> {
        Ok(self.0.scalar(Scalar::Text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<S::Value, A::Error> {
        self.0.seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Value, A::Error> {
        self.0.map(map)
    }
}

/// A leaf type's shape: one of the scalars it accepts.
struct LeafShape(Leaf);

impl Shape<'_> for LeafShape {
    type Value = bool;

    fn other(self) -> bool {
        false
    }

    fn scalar(self, scalar: Scalar) -> bool {
        self.0.accepts(scalar)
    }
}

/// A `Vec<T>`'s shape: an array whose every element fits `T`.
struct ArrayShape<T>(PhantomData<T>);

impl<'de, T: Fits> Shape<'de> for ArrayShape<T> {
    type Value = bool;

    fn other(self) -> bool {
        false
    }

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut fits = true;
        while let Some(element) = seq.next_element::<ElementFit<T>>()? {
            fits &= element.0;
        }
        Ok(fits)
    }
}

/// Skips the rest of an array.
pub(crate) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

/// Skips the rest of an object.
pub(crate) fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

/// A JSON value read and dropped by the rules `serde_json::Value` reads by: nesting within
/// `serde_json`'s limit of 128, numbers within the range of `f64`, strings with valid escapes and
/// UTF-8. Nothing is built. A reader that skips with it refuses exactly the bodies the model's JSON
/// tree refuses; `IgnoredAny` skips without those checks.
pub(crate) struct Skip;

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_shape(deserializer, SkipShape).map(|()| Skip)
    }
}

/// A shape that takes nothing: scalars are read (and so checked) by `deserialize_any`, arrays and
/// objects skipped element by element with [`Skip`] by the default [`Shape`] methods.
struct SkipShape;

impl Shape<'_> for SkipShape {
    type Value = ();

    fn other(self) {}
}

impl Fits for String {
    fn fits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        read_leaf(deserializer, Leaf::Text)
    }
}

impl Fits for bool {
    fn fits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        read_leaf(deserializer, Leaf::Boolean)
    }
}

impl Fits for i64 {
    fn fits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        read_leaf(deserializer, Leaf::Integer)
    }
}

impl Fits for crate::code::ResultCode {
    fn fits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        read_leaf(deserializer, Leaf::NumberOrText)
    }
}

impl Fits for serde_json::Value {
    fn fits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        Skip::deserialize(deserializer).map(|_| true)
    }
}

impl Fits for crate::graph::MeetingInfo {
    // `MeetingInfo`'s own `Deserialize` reads any JSON and keeps what does not fit as `Unknown`.
    fn fits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        Skip::deserialize(deserializer).map(|_| true)
    }
}

impl<T: Fits> Fits for Vec<T> {
    fn fits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        read_shape(deserializer, ArrayShape::<T>(PhantomData))
    }
}
