// Optimizers: in-place native updates of parameters that have gradients.
export { Optimizer } from './optimizer.js';
export { SGD, type SGDOptions, type SGDState } from './sgd.js';
export { Adam, type AdamOptions, type AdamState } from './adam.js';
export type { OptimizerStateDict, OptimizerStateDictInput } from './optimizer.js';
export { StepLR, ReduceLROnPlateau, type StepLROptions, type ReduceLROnPlateauOptions, type StepLRState, type ReduceLROnPlateauState } from './schedulers.js';
