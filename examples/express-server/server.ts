// An Express app with Tidewire mounted on it: the endpoints under /tidewire, a token check,
// rules per channel, the time published every second, and a route that publishes.
import { AuthError, createTidewireServer, isPublishError } from '@tidewire/server';
import express from 'express';

const PORT = Number(process.env.PORT ?? 8080);

const tw = createTidewireServer<string>({
  // The token the client's getToken returned, or undefined when it sent none. In this demo the
  // token is the visitor's name; a real app verifies a signed token (a JWT) or a session cookie.
  authenticate: (token) => {
    if (token === undefined) return null; // 401: the client asks getToken again
    if (!/^[\w-]{1,40}$/.test(token)) throw new AuthError('forbidden'); // 403: the client stops
    return { principal: token };
  },
  // Anyone signed in may read both channels and publish on `chat`; only the server publishes
  // on `clock`.
  authorize: (_name, channel, action) =>
    channel === 'chat' || (channel === 'clock' && action === 'subscribe'),
  // The other examples' pages are served from other ports of localhost.
  cors: { origins: (origin) => new URL(origin).hostname === 'localhost' },
});

const app = express();

// Tidewire first: it answers /tidewire/* and calls next() for everything else.
app.use(tw.handleRequest);

// Publishing from a route: the server speaks on `chat` as anyone else.
app.post('/api/announce', express.json(), async (req, res) => {
  const text = typeof req.body?.text === 'string' ? req.body.text : '';
  try {
    const { id } = await tw.publish('chat', { author: 'server', text });
    res.status(201).json({ id });
  } catch (error) {
    // invalid_channel, bad_request, too_large, shutting_down or unavailable
    if (!isPublishError(error)) throw error;
    res.status(error.code === 'too_large' ? 413 : 503).json({ error: error.code });
  }
});

const server = app.listen(PORT, () => {
  console.log(`Tidewire at http://localhost:${PORT}/tidewire`);
});

// Express does not see WebSocket upgrades: hand them to Tidewire.
server.on('upgrade', (req, socket, head) => {
  if (!tw.handleUpgrade(req, socket, head)) socket.destroy(); // not a Tidewire path
});

const clock = setInterval(() => {
  tw.publish('clock', { now: new Date().toISOString() }).catch(() => {});
}, 1000);

process.on('SIGINT', async () => {
  clearInterval(clock);
  await tw.close(); // ends streams and closes sockets, so clients reconnect elsewhere
  server.close();
});
