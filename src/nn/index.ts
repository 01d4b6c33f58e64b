// Layers and modules.
export { Module, type StateDict } from './module.js';
export { defaultUniform } from './init.js';
export { Conv2d, ConvTranspose2d, type Conv2dLayerOptions, type ConvTranspose2dLayerOptions } from './conv.js';
export { BatchNorm2d, isTorchOnlyKey, type BatchNorm2dOptions } from './norm.js';
export { MaxPool2d, MaxUnpool2d } from './pool.js';
export { ReLU, PReLU, Dropout2d, Sequential } from './layers.js';
export { ChannelSE, SpatialSE, ChannelSpatialSE, createSe, type SeImpl, type SeKind, type SeOptions } from './se.js';
