// Optimizers: in-place native updates of parameters that have gradients.
export { Optimizer } from './optimizer.js';
export { SGD, type SGDOptions, type SGDState } from './sgd.js';
export { Adam, type AdamOptions, type AdamState } from './adam.js';
