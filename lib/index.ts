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
export { runDemo, baselineConfiguration, fixedMixtureConfiguration, targetShareConfiguration } from './demo/run';
export type { Configuration, DemoContext, DemoOptions, DemoResults, OrderPlan } from './demo/run';
export { prepareDemoData } from './demo/data';
export type { DemoData } from './demo/data';
