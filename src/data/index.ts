// Data layer: volumes, NIfTI I/O, reorientation, synthetic phantoms.
export * from './volume.js';
export { affineSpacing, affineToQform, qformToAffine, type Qform } from './affine.js';
export * from './nifti.js';
export * from './orient.js';
export * from './phantom.js';
