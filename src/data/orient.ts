// Reorientation to the closest canonical RAS voxel order (like nibabel's as_closest_canonical):
// afterwards voxel axis 0 runs Left->Right, 1 Posterior->Anterior, 2 Inferior->Superior, so
// slicing along axis 0/1/2 gives sagittal/coronal/axial slices. Only axis permutations and flips
// are applied (no resampling); fromCanonical undoes them for predictions.
import { column } from './affine.js';
import type { Vec3, Volume } from './volume.js';

/** How a canonical volume was made from the original voxel grid. */
export interface CanonicalInfo {
  /** perm[a]: the original voxel axis that became canonical axis a (a = R, A, S). */
  perm: Vec3;
  /** flip[a]: whether that axis was reversed (it pointed L, P or I). */
  flip: [boolean, boolean, boolean];
  /** Original dims. */
  dims: Vec3;
  /** Dims after reorientation: dims[perm[a]]. */
  canonicalDims: Vec3;
}

type AnyTyped = Float32Array | Int32Array | Float64Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array;

/**
 * For each world axis R, A, S the voxel axis whose direction is closest to it. Greedy on the
 * largest |direction cosine| first, so an oblique volume still gets a one-to-one assignment.
 */
export function closestCanonical(affine: readonly number[]): { perm: Vec3; flip: [boolean, boolean, boolean] } {
  const cols = [0, 1, 2].map((j) => {
    const c = column(affine, j);
    const n = Math.hypot(...c);
    if (!(n > 0)) throw new Error(`toCanonical: affine column ${j} is zero: [${affine.slice(0, 12).join(', ')}]`);
    return c.map((v) => v / n);
  });
  const perm: Vec3 = [-1, -1, -1];
  const flip: [boolean, boolean, boolean] = [false, false, false];
  const usedVoxel = [false, false, false];
  for (let step = 0; step < 3; step++) {
    let best = -1;
    let bw = -1;
    let bj = -1;
    for (let w = 0; w < 3; w++) {
      if (perm[w] !== -1) continue;
      for (let j = 0; j < 3; j++) {
        if (usedVoxel[j]) continue;
        const v = Math.abs(cols[j]![w]!);
        if (v > best) {
          best = v;
          bw = w;
          bj = j;
        }
      }
    }
    perm[bw] = bj;
    flip[bw] = cols[bj]![bw]! < 0;
    usedVoxel[bj] = true;
  }
  return { perm, flip };
}

/** Orientation letters of the voxel axes, e.g. 'RAS', 'LPS', 'PSR' (nibabel's aff2axcodes). */
export function axisCodes(affine: readonly number[]): string {
  const { perm, flip } = closestCanonical(affine);
  const out = ['', '', ''];
  const pos = 'RAS';
  const neg = 'LPI';
  for (let w = 0; w < 3; w++) out[perm[w]!] = flip[w] ? neg[w]! : pos[w]!;
  return out.join('');
}

/**
 * Gathers (forward) or scatters (inverse) src between the original grid `dims` and the grid whose
 * axis a is original axis perm[a], reversed when flip[a]. Offsets step by signed strides: no
 * per-voxel division.
 */
function permute<T extends AnyTyped>(src: T, dims: Vec3, perm: Vec3, flip: readonly boolean[], inverse: boolean): T {
  const n = dims[0] * dims[1] * dims[2];
  if (src.length !== n) throw new Error(`reorient: data has ${src.length} values, dims [${dims.join(', ')}] need ${n}`);
  const stride = [1, dims[0], dims[0] * dims[1]];
  const cd = [dims[perm[0]], dims[perm[1]], dims[perm[2]]];
  const s = [0, 1, 2].map((a) => (flip[a] ? -stride[perm[a]]! : stride[perm[a]]!));
  let base = 0;
  for (let a = 0; a < 3; a++) if (flip[a]) base += (cd[a]! - 1) * stride[perm[a]]!;
  const out = new (src.constructor as new (n: number) => T)(n);
  const [s0, s1, s2] = s as [number, number, number];
  let c = 0;
  for (let k = 0; k < cd[2]!; k++) {
    for (let j = 0; j < cd[1]!; j++) {
      let o = base + j * s1 + k * s2;
      if (inverse) for (let i = 0; i < cd[0]!; i++, o += s0) out[o] = src[c++]!;
      else for (let i = 0; i < cd[0]!; i++, o += s0) out[c++] = src[o]!;
    }
  }
  return out;
}

/** The volume in the closest canonical (RAS) voxel order, and how to map results back. */
export function toCanonical<V extends Volume<Float32Array | Int32Array>>(vol: V): { volume: V; info: CanonicalInfo } {
  const { perm, flip } = closestCanonical(vol.affine);
  const dims = vol.dims;
  const canonicalDims: Vec3 = [dims[perm[0]], dims[perm[1]], dims[perm[2]]];
  // new voxel (c0, c1, c2) = old voxel v with v[perm[a]] = flip[a] ? n - 1 - c_a : c_a, so the
  // new column a is ± the old column perm[a] and flipped axes move the origin to their far end.
  const A = vol.affine;
  const affine = [...A];
  for (let a = 0; a < 3; a++) {
    const src = perm[a];
    const sign = flip[a] ? -1 : 1;
    for (let r = 0; r < 3; r++) affine[r * 4 + a] = sign * A[r * 4 + src]! + 0; // + 0: no -0 entries
  }
  for (let a = 0; a < 3; a++) {
    if (!flip[a]) continue;
    const src = perm[a];
    for (let r = 0; r < 3; r++) affine[r * 4 + 3]! += A[r * 4 + src]! * (dims[src] - 1);
  }
  const volume = {
    ...vol,
    data: permute(vol.data, dims, perm, flip, false),
    dims: canonicalDims,
    spacing: [vol.spacing[perm[0]], vol.spacing[perm[1]], vol.spacing[perm[2]]] as Vec3,
    affine,
    // The stored header describes the original grid; the affine now carries the geometry.
    header: null,
  };
  return { volume, info: { perm, flip, dims: [...dims] as Vec3, canonicalDims } };
}

/** Maps data on the canonical grid (e.g. a predicted label map) back to the original voxel order. */
export function fromCanonical<T extends AnyTyped>(data: T, info: CanonicalInfo): T {
  return permute(data, info.dims, info.perm, info.flip, true);
}
