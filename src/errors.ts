/** Thrown by argument checks in TypeScript, before any native call. */
export class OpArgumentError extends Error {
  constructor(
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
    this.name = 'OpArgumentError';
  }
}

export const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;
