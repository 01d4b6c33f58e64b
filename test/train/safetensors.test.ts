import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { readSafetensors, writeSafetensors, type StTensor } from '../../src/train/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'scse-st-'));

describe('safetensors', () => {
  it('reads a file laid out by hand from the format description', () => {
    // header: {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}
    const json = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}';
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(json.length));
    const data = Buffer.alloc(12);
    data.writeFloatLE(1.5, 0);
    data.writeFloatLE(-2, 4);
    data.writeInt32LE(-7, 8);
    const p = join(dir, 'hand.safetensors');
    writeFileSync(p, Buffer.concat([head, Buffer.from(json), data]));
    const { tensors, metadata } = readSafetensors(p);
    expect(metadata).toEqual({ k: 'v' });
    expect(Array.from(tensors.get('a')!.data)).toEqual([1.5, -2]);
    expect(tensors.get('b')!.dtype).toBe('I32');
    expect(Array.from(tensors.get('b')!.data)).toEqual([-7]);
  });

  it('writes what it reads back, byte-exact layout per the spec', () => {
    const t = new Map<string, StTensor>([
      ['enc.weight', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
      ['step', { dtype: 'I32', shape: [], data: Int32Array.from([12]) }],
    ]);
    const p = join(dir, 'rt.safetensors');
    writeSafetensors(p, t, { epoch: '3' });
    const raw = readFileSync(p);
    const len = Number(raw.readBigUInt64LE(0));
    expect((8 + len) % 8).toBe(0);
    const header = JSON.parse(raw.subarray(8, 8 + len).toString()) as Record<string, { data_offsets: number[] }>;
    expect(header['enc.weight']!.data_offsets).toEqual([0, 24]);
    expect(header.step!.data_offsets).toEqual([24, 28]);
    expect(raw.readFloatLE(8 + len + 20)).toBe(6);
    const back = readSafetensors(p);
    expect(back.metadata).toEqual({ epoch: '3' });
    expect(Array.from(back.tensors.get('enc.weight')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.tensors.get('step')!.shape).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('names the file and the problem for corrupt input', () => {
    const p = join(dir, 'bad.safetensors');
    writeFileSync(p, Buffer.from([1, 2, 3]));
    expect(() => readSafetensors(p)).toThrow(/bad.safetensors: not a valid safetensors file \(shorter than/);
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(1000n);
    writeFileSync(p, Buffer.concat([head, Buffer.from('{}')]));
    expect(() => readSafetensors(p)).toThrow(/header length 1000 exceeds the file size/);
    const json = '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}';
    head.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(p, Buffer.concat([head, Buffer.from(json), Buffer.alloc(8)]));
    expect(() => readSafetensors(p)).toThrow(/tensor 'a' \[4\] has data offsets \[0, 16\] outside/);
    expect(() => readSafetensors(join(dir, 'missing.safetensors'))).toThrow(/missing.safetensors: cannot read/);
  });

  it('a failed write leaves the previous file intact', () => {
    const p = join(dir, 'keep.safetensors');
    writeSafetensors(p, new Map([['x', { dtype: 'F32', shape: [1], data: Float32Array.from([4]) }]]));
    expect(() => writeSafetensors(p, new Map([['x', { dtype: 'F32', shape: [2], data: Float32Array.from([1]) }]]))).toThrow(/has 1 values for shape \[2\]/);
    expect(Array.from(readSafetensors(p).tensors.get('x')!.data)).toEqual([4]);
  });
});
