/**
 * Writes the API reference, docs/api/<package>.md, from the TSDoc of every public entry of every
 * package, and fails when something public is undocumented.
 *
 * The public entries are the `exports` of each packages/<name>/package.json, read through their
 * `@tidewire/source` condition (`./src/*.ts`). For each entry, every export is rendered: its
 * declaration, its TSDoc (summary, `@param`, `@returns`, `@throws`, `@default`, `@example`…) and,
 * for interfaces, object types and classes, every member with its own TSDoc. An export re-exported
 * from another package links to where that package documents it; `@internal` exports are left out.
 *
 * It fails (exit code 1, listing each with its file and line) when an entry has no `@module`
 * comment, an export has no TSDoc summary, or a member has none: a property or method of an
 * exported interface or object type (options objects included), or a public member a class
 * declares. Members marked `override` are left out (what they override documents them), and so are
 * members named by a symbol (brands), which are not public.
 *
 * The pages are written as the repository's formatter (Biome) would leave them, so `pnpm lint` and
 * `pnpm format` agree with this script.
 *
 * Usage:
 * - `node scripts/api-reference.mjs` writes the pages;
 * - `node scripts/api-reference.mjs --check` writes nothing and also fails when a page on disk
 *   differs from what the sources give (CI runs this through `pnpm docs`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSlugger } from './markdown.mjs';

const started = performance.now();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const ts = require('typescript');
const check = process.argv.includes('--check');
const out = join(root, 'docs', 'api');

// ── The packages and their entries ──────────────────────────────────────────────────────────

/** Every package with public entries: folder, name, and entries (subpath, specifier, file). */
function packages() {
  const found = [];
  for (const folder of readdirSync(join(root, 'packages')).sort()) {
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(root, 'packages', folder, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    const entries = [];
    for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
      const source = typeof conditions === 'object' && conditions['@tidewire/source'];
      if (!source) continue;
      entries.push({
        specifier: manifest.name + subpath.slice(1),
        file: join(root, 'packages', folder, source),
      });
    }
    if (entries.length > 0) found.push({ folder, name: manifest.name, entries });
  }
  // The client first, then its bindings, then the server: the order a reader meets them in.
  const order = ['core', 'react', 'vue', 'server'];
  const rank = (folder) => (order.includes(folder) ? order.indexOf(folder) : order.length);
  return found.sort((a, b) => rank(a.folder) - rank(b.folder) || a.folder.localeCompare(b.folder));
}

const all = packages();
const base = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile).config;
const rootNames = all.flatMap((p) => p.entries.map((e) => e.file));
const { options } = ts.parseJsonConfigFileContent(
  { ...base, files: rootNames, include: [] },
  ts.sys,
  root,
);
const program = ts.createProgram({ rootNames, options });
const checker = program.getTypeChecker();
const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });

// ── Reading TSDoc ───────────────────────────────────────────────────────────────────────────

/** The JSDoc blocks of a declaration (a variable's are on its statement). */
function jsDocsOf(node) {
  return ts.getJSDocCommentsAndTags(node).filter((doc) => doc.kind === ts.SyntaxKind.JSDoc);
}

/** Where a declaration is documented, if it is an export or a member of one: file and anchor. */
const anchorOf = new Map();

/**
 * The Markdown for a symbol named in `{@link …}`: a link when the reference documents it. A name
 * the checker cannot resolve (an entry's comment names what it only re-exports) is looked up
 * among the exports of `entry`.
 */
function linkTo(nameNode, text, from, entry) {
  let symbol = nameNode ? checker.getSymbolAtLocation(nameNode) : undefined;
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  const label = text?.trim() || (nameNode ? nameNode.getText() : '');
  // `{@link Type.member}`: the member's own anchor, else its parent's.
  const declaration =
    symbol?.declarations?.[0] ??
    entry?.exports.find((item) => item.name === nameNode?.getText())?.declarations[0];
  const target =
    declaration &&
    (anchorOf.get(declaration) ??
      (declaration.parent ? anchorOf.get(declaration.parent) : undefined));
  if (!target) return `\`${label}\``;
  const file = target.file === from ? '' : target.file;
  return `[\`${label}\`](${file}#${target.anchor})`;
}

/** A JSDoc comment (a string, or text and links) as Markdown. */
function commentText(comment, from, entry) {
  if (comment === undefined) return '';
  if (typeof comment === 'string') return comment;
  return comment
    .map((part) => {
      if (part.kind === ts.SyntaxKind.JSDocText) return part.text;
      // {@link X}, {@linkcode X}, {@linkplain X}
      return linkTo(part.name, part.text, from, entry);
    })
    .join('');
}

/** Summary and tags of a declaration's TSDoc; `undefined` when it has none. */
function docOf(node, from, entry) {
  const docs = jsDocsOf(node);
  if (docs.length === 0) return undefined;
  const doc = docs[docs.length - 1];
  const tags = (doc.tags ?? []).map((tag) => {
    let parameter =
      tag.kind === ts.SyntaxKind.JSDocParameterTag || tag.kind === ts.SyntaxKind.JSDocTemplateTag
        ? (tag.name?.getText() ?? tag.typeParameters?.map((p) => p.name.text).join(', '))
        : undefined;
    let text = commentText(tag.comment, from, entry);
    // TypeScript does not parse TSDoc's `@typeParam Name text`: its name is the first word.
    const named = tag.tagName.text === 'typeParam' && /^\s*(\w+)\s+([\s\S]*)$/.exec(text);
    if (named) [, parameter, text] = named;
    return { name: tag.tagName.text, parameter, text: text.replace(/^\s*-\s+/, '') };
  });
  return { summary: commentText(doc.comment, from, entry).trim(), tags };
}

const isInternal = (node) => jsDocsOf(node).some((doc) => doc.tags?.some(isInternalTag));
const isInternalTag = (tag) => tag.tagName.text === 'internal';

/**
 * The text of the last `/** … *\/` comment between `from` and the next token: how the members of
 * a union carry theirs (written before the `|`, so after the previous member).
 */
function leadingDoc(from, sourceFile) {
  const ranges = ts.getLeadingCommentRanges(sourceFile.text, from) ?? [];
  const last = ranges.filter((r) => sourceFile.text.startsWith('/**', r.pos)).pop();
  if (!last) return '';
  return sourceFile.text
    .slice(last.pos + 3, last.end - 2)
    .split('\n')
    .map((line) => line.replace(/^\s*\*?\s?/, ''))
    .join('\n')
    .trim();
}

// ── Printing declarations ───────────────────────────────────────────────────────────────────

/** A node printed without comments; `oneLine` folds it onto one line. */
function print(node, sourceFile, oneLine = false) {
  const text = printer.printNode(ts.EmitHint.Unspecified, node, sourceFile);
  return oneLine ? text.replace(/\s*\n\s*/g, ' ').replace(/;\s*}/g, ' }') : text;
}

/** A parameter as a signature shows it: a default value makes it optional. */
function signatureParameter(parameter) {
  const f = ts.factory;
  let name = parameter.name;
  // A destructured parameter is shown by one name: `props` for a component's, else `options`.
  if (!ts.isIdentifier(name)) {
    const type = parameter.type?.getText() ?? '';
    name = f.createIdentifier(type.endsWith('Props') ? 'props' : 'options');
  }
  const optional =
    parameter.questionToken ??
    (parameter.initializer ? f.createToken(ts.SyntaxKind.QuestionToken) : undefined);
  return f.createParameterDeclaration(
    undefined,
    parameter.dotDotDotToken,
    name,
    optional,
    parameter.type,
    undefined,
  );
}

/** The return type node of a signature declaration, inferred when it is not written. */
function returnType(node) {
  if (node.type) return node.type;
  const signature = checker.getSignatureFromDeclaration(node);
  return signature
    ? checker.typeToTypeNode(
        checker.getReturnTypeOfSignature(signature),
        node,
        ts.NodeBuilderFlags.NoTruncation,
      )
    : undefined;
}

/** `function name<T>(a: A, b?: B): R`, without body or modifiers. */
function functionSignature(node, sourceFile) {
  const f = ts.factory;
  const copy = f.createFunctionDeclaration(
    undefined,
    node.asteriskToken,
    node.name,
    node.typeParameters,
    node.parameters.map(signatureParameter),
    returnType(node),
    undefined,
  );
  return print(copy, sourceFile).replace(/;$/, '');
}

/** `name(a: A): R` for a method, or `name?: T` for a property. */
function memberSignature(member, sourceFile) {
  const name = member.name ? member.name.getText(sourceFile) : '';
  const optional = member.questionToken ? '?' : '';
  if (ts.isMethodSignature(member) || ts.isMethodDeclaration(member)) {
    const typeParameters = member.typeParameters
      ? `<${member.typeParameters.map((t) => print(t, sourceFile, true)).join(', ')}>`
      : '';
    const parameters = member.parameters
      .map((p) => print(signatureParameter(p), sourceFile, true))
      .join(', ');
    const type = returnType(member);
    return `${name}${optional}${typeParameters}(${parameters})${type ? `: ${print(type, sourceFile, true)}` : ''}`;
  }
  if (ts.isConstructorDeclaration(member)) {
    const parameters = member.parameters
      .map((p) => print(signatureParameter(p), sourceFile, true))
      .join(', ');
    return `constructor(${parameters})`;
  }
  if (ts.isGetAccessorDeclaration(member)) {
    return `get ${name}(): ${print(returnType(member), sourceFile, true)}`;
  }
  const readonly = member.modifiers?.some((m) => m.kind === ts.SyntaxKind.ReadonlyKeyword)
    ? 'readonly '
    : '';
  let type = member.type ? print(member.type, sourceFile, true) : undefined;
  if (!type) {
    const symbol = member.name && checker.getSymbolAtLocation(member.name);
    type = symbol ? checker.typeToString(checker.getTypeOfSymbol(symbol)) : 'unknown';
  }
  return `${readonly}${name}${optional}: ${type}`;
}

/** `interface Name<T> extends Base` (or `class …`), without members. */
function heading(node, sourceFile, keyword) {
  const typeParameters = node.typeParameters
    ? `<${node.typeParameters.map((t) => print(t, sourceFile, true)).join(', ')}>`
    : '';
  const heritage = (node.heritageClauses ?? [])
    .map((clause) => print(clause, sourceFile, true).trim())
    .join(' ');
  return `${keyword} ${node.name.text}${typeParameters}${heritage ? ` ${heritage}` : ''}`;
}

/** `const NAME: Type`, or with its value when that is a literal or an `as const` object. */
function constSignature(node, sourceFile) {
  const name = node.name.getText(sourceFile);
  if (node.type) return `const ${name}: ${print(node.type, sourceFile)}`;
  const init = node.initializer;
  if (
    init &&
    (ts.isStringLiteral(init) ||
      ts.isNumericLiteral(init) ||
      (ts.isAsExpression(init) && init.type.getText(sourceFile) === 'const'))
  ) {
    return `const ${name} = ${print(init, sourceFile)}`;
  }
  const type = checker.getTypeAtLocation(node);
  return `const ${name}: ${checker.typeToString(type, node, ts.TypeFormatFlags.NoTruncation)}`;
}

// ── Collecting what each entry exports ──────────────────────────────────────────────────────

const KINDS = [
  ['function', 'Functions'],
  ['class', 'Classes'],
  ['const', 'Constants'],
  ['interface', 'Interfaces'],
  ['type', 'Types'],
];

/** The kind of a declaration, as the reference groups it. */
function kindOf(declaration) {
  if (ts.isFunctionDeclaration(declaration)) return 'function';
  if (ts.isClassDeclaration(declaration)) return 'class';
  if (ts.isVariableDeclaration(declaration)) return 'const';
  if (ts.isInterfaceDeclaration(declaration)) return 'interface';
  if (ts.isTypeAliasDeclaration(declaration)) return 'type';
  return undefined;
}

/** The package folder a source file belongs to. */
const packageOf = (fileName) => relative(join(root, 'packages'), fileName).split(/[\\/]/)[0] ?? '';

const problems = [];
const where = (node) => {
  const sourceFile = node.getSourceFile();
  const { line } = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile));
  return `${relative(root, sourceFile.fileName)}:${line + 1}`;
};

/** Per package: its entries, each with its `@module` text and its exports. */
const pages = all.map((pkg) => ({
  ...pkg,
  page: `${pkg.folder}.md`,
  entries: pkg.entries.map((entry) => {
    const sourceFile = program.getSourceFile(entry.file);
    if (!sourceFile) throw new Error(`api-reference: cannot read ${entry.file}`);
    const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
    const exports = [];
    for (const exported of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      const symbol =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const declarations = (symbol.declarations ?? []).filter((d) => kindOf(d) !== undefined);
      if (declarations.length === 0) continue;
      if (declarations.every(isInternal)) continue;
      // Implementations of overloaded functions are not part of the signature.
      const shown = declarations.filter(
        (d) =>
          !(ts.isFunctionDeclaration(d) && d.body && declarations.some((o) => o !== d && !o.body)),
      );
      const home = packageOf(shown[0].getSourceFile().fileName);
      exports.push({
        name: exported.name,
        symbol,
        declarations: shown,
        reexport: home !== pkg.folder,
      });
    }
    return { ...entry, sourceFile, moduleDoc: moduleDocOf(sourceFile), exports };
  }),
}));

// An entry that exports exactly what an earlier entry of its package exports (`@tidewire/core/sse`
// is `@tidewire/core` built with one transport) points there instead of listing it all again.
for (const page of pages) {
  for (const [i, entry] of page.entries.entries()) {
    const same = (a, b) =>
      a.exports.length === b.exports.length &&
      a.exports.every((item) =>
        b.exports.some((o) => o.name === item.name && o.symbol === item.symbol),
      );
    entry.mirrors = page.entries.slice(0, i).find((other) => !other.mirrors && same(entry, other));
  }
}

/** The `@module` comment of an entry file, if it has one (parsed when it is first written). */
function moduleDocOf(sourceFile) {
  for (const statement of sourceFile.statements) {
    // Every JSDoc block before a statement (the public helpers give only a declaration's last
    // one, and a module comment is often followed by the first export's own).
    for (const doc of statement.jsDoc ?? []) {
      if (doc.tags?.some((tag) => tag.tagName.text === 'module')) return doc;
    }
  }
  return undefined;
}

// ── Rendering ───────────────────────────────────────────────────────────────────────────────

/** A `@default` value: code when it reads as code, else the author's words. */
function defaultText(text) {
  const value = text.trim();
  if (value.includes('`')) return value;
  const code =
    /^(?:'[^']*'|"[^"]*"|\{[^}]*\}|\[[^\]]*\]|-?[\d_.]+|true|false|null|undefined|[\w.]+\([^)]*\)|\w+(?:\.\w+)+|[\w.]+ \+ \d+|\(\) => [\w.()]+)/.exec(
      value,
    );
  if (!code) return value;
  return `\`${code[0]}\`${value.slice(code[0].length)}`;
}

/** The language of an example's code block: `tsx` when it holds JSX. */
const exampleLanguage = (code) => (/<\/[A-Za-z][\w.]*>|\/>/.test(code) ? 'tsx' : 'ts');

/** A tag's text on one line. */
const oneLine = (text) => text.replace(/\s*\n\s*/g, ' ');

/**
 * The Markdown of a TSDoc block: summary, then its tags. `indent` and `inline` are for a member's
 * list item: its lines indented, and its default in the summary's paragraph.
 */
function renderDoc(doc, indent = '', inline = false) {
  if (!doc) return [];
  const lines = [];
  const push = (text) => {
    for (const line of text.split('\n')) lines.push(line === '' ? '' : indent + line);
  };
  const byName = (name) => doc.tags.filter((tag) => tag.name === name);
  const defaults = byName('default').map((tag) =>
    `Default: ${defaultText(oneLine(tag.text))}.`.replace(/\.\.$/, '.'),
  );
  if (inline) push([doc.summary, ...defaults].filter(Boolean).join(' '));
  else if (doc.summary) push(doc.summary);
  const list = (title, tags) => {
    if (tags.length === 0) return;
    push('');
    push(`${title}:`);
    push('');
    for (const tag of tags) {
      push(
        tag.parameter ? `- \`${tag.parameter}\`: ${oneLine(tag.text)}` : `- ${oneLine(tag.text)}`,
      );
    }
  };
  list('Type parameters', [...byName('typeParam'), ...byName('template')]);
  list('Parameters', byName('param'));
  const paragraphs = [
    ['returns', 'Returns'],
    ['throws', 'Throws'],
    ['deprecated', 'Deprecated:'],
    ['see', 'See'],
  ];
  for (const [name, label] of paragraphs) {
    for (const tag of byName(name)) {
      push('');
      push(`${label} ${oneLine(tag.text)}`.trim());
    }
  }
  if (!inline) {
    for (const text of defaults) {
      push('');
      push(text);
    }
  }
  for (const tag of byName('example')) {
    const code = tag.text.replace(/^\n+|\s+$/g, '');
    push('');
    push('Example:');
    push('');
    push(`\`\`\`${exampleLanguage(code)}`);
    push(code);
    push('```');
  }
  return lines;
}

const isOverride = (member) => !!(ts.getCombinedModifierFlags(member) & ts.ModifierFlags.Override);

/** Whether a class member is public API. */
function isPublicMember(member) {
  if (ts.isClassStaticBlockDeclaration(member) || ts.isSemicolonClassElement(member)) return false;
  if (ts.isIndexSignatureDeclaration(member)) return false;
  const flags = ts.getCombinedModifierFlags(member);
  if (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return false;
  if (member.name && ts.isPrivateIdentifier(member.name)) return false;
  // A member named by a symbol the package does not export (a brand) is nobody else's business.
  if (member.name && ts.isComputedPropertyName(member.name)) return false;
  return true;
}

/** The members of an interface, object type or class that are listed and need TSDoc. */
function ownMembers(declaration) {
  if (ts.isInterfaceDeclaration(declaration)) return [...declaration.members];
  if (ts.isTypeAliasDeclaration(declaration) && ts.isTypeLiteralNode(declaration.type)) {
    return [...declaration.type.members];
  }
  // `override` members are documented by what they override (`name` of an Error subclass).
  if (ts.isClassDeclaration(declaration)) {
    return declaration.members.filter((m) => isPublicMember(m) && !isOverride(m));
  }
  return [];
}

/** The list item of one member; a problem when it has no TSDoc summary. */
function renderMember(member, owner, sourceFile, page, entry) {
  const doc = docOf(member, page.page, entry);
  const label = ts.isConstructorDeclaration(member)
    ? 'constructor'
    : (member.name?.getText(sourceFile) ?? '(call)');
  if (!doc?.summary) problems.push(`${where(member)}: ${owner}.${label} has no TSDoc summary`);
  const signature = memberSignature(member, sourceFile);
  const body = renderDoc(doc, '  ', true);
  const lines = [`- \`${signature}\``];
  const first = body.findIndex((line) => line.trim() !== '');
  if (first >= 0) {
    lines[0] += `: ${body[first].trim()}`;
    lines.push(...body.slice(first + 1));
  }
  return lines;
}

/** Inherited members, grouped by the type that declares them, linked where it is documented. */
function inherited(declaration, own, page) {
  if (!ts.isInterfaceDeclaration(declaration) || !declaration.heritageClauses) return [];
  const names = new Set(own.map((m) => m.name?.getText()));
  const type = checker.getDeclaredTypeOfSymbol(checker.getSymbolAtLocation(declaration.name));
  const groups = new Map();
  for (const property of checker.getPropertiesOfType(type)) {
    if (names.has(property.name)) continue;
    const from = property.declarations?.[0]?.parent;
    if (!groups.has(from)) groups.set(from, []);
    groups.get(from).push(property.name);
  }
  const lines = [];
  for (const [from, members] of groups) {
    const target = from ? anchorOf.get(from) : undefined;
    const name = from?.name ? from.name.text : 'its base types';
    const link = target
      ? `[\`${name}\`](${target.file === page.page ? '' : target.file}#${target.anchor})`
      : `\`${name}\``;
    lines.push(`- from ${link}: ${members.map((m) => `\`${m}\``).join(', ')}`);
  }
  return lines;
}

/** The members of a union that carry their own `/** … *\/` comment, as a list. */
function unionMembers(declaration, sourceFile) {
  if (!ts.isTypeAliasDeclaration(declaration) || !ts.isUnionTypeNode(declaration.type)) return [];
  const members = declaration.type.types;
  const items = members.map((node, index) => ({
    text: print(node, sourceFile, true),
    doc: oneLine(
      leadingDoc(index === 0 ? declaration.type.pos : members[index - 1].end, sourceFile),
    ),
  }));
  if (!items.some((item) => item.doc)) return [];
  return items.map((item) => `- \`${item.text}\`${item.doc ? `: ${item.doc}` : ''}`);
}

/** The declaration of an export as a code block shows it. */
function declarationText(declaration) {
  const file = declaration.getSourceFile();
  const typeParameters = (d) =>
    d.typeParameters ? `<${d.typeParameters.map((t) => print(t, file, true)).join(', ')}>` : '';
  switch (kindOf(declaration)) {
    case 'function':
      return functionSignature(declaration, file);
    case 'class':
      return heading(declaration, file, 'class');
    case 'interface':
      return heading(declaration, file, 'interface');
    case 'type':
      if (ts.isTypeLiteralNode(declaration.type)) {
        return `type ${declaration.name.text}${typeParameters(declaration)} = { … }`;
      }
      return print(
        ts.factory.createTypeAliasDeclaration(
          undefined,
          declaration.name,
          declaration.typeParameters,
          declaration.type,
        ),
        file,
      );
    default:
      return constSignature(declaration, file);
  }
}

/** The Markdown of one export. */
function renderExport(item, page, entry) {
  const lines = [`### \`${item.name}\``, ''];
  const declaration = item.declarations[0];
  const sourceFile = declaration.getSourceFile();
  if (item.reexport) {
    const target = anchorOf.get(declaration);
    const home = pages
      .flatMap((p) => p.entries)
      .find((e) => e.exports.some((o) => !o.reexport && o.declarations.includes(declaration)));
    const name = home?.specifier ?? 'another package';
    const link = target ? `[\`${name}\`](${target.file}#${target.anchor})` : `\`${name}\``;
    lines.push(`Re-exported from ${link}, which documents it.`, '');
    return lines;
  }
  const kinds = [...new Set(item.declarations.map(kindOf))];
  const source = relative(out, sourceFile.fileName).split('\\').join('/');
  lines.push(`${kinds.join(' and ')} · [source](${source})`, '');
  const signatures = [...new Set(item.declarations.map(declarationText))];
  lines.push('```ts', ...signatures.flatMap((s) => s.split('\n')), '```', '');
  let documented = false;
  for (const d of item.declarations) {
    const doc = docOf(d, page.page, entry);
    if (doc?.summary) documented = true;
    const rendered = renderDoc(doc);
    if (rendered.length > 0) lines.push(...rendered, '');
    const union = unionMembers(d, d.getSourceFile());
    if (union.length > 0) lines.push('Members:', '', ...union, '');
    const members = ownMembers(d);
    if (members.length > 0) {
      lines.push('Members:', '');
      for (const member of members) {
        lines.push(...renderMember(member, item.name, d.getSourceFile(), page, entry));
      }
      lines.push('');
    }
    const from = inherited(d, members, page);
    if (from.length > 0) lines.push('Inherited:', '', ...from, '');
  }
  if (!documented) problems.push(`${where(declaration)}: export ${item.name} has no TSDoc summary`);
  return lines;
}

/** An entry's exports in the order the page lists them: by kind, then by name. */
const ordered = (entry) =>
  KINDS.flatMap(([kind]) =>
    entry.exports
      .filter((item) => kindOf(item.declarations[0]) === kind)
      .sort((a, b) => a.name.localeCompare(b.name)),
  );

/** The Markdown of one package's page. */
function renderPage(page) {
  const lines = [
    `# ${page.name} API reference`,
    '',
    `Generated from the TSDoc in \`packages/${page.folder}/src\` by \`node scripts/api-reference.mjs\`; edit the comments there, not this page. The guides are in [the docs](../README.md).`,
    '',
  ];
  if (page.entries.length > 1) {
    lines.push('Entries:', '');
    for (const entry of page.entries) lines.push(`- [\`${entry.specifier}\`](#${entry.anchor})`);
    lines.push('');
  }
  for (const entry of page.entries) {
    lines.push(`## Entry \`${entry.specifier}\``, '');
    if (entry.moduleDoc) {
      lines.push(commentText(entry.moduleDoc.comment, page.page, entry).trim(), '');
    } else {
      problems.push(
        `${relative(root, entry.file)}:1: entry ${entry.specifier} has no @module comment`,
      );
    }
    if (entry.mirrors) {
      lines.push(
        `It exports the same names as [\`${entry.mirrors.specifier}\`](#${entry.mirrors.anchor}), documented there.`,
        '',
      );
      continue;
    }
    for (const [kind, title] of KINDS) {
      const items = ordered(entry).filter((item) => kindOf(item.declarations[0]) === kind);
      if (items.length === 0) continue;
      lines.push(`${title}: ${items.map((i) => `[\`${i.name}\`](#${i.anchor})`).join(', ')}.`, '');
    }
    for (const item of ordered(entry)) lines.push(...renderExport(item, page, entry));
  }
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

// Anchors before any page is written, so that any page can link to any export of another. They
// are given in the order the headings are written, since a repeated name's anchor depends on it.
for (const page of pages) {
  const slugger = createSlugger();
  slugger(`${page.name} API reference`);
  for (const entry of page.entries) {
    entry.anchor = slugger(`Entry ${entry.specifier}`);
    if (entry.mirrors) continue;
    for (const item of ordered(entry)) {
      item.anchor = slugger(item.name);
      if (item.reexport) continue;
      for (const declaration of item.declarations) {
        anchorOf.set(declaration, { file: page.page, anchor: item.anchor });
        if (ts.isVariableDeclaration(declaration)) {
          anchorOf.set(declaration.parent.parent, { file: page.page, anchor: item.anchor });
        }
      }
    }
  }
}

/**
 * A page as the repository's formatter leaves it (Biome formats Markdown, its tables and code
 * blocks), so that `pnpm lint` and `pnpm format` agree with what this script writes.
 */
function formatted(text, file) {
  const windows = process.platform === 'win32';
  return execFileSync(
    join(root, 'node_modules', '.bin', windows ? 'biome.cmd' : 'biome'),
    ['format', `--stdin-file-path=${relative(root, file)}`],
    { cwd: root, input: text, encoding: 'utf8', shell: windows },
  );
}

const stale = [];
for (const page of pages) {
  const file = join(out, page.page);
  const text = formatted(renderPage(page), file);
  let current;
  try {
    current = readFileSync(file, 'utf8');
  } catch {}
  if (current === text) continue;
  if (check) stale.push(relative(root, file));
  else {
    mkdirSync(out, { recursive: true });
    writeFileSync(file, text);
  }
}

// A page no package produces any more (a package renamed or removed) must go too.
const produced = new Set(pages.map((page) => page.page));
let existing = [];
try {
  existing = readdirSync(out).filter((name) => name.endsWith('.md'));
} catch {}
for (const name of existing) {
  if (!produced.has(name)) {
    problems.push(`${relative(root, join(out, name))}: no package produces this page; remove it`);
  }
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const count = pages.reduce(
  (n, p) => n + p.entries.reduce((m, e) => m + (e.mirrors ? 0 : e.exports.length), 0),
  0,
);
for (const problem of problems) console.error(problem);
if (stale.length > 0) {
  console.error(
    `${stale.join(', ')}: out of date with the sources' TSDoc; run node scripts/api-reference.mjs`,
  );
}
if (problems.length > 0 || stale.length > 0) {
  console.error(
    `\n${problems.length} problem(s), ${stale.length} page(s) out of date; ${count} exports in ${seconds} s`,
  );
  process.exitCode = 1;
} else {
  console.log(
    `API reference ${check ? 'up to date' : 'written'}: ${count} exports of ${pages.length} packages in ${seconds} s`,
  );
}
