use super::*;

fn csv(body: &str) -> Result<Vec<ShopInput>, Rejected> {
    parse(body.as_bytes(), Format::Csv)
}

#[test]
fn optional_columns_default_and_any_order_is_fine() {
    let shops = csv("capacity,longitude,latitude,name,external_id\n5,-3.5,40.5, Shop ,a-1\n")
        .expect("valid");
    assert_eq!(shops.len(), 1);
    let s = &shops[0];
    assert_eq!(
        (s.external_id.as_str(), s.name.as_str(), s.capacity),
        ("a-1", "Shop", 5)
    );
    assert_eq!((s.timezone, s.status), (chrono_tz::UTC, ShopStatus::Active));
    assert_eq!(s.hours, WeeklyHours::always());
}

#[test]
fn quoted_fields_bom_and_crlf() {
    let body = "\u{feff}external_id,name,latitude,longitude,capacity,timezone,opening_hours\r\n\
                x,\"Kiosko, Sol\",40.4,-3.7,10,Europe/Madrid,\"Mo-Fr 09:00-14:00,17:00-20:00\"\r\n";
    let shops = csv(body).expect("valid");
    assert_eq!(shops[0].name, "Kiosko, Sol");
    assert!(shops[0].hours.is_open_local(0, 17 * 60));
}

#[test]
fn hours_without_a_time_zone_are_refused() {
    let err = csv(
        "external_id,name,latitude,longitude,capacity,opening_hours\nx,y,1,1,1,Mo 09:00-10:00\n",
    )
    .expect_err("no tz");
    assert_eq!(
        err.errors,
        vec![RowError {
            row: 2,
            field: "timezone".into(),
            message: "required when opening_hours is given".into()
        }]
    );
}

#[test]
fn error_lists_are_capped() {
    let mut body = String::from("external_id,name,latitude,longitude,capacity\n");
    for i in 0..(MAX_ERRORS + 10) {
        body.push_str(&format!("id{i},n,100,1,1\n"));
    }
    let err = csv(&body).expect_err("all bad");
    assert_eq!(err.errors.len(), MAX_ERRORS);
    assert!(err.truncated);
    assert!(err.to_string().contains("row 2, latitude"), "{err}");
}

#[test]
fn geojson_property_types_are_checked_once() {
    let doc = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"external_id":["a"],"name":"n","capacity":1}},
        {"type":"Feature","geometry":{"type":"Point","coordinates":[1]},"properties":{}},
        {"type":"Feature","geometry":null,"properties":{}}
    ]}"#;
    let err = parse(doc.as_bytes(), Format::GeoJson).expect_err("bad");
    let fields: Vec<(usize, &str)> = err
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![(1, "external_id"), (2, "geometry"), (3, "geometry")]
    );
}

#[test]
fn format_detection() {
    assert_eq!(Format::detect(Some("shops.GEOJSON"), b""), Format::GeoJson);
    assert_eq!(Format::detect(Some("shops.csv"), b"{"), Format::Csv);
    assert_eq!(Format::detect(None, b"  \n{\"type\""), Format::GeoJson);
    assert_eq!(Format::detect(None, b"external_id,name"), Format::Csv);
}

#[test]
fn long_and_control_character_values_are_refused() {
    let long = "x".repeat(65);
    let err = csv(&format!(
        "external_id,name,latitude,longitude,capacity\n{long},n,1,1,1\nok,\"a\u{7}b\",1,1,1\n"
    ))
    .expect_err("bad");
    assert_eq!(err.errors[0].message, "is longer than 64 characters");
    assert_eq!(
        (err.errors[1].row, err.errors[1].field.as_str()),
        (3, "name")
    );
}

#[test]
fn rows_are_numbered_by_line_whatever_the_line_ends() {
    for newline in ["\n", "\r\n", "\r"] {
        let body = [
            "external_id,name,latitude,longitude,capacity",
            "a,A,1,1,1",
            "b,B,91,1,1",
            "c,C,1,1,-1",
        ]
        .join(newline);
        let err = csv(&body).expect_err("bad rows");
        let rows: Vec<(usize, &str)> = err
            .errors
            .iter()
            .map(|e| (e.row, e.field.as_str()))
            .collect();
        assert_eq!(
            rows,
            [(3, "latitude"), (4, "capacity")],
            "line ends {newline:?}"
        );
    }
}

#[test]
fn a_column_without_a_name_is_named_by_position() {
    let err =
        csv("external_id,name,latitude,longitude,capacity,\na,A,1,1,1,\n").expect_err("bad header");
    assert_eq!(
        (err.errors[0].row, err.errors[0].field.as_str()),
        (1, "header")
    );
    assert!(
        err.errors[0].message.starts_with("column 6 has no name"),
        "{}",
        err.errors[0].message
    );
}

#[test]
fn geojson_may_start_with_a_byte_order_mark() {
    let doc = "\u{feff}{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\
               \"geometry\":{\"type\":\"Point\",\"coordinates\":[-3.7,40.4]},\
               \"properties\":{\"external_id\":\"a\",\"name\":\"A\",\"capacity\":3}}]}";
    let shops = parse(doc.as_bytes(), Format::GeoJson).expect("valid");
    assert_eq!((shops[0].external_id.as_str(), shops[0].capacity), ("a", 3));
}

#[test]
fn services_and_closures_columns_are_read_and_default() {
    let shops = csv(
        "external_id,name,latitude,longitude,capacity,services,closures\n\
         a,A,1,1,1,pickup|dropoff,2026-12-24/2026-12-26 Christmas;2027-01-01 New year\n\
         b,B,1,2,1,,\n",
    )
    .expect("valid");
    assert_eq!(shops[0].services.names(), ["pickup", "dropoff"]);
    let closures = shops[0].closures.as_ref().expect("closures given");
    assert_eq!(closures.len(), 2);
    assert_eq!(closures[0].reason, "Christmas");
    assert_eq!(shops[1].services, crate::network::services::Services::all());
    assert_eq!(shops[1].closures, Some(vec![]));
    let without = csv("external_id,name,latitude,longitude,capacity\nc,C,1,1,1\n").expect("valid");
    assert_eq!(without[0].closures, None);
}

#[test]
fn bad_services_and_closures_name_their_field() {
    let err = csv(
        "external_id,name,latitude,longitude,capacity,services,closures\n\
         a,A,1,1,1,pickup|teleport,\n\
         b,B,1,2,1,pickup,2026-12-26/2026-12-24 backwards\n",
    )
    .expect_err("bad rows");
    let fields: Vec<(usize, &str)> = err
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(fields, [(2, "services"), (3, "closures")]);
}

#[test]
fn geojson_accepts_arrays_for_services_and_closures() {
    let doc = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-3.7,40.4]},
       "properties":{"external_id":"a","name":"A","capacity":3,"timezone":"Europe/Madrid",
         "services":["staging","pickup"],
         "closures":["2026-12-24/2026-12-26 Christmas",{"start":"2027-01-01","end":"2027-01-01","reason":"New year"}]}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[-3.7,40.5]},
       "properties":{"external_id":"b","name":"B","capacity":3,"services":[1],"closures":[{"start":"x"}]}}]}"#;
    let err = parse(doc.as_bytes(), Format::GeoJson).expect_err("second feature is bad");
    let fields: Vec<(usize, &str)> = err
        .errors
        .iter()
        .map(|e| (e.row, e.field.as_str()))
        .collect();
    assert_eq!(fields, [(2, "services"), (2, "closures")]);
    let good = doc.split(",\n      {\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[-3.7,40.5]}").next().expect("first feature").to_owned() + "]}";
    let shops = parse(good.as_bytes(), Format::GeoJson).expect("valid");
    assert_eq!(shops[0].services.names(), ["pickup", "staging"]);
    assert_eq!(shops[0].closures.as_ref().map(Vec::len), Some(2));
}
