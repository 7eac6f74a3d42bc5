// The page's script: plain JavaScript, using the global that tidewire.min.js defines.
const me = `guest-${Math.random().toString(36).slice(2, 6)}`;

const client = Tidewire.createClient({
  url: 'http://localhost:8080/tidewire',
  getToken: () => me, // the demo server takes the name as the token
});

/** @param {string} selector */
function $(selector) {
  const found = document.querySelector(selector);
  if (found === null) throw new Error(`${selector} is missing`);
  return found;
}

// Listen-only: this channel goes over SSE.
const clock = client.subscribe('clock');
clock.on('event', (e) => {
  $('#now').textContent = /** @type {{ now: string }} */ (e.data).now;
});
clock.on('change', () => {
  $('#status').textContent = clock.getSnapshot().status;
});

const chat = client.subscribe('chat');
chat.on('event', (e) => {
  const { author, text } = /** @type {{ author: string; text: string }} */ (e.data);
  const item = document.createElement('li');
  item.textContent = `${author}: ${text}`;
  $('#log').append(item);
});

$('#send').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const text = new FormData(form).get('text');
  if (typeof text !== 'string' || text === '') return;
  // The first publish moves `chat` to WebSocket, without losing or repeating an event.
  await client.publish('chat', { author: me, text });
  form.reset();
});
