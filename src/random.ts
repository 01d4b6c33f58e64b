// One seedable source of randomness. Native random ops (init, dropout) use a counter-based
// Philox generator keyed by (seed, stream): each call takes the next stream number, so the same
// seed gives the same draws in the same order, independent of thread count. Host-side choices
// (shuffling, phantoms, augmentation) use an sfc32 generator seeded from the same seed.
let seed = 0x5eed;
let stream = 0;
let host: Rng | null = null;

export function manualSeed(s: number): void {
  if (!Number.isInteger(s) || s < 0) throw new Error(`manualSeed: argument 'seed' must be a non-negative integer, got ${s}`);
  seed = s >>> 0;
  stream = 0;
  host = new Rng(seed);
}

export function currentSeed(): number {
  return seed;
}

/** The position of the native generator, saved in checkpoints so a resumed run draws the same numbers. */
export function randomState(): { seed: number; stream: number } {
  return { seed, stream };
}

export function setRandomState(st: { seed: number; stream: number }): void {
  manualSeed(st.seed);
  stream = st.stream >>> 0;
}

/** The key for the next native random op: [seed, stream]. */
export function nextPhiloxKey(): [number, number] {
  return [seed, stream++ >>> 0];
}

/** The process-wide host generator (reseeded by manualSeed). */
export function rng(): Rng {
  host ??= new Rng(seed);
  return host;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(s: number) {
    // splitmix32 to spread the seed over the sfc32 state
    let x = s >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }
}
