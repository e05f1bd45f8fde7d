// Borrowed view of a sequence corpus in CSR form (see docs/formats.md), and the
// per-sequence characteristic counts the scheduler works on.
#pragma once
#include <cstdint>
#include <vector>

namespace curricula {

struct CorpusView {
  uint64_t numSequences = 0;
  const uint64_t* offsets = nullptr;  // numSequences + 1
  const uint32_t* group = nullptr;    // nnz
  const uint32_t* bin = nullptr;      // nnz
  const uint32_t* tokens = nullptr;   // nnz
  uint32_t numGroups = 0;
  uint32_t numBins = 0;
  uint64_t nnz() const { return offsets[numSequences]; }
};

// Throws std::invalid_argument naming the field and index; never reads out of bounds
// given that the offsets array has numSequences + 1 entries and the others nnz.
void validateCorpus(const CorpusView& c);

// Token counts per distinct characteristic of each sequence: groups in one CSR,
// length bins in another, plus the sequence length.
struct SequenceCounts {
  std::vector<uint64_t> groupOff, binOff;
  std::vector<uint32_t> groupId, groupCount, binId, binCount;
  std::vector<uint64_t> length;
  uint64_t totalTokens = 0;
  std::vector<uint64_t> groupTokens, binTokens;  // corpus totals
  std::vector<uint64_t> groupBinTokens;          // K x B, row-major by group
};
SequenceCounts countCharacteristics(const CorpusView& c);

}  // namespace curricula
