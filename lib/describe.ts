/**
 * Text about values that came from a handler or a peer. Every function here is total: it never throws
 * (a revoked Proxy, a null-prototype object, a throwing getter or toString) and never grows with its
 * input (peer-supplied text is clipped), so an error message can always be built.
 */

/** Longest piece of peer- or handler-supplied text echoed in a message. */
export const MAX_ECHO = 200

/** `text` cut to `max` characters, with how much was cut. */
export function clip(text: string, max = MAX_ECHO): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`
}

/** The kind of a value, for messages: `a string`, `a function`, `a URL`, `null`... Never throws. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'undefined':
      return 'undefined'
    case 'function':
      return 'a function'
    case 'object':
      break
    default:
      return `a ${typeof value}`
  }
  try {
    if (Array.isArray(value)) return 'an array'
    const tag = Object.prototype.toString.call(value).slice(8, -1)
    return tag === 'Object' ? 'an object' : /^[AEIOU]/.test(tag) ? `an ${tag}` : `a ${tag}`
  } catch {
    // A revoked Proxy throws even on Array.isArray.
    return 'an object that cannot be inspected (a revoked Proxy?)'
  }
}

/** The kind and, for primitives, the value: `a string "x"`, `a number NaN`, `a function`. Never throws. */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `a string ${JSON.stringify(clip(value, 60))}`
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${kindOf(value)} ${String(value)}${typeof value === 'bigint' ? 'n' : ''}`
    default:
      return kindOf(value)
  }
}

/** The message of whatever was thrown, clipped. Never throws. */
export function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return clip(String(error.message))
    if (typeof error === 'string') return clip(error)
    if (typeof error === 'object' && error !== null) {
      const message = (error as { message?: unknown }).message
      if (typeof message === 'string') return clip(message)
      return kindOf(error)
    }
    return clip(String(error))
  } catch {
    return kindOf(error)
  }
}
