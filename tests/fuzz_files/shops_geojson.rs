//! The shop importer on GeoJSON: valid FeatureCollections (extra members, altitudes, a BOM,
//! numbers or strings) read back exactly; a feature with the wrong geometry, bad coordinates
//! or a bad property is named by its number and the field; a broken document is refused as a
//! whole with the reason; arbitrary bytes never panic.

use crate::hours::BROKEN_RULES;
use crate::shop_gen::{check_accepted, shops, GenShop};
use crate::support::{byte_edits, config, latin1, names, noise_properties, overwritten_and_cut};
use crate::support::{utf16le, well_formed};
use proptest::prelude::*;
use proptest::sample::Index;
use pudo::network::import::{parse, Format, Rejected};
use pudo::network::ShopInput;
use serde_json::{json, Value};

/// A valid GeoJSON file and the choices made in writing it.
#[derive(Debug, Clone)]
struct GeoFile {
    shops: Vec<GenShop>,
    /// Per shop: capacity as a JSON string rather than a number.
    capacity_text: Vec<bool>,
    /// Foreign members, altitudes and unknown properties.
    extras: bool,
    /// Absent optional properties written as `null`.
    nulls: bool,
    pretty: bool,
    bom: bool,
}

fn file(max_shops: usize) -> impl Strategy<Value = GeoFile> {
    shops(max_shops).prop_flat_map(|shops| {
        let n = shops.len();
        (
            Just(shops),
            prop::collection::vec(any::<bool>(), n),
            any::<[bool; 4]>(),
        )
            .prop_map(
                |(shops, capacity_text, [extras, nulls, pretty, bom])| GeoFile {
                    shops,
                    capacity_text,
                    extras,
                    nulls,
                    pretty,
                    bom,
                },
            )
    })
}

fn number(text: &str) -> Value {
    json!(text.parse::<f64>().expect("generated coordinate"))
}

impl GeoFile {
    fn feature(&self, i: usize) -> Value {
        let s = &self.shops[i];
        let mut coordinates = vec![number(&s.lon), number(&s.lat)];
        if self.extras {
            coordinates.push(json!(657.5));
        }
        let capacity = if self.capacity_text[i] {
            json!(s.capacity)
        } else {
            json!(s.capacity.parse::<i64>().expect("generated capacity"))
        };
        let mut properties = json!({
            "external_id": s.external_id,
            "name": s.name,
            "capacity": capacity,
        });
        let optional = [
            ("timezone", s.timezone.map(str::to_owned)),
            ("opening_hours", s.hours.as_ref().map(|h| h.text.clone())),
            ("status", s.status.map(str::to_owned)),
        ];
        for (key, value) in optional {
            match value {
                Some(v) => properties[key] = json!(v),
                None if self.nulls => properties[key] = Value::Null,
                None => {}
            }
        }
        let mut feature = json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": coordinates},
            "properties": properties,
        });
        if self.extras {
            feature["id"] = json!(i);
            // Unknown properties (a fax; `phone` is a shop-file column since addresses).
            feature["properties"]["fax"] = json!(["+34 600 000 000"]);
            feature["properties"]["opening"] = json!({"note": "ask"});
        }
        feature
    }

    fn document(&self) -> Value {
        let features: Vec<Value> = (0..self.shops.len()).map(|i| self.feature(i)).collect();
        let mut doc = json!({"type": "FeatureCollection", "features": features});
        if self.extras {
            doc["name"] = json!("shops");
            doc["bbox"] = json!([-180, -90, 180, 90]);
        }
        doc
    }

    fn bytes(&self, doc: &Value) -> Vec<u8> {
        let text = if self.pretty {
            serde_json::to_string_pretty(doc)
        } else {
            serde_json::to_string(doc)
        }
        .expect("JSON text");
        if self.bom {
            format!("\u{feff}{text}").into_bytes()
        } else {
            text.into_bytes()
        }
    }

    fn expected(&self) -> Vec<ShopInput> {
        self.shops.iter().map(|s| s.expected([true; 3])).collect()
    }
}

fn read(bytes: &[u8]) -> Result<Vec<ShopInput>, Rejected> {
    parse(bytes, Format::GeoJson)
}

fn check_any(bytes: &[u8]) -> Result<Vec<ShopInput>, TestCaseError> {
    match read(bytes) {
        Ok(shops) => {
            check_accepted(&shops)?;
            Ok(shops)
        }
        Err(rejected) => {
            well_formed(&rejected, 0..=bytes.len())?;
            Ok(Vec::new())
        }
    }
}

/// Ways to break one feature, each with the field its error must name.
fn broken_feature(feature: &Value, choice: usize) -> (Value, &'static str) {
    let mut f = feature.clone();
    let [lon, lat] = [0, 1].map(|i| f["geometry"]["coordinates"][i].clone());
    let geometry: &[Value] = &[
        json!({"type": "LineString", "coordinates": [[lon, lat], [lon, lat]]}),
        json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon, lat], [lon, lat]]]}),
        json!({"type": "MultiPoint", "coordinates": [[lon, lat]]}),
        json!({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [lon, lat]}]}),
        json!({"type": "point", "coordinates": [lon, lat]}),
        json!({"type": "", "coordinates": [lon, lat]}),
        json!({"type": 5, "coordinates": [lon, lat]}),
        json!({"coordinates": [lon, lat]}),
        json!({"type": "Point"}),
        json!({"type": "Point", "coordinates": []}),
        json!({"type": "Point", "coordinates": [lon]}),
        json!({"type": "Point", "coordinates": ["1.5", "2.5"]}),
        json!({"type": "Point", "coordinates": [[lon, lat]]}),
        json!({"type": "Point", "coordinates": {"lon": lon, "lat": lat}}),
        json!({"type": "Point", "coordinates": null}),
        json!({"type": "Point", "coordinates": "1,2"}),
        json!({"type": "Point", "coordinates": [true, false]}),
        json!({"type": "Point", "coordinates": [lon, null]}),
        json!(null),
        json!([lon, lat]),
        json!("POINT(1 2)"),
    ];
    let coordinates: &[(Value, &str)] = &[
        (json!([181.0, lat]), "longitude"),
        (json!([-180.5, lat]), "longitude"),
        (json!([lon, 90.5]), "latitude"),
        (json!([lon, -1e300]), "latitude"),
        (json!([0, 0]), "latitude"),
    ];
    let properties: &[(&str, Value, &str)] = &[
        ("external_id", json!(["a"]), "external_id"),
        ("external_id", json!({"id": 1}), "external_id"),
        ("external_id", Value::Null, "external_id"),
        ("external_id", json!(""), "external_id"),
        ("name", json!(true), "name"),
        ("name", json!("a\u{0}b"), "name"),
        ("name", json!("   "), "name"),
        ("capacity", json!(1.5), "capacity"),
        ("capacity", json!(-3), "capacity"),
        ("capacity", json!(1e20), "capacity"),
        ("capacity", json!(u64::MAX), "capacity"),
        ("capacity", json!("ten"), "capacity"),
        ("capacity", Value::Null, "capacity"),
        ("timezone", json!("Mars/Olympus"), "timezone"),
        ("timezone", json!(1), "timezone"),
        ("status", json!("open"), "status"),
        ("status", json!(["active"]), "status"),
    ];
    let n_geometry = geometry.len();
    let n_coordinates = coordinates.len();
    let n_properties = properties.len();
    let choice = choice % (n_geometry + n_coordinates + n_properties + BROKEN_RULES.len() + 3);
    if choice < n_geometry {
        f["geometry"] = geometry[choice].clone();
        return (f, "geometry");
    }
    let choice = choice - n_geometry;
    if choice < n_coordinates {
        f["geometry"]["coordinates"] = coordinates[choice].0.clone();
        return (f, coordinates[choice].1);
    }
    let choice = choice - n_coordinates;
    if choice < n_properties {
        let (key, value, field) = &properties[choice];
        f["properties"][*key] = value.clone();
        return (f, *field);
    }
    let choice = choice - n_properties;
    if choice < BROKEN_RULES.len() {
        f["properties"]["timezone"] = json!("Asia/Shanghai");
        f["properties"]["opening_hours"] = json!(BROKEN_RULES[choice]);
        return (f, "opening_hours");
    }
    // No usable properties at all: the required ones are each missing.
    f["properties"] =
        [Value::Null, json!([1, 2]), json!("shop")][choice - BROKEN_RULES.len()].clone();
    (f, "external_id")
}

/// Ways to break the document as a whole (all named on row 0), as bytes.
fn broken_document(good: &GeoFile, choice: usize) -> (Vec<u8>, &'static str) {
    let doc = good.document();
    let mut edited = doc.clone();
    let (value, field) = match choice % 12 {
        0 => (
            json!({"type": "Feature", "features": doc["features"]}),
            "type",
        ),
        1 => (json!({"features": doc["features"]}), "type"),
        2 => (json!({"type": "featurecollection", "features": []}), "type"),
        3 => (doc["features"].clone(), "type"),
        4 => (json!("FeatureCollection"), "type"),
        5 => (json!({"type": "FeatureCollection"}), "features"),
        6 => {
            edited["features"] = json!({"0": doc["features"][0]});
            (edited, "features")
        }
        7 => {
            edited["features"] = json!(null);
            (edited, "features")
        }
        // Deeper than any parser should follow.
        8 => {
            let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
            let text = String::from_utf8(good.bytes(&doc)).expect("UTF-8");
            let text = text.replacen("\"Feature\"", &format!("\"Feature\",\"deep\":{deep}"), 1);
            return (text.into_bytes(), "*");
        }
        9 => {
            let text = String::from_utf8(good.bytes(&doc)).expect("UTF-8");
            let huge = text.replacen("\"capacity\":", "\"capacity\":1e999,\"was\":", 1);
            return (huge.into_bytes(), "*");
        }
        10 => return (utf16le(&serde_json::to_string(&doc).expect("JSON")), "*"),
        _ => {
            let mut text = serde_json::to_string(&doc).expect("JSON");
            text.push_str("\n}");
            return (text.into_bytes(), "*");
        }
    };
    (good.bytes(&value), field)
}

const JSON_FRAGMENTS: &[&str] = &[
    "{\"type\":\"FeatureCollection\",\"features\":[",
    "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[",
    "-3.7,40.4]},\"properties\":{",
    "\"external_id\":\"a\",\"name\":\"n\",\"capacity\":",
    "\"timezone\":\"Europe/Madrid\",\"opening_hours\":\"Mo 09:00-10:00\"",
    "}}",
    "]}",
    "\"status\":",
    "\"paused\"",
];

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn valid_collections_read_back_exactly(f in file(12)) {
        let bytes = f.bytes(&f.document());
        let shops = read(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = f.expected();
        prop_assert_eq!(shops.len(), expected.len());
        for (got, want) in shops.iter().zip(&expected) {
            // serde_json's default float parsing may land one unit in the last place away
            // from the nearest double (a nanometre here); everything else must be exact.
            for (a, b) in [(got.latitude, want.latitude), (got.longitude, want.longitude)] {
                prop_assert!((a - b).abs() <= 1e-12, "{} vs {}", a, b);
            }
            let same_place = ShopInput { latitude: want.latitude, longitude: want.longitude, ..got.clone() };
            prop_assert_eq!(&same_place, want);
        }
    }

    #[test]
    fn one_broken_feature_is_named_by_number_and_field(
        f in file(6),
        at in any::<Index>(),
        choice in any::<usize>(),
    ) {
        let i = at.index(f.shops.len());
        let mut doc = f.document();
        let (feature, field) = broken_feature(&doc["features"][i], choice);
        doc["features"][i] = feature;
        let bytes = f.bytes(&doc);
        let err = read(&bytes).expect_err(&format!("{}", doc["features"][i]));
        well_formed(&err, 1..=f.shops.len())?;
        prop_assert!(names(&err, i + 1, field), "{field}: {:?} for {}", err.errors, doc["features"][i]);
        prop_assert!(err.errors.iter().all(|e| e.row == i + 1), "{:?}", err.errors);
    }

    #[test]
    fn a_broken_document_is_refused_whole(f in file(4), choice in any::<usize>()) {
        let (bytes, field) = broken_document(&f, choice);
        let err = read(&bytes).expect_err("broken document");
        well_formed(&err, 0..=0)?;
        prop_assert_eq!(err.errors.len(), 1);
        prop_assert_eq!(&err.errors[0].field, field, "{:?}", err.errors);
    }

    #[test]
    fn latin1_documents_are_refused_or_read(f in file(4)) {
        let text = serde_json::to_string(&f.document()).expect("JSON");
        let text: String = text.chars().map(|c| if u32::from(c) > 0xff { 'ñ' } else { c }).collect();
        let bytes = latin1(&text).expect("latin-1");
        if text.is_ascii() {
            prop_assert!(read(&bytes).is_ok());
        } else {
            let err = read(&bytes).expect_err("not UTF-8");
            prop_assert!(names(&err, 0, "*"), "{:?}", err.errors);
        }
    }

    #[test]
    fn truncated_and_mutated_documents_never_panic(
        f in file(6),
        cut in any::<Index>(),
        edits in byte_edits(4),
    ) {
        check_any(&overwritten_and_cut(f.bytes(&f.document()), &edits, cut))?;
    }
}

noise_properties!(check_any, JSON_FRAGMENTS);
