// What a finished run hands to the report writer.

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valLoss?: number;
  /** mean foreground Dice on the validation set */
  valDice?: number;
  lr: number;
  seconds: number;
  imagesPerSec: number;
}

export interface VolumeDice {
  id: string;
  /** per class (index = label); null when the structure is absent from both truth and prediction */
  dice: (number | null)[];
  /** the volume's mean Dice over its foreground structures */
  meanDice: number;
}

export interface RunOverlay {
  H: number;
  W: number;
  /** H*W grey values in [0, 1] */
  image: Float32Array;
  truth: Int32Array;
  prediction: Int32Array;
  caption: string;
}

export interface RunReport {
  name: string;
  command: string;
  /** ISO 8601 */
  createdAt: string;
  versions: { scse: string; node: string; onednn?: string };
  device: string;
  seed: number;
  /** model, se, options, training hyperparameters */
  config: Record<string, unknown>;
  /** index = label; 0 is the background */
  classes: string[];
  parameters: { total: number; se: number };
  training: { epochs: EpochRecord[]; wallSeconds: number; bestEpoch: number };
  test: { volumes: VolumeDice[]; mean: number; std: number };
  overlay?: RunOverlay;
}
