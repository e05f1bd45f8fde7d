/** Public API of curricula. */
export { schedule, scheduleSync, scheduleBruteForceSync } from './scheduler';
export type { Order, ScheduleOptions, ScheduleProgress, ScheduleResult } from './scheduler';
export { fidelityReport, summaryLine } from './fidelity';
export type { FidelityReport, OrderFidelity } from './fidelity';
export { readSequencesDir, readSequencesJsonl, writeSequencesDir, computeLengthBins, validateSequenceSet } from './io/sequences';
export type { SequenceSet } from './io/sequences';
export { readMixture, validateMixture, corpusMixture } from './io/mixture';
export { readNpy, writeNpyAtomic } from './io/npy';
export { CurriculaError, ValidationError, FormatError, AbortError } from './errors';
export { binding } from './binding';
export type { BindingModule } from './binding';
// ---- influence scores, linear algebra and gradient analyses ----
export type { InfluenceState } from './influence/state';
export { influenceDelta, influenceDeltaAsync, whitenFeatures, whitenFeaturesAsync, validateInfluenceState, influenceScoreOptionsSchema } from './influence/scores';
export type { InfluenceDelta, InfluenceScoreOptions, InfluenceDeltaAsyncOptions, WhitenedFeatures } from './influence/scores';
export { normaliseScores, trimmedMean, normaliseOptionsSchema } from './influence/normalise';
export type { NormaliseOptions } from './influence/normalise';
export { choleskySolve, choleskySolveSync, symmetricEigen, symmetricEigenSync } from './analysis/linalg';
export { stableRank, stableRankSync, summariseLayers } from './analysis/stable-rank';
export type { GradientMatrix, StableRankOptions, StableRankReport, StableRankRow, LayerSummary } from './analysis/stable-rank';
export { chunkCosine, chunkCosineSync } from './analysis/chunk-cosine';
export type { ChunkCosineOptions, ChunkCosineResult, FeatureMatrix } from './analysis/chunk-cosine';
export { cosineHeatmapSpec, renderCosineHeatmap } from './analysis/heatmap';
export { readGradientMatrices, readFeatures, readSafetensorsTensors } from './analysis/matrix-file';
export type { Progress } from './analysis/native-job';
