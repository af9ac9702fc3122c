//! Durations in a node file, written as text (`150ms`, `5s`). Written back
//! the same way, which is how the JSON Schema shows their defaults.

pub(super) mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        crate::duration::parse(&s).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::duration::fmt(*v))
    }
}

pub(super) mod duration_range {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[Duration; 2], D::Error> {
        let [a, b] = <[String; 2]>::deserialize(d)?;
        let p = |s: &str| crate::duration::parse(s).map_err(serde::de::Error::custom);
        Ok([p(&a)?, p(&b)?])
    }

    pub fn serialize<S: Serializer>(v: &[Duration; 2], s: S) -> Result<S::Ok, S::Error> {
        v.map(crate::duration::fmt).serialize(s)
    }
}
