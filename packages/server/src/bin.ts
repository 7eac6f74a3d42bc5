#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import type { CorsOptions } from './cors.js';
import type { TidewireServerOptions } from './options.js';
import { createTidewireServer } from './server.js';

const name = 'tidewire-server';

const usage = `Usage: ${name} [options]

Runs a Tidewire server that keeps its history in memory. Stops gracefully on SIGINT/SIGTERM.

Options:
  --port <number>         port to listen on, 0 for any free one (default 8080)
  --host <address>        address to listen on (default 127.0.0.1)
  --path <path>           base path of the endpoints (default /tidewire)
  --cors-origin <origin>  allow this browser origin, or * for any; repeatable
  -h, --help              print this help and exit
  -v, --version           print the version and exit`;

/** Appended to every refusal of the command line. */
const helpHint = `Run '${name} --help' for the options.`;

const optionSpecs = {
  port: { type: 'string' },
  host: { type: 'string' },
  path: { type: 'string' },
  'cors-origin': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

type OptionName = keyof typeof optionSpecs;

/** What the command line asks for. */
type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'serve'; port: number; host: string; path: string; corsOrigins: string[] };

/** The command, or why the command line was refused. */
type ParsedCommand = { ok: true; command: Command } | { ok: false; message: string };

const isOptionName = (option: string): option is OptionName => Object.hasOwn(optionSpecs, option);

/**
 * Reads the arguments itself from parseArgs' tokens, so that every mistake gets
 * a message of ours instead of parseArgs' multi-line ones.
 */
function parseCommandLine(args: string[]): ParsedCommand {
  const { tokens } = parseArgs({
    args,
    options: optionSpecs,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const refuse = (problem: string): ParsedCommand => ({
    ok: false,
    message: `${problem}. ${helpHint}`,
  });
  let help = false;
  let version = false;
  const strings = { port: '8080', host: '127.0.0.1', path: '/tidewire' };
  const corsOrigins: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') return refuse(`unexpected argument '${token.value}'`);
    const { name: option, rawName, value, inlineValue } = token;
    if (!isOptionName(option)) return refuse(`unknown option ${rawName}`);
    if (option === 'help' || option === 'version') {
      if (value !== undefined) return refuse(`${rawName} takes no value`);
      if (option === 'help') help = true;
      else version = true;
      continue;
    }
    // As in parseArgs' strict mode, a following word that starts with '-' is the
    // next option, not this one's value (`--port=-1` passes one explicitly).
    if (value === undefined || value === '' || (!inlineValue && value.startsWith('-'))) {
      return refuse(`missing value for ${rawName}`);
    }
    if (option === 'cors-origin') corsOrigins.push(value);
    else strings[option] = value;
  }
  if (help) return { ok: true, command: { kind: 'help' } };
  if (version) return { ok: true, command: { kind: 'version' } };
  if (!/^\d{1,5}$/.test(strings.port) || Number(strings.port) > 65535) {
    return refuse(`invalid --port '${strings.port}': expected a whole number from 0 to 65535`);
  }
  const port = Number(strings.port);
  return {
    ok: true,
    command: { kind: 'serve', port, host: strings.host, path: strings.path, corsOrigins },
  };
}

/** The version in the package.json next to the build (or the sources). */
function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    const { version } = JSON.parse(text) as { version?: unknown };
    if (typeof version === 'string') return version;
  } catch {
    // Reported below like a package.json without a version.
  }
  return 'unknown';
}

/** One line that says why the server could not listen, and what to do about it. */
function listenFailure(error: NodeJS.ErrnoException, host: string, port: number): string {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use. Stop the process that holds it, or choose another port with --port (0 picks a free one).`;
    case 'EACCES':
      return `not permitted to listen on ${where}. Choose a port above 1023 with --port, or run with the privileges this port needs.`;
    case 'EADDRNOTAVAIL':
      return `the address ${host} does not belong to this machine. Pass one of its addresses with --host.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host name ${host}. Pass an address or a known host name with --host.`;
    default:
      return `cannot listen on ${where}: ${error.message}. Check --host and --port.`;
  }
}

/** Starts the server the command line describes. */
function serve(command: Extract<Command, { kind: 'serve' }>): void {
  const { port, host, path, corsOrigins } = command;
  const cors: CorsOptions | undefined =
    corsOrigins.length === 0
      ? undefined
      : { origins: corsOrigins.includes('*') ? '*' : corsOrigins };
  const options: TidewireServerOptions = cors === undefined ? { path } : { path, cors };
  const tw = createTidewireServer(options);
  const server = createServer();
  tw.attach(server);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // A stream that refuses to end must not keep the process alive forever.
    setTimeout(() => process.exit(1), 5000).unref();
    // Exits with 0, or with 1 when the server had failed.
    void tw.close().then(() => server.close(() => process.exit()));
  };
  // Without this listener a failed listen (a port in use) is an unhandled 'error' event.
  server.on('error', (error: NodeJS.ErrnoException) => {
    console.error(`${name}: ${listenFailure(error, host, port)}`);
    process.exitCode = 1;
    // Nothing else holds the event loop: the process ends once the server is closed.
    void tw.close().then(() => {
      if (server.listening) server.close();
    });
  });
  server.listen(port, host, () => {
    const address = server.address();
    const actualPort = typeof address === 'object' && address !== null ? address.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    console.log(`Tidewire server listening on http://${shownHost}:${actualPort}${path}`);
    if (options.authenticate === undefined) {
      console.error(
        `${name}: warning: no authenticate hook, so anyone who can reach this server may subscribe to and publish on any channel. Keep it on a trusted network, or run createTidewireServer({ authenticate }) in your own server.`,
      );
    }
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function main(): void {
  const parsed = parseCommandLine(process.argv.slice(2));
  if (!parsed.ok) {
    console.error(`${name}: ${parsed.message}`);
    process.exitCode = 2;
    return;
  }
  const { command } = parsed;
  if (command.kind === 'help') console.log(usage);
  else if (command.kind === 'version') console.log(packageVersion());
  else serve(command);
}

main();
