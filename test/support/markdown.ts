/**
 * Just enough Markdown for the documentation tests: fenced code blocks with their line numbers, and the links and
 * path-like code spans of the prose around them.
 */

export interface CodeBlock {
  /** The fence's info string (`bash`, `hcl`, ...), '' when it has none. */
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The block's lines, without the fences. */
  lines: string[];
}

const FENCE = /^(`{3,}|~{3,})\s*([^\s`]*)/;

export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let open: { fence: string; block: CodeBlock } | undefined;
  markdown.split('\n').forEach((text, i) => {
    if (open) {
      if (text.trim().startsWith(open.fence) && text.trim().replace(/^[`~]+/, '') === '') open = undefined;
      else open.block.lines.push(text);
      return;
    }
    const m = FENCE.exec(text.trimStart());
    if (!m) return;
    const block: CodeBlock = { lang: m[2]!.toLowerCase(), line: i + 1, lines: [] };
    blocks.push(block);
    open = { fence: m[1]!, block };
  });
  if (open) throw new Error(`the code block opened at line ${open.block.line} is never closed`);
  return blocks;
}

export interface Reference {
  /** 1-based line. */
  line: number;
  /** What the text points at, as written. */
  target: string;
  kind: 'link' | 'code span';
}

/**
 * Every link (`[text](target)`, `![alt](target)`, `[id]: target`, `href=`/`src=`) and every inline code span that
 * names a path (holds a `/` and no space), outside fenced code blocks.
 */
export function references(markdown: string): Reference[] {
  // Fenced blocks are code, not prose: blank them out, keeping the line count.
  const lines = markdown.split('\n');
  for (const b of codeBlocks(markdown)) for (let l = b.line; l <= b.line + b.lines.length + 1 && l <= lines.length; l++) lines[l - 1] = '';
  const text = lines.join('\n');
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  const out: Reference[] = [];
  const SPAN = /(`+)([^`]+?)\1/g;
  for (const m of text.matchAll(SPAN)) {
    const code = m[2]!.trim();
    if (code.includes('/') && !/\s/.test(code)) out.push({ line: lineOf(m.index), target: code, kind: 'code span' });
  }
  // Links: in the prose with code spans blanked (same length, so the offsets still give the line).
  const prose = text.replace(SPAN, (s) => s.replace(/[^\n]/g, ' '));
  const LINKS = [
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm,
    /\b(?:href|src)\s*=\s*["']([^"']+)["']/gi,
  ];
  for (const re of LINKS) for (const m of prose.matchAll(re)) out.push({ line: lineOf(m.index), target: m[1]!, kind: 'link' });
  return out.sort((a, b) => a.line - b.line);
}
