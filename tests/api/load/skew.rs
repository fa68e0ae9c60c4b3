//! Which shop a midnight order goes to: a Zipf law over the shops ranked by how popular they
//! are (for the seed network: by their city's population, the largest city first). With the
//! default exponent 0.9 on the CN network (615,926 shops) the top tenth of the shops receive
//! about 73 % of the orders and the single most popular shop about 3.5 %, so the hot shops of
//! the big cities fill up in the first seconds and later orders for them are refused.

use rand::Rng;

/// A Zipf law over ranks `0..n` (rank 0 the most likely), sampled by binary search in its
/// cumulative distribution.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// P(rank k) ∝ 1 / (k + 1)^exponent over `n` ranks; `None` when `n` is 0 or the exponent
    /// is negative or not finite.
    pub fn new(n: usize, exponent: f64) -> Option<Self> {
        if n == 0 || !exponent.is_finite() || exponent < 0.0 {
            return None;
        }
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += (k as f64).powf(-exponent);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Some(Self { cdf })
    }

    /// The number of ranks.
    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    /// The probability that a draw falls among the first `k` ranks.
    pub fn share_of_top(&self, k: usize) -> f64 {
        match k {
            0 => 0.0,
            k => self.cdf[k.min(self.cdf.len()) - 1],
        }
    }

    /// A rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}

/// The seed network's shops ranked for the midnight: by their place's population (largest
/// first), then by place, then by the shop's number in its place. `shops` are (pudo id,
/// external id); `places_csv` is the seed's place file (`pudo::network::seed::PLACES_CSV`).
/// Shops whose external id is not a seed id (`CC-<geonameid>-<k>`) come last, by id.
pub fn rank_by_city(shops: &[(i64, String)], places_csv: &str) -> Vec<i64> {
    let mut population = std::collections::HashMap::new();
    let mut reader = csv::Reader::from_reader(places_csv.as_bytes());
    let headers = reader.headers().cloned().unwrap_or_default();
    let column = |name: &str| headers.iter().position(|h| h == name);
    if let (Some(id), Some(pop)) = (column("geonameid"), column("population")) {
        for record in reader.records().flatten() {
            if let (Some(Ok(g)), Some(Ok(p))) = (
                record.get(id).map(str::parse::<u64>),
                record.get(pop).map(str::parse::<u64>),
            ) {
                population.insert(g, p);
            }
        }
    }
    let mut keyed: Vec<((u64, u64, u64, i64), i64)> = shops
        .iter()
        .map(|(id, external_id)| {
            let mut parts = external_id.splitn(3, '-').skip(1);
            let place = parts.next().and_then(|g| g.parse::<u64>().ok());
            let number = parts.next().and_then(|k| k.parse::<u64>().ok());
            let key = match (place, number) {
                (Some(g), Some(k)) if population.contains_key(&g) => {
                    (u64::MAX - population[&g], g, k, *id)
                }
                _ => (u64::MAX, u64::MAX, u64::MAX, *id),
            };
            (key, *id)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, id)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn a_tenth_of_the_shops_take_most_of_the_orders() {
        let zipf = Zipf::new(10_000, 0.9).expect("zipf");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let draws = 100_000;
        let top = (0..draws).filter(|_| zipf.sample(&mut rng) < 1_000).count();
        let share = top as f64 / draws as f64;
        assert!(share > 0.5, "top tenth drew {share}");
        assert!((share - zipf.share_of_top(1_000)).abs() < 0.01);
        assert!(Zipf::new(0, 1.0).is_none() && Zipf::new(3, f64::NAN).is_none());
        // Exponent 0: every rank equally likely, the last one included.
        let flat = Zipf::new(4, 0.0).expect("flat");
        let mut seen = [0; 4];
        for _ in 0..4_000 {
            seen[flat.sample(&mut rng)] += 1;
        }
        assert!(seen.iter().all(|n| *n > 800), "{seen:?}");
    }

    #[test]
    fn shops_of_the_largest_city_come_first() {
        let places = "geonameid,name,latitude,longitude,country,admin1,population,timezone\n\
                      1,Small,0,0,CN,1,2000,Asia/Shanghai\n\
                      2,Big,0,0,CN,1,90000,Asia/Shanghai\n";
        let shops = [
            (10, "CN-1-1".to_owned()),
            (11, "own-shop".to_owned()),
            (12, "CN-2-2".to_owned()),
            (13, "CN-2-1".to_owned()),
            (14, "CN-9-1".to_owned()),
        ];
        assert_eq!(rank_by_city(&shops, places), vec![13, 12, 10, 11, 14]);
    }
}
