// LEMON's network simplex on an instance exported by benches/allocator.rs, with 64-bit costs
// (bench/staging/run.sh compiles it with -O3, as the mcmf crate compiles its binding, against
// the LEMON sources vendored in that crate).
//
//   lemon_ns DIR ROUND >> timings.jsonl
//
// The mcmf crate instantiates NetworkSimplex<SmartDigraph>, i.e. with 32-bit int flows, costs
// and potentials, and takes i32 costs: pudo's integer costs (micrometres; the 50 km penalty is
// 5e10) do not fit. This driver solves exactly pudo's network with NetworkSimplex<SmartDigraph,
// int64_t, int64_t>: nodes are the zones (supply: their units), the shops some arc reaches, and
// a sink (demand: all units); arcs are zone -> shop (capacity: the zone's units, cost: pudo's
// micrometres), zone -> sink at the penalty, and shop -> sink with the shop's capacity.
//
// What is timed: `build_s` is building the SmartDigraph, its capacity, cost and supply maps
// and the NetworkSimplex object; `solve_s` is NetworkSimplex::run() alone (default pivot
// rule, block search). Reading the files and checking the objective are not timed.
#include "lemon/network_simplex.h"
#include "lemon/smart_graph.h"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace lemon;

static std::vector<int64_t> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<int64_t> v;
  int64_t x;
  while (in >> x) v.push_back(x);
  return v;
}

template <typename T>
static std::vector<T> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::streamsize bytes = in.tellg();
  in.seekg(0);
  std::vector<T> v(bytes / sizeof(T));
  in.read(reinterpret_cast<char*>(v.data()), bytes);
  return v;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: lemon_ns DIR ROUND\n");
    return 2;
  }
  const std::string dir = argv[1];
  const double penalty_km = 50.0;
  const int64_t penalty = std::llround(penalty_km * 1000.0 * 1e6);
  std::vector<int64_t> zones = read_lines(dir + "/zones.csv");
  std::vector<int64_t> shops = read_lines(dir + "/shops.csv");
  std::vector<uint32_t> az = read_raw<uint32_t>(dir + "/arc_zone.u32");
  std::vector<uint32_t> ashop = read_raw<uint32_t>(dir + "/arc_shop.u32");
  std::vector<double> km = read_raw<double>(dir + "/arc_km.f64");
  std::vector<int64_t> cost = read_raw<int64_t>(dir + "/arc_cost.i64");
  const int nz = zones.size(), na = az.size();
  // Shops some arc reaches, numbered after the zones in index order (as pudo does).
  std::vector<int> node(shops.size(), -1);
  for (int a = 0; a < na; ++a) node[ashop[a]] = 0;
  int next = nz;
  std::vector<int> reached;
  for (size_t s = 0; s < shops.size(); ++s)
    if (node[s] == 0) {
      node[s] = next++;
      reached.push_back(s);
    }
  const int sink = next;
  int64_t units = 0;
  for (int64_t u : zones) units += u;

  auto t0 = std::chrono::steady_clock::now();
  SmartDigraph g;
  g.reserveNode(sink + 1);
  g.reserveArc(na + nz + reached.size());
  for (int v = 0; v <= sink; ++v) g.addNode();
  for (int a = 0; a < na; ++a) g.addArc(g.nodeFromId(az[a]), g.nodeFromId(node[ashop[a]]));
  for (int z = 0; z < nz; ++z) g.addArc(g.nodeFromId(z), g.nodeFromId(sink));
  for (int s : reached) g.addArc(g.nodeFromId(node[s]), g.nodeFromId(sink));
  SmartDigraph::ArcMap<int64_t> cap(g), costs(g);
  SmartDigraph::NodeMap<int64_t> supply(g, 0);
  for (int a = 0; a < na; ++a) {
    cap[g.arcFromId(a)] = zones[az[a]];
    costs[g.arcFromId(a)] = cost[a];
  }
  for (int z = 0; z < nz; ++z) {
    cap[g.arcFromId(na + z)] = zones[z];
    costs[g.arcFromId(na + z)] = penalty;
    supply[g.nodeFromId(z)] = zones[z];
  }
  for (size_t k = 0; k < reached.size(); ++k) {
    cap[g.arcFromId(na + nz + k)] = shops[reached[k]];
    costs[g.arcFromId(na + nz + k)] = 0;
  }
  supply[g.nodeFromId(sink)] = -units;
  NetworkSimplex<SmartDigraph, int64_t, int64_t> ns(g);
  ns.upperMap(cap).costMap(costs).supplyMap(supply);
  auto t1 = std::chrono::steady_clock::now();
  auto status = ns.run();
  auto t2 = std::chrono::steady_clock::now();
  if (status != NetworkSimplex<SmartDigraph, int64_t, int64_t>::OPTIMAL) {
    std::fprintf(stderr, "%s: LEMON status %d\n", dir.c_str(), int(status));
    return 1;
  }
  // Not timed: the objective from the flows with the exact distances, as pudo reports it.
  double objective = 0;
  int64_t unmet = 0;
  for (int a = 0; a < na; ++a) objective += double(ns.flow(g.arcFromId(a))) * km[a];
  for (int z = 0; z < nz; ++z) unmet += ns.flow(g.arcFromId(na + z));
  objective += penalty_km * double(unmet);
  std::string name = dir.substr(dir.find_last_of('_') + 1);
  std::printf(
      "{\"solver\": \"lemon64\", \"zones\": %s, \"round\": %s, \"build_s\": %.6f, \"solve_s\": "
      "%.6f, \"objective_km\": %.17g, \"integer_cost\": %lld, \"unmet_units\": %lld}\n",
      name.c_str(), argv[2], std::chrono::duration<double>(t1 - t0).count(),
      std::chrono::duration<double>(t2 - t1).count(), objective,
      (long long)ns.totalCost<int64_t>(), (long long)unmet);
  return 0;
}
