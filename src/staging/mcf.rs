//! Exact min-cost flow for the staging model: successive shortest paths with potentials.
//!
//! Nodes are zones (with a supply), shops (with a capacity towards the sink) and the sink.
//! Each round picks a zone with supply left, runs Dijkstra on reduced costs from it and stops
//! as soon as the sink is settled, then augments along that path (Ahuja, Magnanti & Orlin,
//! *Network Flows*, §9.7: any node with excess may be the source). Early stopping keeps the
//! search local: most units find a nearby shop with room in a few steps, and only congested
//! areas search wider. Potentials are updated lazily (a global offset is implied for every
//! node not settled), so a round costs only what it touches. Costs are integers, so the
//! result is an exact integral optimum.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

const INF: i64 = i64::MAX / 4;

/// A residual arc.
#[derive(Debug, Clone, Copy)]
struct Arc {
    to: u32,
    cost: i64,
    cap: i64,
}

/// A flow network for one staging problem.
#[derive(Debug, Default)]
pub struct Network {
    /// Arc list; arc `a` and `a ^ 1` are each other's reverse.
    arcs: Vec<Arc>,
    /// First arc of each node in `order` (CSR), built by `seal`.
    start: Vec<u32>,
    order: Vec<u32>,
    tail: Vec<u32>,
    nodes: usize,
}

impl Network {
    /// A network with `nodes` nodes and no arcs.
    pub fn new(nodes: usize) -> Self {
        Self {
            nodes,
            ..Self::default()
        }
    }

    /// Adds an arc `from → to`; returns its index (its flow is read with [`Network::flow`]).
    pub fn add_arc(&mut self, from: usize, to: usize, cap: i64, cost: i64) -> usize {
        let a = self.arcs.len();
        self.arcs.push(Arc {
            to: to as u32,
            cost,
            cap,
        });
        self.arcs.push(Arc {
            to: from as u32,
            cost: -cost,
            cap: 0,
        });
        self.tail.push(from as u32);
        self.tail.push(to as u32);
        a
    }

    /// Flow on an arc added by [`Network::add_arc`].
    pub fn flow(&self, arc: usize) -> i64 {
        self.arcs[arc ^ 1].cap
    }

    fn seal(&mut self) {
        let mut count = vec![0u32; self.nodes + 1];
        for &t in &self.tail {
            count[t as usize + 1] += 1;
        }
        for i in 0..self.nodes {
            count[i + 1] += count[i];
        }
        let mut next = count.clone();
        let mut order = vec![0u32; self.arcs.len()];
        for (a, &t) in self.tail.iter().enumerate() {
            order[next[t as usize] as usize] = a as u32;
            next[t as usize] += 1;
        }
        self.start = count;
        self.order = order;
    }

    /// Sends every unit of `supply[node]` to `sink` at minimum total cost. Every supply node
    /// must have a path to the sink with unbounded capacity (the staging model's unmet arc),
    /// so the flow always exists. `progress` is told the units still to route.
    pub fn solve(&mut self, supply: &mut [i64], sink: usize, progress: &mut dyn FnMut(i64)) {
        self.seal();
        let n = self.nodes;
        let mut pot = vec![0i64; n];
        let mut dist = vec![INF; n];
        let mut pred = vec![u32::MAX; n];
        let mut done = vec![false; n];
        let mut touched: Vec<u32> = Vec::new();
        let mut heap = BinaryHeap::new();
        let mut left: i64 = supply.iter().sum();
        let sources: Vec<usize> = (0..n).filter(|&v| supply[v] > 0).collect();
        let mut rounds = 0u64;
        // Told once the network is built, before the first path.
        progress(left);
        for &source in &sources {
            while supply[source] > 0 {
                // Dijkstra on reduced costs from `source`, stopping when the sink is settled.
                dist[source] = 0;
                touched.push(source as u32);
                heap.push(Reverse((0i64, source as u32)));
                while let Some(Reverse((d, u))) = heap.pop() {
                    let u = u as usize;
                    if done[u] || d > dist[u] {
                        continue;
                    }
                    done[u] = true;
                    if u == sink {
                        break;
                    }
                    for &a in &self.order[self.start[u] as usize..self.start[u + 1] as usize] {
                        let arc = self.arcs[a as usize];
                        if arc.cap <= 0 {
                            continue;
                        }
                        let v = arc.to as usize;
                        let nd = d + arc.cost + pot[u] - pot[v];
                        if nd < dist[v] {
                            if dist[v] == INF {
                                touched.push(v as u32);
                            }
                            dist[v] = nd;
                            pred[v] = a;
                            heap.push(Reverse((nd, v as u32)));
                        }
                    }
                }
                heap.clear();
                let dt = dist[sink];
                // Lazy potential update: every node gains dt (implied), settled nodes closer
                // than the sink gain their own distance instead.
                for &v in &touched {
                    let v = v as usize;
                    if done[v] && dist[v] < dt {
                        pot[v] += dist[v] - dt;
                    }
                }
                let mut push = supply[source];
                let mut v = sink;
                while v != source {
                    let a = pred[v] as usize;
                    push = push.min(self.arcs[a].cap);
                    v = self.arcs[a ^ 1].to as usize;
                }
                let mut v = sink;
                while v != source {
                    let a = pred[v] as usize;
                    self.arcs[a].cap -= push;
                    self.arcs[a ^ 1].cap += push;
                    v = self.arcs[a ^ 1].to as usize;
                }
                supply[source] -= push;
                left -= push;
                for &v in &touched {
                    let v = v as usize;
                    dist[v] = INF;
                    pred[v] = u32::MAX;
                    done[v] = false;
                }
                touched.clear();
                rounds += 1;
                if rounds.is_multiple_of(4096) {
                    progress(left);
                }
            }
        }
        progress(0);
    }
}
