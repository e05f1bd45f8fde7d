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
