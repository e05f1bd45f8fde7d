// A small feed-forward next-token language model (Bengio et al. 2003 style):
// the embeddings of the previous `context` tokens are concatenated, passed
// through one tanh hidden layer, then a linear layer and a softmax over the
// vocabulary. Plain SGD over a given sequence order. Everything is
// deterministic given the seed and the order (no threads inside a training run).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace curricula::model {

// Token id 0 is <eos>; it also pads the context before the first token of a sequence.
constexpr uint32_t kPadToken = 0;

struct ModelShape {
  uint32_t vocab = 0;    // V
  uint32_t context = 0;  // k previous tokens
  uint32_t embed = 0;    // E
  uint32_t hidden = 0;   // H
};

// Offsets of each tensor in the flat float parameter vector. Weights are
// stored input-major, W[in][out], so the forward pass is a chain of axpys.
struct ParamLayout {
  size_t emb, w1, b1, w2, b2, total;  // emb: [V][E], w1: [k*E][H], b1: [H], w2: [H][V], b2: [V]
};

// The two dense layers whose per-example gradients feed the influence engine.
enum class Layer { Hidden = 0, Output = 1 };
struct LayerDims { uint32_t in, out; };  // in excludes the bias input

void validateShape(const ModelShape& s);
ParamLayout layoutOf(const ModelShape& s);
LayerDims layerDims(const ModelShape& s, Layer layer);
std::vector<float> initParams(const ModelShape& s, uint64_t seed);

// A set of token sequences in CSR form: sequence i is ids[offsets[i] .. offsets[i+1]).
struct TokenSequences {
  const uint32_t* ids = nullptr;
  size_t numIds = 0;
  const uint32_t* offsets = nullptr;
  size_t numSequences = 0;
};
// Throws std::invalid_argument on out-of-range ids or malformed offsets.
void validateSequences(const ModelShape& s, const TokenSequences& seqs);

struct TrainOptions {
  uint32_t batchSize = 1;           // sequences per SGD step
  std::vector<float> lr;            // learning rate per step (steps = ceil(order / batchSize))
  std::vector<uint64_t> checkpoints;  // token counts; params are saved after the first step reaching each
  float clipNorm = 0;               // global gradient-norm clip, 0 = off
};

struct TrainResult {
  std::vector<float> params;
  std::vector<std::vector<float>> checkpointParams;
  std::vector<uint64_t> checkpointTokens;  // tokens actually seen when each checkpoint was taken
  std::vector<float> stepLoss;             // mean training loss (nats/token) of each step's batch
  uint64_t tokens = 0;
};

struct Cancelled : std::exception {
  const char* what() const noexcept override { return "The operation was aborted"; }
};

// Called after every step; returning false cancels (throws Cancelled).
struct TrainSink {
  virtual ~TrainSink() = default;
  virtual bool report(uint64_t step, uint64_t steps, uint64_t tokens, float loss) = 0;
};

TrainResult train(const ModelShape& s, std::vector<float> params, const TokenSequences& seqs,
                  const std::vector<uint32_t>& order, const TrainOptions& opt, TrainSink* sink);

// Summed next-token loss (nats) of every sequence; threads never change the result.
std::vector<double> sequenceLosses(const ModelShape& s, const std::vector<float>& params, const TokenSequences& seqs,
                                   unsigned threads);

// Per-token layer inputs (with a trailing 1 for the bias) and gradients of
// that token's loss with respect to the layer's pre-activation output.
struct LinearInputs {
  uint32_t in = 0, out = 0;   // in includes the bias column
  std::vector<float> acts;    // [tokens][in]
  std::vector<float> grads;   // [tokens][out]
  std::vector<uint32_t> exampleOffsets;  // n + 1
};
LinearInputs linearInputs(const ModelShape& s, const std::vector<float>& params, const TokenSequences& seqs,
                          const std::vector<uint32_t>& examples, Layer layer);

// Per-example gradient of the summed loss for one layer, [n][in+1][out] (W then bias row).
std::vector<float> exampleGradients(const ModelShape& s, const std::vector<float>& params, const TokenSequences& seqs,
                                    const std::vector<uint32_t>& examples, Layer layer, unsigned threads);

}  // namespace curricula::model
