const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * True when the JSON text `json` nests objects and arrays more than `maxDepth` levels deep
 * (`{}` and `[]` are one level each; brackets inside strings do not count).
 *
 * Run it before `JSON.parse`: `JSON.parse` copes with any depth, but `JSON.stringify`
 * recurses and throws `RangeError` a few thousand levels down, so a small body of nested
 * arrays would otherwise get through parsing and fail when the event is serialized.
 * The scan is one pass without recursion; a text shorter than `maxDepth` is not scanned.
 * @example exceedsJsonDepth('{"data":[[1]]}', 2) // true: three levels
 */
export function exceedsJsonDepth(json: string, maxDepth: number): boolean {
  // Each level takes at least one character.
  if (json.length <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let index = 0; index < json.length; index++) {
    const char = json.charCodeAt(index);
    if (inString) {
      if (char === BACKSLASH) index++;
      else if (char === QUOTE) inString = false;
    } else if (char === QUOTE) {
      inString = true;
    } else if (char === OPEN_OBJECT || char === OPEN_ARRAY) {
      depth++;
      if (depth > maxDepth) return true;
    } else if (char === CLOSE_OBJECT || char === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}
