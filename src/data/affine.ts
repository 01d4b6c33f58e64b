// NIfTI geometry: the qform (quaternion + pixdim + offset) <-> 4x4 affine conversions of the
// NIfTI-1 standard (nifti1.h, "METHOD 2"), and small 4x4 helpers. Affines are row-major number[16].
import type { Vec3 } from './volume.js';

export interface Qform {
  quatern: Vec3; // b, c, d; a = sqrt(1 - b² - c² - d²)
  qoffset: Vec3;
  pixdim: Vec3;
  qfac: 1 | -1;
}

export function identity4(): number[] {
  return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
}

/** Column j (0..2) of the 3x3 part. */
export function column(m: readonly number[], j: number): Vec3 {
  return [m[j]!, m[4 + j]!, m[8 + j]!];
}

const norm = (v: readonly number[]): number => Math.hypot(v[0]!, v[1]!, v[2]!);

/** Voxel sizes: the norms of the affine's first three columns. */
export function affineSpacing(m: readonly number[]): Vec3 {
  return [norm(column(m, 0)), norm(column(m, 1)), norm(column(m, 2))];
}

export function qformToAffine(q: Qform): number[] {
  const [b, c, d] = q.quatern;
  // Rounding in stored float32 quaternions can push 1 - b²-c²-d² slightly below 0.
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  // Non-positive pixdims are invalid; treat them as 1 like nifti1_io does.
  const s = q.pixdim.map((p) => (p > 0 ? p : 1));
  const out = identity4();
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) out[i * 4 + j] = r[i]![j]! * s[j]! * (j === 2 ? q.qfac : 1);
    out[i * 4 + 3] = q.qoffset[i]!;
  }
  return out;
}

/**
 * The qform closest to an affine: column norms become pixdim, the direction columns are
 * orthonormalized (Gram-Schmidt; exact for the unsheared affines of real scans — the sform keeps
 * the exact matrix anyway), and an improper rotation is made proper with qfac = -1.
 */
export function affineToQform(m: readonly number[]): Qform {
  const pixdim = affineSpacing(m);
  if (pixdim.some((p) => !(p > 0) || !Number.isFinite(p))) {
    throw new Error(`affine has a zero or non-finite column: [${m.slice(0, 12).join(', ')}]`);
  }
  const unit = (v: Vec3): Vec3 => {
    const n = norm(v);
    if (!(n > 1e-12)) throw new Error(`affine is singular: [${m.slice(0, 12).join(', ')}]`);
    return [v[0] / n, v[1] / n, v[2] / n];
  };
  const dot = (x: Vec3, y: Vec3): number => x[0] * y[0] + x[1] * y[1] + x[2] * y[2];
  const sub = (x: Vec3, y: Vec3, k: number): Vec3 => [x[0] - k * y[0], x[1] - k * y[1], x[2] - k * y[2]];
  const c0 = unit(column(m, 0));
  let c1 = column(m, 1);
  c1 = unit(sub(c1, c0, dot(c1, c0)));
  let c2 = column(m, 2);
  c2 = sub(c2, c0, dot(c2, c0));
  c2 = unit(sub(c2, c1, dot(c2, c1)));
  const det =
    c0[0] * (c1[1] * c2[2] - c1[2] * c2[1]) - c1[0] * (c0[1] * c2[2] - c0[2] * c2[1]) + c2[0] * (c0[1] * c1[2] - c0[2] * c1[1]);
  let qfac: 1 | -1 = 1;
  if (det < 0) {
    qfac = -1;
    c2 = [-c2[0], -c2[1], -c2[2]];
  }
  // r[i][j]: row i, column j of the rotation.
  const r = (i: number, j: number): number => [c0, c1, c2][j]![i]!;
  let a: number;
  let b: number;
  let c: number;
  let d: number;
  const trace = r(0, 0) + r(1, 1) + r(2, 2) + 1;
  if (trace > 0.5) {
    a = 0.5 * Math.sqrt(trace);
    b = (0.25 * (r(2, 1) - r(1, 2))) / a;
    c = (0.25 * (r(0, 2) - r(2, 0))) / a;
    d = (0.25 * (r(1, 0) - r(0, 1))) / a;
  } else {
    const xd = 1 + r(0, 0) - (r(1, 1) + r(2, 2));
    const yd = 1 + r(1, 1) - (r(0, 0) + r(2, 2));
    const zd = 1 + r(2, 2) - (r(0, 0) + r(1, 1));
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r(0, 1) + r(1, 0))) / b;
      d = (0.25 * (r(0, 2) + r(2, 0))) / b;
      a = (0.25 * (r(2, 1) - r(1, 2))) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r(0, 1) + r(1, 0))) / c;
      d = (0.25 * (r(1, 2) + r(2, 1))) / c;
      a = (0.25 * (r(0, 2) - r(2, 0))) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r(0, 2) + r(2, 0))) / d;
      c = (0.25 * (r(1, 2) + r(2, 1))) / d;
      a = (0.25 * (r(1, 0) - r(0, 1))) / d;
    }
    // a >= 0 so that a can be recovered from b, c, d.
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { quatern: [b, c, d], qoffset: [m[3]!, m[7]!, m[11]!], pixdim, qfac };
}
