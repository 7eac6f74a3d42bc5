/** Small DOM helpers: text only (never markup), attributes only (never `style`). @internal */

type Child = Node | string | number | false | null | undefined;

export function h(
  tag: string,
  attrs: Record<string, string | number | boolean | undefined> | null = null,
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === false || child === null || child === undefined) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `14:03:07`, or `14:03:07.042` with `ms`, in local time. */
export function clock(at: number, ms = false): string {
  const d = new Date(at);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? `${time}.${pad(d.getMilliseconds(), 3)}` : time;
}

/** A one-line preview of a payload, cut at `max` characters. */
export function preview(data: unknown, max = 160): string {
  let text: string;
  try {
    text = JSON.stringify(data) ?? String(data);
  } catch {
    text = String(data);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A payload, indented. */
export function pretty(data: unknown): string {
  try {
    return JSON.stringify(data, null, 2) ?? String(data);
  } catch {
    return String(data);
  }
}
