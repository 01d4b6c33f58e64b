// Differentiable functional ops: each is a checked native forward plus its backward.
export * from './eltwise.js';
export * from './shape.js';
export * from './reduce.js';
export * from './conv.js';
export * from './linear.js';
export * from './norm.js';
export * from './norm_act.js';
export * from './norm_act_se.js';
export * from './pool.js';
export * from './random.js';
export * from './loss.js';
export * from './se.js';
export * from './dice.js';
