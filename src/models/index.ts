// The three F-CNNs of the paper and their registry.
export { createModel } from './registry.js';
export { FCNN, Block, DEPTH } from './fcnn.js';
export { UNet, UNetBlock } from './unet.js';
export { SDNet, SDNetBlock } from './sdnet.js';
export { DenseNet, DenseBlock } from './densenet.js';
export { modelNames, defaultKernel, resolveOptions, type ModelName, type ModelOptions, type ModelConfig } from './options.js';
