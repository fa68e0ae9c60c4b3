//! Several instances on one database: each index follows the others' imports.

use crate::on_both_backends;
use crate::search::FIXTURE;
use crate::support::{Backend, TestDb};
use pudo::network::import::Format;
use pudo::network::service::Network;
use pudo::network::SearchFilter;

async fn a_second_instance_follows_imports(backend: Backend) {
    let db = TestDb::new(backend);
    let a = Network::new(db.pool());
    let b = Network::new(db.pool());
    a.refresh().expect("a loads");
    b.refresh().expect("b loads");
    assert!(b.is_loaded() && b.index().is_empty());
    a.import_file(FIXTURE.as_bytes(), Format::Csv, &mut |_| {})
        .expect("import on a");
    assert_eq!(a.index().len(), 6);
    assert_eq!(b.index().len(), 0, "b has not polled yet");
    assert_eq!(b.refresh().expect("b polls"), 6);
    assert_eq!(b.revision(), a.revision());
    let nearest = |n: &Network| {
        n.index()
            .search(40.4168, -3.7038, &SearchFilter::nearest(3))
            .iter()
            .map(|h| h.shop.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(nearest(&a), nearest(&b));
    // A status change made through b reaches a; polling again with nothing new is a no-op.
    b.import_file(b"external_id,name,latitude,longitude,capacity,status\nmad-sol,Sol,40.4169,-3.7035,20,paused\n", Format::Csv, &mut |_| {})
        .expect("import on b");
    assert_eq!(a.refresh().expect("a polls"), 1);
    assert_eq!(a.refresh().expect("a polls again"), 0);
    assert_eq!(nearest(&a), nearest(&b));
    assert!(a
        .index()
        .search(40.4168, -3.7038, &SearchFilter::nearest(10))
        .iter()
        .all(|h| &*h.shop.external_id != "mad-sol"));
}
on_both_backends!(a_second_instance_follows_imports);
