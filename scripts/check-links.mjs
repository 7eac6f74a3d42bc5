/**
 * Fails on a broken relative link in any Markdown file of the repository: a link, image, link
 * reference definition or HTML `href`/`src` whose file does not exist, or whose `#anchor` is not a
 * heading (or HTML `id`/`name`) of the Markdown file it points to, with anchors made by GitHub's
 * rules (see `markdown.mjs`). Links in code blocks and code spans are not links; external URLs
 * (`https:`, `mailto:`…) are not checked, nor anchors into files other than Markdown (`#L10`).
 *
 * Usage: `node scripts/check-links.mjs` (CI runs it through `pnpm docs`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { anchors, markdownFiles, proseLines } from './markdown.mjs';

const started = performance.now();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Anchors of each Markdown file, read once. */
const anchorCache = new Map();
function anchorsOf(file) {
  if (!anchorCache.has(file)) anchorCache.set(file, anchors(readFileSync(file, 'utf8')));
  return anchorCache.get(file);
}

/** Every link target of a Markdown text, with its 1-based line. */
function links(text) {
  const found = [];
  for (const [index, raw] of proseLines(text).entries()) {
    // A code span is code, not a link.
    const line = raw.replace(/(`+)[\s\S]*?[^`]\1(?!`)|(`+)\2/g, '');
    const add = (target) => found.push({ target, line: index + 1 });
    for (const m of line.matchAll(
      /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g,
    )) {
      add(m[1]);
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(line);
    if (definition) add(definition[1]);
    for (const m of line.matchAll(/\s(?:href|src)=["']([^"']*)["']/gi)) add(m[1]);
  }
  return found;
}

const problems = [];
let checked = 0;
const files = markdownFiles(root);
for (const path of files) {
  const file = join(root, path);
  const text = readFileSync(file, 'utf8');
  for (const { target, line } of links(text)) {
    // External (`https:`, `mailto:`…) and protocol-relative links are not this check's business.
    if (/^[a-z][a-z\d+.-]*:/i.test(target) || target.startsWith('//')) continue;
    checked++;
    const where = `${path}:${line}`;
    const hash = target.indexOf('#');
    const pathPart = (hash === -1 ? target : target.slice(0, hash)).split('?')[0];
    const anchor = hash === -1 ? undefined : target.slice(hash + 1);
    let destination;
    try {
      destination =
        pathPart === ''
          ? file
          : pathPart.startsWith('/')
            ? join(root, decodeURIComponent(pathPart))
            : resolve(dirname(file), decodeURIComponent(pathPart));
    } catch {
      problems.push(`${where}: ${target}: cannot decode the path`);
      continue;
    }
    if (!destination.startsWith(root)) {
      problems.push(`${where}: ${target}: points outside the repository`);
      continue;
    }
    if (!existsSync(destination)) {
      problems.push(`${where}: ${target}: ${relative(root, destination)} does not exist`);
      continue;
    }
    if (anchor === undefined || !destination.endsWith('.md') || statSync(destination).isDirectory())
      continue;
    let decoded;
    try {
      decoded = decodeURIComponent(anchor);
    } catch {
      decoded = anchor;
    }
    if (!anchorsOf(destination).has(decoded)) {
      problems.push(
        `${where}: ${target}: no heading or id '${decoded}' in ${relative(root, destination)}`,
      );
    }
  }
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const summary = `${checked} relative links in ${files.length} Markdown files checked in ${seconds} s`;
if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`\n${problems.length} broken link(s); ${summary}`);
  process.exitCode = 1;
} else {
  console.log(summary);
}
