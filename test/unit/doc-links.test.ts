import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { references, type Reference } from '../support/markdown.ts';

/**
 * The documentation a clone holds points only at what a clone has: every relative link, and every code span naming a
 * path (`docs/security.md`, `../x`), of README.md, docs/*.md and the READMEs under the source folders resolves to a
 * file or folder inside the repository that exists. Links with a scheme (https:, mailto:) and anchors are not checked.
 */
const ROOT = resolve(import.meta.dirname, '../..');

/** Top-level entries that are not the repository's own files (.gitignore's plain names, and git's own folder). */
const NOT_OURS = new Set([
  '.git',
  ...readFileSync(join(ROOT, '.gitignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim().replace(/\/$/, ''))
    .filter((l) => l && !/[*!#]/.test(l)),
]);
const TOP_LEVEL = new Set(readdirSync(ROOT).filter((name) => !NOT_OURS.has(name)));

function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  const readmes = ['src', 'test', 'workers', 'stacks', 'bench']
    .filter((d) => existsSync(join(ROOT, d)))
    .flatMap((d) => readdirSync(join(ROOT, d), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('README.md')).map((f) => `${d}/${f}`));
  return ['README.md', ...docs, ...readmes];
}

/** Why `ref` in `file` points outside the repository or at nothing, or undefined when it is fine or not a path. */
function problem(file: string, ref: Reference): string | undefined {
  let target = ref.target;
  if (ref.kind === 'link') {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) return undefined;
    target = target.replace(/[#?].*$/, '');
    if (target === '') return undefined;
  } else {
    // A code span is a path when it is written relative (./, ../) or starts with one of the repository's own folders.
    if (/[<>*{}$]/.test(target)) return undefined;
    const relativeSpan = /^\.\.?\//.test(target);
    if (!relativeSpan && !TOP_LEVEL.has(target.split('/')[0]!)) return undefined;
    if (!relativeSpan) target = `/${target}`;
  }
  const absolute = target.startsWith('/') ? join(ROOT, target) : resolve(ROOT, dirname(file), target);
  const inRepo = relative(ROOT, absolute);
  if (inRepo.startsWith('..')) return 'points outside the repository (a clone does not have it)';
  if (NOT_OURS.has(inRepo.split('/')[0]!)) return 'points into a folder that is not part of the repository';
  if (!existsSync(absolute)) return 'names a file that does not exist';
  return undefined;
}

describe('documentation links', () => {
  it('README.md, docs/*.md and the folder READMEs link and refer only to files of the repository that exist', () => {
    const bad = documents().flatMap((file) =>
      references(readFileSync(join(ROOT, file), 'utf8')).flatMap((ref) => {
        const why = problem(file, ref);
        return why ? [`${file}:${ref.line}: ${ref.kind} ${ref.target} ${why}`] : [];
      }),
    );
    expect(bad).toEqual([]);
  });

  it('catches what it is for: a path outside the clone, a missing file, in links and code spans', () => {
    const check = (target: string, kind: Reference['kind'] = 'link', file = 'README.md') => problem(file, { line: 1, target, kind });
    expect(check('../elsewhere/API.md')).toMatch(/outside/);
    expect(check('../elsewhere/API.md', 'code span')).toMatch(/outside/);
    expect(check('docs/no-such-page.md')).toMatch(/does not exist/);
    expect(check('src/no-such-file.ts', 'code span')).toMatch(/does not exist/);
    expect(check('../README.md', 'link', 'docs/security.md')).toBeUndefined();
    expect(check('../../README.md', 'link', 'docs/security.md')).toMatch(/outside/);
    expect(check('/etc/passwd')).toMatch(/does not exist/);
    expect(check('node_modules/vitest/package.json')).toMatch(/not part of the repository/);
    for (const fine of ['https://example.com/x', '#run-it', 'docs/security.md#threats', 'src/README.md']) expect(check(fine)).toBeUndefined();
    for (const notAPath of ['/v1/queues', 'hashicorp/aws', 'redis://127.0.0.1:6379', 'test/<file>.ts']) expect(check(notAPath, 'code span')).toBeUndefined();
  });
});
