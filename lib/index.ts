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

// Curriculum (issue #3): representation, targets and target table, Algorithm 1, interop, knobs, run config.
export {
  createCurriculum,
  validateCurriculum,
  assertGroups,
  logitsAt,
  mixtureAt,
  knotTokens,
  softmax,
} from './curriculum/curriculum';
export type { Curriculum, CreateCurriculumOptions } from './curriculum/curriculum';
export { cumulativeTargets, targetTable, targetTableAsync, interpolateTable, binShares, binTargetTable } from './curriculum/targets';
export type { TargetTable, TargetTableOptions, TargetTableAsyncOptions } from './curriculum/targets';
export {
  metaUpdate,
  metaUpdateFromSamples,
  sampleLogTimes,
  capKnots,
  stepSchedule,
  terrificStatic,
  terrificAverage,
} from './curriculum/algorithm1';
export type { DeltaSample, DeltaField, StepSize, MetaUpdateOptions, MetaUpdateResult, AlgorithmOneOptions } from './curriculum/algorithm1';
export { curriculumToJson, parseCurriculum, readCurriculum, writeCurriculum } from './curriculum/serialize';
export {
  parseKnotSchedule,
  readKnotSchedule,
  knotScheduleToJson,
  writeKnotSchedule,
  knotScheduleToCurriculum,
  curriculumToKnotSchedule,
  evaluateKnotSchedule,
  knotScheduleCumulative,
  knotScheduleTargetTable,
} from './curriculum/interop';
export type { KnotSchedule } from './curriculum/interop';
export { knobSchedule, knobTable, knobTableToCsv } from './curriculum/knobs';
export type { KnobSchedule, KnobScheduleSpec, KnobTable } from './curriculum/knobs';
export { parseRunConfig, runConfigSchema } from './curriculum/config';
export type { RunConfig, RunConfigInput } from './curriculum/config';
// ---- influence scores, linear algebra and gradient analyses ----
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
// Influence accumulator (issue 4, part A): readers, clipping, projections, sums, merge and serialisation.
export {
  InfluenceAccumulator,
  accumulateInfluence,
  gradientNormsSync,
  projectGradientsSync,
  percentile,
  featureDim,
} from './influence/accumulator';
export type { AccumulatorOptions, AccumulateOptions, AccumulateProgress, BatchProgress, GradBatch, ProjectionOptions } from './influence/accumulator';
export { mergeStates, mergeAll, readState, writeStateAtomic, validateState } from './influence/state';
export type { InfluenceState, InfluenceMeta, ProjectionKind } from './influence/state';
export { GradientSource } from './influence/readers';
export type { GradientBlock, GradDtype, ShardInfo } from './influence/readers';
export { writeGradientsDir } from './influence/shard-writer';
export type { ShardToWrite } from './influence/shard-writer';
export { readSafetensorsHeader, writeSafetensorsAtomic, encodeSafetensors } from './io/safetensors';
export type { SafetensorsDtype, SafetensorsHeader, TensorInfo, TensorToWrite } from './io/safetensors';
export { readNpyHeader } from './io/npy';
export {
  initModel,
  trainModel,
  trainModelSync,
  evalLoss,
  evalLossSync,
  perExampleLinearInputs,
  perExampleLinearInputsAsync,
  perExampleGradients,
  perExampleGradientsAsync,
  batchGradients,
  learningRates,
  paramCount,
} from './demo/model';
export type { ModelShape, TokenSequences, TrainedModel, TrainOptions, LinearInputs, BatchGradients, LossReport, LayerName } from './demo/model';
export {
  runDemo,
  baselineConfiguration,
  fixedMixtureConfiguration,
  targetShareConfiguration,
  terrificConfiguration,
  terrificAverageConfiguration,
  curriculumConfiguration,
  defaultConfigurations,
  configurationsByName,
} from './demo/run';
export type { Configuration, DemoContext, DemoOptions, DemoResults, OrderPlan } from './demo/run';
export { influenceAt, kroneckerFeatures, influenceExamples } from './demo/influence';
export type { InfluenceOptions, InfluenceResult } from './demo/influence';
export { analyseGradients } from './demo/analysis';
export type { GradientAnalysis } from './demo/analysis';
export { prepareDemoData } from './demo/data';
export type { DemoData } from './demo/data';
// CUDA twins: run-time device choice (docs/cuda.md)
export { cudaDeviceInfo, cudaUnavailableReason, resolveDevice, deviceSchema, DEVICES, type CudaDeviceInfo, type Device, type ResolvedDevice } from './device';
