#!/usr/bin/env node
// cuda-emu build step: turns a .cu/.cuh file into C++ that g++ compiles against the emulated
// runtime (include/cuda_runtime.h). Only two constructs change, and every line stays on its line
// (a #line directive keeps the original file name in errors, __FILE__ and diagnostics):
//   k<<<grid, block[, shared[, stream]]>>>(args)
//     -> ::cuemu::launch({"k", __FILE__, __LINE__, __PRETTY_FUNCTION__}, {grid, block, ...},
//                        [](auto&&... a_) { k(a_...); }, args)
//   [extern] __shared__ T name[dims];
//     -> per-block storage from the scheduler (dynamic for extern, static otherwise).
// Usage: node rewrite_cu.mjs <in> <out> [<in> <out> ...]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

function fail(file, index, src, what) {
  const line = src.slice(0, index).split('\n').length;
  throw new Error(`${file}:${line}: cuda-emu rewrite: ${what}`);
}

// Index of the bracket closing the one at `open` (skips strings, chars and comments).
function matching(src, open, file) {
  const pairs = { '(': ')', '[': ']', '{': '}' };
  const stack = [pairs[src[open]]];
  for (let i = open + 1; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'") {
      for (i++; i < src.length && src[i] !== c; i++) if (src[i] === '\\') i++;
    } else if (c === '/' && src[i + 1] === '/') {
      i = src.indexOf('\n', i);
      if (i < 0) break;
    } else if (c === '/' && src[i + 1] === '*') {
      i = src.indexOf('*/', i) + 1;
    } else if (pairs[c]) {
      stack.push(pairs[c]);
    } else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return i;
    }
  }
  fail(file, open, src, `unbalanced '${src[open]}'`);
}

// Start of the kernel expression that ends just before `end`: an identifier, possibly qualified
// (a::b), possibly with template arguments (k<M>, k<A, B<C>>).
function kernelStart(src, end, file) {
  let i = end;
  while (i > 0 && /\s/.test(src[i - 1])) i--;
  for (;;) {
    if (src[i - 1] === '>') {
      let depth = 0;
      for (i--; i >= 0; i--) {
        if (src[i] === '>') depth++;
        else if (src[i] === '<' && --depth === 0) break;
      }
      if (i < 0) fail(file, end, src, 'unbalanced template arguments before <<<');
    }
    const before = i;
    while (i > 0 && /[A-Za-z0-9_]/.test(src[i - 1])) i--;
    if (i === before) fail(file, end, src, 'no kernel name before <<<');
    if (src.slice(i - 2, i) === '::') i -= 2;
    else return i;
  }
}

function rewriteLaunches(src, file) {
  let out = '';
  let from = 0;
  for (let at = src.indexOf('<<<'); at >= 0; at = src.indexOf('<<<', from)) {
    const start = kernelStart(src, at, file);
    const close = src.indexOf('>>>', at);
    if (close < 0) fail(file, at, src, 'no >>> after <<<');
    let open = close + 3;
    while (/\s/.test(src[open])) open++;
    if (src[open] !== '(') fail(file, at, src, 'no argument list after >>>');
    const end = matching(src, open, file);
    const kernel = src.slice(start, at).trim();
    const config = src.slice(at + 3, close);
    const args = src.slice(open + 1, end);
    const lines = (s) => (s.match(/\n/g) ?? []).length;
    // keep the line count: the newlines of the original launch go at the end
    const pad = '\n'.repeat(lines(src.slice(start, end + 1)));
    const flat = (s) => s.replace(/\s*\n\s*/g, ' ');
    out += src.slice(from, start);
    out +=
      `::cuemu::launch(::cuemu::LaunchSite{${JSON.stringify(kernel)}, __FILE__, __LINE__, __PRETTY_FUNCTION__}, ` +
      `::cuemu::LaunchConfig(${flat(config)}), [](auto&&... cuemu_a_) { ${kernel}(cuemu_a_...); }` +
      `${args.trim() ? ', ' + flat(args) : ''})` +
      pad;
    from = end + 1;
  }
  return out + src.slice(from);
}

// [extern] __shared__ <type> <name>[dims]...;  (one declarator per declaration, as in our kernels)
const sharedDecl = /(\bextern\s+)?__shared__\s+([^;{}()]*?)\s*\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\])*)\s*;/g;

function rewriteShared(src, file) {
  return src.replace(sharedDecl, (whole, ext, type, name, dims, offset) => {
    if (/__shared__/.test(type)) fail(file, offset, src, 'one __shared__ declaration per statement');
    const pad = '\n'.repeat((whole.match(/\n/g) ?? []).length);
    if (ext) {
      if (dims !== '[]') fail(file, offset, src, `extern __shared__ ${name} must be an unsized array`);
      return `${type}* ${name} = static_cast<${type}*>(::cuemu::dynamicShared());${pad}`;
    }
    const full = `${type}${dims}`;
    const ref = dims ? `${type} (&${name})${dims}` : `${type}& ${name}`;
    const ptr = dims ? `${type} (*)${dims}` : `${type}*`;
    return (
      `static char cuemu_key_${name}; ${ref} = *static_cast<${ptr}>(` +
      `::cuemu::staticShared(&cuemu_key_${name}, sizeof(${full}), alignof(${full}), ${JSON.stringify(name)}, __FILE__, __LINE__));` +
      pad
    );
  });
}

const argv = process.argv.slice(2);
if (argv.length === 0 || argv.length % 2) {
  console.error('usage: rewrite_cu.mjs <in> <out> [<in> <out> ...]');
  process.exit(2);
}
for (let k = 0; k < argv.length; k += 2) {
  const input = resolve(argv[k]);
  const output = resolve(argv[k + 1]);
  const src = readFileSync(input, 'utf8');
  let body;
  try {
    body = rewriteShared(rewriteLaunches(src, input), input);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, `#line 1 ${JSON.stringify(input)}\n${body}`);
}
