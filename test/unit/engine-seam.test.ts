import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The infrastructure engine sits behind one port (src/clouds/engine.ts): only its terraform adapter may see the
// stacks, so replacing the engine touches src/clouds/terraform and stacks/ and nothing else.

const root = resolve(import.meta.dirname, '../..');
const SPECIFIER = /(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g;

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

describe('the engine seam', () => {
  it('lets only src/clouds/terraform import stacks/', () => {
    const reaching = [...tsFiles('src'), ...tsFiles('workers')].filter((file) => {
      if (file.startsWith('src/clouds/terraform/')) return false;
      const source = readFileSync(join(root, file), 'utf8');
      return [...source.matchAll(SPECIFIER)].some(([, spec]) => spec!.startsWith('.') && relative(root, resolve(dirname(join(root, file)), spec!)).startsWith('stacks/'));
    });
    expect(reaching).toEqual([]);
  });
});
