// The guides' code blocks for the tests that run them as written: a test reads its proxy
// configuration out of docs/deploying.md instead of keeping a copy of its own, so that a change
// that breaks the guide breaks the test.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** docs/deploying.md, the guide the proxy configurations come from. */
export const DEPLOYING_GUIDE: string = fileURLToPath(
  new URL('../docs/deploying.md', import.meta.url),
);

/**
 * The code of the first fenced block in `language` under the heading `heading` (up to the next
 * heading of the same level or above) of a Markdown text.
 */
export function codeBlockUnder(markdown: string, heading: string, language: string): string {
  const level = /^#+/.exec(heading)?.[0].length ?? 0;
  let inSection = false;
  let fence: { marker: string; language: string; lines: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    if (fence) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line)?.[1];
      if (
        close !== undefined &&
        close[0] === fence.marker[0] &&
        close.length >= fence.marker.length
      ) {
        if (inSection && fence.language === language) return `${fence.lines.join('\n')}\n`;
        fence = undefined;
      } else fence.lines.push(line);
      continue;
    }
    const open = /^ {0,3}(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (open) {
      fence = { marker: open[1] ?? '```', language: open[2] ?? '', lines: [] };
      continue;
    }
    const title = /^(#+)\s/.exec(line);
    if (title) {
      if (line.trim() === heading) inSection = true;
      else if (inSection && (title[1]?.length ?? 0) <= level) break;
    }
  }
  throw new Error(`no \`\`\`${language} block under "${heading}"`);
}

/** The first ````language` block under `heading` in docs/deploying.md, read now. */
export function deployingBlock(heading: string, language: string): string {
  return codeBlockUnder(readFileSync(DEPLOYING_GUIDE, 'utf8'), heading, language);
}
