//! Durations in a node file, written as text (`150ms`, `5s`).

pub(super) mod duration_text {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        crate::duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

pub(super) mod duration_range {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[Duration; 2], D::Error> {
        let [a, b] = <[String; 2]>::deserialize(d)?;
        let p = |s: &str| crate::duration::parse(s).map_err(serde::de::Error::custom);
        Ok([p(&a)?, p(&b)?])
    }
}
