/**
 * Type-checks every ```ts and ```tsx code block of README.md, packages/*\/README.md and
 * docs/**\/*.md, so that what a newcomer copies compiles. The generated API reference
 * (docs/api/) is left out: its blocks are signatures and the examples of the sources' TSDoc,
 * fragments that the sources' own type check stands behind.
 *
 * Each block becomes its own module in a temporary directory (one folder per Markdown file),
 * checked with the repository's TypeScript under the options of the Vite templates (strict,
 * `noUnusedLocals`, `noUnusedParameters`…). `@tidewire/*` resolves to the workspace packages'
 * sources; react, react-dom, vue, ws, zod and @redis/client to the workspace's node_modules.
 *
 * Conventions inside a block:
 * - a first line `// name.ts` names the module, so other blocks of the same file can import
 *   it (`./name`); otherwise the module is named after the block's line;
 * - a first line `// check: skip (why)` leaves a deliberate fragment out; the reason is required;
 * - the app's own things a snippet only refers to (`render`, `refetchOrders`…) are declared in
 *   {@link PRELUDE} below, not in the Markdown.
 *
 * Usage: `node scripts/check-readme-code.mjs [--keep]` (`--keep` leaves the directory behind).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fences, markdownFiles } from './markdown.mjs';

const started = performance.now();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const ts = require('typescript');

/** Ambient declarations of the app's own things that README snippets use without defining. */
const PRELUDE = `// The app's own things that README snippets refer to.
declare function render(data: unknown): void;
declare function refetchPrices(): void;
declare function refetchOrders(): void;
/** The app's own token check (server README). */
declare function verifyJwt(
  token: string | undefined,
): Promise<{ sub: string; exp: number; suspended?: boolean }>;
declare interface Chart {
  push(point: unknown): void;
}
declare const chart: Chart;
declare module '*.vue' {
  const component: import('vue').Component;
  export default component;
}
`;

const SKIP = /^\/\/\s*check:\s*skip\b(.*)$/;
const NAMED = /^\/\/\s*([\w-]+\.tsx?)\s*$/;

/** The Markdown files to check, relative to the root: the READMEs and the guides in docs/. */
function documents() {
  return markdownFiles(root).filter(
    (path) =>
      path === 'README.md' ||
      /^packages\/[^/]+\/README\.md$/.test(path) ||
      (path.startsWith('docs/') && !path.startsWith('docs/api/')),
  );
}

/** The ```ts / ```tsx blocks of a Markdown text: language, first code line (1-based), lines. */
function blocks(text) {
  return fences(text).filter((block) => block.language === 'ts' || block.language === 'tsx');
}

/** Where a bare module's types live in the workspace: `@types/<name>` first, else the package. */
function locate(name) {
  const places = [
    root,
    ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p)),
  ];
  for (const place of places) {
    for (const candidate of [`node_modules/@types/${name}`, `node_modules/${name}`]) {
      try {
        readFileSync(join(place, candidate, 'package.json'));
        return join(place, candidate);
      } catch {}
    }
  }
  throw new Error(
    `check-readme-code: ${name} is not installed in the workspace (run pnpm install)`,
  );
}

/** `paths` for every `@tidewire/*` export (its source) and the third-party modules. */
function paths() {
  const map = {};
  for (const directory of readdirSync(join(root, 'packages'))) {
    let manifest;
    try {
      manifest = JSON.parse(
        readFileSync(join(root, 'packages', directory, 'package.json'), 'utf8'),
      );
    } catch {
      continue;
    }
    for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
      const source = typeof conditions === 'object' && conditions['@tidewire/source'];
      if (!source) continue;
      const specifier = manifest.name + subpath.slice(1);
      map[specifier] = [join(root, 'packages', directory, source)];
    }
  }
  for (const name of ['react', 'react-dom', 'vue', 'ws', 'zod', '@redis/client']) {
    const location = locate(name);
    map[name] = [location];
    map[`${name}/*`] = [`${location}/*`];
  }
  return map;
}

const keep = process.argv.includes('--keep');
const directory = mkdtempSync(join(tmpdir(), 'tidewire-readme-code-'));
/** Module file → where its block is in the README. */
const origins = new Map();
const problems = [];
let skipped = 0;

for (const readme of documents()) {
  const folder = join(
    directory,
    readme
      .replace(/\/?README\.md$/, '')
      .replace(/\.md$/, '')
      .replace(/\//g, '-') || 'root',
  );
  mkdirSync(folder, { recursive: true });
  for (const block of blocks(readFileSync(join(root, readme), 'utf8'))) {
    const first = block.lines[0] ?? '';
    const skip = SKIP.exec(first);
    if (skip) {
      if (!/\w/.test(skip[1])) {
        problems.push(`${readme}:${block.line}: '// check: skip' needs a reason after it`);
      }
      skipped++;
      continue;
    }
    const name = NAMED.exec(first)?.[1] ?? `line-${block.line}.${block.language}`;
    const file = join(folder, name);
    if (origins.has(file)) {
      problems.push(`${readme}:${block.line}: another block of this file is also named ${name}`);
      continue;
    }
    writeFileSync(file, block.lines.join('\n'));
    origins.set(file, { readme, line: block.line });
  }
}

const prelude = join(directory, 'prelude.d.ts');
writeFileSync(prelude, PRELUDE);
const config = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    module: 'ESNext',
    moduleResolution: 'Bundler',
    moduleDetection: 'force',
    jsx: 'react-jsx',
    strict: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    noFallthroughCasesInSwitch: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
    typeRoots: [join(root, 'node_modules/@types')],
    paths: paths(),
  },
  files: [prelude, ...origins.keys()],
};
writeFileSync(join(directory, 'tsconfig.json'), JSON.stringify(config, null, 2));

const parsed = ts.parseJsonConfigFileContent(config, ts.sys, directory);
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
const diagnostics = [
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...[prelude, ...origins.keys()].flatMap((file) => {
    const source = program.getSourceFile(file);
    return source
      ? [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
      : [];
  }),
];

for (const diagnostic of diagnostics) {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
  if (!diagnostic.file || diagnostic.start === undefined) {
    problems.push(`error TS${diagnostic.code}: ${message}`);
    continue;
  }
  const at = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  const origin = origins.get(resolve(diagnostic.file.fileName));
  const where = origin
    ? `${origin.readme}:${origin.line + at.line}:${at.character + 1}`
    : `${relative(root, diagnostic.file.fileName)}:${at.line + 1}:${at.character + 1}`;
  problems.push(`${where}: error TS${diagnostic.code}: ${message}`);
}

if (keep) console.log(`The modules and tsconfig.json are in ${directory}`);
else rmSync(directory, { recursive: true, force: true });

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const summary = `${origins.size} Markdown code blocks type-checked, ${skipped} skipped, in ${seconds} s`;
if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`\n${problems.length} problem(s); ${summary}`);
  process.exitCode = 1;
} else {
  console.log(summary);
}
