// Data layer: volumes, NIfTI I/O, reorientation, synthetic phantoms.
export * from './volume.js';
export { affineSpacing, affineToQform, qformToAffine, type Qform } from './affine.js';
export * from './nifti.js';
export * from './orient.js';
export * from './phantom.js';
export * from './labels.js';
export * from './subjects.js';
export * from './slices.js';
export * from './classWeights.js';
export * from './loader.js';
