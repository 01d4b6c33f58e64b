// NIfTI-1/NIfTI-2 volume reading (header fields parsed by nifti-reader-js, gzip by Node's zlib,
// geometry and voxel decoding here) and NIfTI-1 writing (header built by hand, written atomically).
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { endianness } from 'node:os';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';

import { readHeader as parseHeaderFields, type NIFTI1, type NIFTI2 } from 'nifti-reader-js';

import { affineSpacing, affineToQform, qformToAffine } from './affine.js';
import { gridMismatch, type LabelVolume, type NiftiDatatype, type NiftiHeader, type Vec3, type Volume } from './volume.js';

type Typed = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Float32Array | Float64Array;
type TypedCtor = { new (buf: ArrayBufferLike): Typed; new (n: number): Typed; BYTES_PER_ELEMENT: number };

const DATATYPES: Record<NiftiDatatype, { code: number; ctor: TypedCtor; min: number; max: number }> = {
  uint8: { code: 2, ctor: Uint8Array, min: 0, max: 255 },
  int8: { code: 256, ctor: Int8Array, min: -128, max: 127 },
  int16: { code: 4, ctor: Int16Array, min: -32768, max: 32767 },
  uint16: { code: 512, ctor: Uint16Array, min: 0, max: 65535 },
  int32: { code: 8, ctor: Int32Array, min: -2147483648, max: 2147483647 },
  float32: { code: 16, ctor: Float32Array, min: -Infinity, max: Infinity },
  float64: { code: 64, ctor: Float64Array, min: -Infinity, max: Infinity },
};

// Names of the codes we do not read, so the error says what the file holds.
const OTHER_CODES: Record<number, string> = {
  1: 'binary',
  32: 'complex64',
  128: 'rgb24',
  768: 'uint32',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'rgba32',
};

const datatypeByCode = (code: number): NiftiDatatype | undefined =>
  (Object.keys(DATATYPES) as NiftiDatatype[]).find((k) => DATATYPES[k].code === code);

const HOST_LE = endianness() === 'LE';

function swapBytes(u8: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= u8.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = u8[a]!;
      u8[a] = u8[b]!;
      u8[b] = t;
    }
  }
}

// ---------------------------------------------------------------------------------------- reading

interface Parsed {
  header: NiftiHeader;
  datatype: NiftiDatatype;
  dims: Vec3;
  affine: number[];
  /** Raw voxel values in the file's datatype, before scl_slope/scl_inter. */
  raw: Typed;
  slope: number;
  inter: number;
}

function fail(path: string, what: string): never {
  throw new Error(`NIfTI ${path}: ${what}`);
}

// Hostile-input bounds. No volume this library trains on comes near 8 GiB of voxels; beyond it a
// header is far more likely corrupt or malicious, and we refuse before allocating anything.
const MAX_IMAGE_BYTES = 8 * 1024 ** 3;
// Decompressed bytes tolerated past what the header describes (padding some writers add); a gzip
// that inflates beyond header + image + this is refused instead of filling memory.
const GZIP_SLACK = 1024 * 1024;
// The extension chain walk is already bounded by vox_offset (each esize >= 16), but a cap keeps
// a pathological file with millions of tiny extensions from costing seconds.
const MAX_EXTENSIONS = 65536;

/** Where the voxels are and how many bytes they take, from the fixed header fields only (read
 *  here, not by the parser, so it works on the first few hundred bytes of a gzip stream). */
interface Layout {
  version: 1 | 2;
  le: boolean;
  hdrSize: number;
  dims: Vec3;
  datatype: NiftiDatatype;
  /** Byte offset of the first voxel (vox_offset, or header + flag when vox_offset is 0). */
  offset: number;
  nbytes: number;
}

function layout(path: string, bytes: Uint8Array): Layout {
  const { version, le } = sniff(path, bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrSize = version === 1 ? 348 : 540;
  const dim: number[] = [];
  for (let i = 0; i < 8; i++) dim.push(version === 1 ? dv.getInt16(40 + 2 * i, le) : Number(dv.getBigInt64(16 + 8 * i, le)));
  const ndim = dim[0]!;
  if (!(ndim >= 1 && ndim <= 7)) fail(path, `invalid dim[0] = ${ndim} (expected 1..7)`);
  const shape = dim.slice(1, ndim + 1);
  // NIfTI-2 dims are int64: beyond 2^53 Number() is inexact, and such a size is absurd anyway.
  if (shape.some((d) => !(Number.isSafeInteger(d) && d >= 1))) fail(path, `invalid dims [${shape.join(', ')}]`);
  // A trailing dimension of size 1 (e.g. a 4-D file with one volume) is still 3-D.
  if (shape.slice(3).some((d) => d > 1)) {
    fail(path, `is ${ndim}-D with dims [${shape.join(', ')}]; expected a 3-D volume`);
  }
  const dims: Vec3 = [shape[0] ?? 1, shape[1] ?? 1, shape[2] ?? 1];

  const code = dv.getInt16(version === 1 ? 70 : 12, le);
  const datatype = datatypeByCode(code);
  if (datatype === undefined) {
    const name = OTHER_CODES[code] ?? 'unknown';
    fail(path, `unsupported datatype ${code} (${name}); supported: ${Object.keys(DATATYPES).join(', ')}`);
  }
  const rawOffset = version === 1 ? dv.getFloat32(108, le) : Number(dv.getBigInt64(168, le));
  if (!Number.isFinite(rawOffset) || Math.abs(rawOffset) > Number.MAX_SAFE_INTEGER) fail(path, `invalid vox_offset ${rawOffset} (expected a byte offset >= ${hdrSize + 4})`);
  const voxOffset = Math.trunc(rawOffset);
  // vox_offset 0 in a single file means "right after the header and extension flag".
  const offset = voxOffset === 0 ? hdrSize + 4 : voxOffset;
  if (offset < hdrSize) fail(path, `invalid vox_offset ${voxOffset} (inside the ${hdrSize}-byte header)`);
  // Each factor is a safe integer, so the product is exact until it passes the cap; checking after
  // every multiplication keeps it from ever overflowing into an inexact (or infinite) double.
  let nbytes = DATATYPES[datatype].ctor.BYTES_PER_ELEMENT;
  for (const d of dims) {
    nbytes *= d;
    if (nbytes > MAX_IMAGE_BYTES) break;
  }
  if (nbytes > MAX_IMAGE_BYTES || offset > MAX_IMAGE_BYTES) {
    fail(
      path,
      `header describes ${dims.join('x')} ${datatype} voxels from vox_offset ${offset} ` +
        `(${nbytes > MAX_IMAGE_BYTES ? 'more than ' : ''}${Math.min(nbytes, MAX_IMAGE_BYTES)} bytes); the limit is ${MAX_IMAGE_BYTES} bytes`,
    );
  }
  return { version, le, hdrSize, dims, datatype, offset, nbytes };
}

/** Opens a path only if it is a regular file: a FIFO or device (/dev/zero, /dev/urandom) would be
 *  read forever, and opening a FIFO blocks until a writer appears, so this is decided from stat()
 *  before open(), and re-checked on the open descriptor in case the path was swapped between. */
function openRegular(path: string): { fd: number; size: number } {
  const kind = (st: Stats): string =>
    st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    fail(path, `cannot read file (${(e as Error).message})`);
  }
  if (!st.isFile()) fail(path, `is ${kind(st)}; expected a regular .nii or .nii.gz file`);
  let fd: number;
  try {
    // O_NONBLOCK: if the path became a FIFO after stat(), open() must not wait for a writer.
    fd = openSync(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (e) {
    fail(path, `cannot read file (${(e as Error).message})`);
  }
  const st2 = fstatSync(fd);
  if (!st2.isFile()) {
    closeSync(fd);
    fail(path, `is ${kind(st2)}; expected a regular .nii or .nii.gz file`);
  }
  return { fd, size: st2.size };
}

/** Up to n bytes from the start of fd, into a fresh aligned buffer (never more than n). */
function readPrefix(path: string, fd: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let got = 0;
  try {
    while (got < n) {
      const r = readSync(fd, out, got, n - got, got);
      if (r === 0) break;
      got += r;
    }
  } catch (e) {
    fail(path, `cannot read file (${(e as Error).message})`);
  }
  return got === n ? out : out.slice(0, got);
}

/** The first bytes of a gzip stream. Inflating only a bounded piece of the input bounds the output
 *  (deflate expands at most ~1032:1), and Z_SYNC_FLUSH returns what that piece decodes to
 *  instead of failing on the cut-off stream. */
function gunzipPrefix(path: string, gz: Uint8Array, want: number): Uint8Array {
  for (let k = 4096; ; k *= 4) {
    const piece = gz.subarray(0, Math.min(k, gz.length));
    let out: Buffer;
    try {
      out = gunzipSync(piece, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (e) {
      fail(path, `corrupt or truncated gzip data (${(e as Error).message})`);
    }
    if (out.length >= want || piece.length === gz.length) return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}

function loadBytes(path: string): Uint8Array {
  const { fd, size } = openRegular(path);
  try {
    const head = readPrefix(path, fd, Math.min(size, 544));
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      // A compressed file this large cannot hold an image within the limit worth inflating.
      if (size > MAX_IMAGE_BYTES) fail(path, `compressed file is ${size} bytes; the limit is ${MAX_IMAGE_BYTES} bytes`);
      const gz = readPrefix(path, fd, size);
      // First learn from the header how many bytes the image takes, then inflate with that bound:
      // a gzip bomb stops at the bound instead of filling memory.
      const L = layout(path, gunzipPrefix(path, gz, 544));
      const expected = L.offset + L.nbytes;
      const bound = expected + GZIP_SLACK;
      let buf: Buffer;
      try {
        buf = gunzipSync(gz, { maxOutputLength: bound });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
          fail(
            path,
            `the image has more data than its header describes: it decompresses to more than ${bound} bytes, ` +
              `but the header (dims ${L.dims.join('x')}, datatype ${L.datatype}, vox_offset ${L.offset}) describes ${expected} bytes ` +
              `(decompression stopped at ${bound}, which allows ${GZIP_SLACK} bytes of padding)`,
          );
        }
        fail(path, `corrupt or truncated gzip data (${(e as Error).message})`);
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    // Uncompressed: read header + image and no more (trailing bytes are ignored, as nibabel does);
    // a shorter file is read whole, so parse() reports exactly what is missing.
    const L = layout(path, head);
    return readPrefix(path, fd, Math.min(size, L.offset + L.nbytes));
  } finally {
    closeSync(fd);
  }
}

/** Checks the extension chain between the header and vox_offset before anything walks it: each
 *  extension is [esize int32, ecode int32, data] with esize a positive multiple of 16, so a zero,
 *  negative or odd esize (which sends nifti-reader-js round in a loop) is refused here. */
function checkExtensions(path: string, bytes: Uint8Array, L: Layout): void {
  const flagAt = L.hdrSize;
  if (bytes.length < flagAt + 4 || bytes[flagAt] === 0) return;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = L.offset;
  let pos = flagAt + 4;
  for (let i = 0; pos + 8 <= end; i++) {
    if (i >= MAX_EXTENSIONS) fail(path, `more than ${MAX_EXTENSIONS} header extensions before vox_offset ${end}`);
    if (pos + 8 > bytes.length) fail(path, `truncated: extension ${i} at byte ${pos} lies past the end of the file (${bytes.length} bytes)`);
    const esize = dv.getInt32(pos, L.le);
    // A zero esize ends the chain (the extension flag was set but no extension follows): it
    // cannot loop, and nifti-reader-js treats it the same way.
    if (esize === 0) break;
    if (esize < 16 || esize % 16 !== 0) {
      fail(path, `extension ${i} at byte ${pos}: esize ${esize} (expected a multiple of 16, at least 16)`);
    }
    if (pos + esize > end) fail(path, `extension ${i} at byte ${pos}: esize ${esize} runs to byte ${pos + esize}, past vox_offset ${end}`);
    pos += esize;
  }
}

/** Version and byte order from sizeof_hdr (348 for NIfTI-1, 540 for NIfTI-2), then the magic. */
function sniff(path: string, bytes: Uint8Array): { version: 1 | 2; le: boolean } {
  if (bytes.length < 4) fail(path, `truncated: ${bytes.length} bytes, too short for a NIfTI header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let version: 1 | 2 | 0 = 0;
  let le = true;
  for (const l of [true, false]) {
    const size = dv.getInt32(0, l);
    if (size === 348 || size === 540) {
      version = size === 348 ? 1 : 2;
      le = l;
      break;
    }
  }
  if (version === 0) {
    fail(path, `not a NIfTI file: header size field is ${dv.getInt32(0, true)} (expected 348 for NIfTI-1 or 540 for NIfTI-2)`);
  }
  const hdrSize = version === 1 ? 348 : 540;
  if (bytes.length < hdrSize) fail(path, `truncated header: ${bytes.length} bytes, NIfTI-${version} needs ${hdrSize}`);
  const at = version === 1 ? 344 : 4;
  const magic = String.fromCharCode(...bytes.subarray(at, at + 3));
  const want = version === 1 ? 'n+1' : 'n+2';
  if (magic === (version === 1 ? 'ni1' : 'ni2')) fail(path, `is the header of a .hdr/.img pair; only single-file .nii/.nii.gz is supported`);
  if (magic !== want || bytes[at + 3] !== 0) {
    fail(path, `bad magic ${JSON.stringify(String.fromCharCode(...bytes.subarray(at, at + 4)))} (expected "${want}\\0")`);
  }
  return { version, le };
}

function toHeader(path: string, bytes: Uint8Array, version: 1 | 2, le: boolean): NiftiHeader {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The parser gets the fixed header and a zeroed extension flag only: we do not use extensions,
  // and its own extension walk loops forever on a negative esize (checkExtensions() vets the
  // chain separately), so it must never see one.
  const hdrSize = version === 1 ? 348 : 540;
  const head = new Uint8Array(hdrSize + 4);
  head.set(bytes.subarray(0, hdrSize));
  let h: NIFTI1 | NIFTI2;
  try {
    h = parseHeaderFields(head.buffer);
  } catch (e) {
    fail(path, `cannot parse header (${(e as Error).message})`);
  }
  // The parser exposes srow only when it chose the sform: read the stored rows directly.
  const srow: number[] = [];
  for (let i = 0; i < 12; i++) srow.push(version === 1 ? dv.getFloat32(280 + 4 * i, le) : dv.getFloat64(400 + 8 * i, le));
  return {
    version,
    littleEndian: le,
    dim: h.dims.slice(0, 8).map(Number),
    pixdim: h.pixDims.slice(0, 8).map(Number),
    datatypeCode: h.datatypeCode,
    bitpix: h.numBitsPerVoxel,
    voxOffset: Math.trunc(Number(h.vox_offset)),
    sclSlope: h.scl_slope,
    sclInter: h.scl_inter,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
    qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
    srow,
    xyztUnits: h.xyzt_units,
    dimInfo: h.dim_info,
    sliceCode: h.slice_code,
    sliceStart: Number(h.slice_start),
    sliceEnd: Number(h.slice_end),
    sliceDuration: h.slice_duration,
    toffset: h.toffset,
    description: h.description ?? '',
  };
}

/** voxel -> world like nibabel's get_best_affine: sform if sform_code > 0, else qform if
 *  qform_code > 0, else the pixdim scaling of the NIfTI standard's method 1. */
export function headerAffine(h: NiftiHeader): number[] {
  if (h.sformCode > 0) return [...h.srow, 0, 0, 0, 1];
  const pix: Vec3 = [h.pixdim[1]!, h.pixdim[2]!, h.pixdim[3]!];
  if (h.qformCode > 0) {
    return qformToAffine({ quatern: h.quatern, qoffset: h.qoffset, pixdim: pix, qfac: h.pixdim[0] === -1 ? -1 : 1 });
  }
  const s = pix.map((p) => (p > 0 ? p : 1));
  return [s[0]!, 0, 0, 0, 0, s[1]!, 0, 0, 0, 0, s[2]!, 0, 0, 0, 0, 1];
}

function parse(path: string, bytes: Uint8Array): Parsed {
  const L = layout(path, bytes);
  const { version, le, dims, datatype, offset, nbytes } = L;
  checkExtensions(path, bytes, L);
  const header = toHeader(path, bytes, version, le);
  const { ctor } = DATATYPES[datatype];
  if (offset + nbytes > bytes.length) {
    fail(
      path,
      `truncated data: the header describes ${dims.join('x')} ${datatype} voxels (${nbytes} bytes from offset ${offset}) ` +
        `but the file has only ${Math.max(0, bytes.length - offset)} bytes of data`,
    );
  }
  // slice() copies into a fresh, aligned buffer that the typed array can view.
  const copy = bytes.slice(offset, offset + nbytes);
  if (le !== HOST_LE) swapBytes(copy, ctor.BYTES_PER_ELEMENT);
  const raw = new ctor(copy.buffer);

  // scl_slope 0 (or NaN) means "no scaling"; a NaN intercept counts as 0.
  const useScale = Number.isFinite(header.sclSlope) && header.sclSlope !== 0;
  const slope = useScale ? header.sclSlope : 1;
  const inter = useScale && Number.isFinite(header.sclInter) ? header.sclInter : 0;
  const affine = headerAffine(header);
  if (affine.some((v) => !Number.isFinite(v))) fail(path, `non-finite affine [${affine.join(', ')}]`);
  return { header, datatype, dims, affine, raw, slope, inter };
}

/** Reads a 3-D .nii or .nii.gz image as float32, with scl_slope/scl_inter applied. */
export function readNifti(path: string): Volume {
  const p = parse(path, loadBytes(path));
  const { raw, slope, inter } = p;
  const data = new Float32Array(raw.length);
  if (slope === 1 && inter === 0) data.set(raw);
  else for (let i = 0; i < raw.length; i++) data[i] = raw[i]! * slope + inter;
  return { data, dims: p.dims, spacing: affineSpacing(p.affine), affine: p.affine, header: p.header, datatype: p.datatype, path };
}

/** Reads a 3-D label map as int32; every (scaled) value must be an integer (within 1e-3). */
export function readNiftiLabels(path: string): LabelVolume {
  const p = parse(path, loadBytes(path));
  const { raw, slope, inter } = p;
  const data = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]! * slope + inter;
    const r = Math.round(v);
    if (!(Math.abs(v - r) <= 1e-3) || r < -2147483648 || r > 2147483647) {
      const x = i % p.dims[0];
      const y = Math.floor(i / p.dims[0]) % p.dims[1];
      const z = Math.floor(i / (p.dims[0] * p.dims[1]));
      fail(path, `label map has a non-integer value ${v} at voxel (${x}, ${y}, ${z})`);
    }
    data[i] = r;
  }
  return { data, dims: p.dims, spacing: affineSpacing(p.affine), affine: p.affine, header: p.header, datatype: p.datatype, path };
}

// ---------------------------------------------------------------------------------------- writing

export interface WriteNiftiOptions {
  /** On-disk type. Default: float32 for float data; the smallest of uint8/int16/int32 holding an
   *  Int32Array's values. Integer types require integer values in range. */
  datatype?: NiftiDatatype;
  /** gzip level 0..9 for .nii.gz (default 6). */
  compressionLevel?: number;
  /** descrip field (80 bytes); default: the input header's, else 'scse'. */
  description?: string;
  /** intent_code, e.g. 1002 (NIFTI_INTENT_LABEL) for label maps; default 0. */
  intentCode?: number;
}

/** What writeNifti needs: data, dims, affine, and optionally the header it was read with. */
export interface WritableVolume {
  data: ArrayLike<number> & { length: number };
  dims: readonly number[];
  affine: readonly number[];
  header?: NiftiHeader | null;
}

function chooseDatatype(data: ArrayLike<number>): NiftiDatatype {
  if (!(data instanceof Int32Array)) return 'float32';
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo >= 0 && hi <= 255) return 'uint8';
  if (lo >= -32768 && hi <= 32767) return 'int16';
  return 'int32';
}

function encodeVoxels(path: string, data: ArrayLike<number>, datatype: NiftiDatatype): Typed {
  const { ctor, min, max } = DATATYPES[datatype];
  if (datatype === 'float32' && data instanceof Float32Array) return data;
  const out = new ctor(data.length);
  const integer = min !== -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (integer && !(Number.isInteger(v) && v >= min && v <= max)) {
      throw new Error(`writeNifti ${path}: value ${v} at index ${i} does not fit datatype ${datatype}`);
    }
    out[i] = v;
  }
  return out;
}

function putString(dv: DataView, at: number, len: number, s: string): void {
  for (let i = 0; i < len; i++) dv.setUint8(at + i, i < s.length ? s.charCodeAt(i) & 0x7f : 0);
}

/**
 * The 352-byte NIfTI-1 header (348 + a zero extension flag). Field offsets follow nifti1.h.
 * The geometry is taken verbatim from the input header when it describes this grid (same dims
 * and affine), so a label map aligns with its image in every viewer; otherwise it is rebuilt from
 * the affine (sform exact, qform its closest rigid part, both code 2 unless the header had codes).
 */
function buildHeader(path: string, vol: WritableVolume, datatype: NiftiDatatype, opts: WriteNiftiOptions): ArrayBuffer {
  const dims = vol.dims;
  const h = vol.header ?? null;
  const keep = h !== null && gridMismatch({ dims: h.dim.slice(1, 4), affine: headerAffine(h) }, { dims, affine: vol.affine }, 1e-5) === null;

  let pixdim: number[];
  let qformCode: number;
  let sformCode: number;
  let quatern: readonly number[];
  let qoffset: readonly number[];
  let srow: readonly number[];
  if (keep) {
    ({ pixdim, qformCode, sformCode, quatern, qoffset, srow } = h);
    pixdim = [...pixdim];
  } else {
    let q;
    try {
      q = affineToQform(vol.affine);
    } catch (e) {
      throw new Error(`writeNifti ${path}: ${(e as Error).message}`);
    }
    const code = h !== null && (h.sformCode > 0 || h.qformCode > 0) ? Math.max(h.sformCode, h.qformCode) : 2;
    pixdim = [q.qfac, ...q.pixdim, ...(h?.pixdim.slice(4, 8) ?? [0, 0, 0, 0])];
    qformCode = code;
    sformCode = code;
    quatern = q.quatern;
    qoffset = q.qoffset;
    srow = vol.affine.slice(0, 12);
  }

  const buf = new ArrayBuffer(352);
  const dv = new DataView(buf);
  const le = true;
  dv.setInt32(0, 348, le); // sizeof_hdr
  dv.setUint8(38, 'r'.charCodeAt(0)); // regular (Analyze legacy)
  dv.setUint8(39, h?.dimInfo ?? 0); // dim_info
  const dim = [3, dims[0]!, dims[1]!, dims[2]!, 1, 1, 1, 1];
  for (let i = 0; i < 8; i++) dv.setInt16(40 + 2 * i, dim[i]!, le); // dim[8]
  // intent_p1..p3 at 56, 60, 64 stay 0
  dv.setInt16(68, opts.intentCode ?? 0, le); // intent_code
  dv.setInt16(70, DATATYPES[datatype].code, le); // datatype
  dv.setInt16(72, DATATYPES[datatype].ctor.BYTES_PER_ELEMENT * 8, le); // bitpix
  dv.setInt16(74, h?.sliceStart ?? 0, le); // slice_start
  for (let i = 0; i < 8; i++) dv.setFloat32(76 + 4 * i, pixdim[i] ?? 0, le); // pixdim[8]
  dv.setFloat32(108, 352, le); // vox_offset
  dv.setFloat32(112, 1, le); // scl_slope: values are stored unscaled
  dv.setFloat32(116, 0, le); // scl_inter
  dv.setInt16(120, h?.sliceEnd ?? 0, le); // slice_end
  dv.setUint8(122, h?.sliceCode ?? 0); // slice_code
  dv.setUint8(123, h?.xyztUnits ?? 2 /* mm */); // xyzt_units
  // cal_max 124, cal_min 128 stay 0
  dv.setFloat32(132, h?.sliceDuration ?? 0, le); // slice_duration
  dv.setFloat32(136, h?.toffset ?? 0, le); // toffset
  // glmax 140, glmin 144 stay 0
  putString(dv, 148, 80, opts.description ?? (h?.description || 'scse')); // descrip
  // aux_file 228..252 stays empty
  dv.setInt16(252, qformCode, le); // qform_code
  dv.setInt16(254, sformCode, le); // sform_code
  for (let i = 0; i < 3; i++) dv.setFloat32(256 + 4 * i, quatern[i]!, le); // quatern_b, _c, _d
  for (let i = 0; i < 3; i++) dv.setFloat32(268 + 4 * i, qoffset[i]!, le); // qoffset_x, _y, _z
  for (let i = 0; i < 12; i++) dv.setFloat32(280 + 4 * i, srow[i]!, le); // srow_x, srow_y, srow_z
  // intent_name 328..344 stays empty
  putString(dv, 344, 4, 'n+1'); // magic "n+1\0"
  // 348..351: extension flag, all zero (no extensions)
  return buf;
}

/** Writes a 3-D volume as NIfTI-1 (.nii.gz gzipped, .nii plain) through a temp file + rename. */
export function writeNifti(path: string, vol: WritableVolume, opts: WriteNiftiOptions = {}): void {
  const gz = path.endsWith('.nii.gz');
  if (!gz && !path.endsWith('.nii')) throw new Error(`writeNifti ${path}: file name must end in .nii or .nii.gz`);
  const dims = vol.dims;
  if (dims.length !== 3 || dims.some((d) => !(Number.isInteger(d) && d >= 1 && d <= 32767))) {
    throw new Error(`writeNifti ${path}: dims must be 3 integers in 1..32767, got [${dims.join(', ')}]`);
  }
  const n = dims[0]! * dims[1]! * dims[2]!;
  if (vol.data.length !== n) throw new Error(`writeNifti ${path}: data has ${vol.data.length} values, dims [${dims.join(', ')}] need ${n}`);
  if (vol.affine.length !== 16 || vol.affine.some((v) => !Number.isFinite(v))) {
    throw new Error(`writeNifti ${path}: affine must be 16 finite numbers (row-major 4x4)`);
  }
  const datatype = opts.datatype ?? chooseDatatype(vol.data);
  if (!(datatype in DATATYPES)) throw new Error(`writeNifti ${path}: unsupported datatype '${datatype}'`);

  const header = buildHeader(path, vol, datatype, opts);
  const voxels = encodeVoxels(path, vol.data, datatype);
  const bytes = new Uint8Array(352 + voxels.byteLength);
  bytes.set(new Uint8Array(header), 0);
  bytes.set(new Uint8Array(voxels.buffer, voxels.byteOffset, voxels.byteLength), 352);
  if (!HOST_LE) swapBytes(bytes.subarray(352), voxels.BYTES_PER_ELEMENT);
  const out = gz ? gzipSync(bytes, { level: opts.compressionLevel ?? 6 }) : bytes;

  // A reader never sees a half-written file: write next to the target, then rename over it.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, out);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file was never created
    }
    throw new Error(`writeNifti ${path}: ${(e as Error).message}`);
  }
}
