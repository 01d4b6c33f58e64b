// A 3-D volume in NIfTI voxel order (x fastest) with its voxel -> world affine, and the check
// that an image and its label map share one voxel grid.

export type Vec3 = [number, number, number];

/** The voxel types we read and write (NIfTI datatype names). */
export type NiftiDatatype = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'float32' | 'float64';

/**
 * The parsed header fields needed to write a file with the same geometry. Values are as stored in
 * the file (NIfTI-1 floats widened to numbers); srow is always read, whatever sform_code says.
 */
export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7]: dim[0] is the number of dimensions. */
  dim: number[];
  /** pixdim[0..7]: pixdim[0] is qfac (±1). */
  pixdim: number[];
  datatypeCode: number;
  bitpix: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: Vec3;
  qoffset: Vec3;
  /** srow_x, srow_y, srow_z: the first three rows of the sform, row-major. */
  srow: number[];
  xyztUnits: number;
  dimInfo: number;
  sliceCode: number;
  sliceStart: number;
  sliceEnd: number;
  sliceDuration: number;
  toffset: number;
  description: string;
}

export interface Volume<T extends Float32Array | Int32Array = Float32Array> {
  /** Voxel values, x fastest: index = i + nx*(j + ny*k). */
  data: T;
  dims: Vec3;
  /** Voxel size in mm along each voxel axis (the affine's column norms). */
  spacing: Vec3;
  /** 4x4 voxel -> world (RAS+, mm) matrix, row-major. */
  affine: number[];
  /** The header read from disk, kept so a label map can be written on the same grid; null for
   *  volumes made in memory or reoriented (their geometry is the affine). */
  header: NiftiHeader | null;
  /** Datatype on disk ('float32' for volumes made in memory). */
  datatype: NiftiDatatype;
  /** Where the volume was read from, for error messages. */
  path?: string;
}

export type LabelVolume = Volume<Int32Array>;

/** What the geometry checks need. */
export interface Grid {
  dims: readonly number[];
  affine: readonly number[];
  path?: string;
}

const nameOf = (v: Grid, fallback: string): string => v.path ?? fallback;

/** Why two volumes are not on the same grid, or null when they are (affines within tol mm). */
export function gridMismatch(a: Grid, b: Grid, tol = 1e-3): string | null {
  if (a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) {
    return `dims differ: [${a.dims.join(', ')}] vs [${b.dims.join(', ')}]`;
  }
  for (let i = 0; i < 12; i++) {
    const x = a.affine[i]!;
    const y = b.affine[i]!;
    // Translations are in mm and can be large: allow float32 rounding of large offsets.
    if (!(Math.abs(x - y) <= tol * Math.max(1, Math.abs(x), Math.abs(y)))) {
      return `affines differ at row ${Math.floor(i / 4)}, column ${i % 4}: ${x} vs ${y}`;
    }
  }
  return null;
}

/** True when a and b have the same dims and affines within tol. */
export function volumesMatch(a: Grid, b: Grid, tol = 1e-3): boolean {
  return gridMismatch(a, b, tol) === null;
}

/** Throws an Error naming both files when a and b are not on the same voxel grid. */
export function checkVolumesMatch(a: Grid, b: Grid, tol = 1e-3): void {
  const why = gridMismatch(a, b, tol);
  if (why !== null) {
    throw new Error(`volumes ${nameOf(a, '<first volume>')} and ${nameOf(b, '<second volume>')} are not on the same voxel grid: ${why}`);
  }
}
