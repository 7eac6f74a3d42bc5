import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTcpProxy, type TcpProxy } from './tcp-proxy';

/** An echo server, so what goes through the proxy comes back through it. */
async function echoServer(): Promise<Server> {
  const server = createServer((s) => s.pipe(s).on('error', () => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s)).on('error', reject);
  });
}

function nextData(s: Socket, timeoutMs = 1000): Promise<string | 'timeout' | 'closed'> {
  return new Promise((resolve) => {
    const t = setTimeout(() => finish('timeout'), timeoutMs);
    const finish = (v: string) => {
      clearTimeout(t);
      s.off('data', onData).off('close', onClose);
      resolve(v);
    };
    const onData = (d: Buffer) => finish(d.toString());
    const onClose = () => finish('closed');
    s.on('data', onData).on('close', onClose);
  });
}

describe('tcp proxy', () => {
  let echo: Server;
  let proxy: TcpProxy;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    echo = await echoServer();
    proxy = await createTcpProxy({ targetPort: (echo.address() as AddressInfo).port });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await proxy.close();
    await new Promise((r) => echo.close(r));
  });

  const open = async () => {
    const s = await dial(proxy.port);
    sockets.push(s);
    return s;
  };

  it('should forward bytes both ways', async () => {
    const s = await open();
    s.write('hello');
    expect(await nextData(s)).toBe('hello');
  });

  it('should kill every connection on command', async () => {
    const s = await open();
    s.write('x');
    await nextData(s);
    const closed = nextData(s);
    expect(proxy.killAll()).toBe(1);
    expect(await closed).toBe('closed');
    expect(proxy.kills).toBe(1);
  });

  it('should stall a connection without closing it', async () => {
    const s = await open();
    s.write('a');
    await nextData(s);
    proxy.stallAll();
    s.write('b');
    expect(await nextData(s, 200)).toBe('timeout');
    expect(s.destroyed).toBe(false);
  });

  it('should delay chunks by at least the configured time', async () => {
    const s = await open();
    proxy.setDelay(60);
    const start = Date.now();
    s.write('slow');
    expect(await nextData(s)).toBe('slow');
    expect(Date.now() - start).toBeGreaterThanOrEqual(110);
  });

  it('should refuse WebSocket upgrades with 403 when told to', async () => {
    proxy.setUpgrades('refuse');
    const s = await open();
    s.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    expect(await nextData(s)).toMatch(/^HTTP\/1.1 403/);
  });

  it('should kill a random connection on each chaos tick and stop when told', async () => {
    await open();
    await open();
    await new Promise((r) => setTimeout(r, 50));
    const stop = proxy.chaos(10, 20);
    await new Promise((r) => setTimeout(r, 120));
    stop();
    expect(proxy.kills).toBe(2);
    expect(proxy.connections).toBe(0);
  });
});
