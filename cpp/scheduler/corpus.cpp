#include "scheduler/corpus.hpp"
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace curricula {

static std::invalid_argument bad(const std::string& msg) { return std::invalid_argument(msg); }

void validateCorpus(const CorpusView& c) {
  if (c.numGroups == 0) throw bad("numGroups must be at least 1");
  if (c.numBins == 0) throw bad("numBins must be at least 1");
  if (c.offsets[0] != 0) throw bad("offsets[0] must be 0 but is " + std::to_string(c.offsets[0]));
  for (uint64_t s = 0; s < c.numSequences; s++) {
    if (c.offsets[s + 1] < c.offsets[s])
      throw bad("offsets must be nondecreasing but offsets[" + std::to_string(s + 1) + "] < offsets[" +
                std::to_string(s) + "]");
    if (c.offsets[s + 1] == c.offsets[s]) throw bad("sequence " + std::to_string(s) + " is empty");
  }
  const uint64_t nnz = c.nnz();
  for (uint64_t i = 0; i < nnz; i++) {
    if (c.group[i] >= c.numGroups)
      throw bad("group[" + std::to_string(i) + "] = " + std::to_string(c.group[i]) + " is out of range [0, " +
                std::to_string(c.numGroups) + ")");
    if (c.bin[i] >= c.numBins)
      throw bad("bin[" + std::to_string(i) + "] = " + std::to_string(c.bin[i]) + " is out of range [0, " +
                std::to_string(c.numBins) + ")");
    if (c.tokens[i] == 0) throw bad("tokens[" + std::to_string(i) + "] must be at least 1 but is 0");
  }
}

// Aggregates (id, count) pairs of one sequence in place; sequences hold few segments.
static void aggregate(std::vector<std::pair<uint32_t, uint32_t>>& v) {
  std::sort(v.begin(), v.end());
  size_t w = 0;
  for (size_t r = 0; r < v.size(); r++) {
    if (w > 0 && v[w - 1].first == v[r].first) v[w - 1].second += v[r].second;
    else v[w++] = v[r];
  }
  v.resize(w);
}

SequenceCounts countCharacteristics(const CorpusView& c) {
  SequenceCounts out;
  const uint64_t M = c.numSequences;
  out.groupOff.assign(M + 1, 0);
  out.binOff.assign(M + 1, 0);
  out.length.assign(M, 0);
  out.groupTokens.assign(c.numGroups, 0);
  out.binTokens.assign(c.numBins, 0);
  out.groupBinTokens.assign((size_t)c.numGroups * c.numBins, 0);
  out.groupId.reserve(c.nnz());
  out.groupCount.reserve(c.nnz());
  out.binId.reserve(c.nnz());
  out.binCount.reserve(c.nnz());
  std::vector<std::pair<uint32_t, uint32_t>> g, b;
  for (uint64_t s = 0; s < M; s++) {
    g.clear();
    b.clear();
    uint64_t len = 0;
    for (uint64_t i = c.offsets[s]; i < c.offsets[s + 1]; i++) {
      g.emplace_back(c.group[i], c.tokens[i]);
      b.emplace_back(c.bin[i], c.tokens[i]);
      len += c.tokens[i];
      out.groupTokens[c.group[i]] += c.tokens[i];
      out.binTokens[c.bin[i]] += c.tokens[i];
      out.groupBinTokens[(size_t)c.group[i] * c.numBins + c.bin[i]] += c.tokens[i];
    }
    if (len > UINT32_MAX) throw bad("sequence " + std::to_string(s) + " has more than 2^32-1 tokens");
    aggregate(g);
    aggregate(b);
    for (auto& p : g) { out.groupId.push_back(p.first); out.groupCount.push_back(p.second); }
    for (auto& p : b) { out.binId.push_back(p.first); out.binCount.push_back(p.second); }
    out.groupOff[s + 1] = out.groupId.size();
    out.binOff[s + 1] = out.binId.size();
    out.length[s] = len;
    out.totalTokens += len;
  }
  return out;
}

}  // namespace curricula
