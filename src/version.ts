// The package's own version, read from its package.json (not $npm_package_version, which names
// whatever project runs npm: a consumer's, when scse is installed as a dependency).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const manifest = join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json');
export const packageVersion: string = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
