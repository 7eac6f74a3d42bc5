/**
 * The panel's stylesheet. It lives in the panel's shadow root, adopted as a constructed
 * stylesheet: no `<style>` element and no `style` attribute, so a Content-Security-Policy with
 * `style-src 'self'` allows it, and the page's styles and the panel's cannot reach each other.
 * @internal
 */
export const css = `
:host {
  all: initial;
  position: fixed;
  right: 12px;
  bottom: 12px;
  z-index: 2147483000;
  color-scheme: light dark;
  --bg: #ffffff;
  --bg2: #f5f7fa;
  --line: #e1e6ed;
  --text: #16202b;
  --muted: #5b6878;
  --faint: #8794a4;
  --accent: #0e7c86;
  --ok: #1a8f52;
  --warn: #b36b00;
  --bad: #c9303e;
  --info: #3a63d8;
  --okbg: #e2f5ea;
  --warnbg: #fdf0dc;
  --badbg: #fbe5e7;
  --infobg: #e6ecfc;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font: 12.5px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--text);
}
:host([data-position="bottom-left"]) { right: auto; left: 12px; }
@media (prefers-color-scheme: dark) {
  :host {
    --bg: #141a22;
    --bg2: #1b232d;
    --line: #2a3441;
    --text: #e6edf3;
    --muted: #9ba8b7;
    --faint: #6f7d8d;
    --accent: #2cc2cc;
    --ok: #3fcf7f;
    --warn: #f0a640;
    --bad: #ff6b76;
    --info: #7c9dff;
    --okbg: #123323;
    --warnbg: #3a2a10;
    --badbg: #3d1a1e;
    --infobg: #1a2445;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
button, select { font: inherit; color: inherit; }
button { cursor: pointer; }
button:focus-visible, select:focus-visible, summary:focus-visible {
  outline: 2px solid var(--accent);
  outline-offset: 1px;
}
.toggle {
  display: inline-flex;
  align-items: center;
  gap: 7px;
  padding: 7px 12px 7px 10px;
  border-radius: 999px;
  border: 1px solid var(--line);
  background: var(--bg);
  box-shadow: 0 2px 10px rgb(0 0 0 / 18%);
  font-weight: 600;
}
.dot {
  width: 8px;
  height: 8px;
  border-radius: 50%;
  flex: none;
  background: var(--faint);
}
.dot.open, .dot.live { background: var(--ok); }
.dot.connecting, .dot.waiting, .dot.offline, .dot.reconnecting { background: var(--warn); }
.dot.failed { background: var(--bad); }
.panel {
  display: flex;
  flex-direction: column;
  width: min(760px, calc(100vw - 24px));
  height: min(560px, calc(100vh - 24px));
  background: var(--bg);
  border: 1px solid var(--line);
  border-radius: 12px;
  box-shadow: 0 8px 30px rgb(0 0 0 / 22%);
  overflow: hidden;
}
.bar {
  display: flex;
  align-items: center;
  gap: 8px;
  padding: 8px 8px 8px 12px;
  border-bottom: 1px solid var(--line);
  min-width: 0;
}
.bar b { font-size: 13px; white-space: nowrap; }
.spacer { flex: 1; }
.tag {
  padding: 1px 7px;
  border-radius: 5px;
  font-size: 11px;
  font-weight: 600;
  white-space: nowrap;
  background: var(--bg2);
  color: var(--muted);
}
.tag.ok { background: var(--okbg); color: var(--ok); }
.tag.warn { background: var(--warnbg); color: var(--warn); }
.tag.sse { background: var(--okbg); color: var(--accent); }
.tag.websocket { background: var(--infobg); color: var(--info); }
.close {
  border: 0;
  background: none;
  width: 28px;
  height: 28px;
  border-radius: 6px;
  font-size: 18px;
  line-height: 1;
  color: var(--muted);
}
.close:hover { background: var(--bg2); }
.tabs {
  display: flex;
  gap: 2px;
  padding: 4px 8px 0;
  border-bottom: 1px solid var(--line);
}
.tabs button {
  border: 0;
  background: none;
  padding: 6px 8px 7px;
  border-bottom: 2px solid transparent;
  color: var(--muted);
  font-weight: 600;
  white-space: nowrap;
}
.tabs button[aria-selected="true"] { color: var(--text); border-bottom-color: var(--accent); }
.tabs .count { font-weight: 400; color: var(--faint); margin-left: 3px; }
.body {
  flex: 1;
  min-height: 0;
  overflow-y: auto;
  overflow-x: hidden;
  padding: 10px 12px 14px;
  display: flex;
  flex-direction: column;
  gap: 10px;
  overflow-wrap: anywhere;
}
.notice {
  padding: 8px 10px;
  border-radius: 8px;
  background: var(--warnbg);
  color: var(--warn);
}
.notice code, .hint code { font-family: var(--mono); font-size: 11.5px; }
.hint { color: var(--faint); }
.card {
  border: 1px solid var(--line);
  border-radius: 9px;
  padding: 8px 10px;
  display: flex;
  flex-direction: column;
  gap: 6px;
  min-width: 0;
}
.head {
  display: flex;
  align-items: center;
  flex-wrap: wrap;
  gap: 4px 8px;
  min-width: 0;
}
.head .meta { color: var(--faint); }
.alert {
  padding: 5px 8px;
  border-radius: 7px;
  background: var(--badbg);
  color: var(--bad);
}
.alert.warn { background: var(--warnbg); color: var(--warn); }
.stats {
  display: grid;
  grid-template-columns: repeat(auto-fill, minmax(92px, 1fr));
  gap: 4px 10px;
  margin: 0;
}
.stats div { min-width: 0; }
.stats dt { color: var(--faint); font-size: 11px; }
.stats dd { margin: 0; font-variant-numeric: tabular-nums; font-weight: 600; }
.stats dd.mono { font: 11.5px var(--mono); font-weight: 400; }
.stats dd.bad { color: var(--bad); }
.list {
  list-style: none;
  margin: 0;
  padding: 0;
  display: flex;
  flex-direction: column;
}
.list li {
  display: grid;
  grid-template-columns: 62px minmax(0, 1fr);
  gap: 8px;
  padding: 3px 0;
  border-bottom: 1px dashed var(--line);
}
.list li:last-child { border-bottom: 0; }
time { color: var(--faint); font: 11px/1.7 var(--mono); }
.ok { color: var(--ok); }
.warn { color: var(--warn); }
.bad { color: var(--bad); }
.info { color: var(--text); }
.tools {
  display: flex;
  flex-wrap: wrap;
  gap: 6px;
  align-items: center;
}
.tools select {
  min-width: 0;
  max-width: 100%;
  flex: 1 1 120px;
  padding: 4px 6px;
  border: 1px solid var(--line);
  border-radius: 7px;
  background: var(--bg2);
}
.btn {
  padding: 4px 10px;
  border: 1px solid var(--line);
  border-radius: 7px;
  background: var(--bg);
  font-weight: 600;
  white-space: nowrap;
}
.btn:hover { background: var(--bg2); }
.btn[aria-pressed="true"] { background: var(--warnbg); color: var(--warn); border-color: transparent; }
.events {
  list-style: none;
  margin: 0;
  padding: 0;
}
.ev { border-bottom: 1px solid var(--line); }
.ev summary {
  display: grid;
  grid-template-columns: auto minmax(0, 1fr) auto;
  gap: 0 8px;
  padding: 4px 0;
  cursor: pointer;
  list-style: none;
}
.ev summary::-webkit-details-marker { display: none; }
.ev time { white-space: nowrap; }
.ev .what { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.ev .what b { font-weight: 600; }
.ev .lat { color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
.ev .preview {
  grid-column: 2 / -1;
  font: 11px var(--mono);
  color: var(--muted);
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
  min-width: 0;
}
.ev.dropped .what { color: var(--faint); text-decoration: line-through; }
.ev pre {
  margin: 0 0 6px;
  padding: 6px 8px;
  border-radius: 6px;
  background: var(--bg2);
  font: 11px/1.5 var(--mono);
  white-space: pre-wrap;
  overflow-wrap: anywhere;
  max-height: 260px;
  overflow-y: auto;
}
.ev .ids { color: var(--faint); font: 11px var(--mono); margin-bottom: 4px; }
@media (max-width: 560px) {
  :host([data-open]) { left: 0; right: 0; bottom: 0; }
  .panel {
    width: 100%;
    height: min(75vh, 620px);
    border-radius: 12px 12px 0 0;
    border-width: 1px 0 0;
  }
  .tabs { padding: 2px 4px 0; }
  .tabs button { padding: 6px 6px 7px; }
}
@media (prefers-reduced-motion: no-preference) {
  .dot.connecting, .dot.waiting, .dot.reconnecting { animation: pulse 1s ease-in-out infinite; }
}
@keyframes pulse { 50% { opacity: 0.35; } }
`;
