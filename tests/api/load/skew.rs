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
