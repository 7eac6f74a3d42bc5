/**
 * What the documentation scripts share about Markdown: which files the repository holds, where
 * their fenced code blocks are, and the anchors GitHub gives their headings. Used by
 * `check-readme-code.mjs` (code blocks), `check-links.mjs` (links and anchors) and
 * `api-reference.mjs` (the anchors of the pages it writes).
 */
import { execFileSync } from 'node:child_process';

/**
 * The repository's Markdown files, relative to `root`, sorted: every file git tracks or would
 * track (ignored files such as `node_modules/` and `dist/` are left out), new files included.
 */
export function markdownFiles(root) {
  const listed = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.md'],
    { cwd: root, encoding: 'utf8' },
  );
  return [...new Set(listed.split('\n').filter((path) => path !== ''))]
    .filter((path) => !path.split('/').includes('node_modules'))
    .sort();
}

/**
 * The fenced code blocks of a Markdown text, in order: `language` (the info string's first
 * word, `''` when none), `line` (1-based line of the first code line), `lines` (the code) and
 * `end` (1-based line of the closing fence). A fence is three or more backticks or tildes; it is
 * closed by a fence of the same character at least as long, as CommonMark says.
 */
export function fences(text) {
  const found = [];
  const lines = text.split('\n');
  let open;
  for (const [index, line] of lines.entries()) {
    if (open) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1][0] === open.marker[0] && close[1].length >= open.marker.length) {
        found.push({ language: open.language, line: open.line, lines: open.lines, end: index + 1 });
        open = undefined;
      } else open.lines.push(line);
      continue;
    }
    const fence = /^ {0,3}(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (fence) open = { marker: fence[1], language: fence[2], line: index + 2, lines: [] };
  }
  // A fence left open runs to the end of the text.
  if (open)
    found.push({ language: open.language, line: open.line, lines: open.lines, end: lines.length });
  return found;
}

/**
 * The lines of a Markdown text with the content of fenced code blocks blanked out (line numbers
 * are kept), so that what looks like a heading or a link inside code is not taken for one.
 */
export function proseLines(text) {
  const lines = text.split('\n');
  for (const block of fences(text)) {
    for (let line = block.line - 1; line <= block.end; line++) lines[line - 1] = '';
  }
  return lines;
}

/**
 * The text GitHub shows for a heading's Markdown: code spans keep their content, links and
 * images their text, HTML tags and emphasis markers go.
 */
export function headingText(markdown) {
  const codes = [];
  // Code spans first: what is inside them is shown as it is.
  let text = markdown.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, _ticks, code) => {
    codes.push(code.trim());
    return `\u0000${codes.length - 1}\u0000`;
  });
  text = text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/!?\[([^\]]*)\]\[[^\]]*\]/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/(\*\*|__|\*|~~)(?=\S)([\s\S]*?\S)\1/g, '$2')
    .replace(/(^|[^\w])_(?=\S)([\s\S]*?\S)_(?![\w])/g, '$1$2');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the placeholders set above.
  return text.replace(/\u0000(\d+)\u0000/g, (_, index) => codes[Number(index)]).trim();
}

/**
 * GitHub's anchor for a heading text: lower case, every character that is not a letter, a mark,
 * a number, a connector (`_`), a hyphen or a space removed, then each space a hyphen (the rule of
 * github-slugger, which GitHub uses).
 */
export function slug(text) {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/**
 * A slugger for one page: the second heading with the same anchor gets `-1`, the third `-2`,
 * and so on, as on GitHub.
 */
export function createSlugger() {
  const seen = new Map();
  return (text) => {
    const base = slug(text);
    let candidate = base;
    let count = seen.get(base) ?? 0;
    while (seen.has(candidate)) candidate = `${base}-${++count}`;
    seen.set(base, count);
    seen.set(candidate, 0);
    return candidate;
  };
}

/**
 * Every anchor a Markdown text defines: its ATX headings' (`#` … `######`, outside code blocks)
 * as GitHub makes them, and the `id` or `name` of HTML elements such as `<a id="…">`.
 */
export function anchors(text) {
  const next = createSlugger();
  const found = new Set();
  for (const line of proseLines(text)) {
    const heading = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (heading) found.add(next(headingText(heading[1] ?? '')));
    for (const html of line.matchAll(/<[a-z][^>]*?\s(?:id|name)=["']([^"']+)["']/gi)) {
      found.add(html[1]);
    }
  }
  return found;
}
