import { codeBlocks, type CodeBlock } from './markdown.ts';

/**
 * The README's examples as a program: its shell (```bash) and HCL (```hcl) blocks in order. A block whose first line
 * is `# not run by the README test: <reason>` is skipped (the reason is required). An HCL block whose first line
 * names a file (`# main.tf`) is written to that file in the shell's current folder when the session reaches it, as a
 * reader saves it.
 */
export const SKIP_MARKER = /^#\s*not run by the README test\b:?\s*(.*)$/i;
const SHELL = new Set(['bash', 'sh', 'shell']);
const HCL = new Set(['hcl', 'terraform', 'tf']);
const FILE_NAME = /^#\s*([\w.-]+\.tf)\s*$/;
/**
 * Commands that cannot run in the suite, or would harm the checkout it runs in (reinstalling node_modules under
 * the other test files): a block using one must carry the marker.
 */
const NEVER_RUN = /(^|[;&|(]\s*)(npm (ci|install|i|test|start)\b|npm run (chaos|bench|test:browser)\b|docker\b|apt(-get)?\b|sudo\b)/;

export interface Example extends CodeBlock {
  kind: 'shell' | 'hcl';
  /** Why it is not run, when it carries the marker. */
  skip?: string;
  /** For an HCL block: the file the session writes it to. */
  file?: string;
}

/** The examples, and what is wrong with the README's blocks (a block without a language, a skip without a reason). */
export function readmeExamples(markdown: string): { examples: Example[]; problems: string[] } {
  const examples: Example[] = [];
  const problems: string[] = [];
  for (const block of codeBlocks(markdown)) {
    if (block.lang === '') {
      problems.push(`README.md:${block.line}: a code block without a language (bash, hcl, yaml, ...): say what it is, so a shell example cannot hide from this test`);
      continue;
    }
    const kind = SHELL.has(block.lang) ? 'shell' : HCL.has(block.lang) ? 'hcl' : undefined;
    if (!kind) continue;
    const skip = SKIP_MARKER.exec(block.lines[0] ?? '');
    if (skip && skip[1]!.trim() === '') problems.push(`README.md:${block.line}: "not run by the README test" needs a reason: "# not run by the README test: <reason>"`);
    const code = block.lines.map((l) => l.replace(/(^|\s)#.*$/, '').trim());
    const unsafe = kind === 'shell' && !skip ? code.map((l) => NEVER_RUN.exec(l)?.[2]).find(Boolean) : undefined;
    if (kind === 'shell' && !skip && code.some((l) => l.includes('&&'))) {
      problems.push(`README.md:${block.line}: \`a && b\` hides a failure of a from \`set -e\` (the block goes on): put the commands on lines of their own`);
    }
    if (unsafe) problems.push(`README.md:${block.line}: the block runs \`${unsafe}\`, which cannot run in the suite or takes minutes: start it with "# not run by the README test: <reason>"`);
    const file = kind === 'hcl' ? FILE_NAME.exec(block.lines[0] ?? '')?.[1] : undefined;
    examples.push({ ...block, kind, ...(skip && { skip: skip[1]!.trim() }), ...(file && { file }) });
  }
  return { examples, problems };
}

export const BLOCK_MARK = '@@readme-block';
export const ERROR_MARK = '@@readme-error';

/**
 * One bash script running the examples in order, in one session (variables carry over). `set -eEuo pipefail`; curl
 * fails on an HTTP error answer (4xx, 5xx) and prints its body; each block announces itself, and a failing command
 * names its line (the first mark). `readmeLine[i]` is the README line of script line i + 1 (undefined for the harness's own lines).
 */
export function sessionScript(examples: Example[]): { script: string; readmeLine: (number | undefined)[] } {
  const lines: string[] = [];
  const readmeLine: (number | undefined)[] = [];
  const own = (...text: string[]) => text.forEach((t) => (lines.push(t), readmeLine.push(undefined)));
  own(
    // -E: the trap also fires in functions and command substitutions, so the first mark names the failing line.
    'set -eEuo pipefail',
    'shopt -s inherit_errexit expand_aliases',
    // What a reader sees as an error answer, the session treats as an error: exit 22, the body still printed (a line
    // showing an error answer on purpose ends with `|| true`). Each answer on its own line of the output.
    "alias curl='curl --fail-with-body --show-error --write-out \"\\n\"'",
    `trap 'echo "${ERROR_MARK} $LINENO $?" >&2' ERR`,
  );
  examples.forEach((ex, i) => {
    if (ex.skip !== undefined) return;
    if (ex.kind === 'hcl' && !ex.file) return;
    own(`printf '\\n${BLOCK_MARK} ${i}\\n'`);
    const delimiter = 'README_HCL_EOF';
    if (ex.kind === 'hcl') own(`cat > '${ex.file}' <<'${delimiter}'`);
    ex.lines.forEach((text, j) => {
      lines.push(text);
      readmeLine.push(ex.line + 1 + j);
    });
    if (ex.kind === 'hcl') own(delimiter);
  });
  own(`printf '\\n${BLOCK_MARK} end\\n'`);
  return { script: `${lines.join('\n')}\n`, readmeLine };
}

/** Which block the session was in when it stopped, the README line of the failing command, and the block's output. */
export function lastBlock(output: string, readmeLine: (number | undefined)[]): { index: number | 'end' | undefined; line?: number; output: string } {
  const parts = output.split(new RegExp(`\\n?${BLOCK_MARK} (\\d+|end)\\n`));
  if (parts.length < 2) return { index: undefined, output };
  const index = parts.at(-2) === 'end' ? 'end' : Number(parts.at(-2));
  const body = parts.at(-1)!;
  // The first failure reported: the ERR trap's mark, or bash's own message (`session.sh: line 12: X: unbound variable`).
  const error = new RegExp(`${ERROR_MARK} (\\d+) \\d+|^\\S*: line (\\d+): `, 'm').exec(body);
  const scriptLine = error ? Number(error[1] ?? error[2]) : undefined;
  return { index, line: scriptLine ? readmeLine[scriptLine - 1] : undefined, output: body.replace(new RegExp(`${ERROR_MARK} .*\\n?`, 'g'), '') };
}
