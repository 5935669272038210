//! The bounds a schema documents, read back for the unit tests that hold them to what the
//! code enforces: each feature's tests feed the documented bound to its own parser.

use serde_json::Value;
use utoipa::{IntoParams, PartialSchema};

/// The documented schema of property `name` of `T`.
pub fn property<T: PartialSchema>(name: &str) -> Value {
    let schema = serde_json::to_value(T::schema()).unwrap();
    let property = schema["properties"][name].clone();
    assert!(property.is_object(), "{name} is not documented");
    property
}

/// The documented schema of query or path parameter `name` of `T`.
pub fn param<T: IntoParams>(name: &str) -> Value {
    let parameter = T::into_params(|| None)
        .into_iter()
        .find(|parameter| parameter.name == name)
        .unwrap_or_else(|| panic!("{name} is not documented"));
    serde_json::to_value(parameter).unwrap()["schema"].clone()
}

fn number(schema: &Value, key: &str) -> Option<f64> {
    schema[key].as_f64()
}

/// `accepts` takes strings of `fill` from `minLength` to `maxLength` characters and
/// refuses one fewer and one more.
pub fn assert_lengths(schema: &Value, fill: char, accepts: impl Fn(&str) -> bool) {
    let text = |n: f64| fill.to_string().repeat(n as usize);
    let min = number(schema, "minLength").unwrap_or(0.0);
    let max = number(schema, "maxLength").expect("no maxLength documented");
    assert!(accepts(&text(min)), "{min} characters refused");
    assert!(accepts(&text(max)), "{max} characters refused");
    assert!(
        !accepts(&text(max + 1.0)),
        "{} characters accepted",
        max + 1.0
    );
    if min > 0.0 {
        assert!(
            !accepts(&text(min - 1.0)),
            "{} characters accepted",
            min - 1.0
        );
    }
}

/// `accepts` takes `minimum` (or just above `exclusiveMinimum`) and `maximum`, and
/// refuses `step` beyond either end.
pub fn assert_range(schema: &Value, step: f64, accepts: impl Fn(f64) -> bool) {
    let max = number(schema, "maximum").expect("no maximum documented");
    assert!(accepts(max), "{max} refused");
    assert!(!accepts(max + step), "{} accepted", max + step);
    match (
        number(schema, "minimum"),
        number(schema, "exclusiveMinimum"),
    ) {
        (Some(min), None) => {
            assert!(accepts(min), "{min} refused");
            assert!(!accepts(min - step), "{} accepted", min - step);
        }
        (None, Some(min)) => {
            assert!(!accepts(min), "{min} accepted");
            assert!(accepts(min + step), "{} refused", min + step);
        }
        _ => panic!("no single lower bound documented"),
    }
}

/// `accepts` takes `minItems` (default 0) to `maxItems` items and refuses one more
/// (and one fewer).
pub fn assert_items(schema: &Value, accepts: impl Fn(usize) -> bool) {
    let min = number(schema, "minItems").unwrap_or(0.0) as usize;
    let max = number(schema, "maxItems").expect("no maxItems documented") as usize;
    assert!(accepts(min), "{min} items refused");
    assert!(accepts(max), "{max} items refused");
    assert!(!accepts(max + 1), "{} items accepted", max + 1);
    if min > 0 {
        assert!(!accepts(min - 1), "{} items accepted", min - 1);
    }
}

/// The documented schema of parameter `name` of the route `P` (one whose parameters are
/// listed in its `#[utoipa::path]`).
pub fn route_param<P: utoipa::Path>(name: &str) -> Value {
    let parameter = P::operation()
        .parameters
        .unwrap_or_default()
        .into_iter()
        .find(|parameter| parameter.name == name)
        .unwrap_or_else(|| panic!("{name} is not documented"));
    serde_json::to_value(parameter).unwrap()["schema"].clone()
}
