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
