-- pgbench script: the 10 nearest active shops to one of the bench's query points, picked at
-- random (the point is read from bench_points in an InitPlan, so the GiST index still orders).
\set i random(1, 10000)
SELECT id FROM bench_shops WHERE active
 ORDER BY geog <-> (SELECT geog FROM bench_points WHERE i = :i) LIMIT 10;
