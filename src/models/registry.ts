// The three networks by name.
import { OpArgumentError } from '../errors.js';
import { DenseNet } from './densenet.js';
import type { FCNN } from './fcnn.js';
import { modelNames, type ModelName, type ModelOptions } from './options.js';
import { SDNet } from './sdnet.js';
import { UNet } from './unet.js';

const constructors: Record<ModelName, new (opts: ModelOptions) => FCNN> = { unet: UNet, sdnet: SDNet, densenet: DenseNet };

/** Builds 'unet' | 'sdnet' | 'densenet' (QuickNAT's FC-DenseNet) with fresh PyTorch-style init. */
export function createModel(name: ModelName, opts: ModelOptions): FCNN {
  const ctor = constructors[name as ModelName];
  if (!Object.hasOwn(constructors, name) || !ctor) {
    throw new OpArgumentError('createModel', `argument 'name' must be one of ${modelNames.join('|')}, got '${String(name)}'`);
  }
  return new ctor(opts);
}
